"""sEMG preprocessing sweep (Ergeneci et al., Sec. III-A): Fig. 3.

    python -m experiments.semg_preprocessing_sweep --quick [--out runs/semg_preprocessing_sweep]
                                                   [--data PATH] [--seed N] [--set FIELD=VALUE ...]

The base DL model on all seven classes while frame size N, overlap L and
downsampling rate vary one at a time around the paper's N=128, L=96, rate 4.
Without `--data` it runs on the synthetic default data
(`signals.synthetic_semg`); `--data` takes anything `signals.load_semg_dataset`
reads with the paper's 7 classes. The run folder gets

    config.json        the settings and the data source (a re-run must use the same)
    features/          each setting's [n, 2, T'] features (cached, computed once)
    results.json       records (one per reported number), timings (per stage: wall,
                       compile, train, predict, other seconds), compile, per-seed scores
    tables.md          the sweep's table, the best setting (chosen on validation), skipped settings
    fig3.png           weighted F1 vs N, L and rate (three panels), median and IQR

It reports; it does not change the main experiment's settings. Settings:
`experiments/configs/semg_preprocessing_sweep.py`; protocol:
`fewshot/protocols/semg_sweep.py`; results and caveats: docs/semg_fewshot.md.
"""

from __future__ import annotations

import dataclasses
import os
import sys

import numpy as np
from matplotlib.figure import Figure
from tqdm.auto import tqdm

import signals
from evaluation import records as records_lib
from evaluation import reports
from experiments import cli
from experiments.configs.semg_preprocessing_sweep import get_config
from fewshot import timing
from fewshot.protocols import semg_sweep as protocol
from signals.semg import sweep as semg_sweep

TITLES = {
  'fig3': 'Fig. 3: median weighted F1 and IQR of the base DL model (C1-C7) per preprocessing setting',
  'fig3_best': 'Best setting, chosen on the validation split (test F1 reported beside it)',
  'fig3_skipped': 'Settings not trained: the Savitzky-Golay window does not fit the SampEn sequence',
}
PANEL_NAMES = {'N': 'frame size N', 'L': 'overlap L', 'rate': 'downsampling rate'}


def load_recordings(cfg, data_path: str | None, key):
  """[n, 2, T] raw recordings and [n] labels 0..6: the synthetic default or `data_path`."""
  ds = signals.paper_recordings(key, data_path, cfg.subjects, cfg.recordings_per_class)
  return np.asarray(ds.x, np.float32), np.asarray(ds.labels)


def tables_markdown(cfg, records, seconds: float) -> str:
  md = [f'# sEMG preprocessing sweep (Fig. 3): {cfg.num_seeds} seeds, F1 in %\n']
  for table, title in TITLES.items():
    if table in records_lib.tables(records):
      units = dict(scale=1.0, digits=0, metric='frames') if table == 'fig3_skipped' else {}
      md.append(reports.table_markdown(records, table, title=title, **units))
  md.append(f'\nWall time: {seconds:.0f} s.\n')
  return '\n'.join(md)


def plot_fig3(cfg, raw: dict, path: str) -> None:
  """Three panels (N, L, rate): median validation and test F1 with IQR bars; skipped settings marked."""
  rows = {item['label']: item for item in raw['settings']}
  fig = Figure(figsize=(12, 3.8))
  axes = fig.subplots(1, 3, sharey=True)
  for ax, panel in zip(axes, protocol.PANELS):
    skipped = []
    for offset, (part, name) in enumerate((('val', 'validation'), ('test', 'test'))):
      xs, med, lo, hi = [], [], [], []
      for s in protocol.panel_settings(cfg, panel):
        item = rows[s.label]
        if not item['trained']:
          if part == 'val':
            skipped.append(s.value(panel))
          continue
        q1, m, q3 = np.percentile(100 * np.asarray(raw[part][item['row']]), [25, 50, 75])
        xs.append(s.value(panel))
        med.append(m)
        lo.append(m - q1)
        hi.append(q3 - m)
      ax.errorbar(
        xs, med, yerr=[lo, hi], marker='o', capsize=3, label=name, alpha=0.9 - 0.2 * offset
      )
    for v in skipped:
      ax.axvline(v, color='grey', linestyle=':', linewidth=1)
      ax.annotate(
        'window\ndoes not fit',
        (v, 0.02),
        xycoords=('data', 'axes fraction'),
        fontsize=7,
        ha='right',
      )
    paper = dict(zip(protocol.PANELS, cfg.paper))[panel]
    ax.axvline(paper, color='k', alpha=0.2, linewidth=4, label='paper')
    ax.set_xlabel(PANEL_NAMES[panel])
    ax.grid(alpha=0.3)
  axes[0].set_ylabel('weighted F1 (%), median and IQR')
  axes[0].legend(fontsize=8)
  fig.suptitle(f'sEMG Fig. 3: base model on C1-C7; best on validation: {raw["best"]}', fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=120)


def main(argv=None) -> int:
  args, cfg = cli.parse(
    argv,
    __doc__.split('\n\n')[0],
    out='runs/semg_preprocessing_sweep',
    get_config=get_config,
    data=cli.SEMG_DATA,
  )
  if args.estimate:
    return cli.estimate(main, argv, args.out)
  clock = timing.Stage('total')
  out = args.out
  reports.check_run_config(out, {'config': dataclasses.asdict(cfg), 'data': args.data})
  key = cli.root_key(cfg)
  with timing.stage('data') as loading:
    x, labels = load_recordings(cfg, args.data, key)
  n = len(protocol.settings(cfg))
  cache = os.path.join(out, 'features')

  def preprocess(s):  # each setting's features, computed once and cached in the run folder
    return semg_sweep.setting_features(
      x, size=s.size, overlap=s.overlap, rate=s.rate, window=cfg.savgol_window,
      order=cfg.savgol_order, rule=cfg.savgol_rule, m=cfg.sampen_m, r=cfg.sampen_r,
      cache_dir=cache,
    )  # fmt: skip

  with tqdm(total=n, desc='settings', disable=args.no_progress, file=sys.stdout) as bar:
    res = protocol.run(key, cfg, (preprocess, labels), progress=bar.update)
  timings = {'data': loading, **res.timings, 'total': clock.stop()}
  reports.write_results(
    out, res.records, timings=timings, compile=timing.compile_summary(timings['total']), raw=res.raw
  )
  md = tables_markdown(cfg, res.records, timings['total']['wall_s'])
  md += '\n' + reports.timings_markdown(timings)
  with open(os.path.join(out, 'tables.md'), 'w') as fh:
    fh.write(md)
  plot_fig3(cfg, res.raw, os.path.join(out, 'fig3.png'))
  print(md)
  print(timing.compile_line(timings['total']))
  print(f'run folder: {out}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
