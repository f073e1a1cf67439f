"""harAGE multimodal fusion experiment: Tables 2-4 and the confusion matrix figure.

    python -m experiments.har_fusion --quick [--out runs/har_fusion] [--data synthetic|basicmotions|PATH]

Every grid cell (task x extractor x modalities x fusion) runs nested LOSO
(`fewshot.protocols.har.nested_loso`) and appends one JSON line to
`results.jsonl` in the run folder; a rerun skips the cells already there
(resumable). At the end the run folder holds:

    config.json          the config of the run (a rerun must match it)
    results.jsonl        one line per cell: per-fold and pooled UAR, epochs, confusion
    results.json         mean/std UAR tables (evaluation.reports.summarize), pooled UARs
    tables.md            Tables 2-4 layout: rows = models, RNN/CNN mu, sigma, pooled
    confusion_<task>.png confusion matrix of the best model of each task
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import zlib

import jax
import numpy as np
from tqdm.auto import tqdm

import evaluation
from evaluation import plots
from evaluation import reports
from experiments.configs import har_fusion as configs
from fewshot.models import har as har_models
from fewshot.protocols import har as har_protocol
from signals.har import data as har_data
from signals.har import synthetic as har_synthetic

SYMBOL = {'steps': 'steps', 'hr': 'hr', 'acc': 'xyz', 'gyro': 'gyro'}


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--quick', action='store_true', help='minutes-long CPU setting')
  p.add_argument('--out', default='runs/har_fusion', help='run folder')
  p.add_argument(
    '--data',
    default='synthetic',
    help="'synthetic' (default), 'basicmotions', or a folder of JSON participants",
  )
  p.add_argument('--no-progress', action='store_true', help='hide the progress bar')
  return p.parse_args(argv)


def model_name(modalities, fusion) -> str:
  """Paper notation: f_steps, f_steps+hr (concat), f_steps*hr (outer)."""
  sep = '⊕' if fusion == 'concat' else '⊗'
  return (
    'f_' + sep.join(SYMBOL.get(m, m) for m in modalities)
    if len(modalities) > 1
    else 'f_' + SYMBOL.get(modalities[0], modalities[0])
  )


def load_data(cfg: configs.Config, data: str):
  """Returns ({task name: HARWindows}, modalities, description)."""
  if data == 'basicmotions':
    d = har_data.load_basicmotions(cfg.basicmotions_groups)
    return {'4 classes': d}, configs.BASICMOTIONS_MODALITIES, 'aeon BasicMotions'
  if data == 'synthetic':
    parts = har_synthetic.synthetic_harage(
      jax.random.key(cfg.seed),
      cfg.participants,
      cfg.block_seconds,
      cfg.rest_seconds,
      cfg.gaps_per_minute,
    )
    desc = f'synthetic harAGE-like, {cfg.participants} participants'
  else:
    parts = har_data.load_participants(data)
    desc = f'JSON participants from {data}'
  windows, stats = har_data.windows_from_participants(parts, missing_rest='exclude')
  desc += (
    f' ({stats.n_train_windows} training / {stats.n_test_windows} test windows, '
    f'{stats.n_excluded_windows} excluded, participants excluded: '
    f'{stats.excluded_participants or "none"})'
  )
  tasks = {f'{t} classes': har_data.select_task(windows, t) for t in cfg.tasks}
  return tasks, configs.HARAGE_MODALITIES, desc


def grid(cfg: configs.Config, tasks: dict, modalities) -> list[dict]:
  harage = tuple(modalities) == configs.HARAGE_MODALITIES
  combos = cfg.combos if harage else cfg.basicmotions_combos
  combos = combos if combos is not None else configs.all_combos(modalities)
  cells = []
  for task in tasks:
    for ext in cfg.extractors:
      for mods, fusion in combos:
        fusion = fusion if len(mods) > 1 else 'none'
        cells.append(
          {
            'task': task,
            'extractor': ext,
            'modalities': list(mods),
            'fusion': fusion,
            'model': model_name(mods, fusion),
          }
        )
  return cells


def cell_id(c: dict) -> str:
  return f'{c["task"]}|{c["extractor"]}|{c["model"]}'


def read_done(path) -> dict:
  done = {}
  if os.path.exists(path):
    with open(path) as f:
      for line in f:
        if line.strip():
          rec = json.loads(line)
          done[cell_id(rec)] = rec
  return done


def run_cell(cfg, cell, data: har_data.HARWindows) -> dict:
  model = har_models.make_model(
    cell['modalities'],
    cell['extractor'],
    'outer' if cell['fusion'] == 'outer' else 'concat',
    len(data.class_names),
  )
  key = jax.random.fold_in(jax.random.key(cfg.seed), zlib.crc32(cell_id(cell).encode()))
  t0 = time.perf_counter()
  res = har_protocol.nested_loso(model, cfg.train, data, key, vmapped=cfg.vmap_folds, seed=cfg.seed)
  cm = evaluation.confusion_matrix(res.y_true, res.y_pred, len(data.class_names))
  return dict(
    cell,
    fold_uar=res.fold_uar.tolist(),
    pooled_uar=res.pooled_uar,
    epochs=res.epochs.tolist(),
    inner_epochs=res.inner_epochs.tolist(),
    test_subjects=[str(s) for s in res.test_subjects],
    confusion=np.asarray(cm).tolist(),
    class_names=list(data.class_names),
    seconds=time.perf_counter() - t0,
  )


def write_outputs(out_dir, records: list[dict], cells: list[dict], desc: str) -> dict:
  """results.json, tables.md and the confusion matrix of each task's best model."""
  by_task, pooled = {}, {}
  for c in cells:
    rec, ext = records[cell_id(c)], c['extractor'].upper()
    by_task.setdefault(c['task'], {}).setdefault(c['model'], {})[ext] = rec['fold_uar']
    # Records written before pooled_uar existed show '-' (a resumed old run).
    pooled.setdefault(c['task'], {}).setdefault(c['model'], {})[ext] = rec.get('pooled_uar')
  md = [f'# harAGE fusion: UAR (%), nested LOSO\n\nData: {desc}\n\n{har_protocol.ESTIMATORS}\n']
  summary, best = {}, {}
  for i, (task, table) in enumerate(by_task.items()):
    cols = sorted({col for row in table.values() for col in row}, reverse=True)  # RNN, CNN
    for row in table.values():  # a grid without some extractor leaves '-' cells
      for col in cols:
        row.setdefault(col, None)
    filled = {r: {c: v for c, v in row.items() if v is not None} for r, row in table.items()}
    summary[task] = reports.summarize(filled, 'mean_std')
    md.append(_table_md(f'Table {i + 2}-like: {task}', summary[task], cols, pooled[task]))
    scores = [
      (s['mean'], -s['std'], r, c) for r, row in summary[task].items() for c, s in row.items()
    ]
    _, _, r, c = max(scores)  # ties: lower std wins, as in the paper (5.2)
    rec = records[cell_id({'task': task, 'extractor': c.lower(), 'model': r})]
    path = os.path.join(out_dir, f'confusion_{task.split()[0]}.png')
    plots.plot_confusion_matrix(
      np.asarray(rec['confusion']), rec['class_names'], path, title=f'{task}: {c} {r}'
    )
    best[task] = {'model': r, 'extractor': c, **summary[task][r][c], 'figure': path}
  with open(os.path.join(out_dir, 'tables.md'), 'w') as f:
    f.write('\n'.join(md))
  results = dict(data=desc, estimators=har_protocol.ESTIMATORS, tables=summary, pooled=pooled)
  results['best'] = best
  reports.write_json(results, os.path.join(out_dir, 'results.json'))
  return results


def _table_md(title, table, cols, pooled) -> str:
  head = '| model | ' + ' | '.join(f'{c} μ | {c} σ | {c} pooled' for c in cols) + ' |'
  rule = '|---|' + '---|---|---|' * len(cols)
  lines = [f'## {title}', '', head, rule]
  for r, row in table.items():
    cells = []
    for c in cols:
      s, p = row.get(c), pooled.get(r, {}).get(c)
      cells += [f'{100 * s["mean"]:.1f}', f'{100 * s["std"]:.1f}'] if s else ['-', '-']
      cells.append('-' if p is None else f'{100 * p:.1f}')
    lines.append(f'| {r} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines) + '\n'


def run(cfg: configs.Config, out_dir: str, data: str = 'synthetic', progress: bool = True) -> dict:
  os.makedirs(out_dir, exist_ok=True)
  reports.check_run_config(out_dir, {'config': dataclasses.asdict(cfg), 'data': data})
  tasks, modalities, desc = load_data(cfg, data)
  cells = grid(cfg, tasks, modalities)
  path = os.path.join(out_dir, 'results.jsonl')
  done = read_done(path)
  todo = [c for c in cells if cell_id(c) not in done]
  with tqdm(
    total=len(cells),
    initial=len(cells) - len(todo),
    desc='har_fusion',
    unit='cell',
    disable=not progress,
  ) as bar:
    for c in todo:
      bar.set_postfix_str(cell_id(c))
      rec = run_cell(cfg, c, tasks[c['task']])
      with open(path, 'a') as f:
        f.write(json.dumps(rec) + '\n')
      done[cell_id(c)] = rec
      bar.update(1)
  return write_outputs(out_dir, done, cells, desc)


def main(argv=None) -> int:
  args = parse_args(argv)
  cfg = configs.get_config(args.quick)
  # Compiled programs persist in the run folder, so a resumed run skips them.
  jax.config.update('jax_compilation_cache_dir', os.path.join(args.out, 'jax_cache'))
  results = run(cfg, args.out, args.data, progress=not args.no_progress)
  with open(os.path.join(args.out, 'tables.md')) as f:
    print(f.read())
  for task, b in results['best'].items():
    print(
      f'best {task}: {b["extractor"]} {b["model"]} UAR {100 * b["mean"]:.1f} ± '
      f'{100 * b["std"]:.1f} -> {b["figure"]}'
    )
  return 0


if __name__ == '__main__':
  sys.exit(main())
