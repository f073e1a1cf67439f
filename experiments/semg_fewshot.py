"""sEMG few-shot experiment (Ergeneci et al.): Tables IV, V, VI, VII, VIII and IX.

    python -m experiments.semg_fewshot --quick [--out runs/semg_fewshot] [--data PATH]

Without `--data` it runs on the embedded synthetic data (`signals.synthetic_semg`);
`--data` takes anything `signals.load_semg_dataset` reads (a folder with
manifest.csv, or an .npz) with the paper's 7 classes, C1-C4 seen and C5-C7
unseen. The run folder gets

    config.json        the settings (a re-run must use the same ones)
    features.npz       the preprocessed [n, 2, 61] features (cached)
    results.json       raw per-seed F1 of every cell and the median/IQR tables
    tables.md          Tables IV-IX in the paper's layout
    f1_vs_shots.png    median F1 vs samples per class, IQR bands: DL, TL, FSL
    checkpoints/       Orbax checkpoints of every trained stage

An interrupted run resumes from its last checkpoint when started again with
the same `--out`; finished stages are skipped. The settings are in
`experiments/configs/semg_fewshot.py`; the protocol (splits, stages, keys,
the choices the paper leaves open) in `fewshot/protocols/semg.py`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import jax
import numpy as np
from tqdm.auto import tqdm

import signals
from evaluation import plots
from evaluation import reports
from experiments.configs.semg_fewshot import Config
from experiments.configs.semg_fewshot import get_config
from fewshot.protocols import semg as protocol

TITLES = {
  'IV': 'TABLE IV: median F1 and IQR of the base DL model (C1-C7) vs BiLSTM layers',
  'VI': 'TABLE VI: median F1 and IQR vs frozen layers in TL fine-tuning (C5-C7), plus AdaBatch',
  'VII': 'TABLE VII: median F1 and IQR for deep learning from scratch vs samples per class (C5-C7)',
  'VIII': 'TABLE VIII: median F1 and IQR in transfer learning vs samples per class (C5-C7)',
  'IX': (
    'TABLE IX: median F1 and IQR of the FSL methods vs shots k (3-way, C5-C7); '
    "estimator: F1 of all episodes' queries pooled (the paper's reading)"
  ),
  'IX_episode_mean': ('TABLE IX (second estimator): the same episodes, mean of per-episode F1'),
}
# Tables IV-VIII: each seed's weighted F1 over its whole test split of the task.
CLASSIFIER_ESTIMATOR = "F1: weighted F1 of each seed's model over that seed's test split"


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--quick', action='store_true', help='minutes-long CPU setting')
  p.add_argument('--out', default='runs/semg_fewshot', help='run folder')
  p.add_argument('--data', default=None, help='dataset folder (manifest.csv) or .npz')
  p.add_argument('--seed', type=int, default=None, help='override the root seed')
  p.add_argument('--no-progress', action='store_true', help='hide progress bars')
  return p.parse_args(argv)


def load_features(cfg: Config, out_dir: str, data_path: str | None):
  """Preprocessed [n, 2, 61] features, labels and class names; cached in the run folder."""
  cache = os.path.join(out_dir, 'features.npz')
  if os.path.isfile(cache):
    with np.load(cache, allow_pickle=False) as z:
      return z['x'], z['labels'], tuple(str(c) for c in z['class_names'])
  if data_path is None:
    key = jax.random.key(cfg.seed)
    ds = signals.synthetic_semg(key, cfg.subjects, cfg.recordings_per_class)
  else:
    ds = signals.load_semg_dataset(data_path, expected_channels=2)
  if ds.num_classes != 7:
    raise ValueError(
      f'the paper protocol needs 7 classes (C1-C4 seen, C5-C7 unseen); '
      f'the data has {ds.num_classes}: {ds.class_names}'
    )
  x = np.asarray(signals.semg_features(ds.x))
  np.savez(cache, x=x, labels=ds.labels, class_names=np.array(ds.class_names))
  return x, ds.labels, ds.class_names


def run(cfg: Config, out_dir: str, data_path=None, progress: bool = True, features=None) -> dict:
  """Runs every table of the experiment into `out_dir`; returns the results dict.

  Args:
    cfg: the settings (`experiments.configs.semg_fewshot`).
    out_dir: the run folder (created; resumed if it holds a run).
    data_path: dataset path, or None for the synthetic default.
    progress: show progress bars.
    features: optional `(x [n, 2, T], labels [n], class_names)` to use instead
      of loading and preprocessing data (tests, precomputed features).
  """
  reports.check_run_config(out_dir, {'config': dataclasses.asdict(cfg), 'data': data_path})
  t0 = time.time()
  x, labels, _ = features if features is not None else load_features(cfg, out_dir, data_path)
  features_s = time.time() - t0
  bars = dict(disable=not progress, file=sys.stdout)
  with tqdm(total=protocol.total_epochs(cfg), desc='training', unit='epoch', **bars) as bar:
    ctx = protocol.make_context(cfg, x, labels, os.path.join(out_dir, 'checkpoints'), bar.update)
    cells = len(protocol.FSL_METHODS) * len(cfg.shots) * cfg.num_seeds
    with tqdm(total=cells, desc='episodes', **bars) as ebar:
      tables, timings = protocol.run_tables(ctx, ebar.update)
  timings.update(features_s=features_s, total_s=time.time() - t0)
  return write_outputs(cfg, out_dir, tables, timings)


def tables_markdown(cfg: Config, summary: dict, table_v: dict, find: dict, n_query, seconds) -> str:
  """Tables IV-IX in the paper's layout, Table V, and the 1- and 5-shot finding."""
  md = [f'# sEMG few-shot: {cfg.num_seeds} seeds, F1 in %\n', f'{CLASSIFIER_ESTIMATOR}.\n']
  md += [reports.markdown_table(summary[k], title=TITLES[k]) for k in ('IV', 'VI', 'VII', 'VIII')]
  md.append(reports.markdown_table(summary['IX'], title=TITLES['IX']))
  md.append(reports.markdown_table(summary['IX_episode_mean'], title=TITLES['IX_episode_mean']))
  md.append('**TABLE V: median (IQR) per-class scores of the base model on C1-C4**\n')
  md.append('| class | Precision | Recall | F1 |\n| --- | --- | --- | --- |')
  for c, cols in table_v.items():
    cells = [
      f'{100 * cols[m]["median"]:.2f} ({100 * cols[m]["iqr"]:.2f})'
      for m in ('Precision', 'Recall', 'F1')
    ]
    md.append(f'| {c} | ' + ' | '.join(cells) + ' |')
  md.append('\n**Finding at 1 and 5 shots (median F1, %)**\n')
  for nu, f in find.items():
    md.append(
      f'- {nu} shot(s): DL {100 * f["DL"]:.2f}, TL {100 * f["TL"]:.2f}, best FSL (pooled F1) '
      f'{f["best_FSL"]} {100 * f["best_FSL_F1"]:.2f}: best FSL > TL '
      f'{"yes" if f["FSL>TL"] else "NO"}, TL > DL {"yes" if f["TL>DL"] else "NO"}'
    )
  md.append(
    f'\nEpisodes per seed and cell: {cfg.episodes}, {n_query} queries per class and episode. '
    f'Wall time: {seconds:.0f} s.\n'
  )
  return '\n'.join(md)


def write_outputs(cfg: Config, out_dir: str, tables: dict, timings: dict) -> dict:
  """results.json, tables.md and f1_vs_shots.png in the run folder."""
  summary = {k: reports.summarize(tables[k]) for k in TITLES}
  table_v = reports.summarize(tables['V'])
  find = protocol.finding(tables)
  md = tables_markdown(cfg, summary, table_v, find, tables['n_query'], timings['total_s'])
  with open(os.path.join(out_dir, 'tables.md'), 'w') as fh:
    fh.write(md)
  curves = {'DL': tables['VII']['DL'], 'TL': tables['VIII']['TL'], **tables['IX']}
  curves = {m: {c.split('=')[1]: s for c, s in cols.items()} for m, cols in curves.items()}
  plots.plot_score_vs_shots(
    curves,
    os.path.join(out_dir, 'f1_vs_shots.png'),
    ylabel='F1 (%), median and IQR over seeds',
    title='sEMG C5-C7: DL, TL and FSL vs samples per class',
  )
  raw = {k: v for k, v in tables.items() if k != 'n_query'}
  results = {
    'config': dataclasses.asdict(cfg),
    'raw': raw,
    'tables': summary,
    'table_v': table_v,
    'finding': find,
    'n_query': tables['n_query'],
    'timings_s': timings,
  }
  reports.write_json(results, os.path.join(out_dir, 'results.json'))
  return results


def main(argv=None) -> int:
  args = parse_args(argv)
  cfg = get_config(args.quick)
  if args.seed is not None:
    cfg = dataclasses.replace(cfg, seed=args.seed)
  run(cfg, args.out, args.data, progress=not args.no_progress)
  with open(os.path.join(args.out, 'tables.md')) as fh:
    print(fh.read())
  print(f'run folder: {args.out}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
