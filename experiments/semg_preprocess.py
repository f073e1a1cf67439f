"""sEMG preprocessing demo (Ergeneci et al., section II-B) on the default data.

Runs `signals.semg_features` (framing, SampEn, Savitzky-Golay, decimation:
[2, 8000] -> [2, 61]) over a data set and draws, for each class, one example's
raw signal (both channels), its per-frame SampEn curve and its 61-point
features, plus the class mean +- std of the features.

    python -m experiments.semg_preprocess [--out runs/preprocess] [--data PATH]
                                          [--seed N] [--set FIELD=VALUE ...]

`--data` takes a folder with manifest.csv or an .npz file (format in
`signals.semg_data`); without it the synthetic default data is used
(`--set subjects=...`, `--set recordings_per_class=...`). `--set
baseline=True` also reports the 1-nearest-neighbour few-shot accuracy on the
novel classes C5-C7 (a sanity check of the data, not one of the paper's
methods) as records in results.json. `--quick` is accepted and changes
nothing: the demo takes seconds. See docs/semg_fewshot.md.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import signals  # noqa: E402
from evaluation import records  # noqa: E402
from evaluation import reports  # noqa: E402
from evaluation.keys import named_key  # noqa: E402
from experiments import cli  # noqa: E402
from signals.semg import data as semg_data  # noqa: E402

FIGURE = 'semg_preprocess.png'


@dataclasses.dataclass(frozen=True)
class Config:
  """The demo's options.

  Attributes:
    seed: root seed (synthetic data: key ('data'); baseline episodes: ('baseline', shots)).
    subjects, recordings_per_class: size of the synthetic data.
    baseline: also report 1-NN few-shot accuracy on C5-C7.
    episodes: episodes per shot count of the baseline.
  """

  seed: int = 0
  subjects: int = 15
  recordings_per_class: int = 10
  baseline: bool = False
  episodes: int = 200


def get_config(quick: bool = False) -> Config:
  """The demo's setting (`quick` changes nothing: it takes seconds)."""
  del quick
  return Config()


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


def baseline(key, ds: semg_data.SEMGDataset, feats: np.ndarray, episodes: int) -> list:
  """Records of 1-NN few-shot accuracy (mean, std over episodes) on the paper's novel classes."""
  novel = list(range(4, 7)) if ds.num_classes == 7 else list(range(ds.num_classes))
  sub = ds.select_classes(novel)
  sub_feats = feats[np.isin(ds.labels, novel)]
  fewest = np.bincount(sub.labels).min()
  estimator = (
    f'accuracy of 1-NN on the features, all other recordings of {", ".join(sub.class_names)} '
    f'as queries; mean and std over {episodes} episodes'
  )
  out = []
  for shots in (1, 5, 10, 20, 50):
    if shots < fewest:
      acc = semg_data.nearest_neighbour_few_shot(
        named_key(key, 'baseline', shots), sub_feats, sub.labels, shots, episodes
      )
      for stat, value in (('mean', acc.mean()), ('std', acc.std())):
        out.append(
          records.record(
            'baseline', '1-NN', f'{shots}-shot', float(value), estimator=estimator,
            selection='none: no parameter chosen', statistic=stat, n=episodes,
          )
        )  # fmt: skip
  return out


def main(argv=None) -> str:
  args, cfg = cli.parse(
    argv,
    __doc__.split('\n\n')[0],
    out='runs/preprocess',
    get_config=get_config,
    data=cli.SEMG_DATA,
    estimate=False,  # trains nothing: a run takes what an estimate would
  )
  reports.check_run_config(args.out, {'config': dataclasses.asdict(cfg), 'data': args.data})
  key = cli.root_key(cfg)
  start = time.time()
  if args.data:
    ds = semg_data.load_semg_dataset(args.data)
  else:
    ds = signals.synthetic_semg(named_key(key, 'data'), cfg.subjects, cfg.recordings_per_class)
  # One call: the SampEn kernel already loops over fixed-size chunks of frames.
  feats = np.asarray(signals.semg_features(ds.x))  # (n, 2, 61)
  features_s = time.time() - start
  path = plot(ds, feats, os.path.join(args.out, FIGURE))
  print(
    f'{len(ds)} recordings {list(ds.x.shape[1:])} -> features {list(feats.shape[1:])} in {features_s:.1f} s'
  )
  print(f'wrote {path}')
  if cfg.baseline:
    recs = baseline(key, ds, feats, cfg.episodes)
    reports.write_results(args.out, recs, timings={'features_s': features_s})
    print(reports.table_markdown(recs, 'baseline', title='1-NN few-shot accuracy', layout='inline'))
  return path


if __name__ == '__main__':
  main(sys.argv[1:])
