"""sEMG few-shot experiment (Ergeneci et al.): Tables IV, V, VI, VII, VIII and IX.

    python -m experiments.semg_fewshot --quick [--out runs/semg_fewshot] [--data PATH]
                                       [--seed N] [--set FIELD=VALUE ...] [--estimate]
                                       [--compile-cache DIR]

Without `--data` it runs on the embedded synthetic data (`signals.synthetic_semg`);
`--data` takes anything `signals.load_semg_dataset` reads (a folder with
manifest.csv, or an .npz) with the paper's 7 classes, C1-C4 seen and C5-C7
unseen. The run folder gets

    config.json        the settings and the data source (a re-run must use the same)
    features.npz       the preprocessed [n, 2, 61] features (cached)
    results.json       records (one per reported number), timings (per stage: wall,
                       compile, train, predict, other seconds), compile (programs
                       compiled and their seconds), raw per-seed scores
    tables.md          Tables IV-IX, the DL/TL budgets, the oracle rows and the 1/5-shot
                       finding, rendered from the records; where the time went
    f1_vs_shots.png    median F1 vs samples per class, IQR bands: DL, TL, FSL
    checkpoints/       Orbax checkpoints of every trained stage

An interrupted run resumes from its last checkpoint when started again with
the same `--out`; finished stages are skipped. Settings:
`experiments/configs/semg_fewshot.py`; protocol: `fewshot/protocols/semg.py`;
results and caveats: docs/semg_fewshot.md.
"""

from __future__ import annotations

import dataclasses
import os
import sys

import numpy as np
from tqdm.auto import tqdm

import signals
from evaluation import plots
from evaluation import records as records_lib
from evaluation import reports
from experiments import cli
from experiments.configs.semg_fewshot import Config
from experiments.configs.semg_fewshot import get_config
from fewshot import compiles
from fewshot import timing
from fewshot.protocols import semg as protocol

TITLES = {
  'IV': 'TABLE IV: median F1 and IQR of the base DL model (C1-C7) vs BiLSTM layers',
  'VI': 'TABLE VI: median F1 and IQR vs frozen layers in TL fine-tuning (C5-C7), plus AdaBatch',
  'budget': 'DL / TL epoch budgets, fixed on pseudo-novel tasks of C1-C4 before C5-C7 is read',
  'VII': 'TABLE VII: median F1 and IQR for deep learning from scratch vs samples per class (C5-C7)',
  'VIII': 'TABLE VIII: median F1 and IQR in transfer learning vs samples per class (C5-C7)',
  'IX': (
    'TABLE IX: median F1 and IQR of the FSL methods vs shots k (3-way, C5-C7), '
    'and the raw-feature baselines; the same shots and test split as Tables VII and VIII'
  ),
  'oracle': (
    'Oracle rows: DL and TL stopping early on the labelled C5-C7 validation split, '
    'FSL given it as extra support (not few-shot; for reference)'
  ),
  'IX_episodes': "TABLE IX (second estimator, the paper's): F1 of all episodes' queries pooled",
  'IX_episode_mean': 'TABLE IX (third estimator): the same episodes, mean of per-episode F1',
  'V': 'TABLE V: median (IQR) per-class scores of the base model on C1-C4',
  'finding': 'Finding at 1 and 5 shots: median (IQR) F1 of DL, TL, CP and CS^3_AB',
}


def load_features(cfg: Config, out_dir: str, data_path: str | None, key):
  """Preprocessed [n, 2, 61] features and labels; cached in the run folder."""
  cache = os.path.join(out_dir, 'features.npz')
  if os.path.isfile(cache):
    with np.load(cache, allow_pickle=False) as z:
      return z['x'], z['labels']
  ds = signals.paper_recordings(key, data_path, cfg.subjects, cfg.recordings_per_class)
  x = np.asarray(signals.semg_features(ds.x))
  np.savez(cache, x=x, labels=ds.labels, class_names=np.array(ds.class_names))
  return x, ds.labels


def finding_lines(records) -> list[str]:
  """The paper's claims at 1 and 5 shots (FSL > TL > DL), read off the finding records."""
  cells = {
    (r.row, r.column): r.value for r in records if r.table == 'finding' and r.statistic == 'median'
  }
  out = []
  for col in dict.fromkeys(c for _, c in cells):
    dl, tl = cells[('DL', col)], cells[('TL', col)]
    fsl = [m for m in protocol.FINDING_FSL if (m, col) in cells]
    beats = ', '.join(f'{m} > TL {"yes" if cells[(m, col)] > tl else "NO"}' for m in fsl)
    out.append(f'- {col} shot(s): {beats}, TL > DL {"yes" if tl > dl else "NO"}')
  return out


def tables_markdown(cfg: Config, records, n_query: int, seconds: float) -> str:
  """Every table and the 1- and 5-shot finding, rendered from the records."""
  md = [f'# sEMG few-shot: {cfg.num_seeds} seeds x {cfg.draws} shot draws, F1 in %\n']
  names = records_lib.tables(records)
  for table, title in TITLES.items():
    if table in names:
      layout = 'inline' if table in ('V', 'finding') else None
      units = dict(scale=1.0, digits=1, metric='best epoch') if table == 'budget' else {}
      md.append(reports.table_markdown(records, table, title=title, layout=layout, **units))
  md += finding_lines(records)
  queries = 'one query per episode' if cfg.query == 'episode' else f'{n_query} queries per class'
  md.append(
    f'\nEpisodes per seed and cell (Table IX second estimator): {cfg.episodes}, {queries}. '
    f'Wall time: {seconds:.0f} s.\n'
  )
  return '\n'.join(md)


def plot_f1_vs_shots(records, path: str) -> None:
  """Median F1 and IQR vs samples per class of DL, TL and every FSL method, from the records."""
  curves = {'DL': records_lib.to_summary(records, 'VII')['DL']}
  curves['TL'] = records_lib.to_summary(records, 'VIII')['TL']
  curves.update(records_lib.to_summary(records, 'IX'))
  curves = {m: {c.split('=')[1]: cell for c, cell in cols.items()} for m, cols in curves.items()}
  plots.plot_score_vs_shots(
    curves,
    path,
    ylabel='F1 (%), median and IQR over seeds',
    title='sEMG C5-C7: DL, TL and FSL vs samples per class',
  )


def main(argv=None) -> int:
  # XLA:CPU at LLVM -O1, set before JAX starts (where no GPU or TPU backend is
  # installed): compiling is most of the quick run (docs/performance.md).
  compiles.fast_cpu_compiles()
  args, cfg = cli.parse(
    argv,
    __doc__.split('\n\n')[0],
    out='runs/semg_fewshot',
    get_config=get_config,
    data=cli.SEMG_DATA,
  )
  if args.estimate:
    return cli.estimate(main, argv, args.out)
  clock = timing.Stage('total')
  out = args.out
  reports.check_run_config(out, {'config': dataclasses.asdict(cfg), 'data': args.data})
  key = cli.root_key(cfg)
  with timing.stage('features') as features:
    x, labels = load_features(cfg, out, args.data, key)
  bar = tqdm(
    total=protocol.total_work(cfg),
    desc='epochs + episode cells',
    disable=args.no_progress,
    file=sys.stdout,
  )
  with bar:
    res = protocol.run(
      key,
      cfg,
      (x, labels),
      progress=bar.update,
      checkpoint_dir=os.path.join(out, 'checkpoints'),
    )
  timings = {'features': features, **res.timings, 'total': clock.stop()}
  reports.write_results(
    out,
    res.records,
    timings=timings,
    compile=timing.compile_summary(timings['total']),
    raw=res.raw,
    n_query=res.n_query,
    n_val=res.n_val,
  )
  md = tables_markdown(cfg, res.records, res.n_query, timings['total']['wall_s'])
  md += '\n' + reports.timings_markdown(timings)
  with open(os.path.join(out, 'tables.md'), 'w') as fh:
    fh.write(md)
  plot_f1_vs_shots(res.records, os.path.join(out, 'f1_vs_shots.png'))
  print(md)
  print(timing.compile_line(timings['total']))
  print(f'run folder: {out}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
