"""sEMG preprocessing demo (Ergeneci et al., section II-B) on the default data.

Runs `signals.semg_features` (framing, SampEn, Savitzky-Golay, decimation:
[2, 8000] -> [2, 61]) over a data set and draws, for each class, one example's
raw signal (both channels), its per-frame SampEn curve and its 61-point
features, plus the class mean +- std of the features.

    python -m experiments.semg_preprocess [--out runs/preprocess] [--data PATH]

`--data` takes a folder with manifest.csv or an .npz file (format in
`signals.semg_data`); without it the synthetic default data is used.
`--baseline` also prints the 1-nearest-neighbour few-shot accuracy on the
novel classes C5-C7 (the figures quoted in `signals.semg_data`) and writes
them to baseline.json in the run folder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import signals  # noqa: E402
from signals.semg import data as semg_data  # noqa: E402

FIGURE = 'semg_preprocess.png'


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--out', default='runs/preprocess', help='run folder')
  p.add_argument(
    '--data', default=None, help='dataset folder (manifest.csv) or .npz; default: synthetic'
  )
  p.add_argument('--seed', type=int, default=0, help='synthetic data / episodes')
  p.add_argument('--subjects', type=int, default=15, help='synthetic subjects')
  p.add_argument(
    '--per-class', type=int, default=10, help='synthetic recordings per subject and class'
  )
  p.add_argument(
    '--baseline', action='store_true', help='also report 1-NN few-shot accuracy on C5-C7'
  )
  p.add_argument('--episodes', type=int, default=200, help='episodes for --baseline')
  return p.parse_args(argv)


def plot(ds: semg_data.SEMGDataset, feats: np.ndarray, path: str) -> str:
  """One column per class: raw example, its SampEn per frame, its features, class mean+-std."""
  classes = [c for c in range(ds.num_classes) if np.any(ds.labels == c)]
  first = [int(np.flatnonzero(ds.labels == c)[0]) for c in classes]
  curves = np.asarray(signals.sampen(signals.frame(ds.x[first])))  # (K, 2, frames)
  t = np.arange(ds.x.shape[-1]) / ds.fs
  colours = ('tab:blue', 'tab:orange')
  chan = [f'ch{i}' for i in range(ds.x.shape[1])]
  if ds.x.shape[1] == 2:
    chan = ['left', 'right']
  fig, axes = plt.subplots(
    4, len(classes), figsize=(2.7 * len(classes), 9.0), sharex='row', sharey='row', squeeze=False
  )
  for col, (c, i) in enumerate(zip(classes, first)):
    ax = axes[:, col]
    ax[0].set_title(ds.class_names[c].replace('_', ' '), fontsize=8)
    mean, std = feats[ds.labels == c].mean(0), feats[ds.labels == c].std(0)
    for ch in range(ds.x.shape[1]):
      kw = dict(color=colours[ch % 2], lw=0.6, label=chan[ch])
      ax[0].plot(t, ds.x[i, ch], alpha=0.7, **kw)
      ax[1].plot(curves[col, ch], **kw)
      ax[2].plot(feats[i, ch], marker='.', ms=2, **kw)
      ax[3].plot(mean[ch], **kw)
      ax[3].fill_between(
        np.arange(mean.shape[-1]),
        mean[ch] - std[ch],
        mean[ch] + std[ch],
        color=colours[ch % 2],
        alpha=0.25,
      )
    ax[3].set_xlabel('feature index')
    ax[1].set_xlabel('frame')
    ax[0].set_xlabel('time [s]')
  for row, name in enumerate(
    (
      'raw sEMG',
      'SampEn per frame',
      'features (example)',
      f'features mean±std (n/class≈{len(ds) // len(classes)})',
    )
  ):
    axes[row, 0].set_ylabel(name, fontsize=8)
  axes[0, 0].legend(fontsize=7, loc='upper right')
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def baseline(ds: semg_data.SEMGDataset, feats: np.ndarray, key, episodes: int) -> dict:
  """1-NN few-shot accuracy (mean, std over episodes) on the paper's novel classes."""
  novel = list(range(4, 7)) if ds.num_classes == 7 else list(range(ds.num_classes))
  sub = ds.select_classes(novel)
  sub_feats = feats[np.isin(ds.labels, novel)]
  fewest = np.bincount(sub.labels).min()
  out = {}
  for shots in (1, 5, 10, 20, 50):
    if shots < fewest:
      acc = semg_data.nearest_neighbour_few_shot(
        jax.random.fold_in(key, shots), sub_feats, sub.labels, shots, episodes
      )
      out[shots] = (float(acc.mean()), float(acc.std()))
  return {'classes': list(sub.class_names), 'episodes': episodes, 'accuracy': out}


def main(argv=None) -> str:
  args = parse_args(argv)
  key = jax.random.key(args.seed)
  data_key, episode_key = jax.random.split(key)
  del key
  start = time.time()
  if args.data:
    ds = semg_data.load_semg_dataset(args.data)
  else:
    ds = signals.synthetic_semg(
      data_key, num_subjects=args.subjects, recordings_per_class=args.per_class
    )
  # One call: the SampEn kernel already loops over fixed-size chunks of frames.
  feats = np.asarray(signals.semg_features(ds.x))  # (n, 2, 61)
  os.makedirs(args.out, exist_ok=True)
  path = plot(ds, feats, os.path.join(args.out, FIGURE))
  print(
    f'{len(ds)} recordings {list(ds.x.shape[1:])} -> features '
    f'{list(feats.shape[1:])} in {time.time() - start:.1f} s'
  )
  print(f'wrote {path}')
  if args.baseline:
    result = baseline(ds, feats, episode_key, args.episodes)
    print(
      f'1-NN few-shot accuracy on {", ".join(result["classes"])} ({result["episodes"]} episodes):'
    )
    for shots, (mean, std) in result['accuracy'].items():
      print(f'  {shots:3d}-shot: {100 * mean:5.1f}% +- {100 * std:4.1f}')
    with open(os.path.join(args.out, 'baseline.json'), 'w') as f:
      json.dump(result, f, indent=1)
  return path


if __name__ == '__main__':
  main(sys.argv[1:])
