"""harAGE multimodal fusion experiment: Tables 2-4 and the confusion matrix figures 3-5.

    python -m experiments.har_fusion [--quick] [--out runs/har_fusion] [--seed N]
        [--set FIELD=VALUE ...] [--data synthetic|basicmotions|PATH] [--estimate]
        [--compile-cache DIR]

`fewshot.protocols.har.run` trains every grid cell (task x extractor x
modalities x fusion) under nested LOSO. The run folder gets:

    config.json          the config and data source of the run (a rerun must match it)
    cells.jsonl          one line per finished cell; a rerun with the same --out resumes
    results.json         the records of Tables 2-4 (μ, σ, pooled UAR), of the convergence
                         and baseline tables and of the figure models, timings (per
                         stage: wall, compile, train, predict, other seconds), compile
                         (programs compiled, seconds), every cell's and baseline's raw
                         outcome and confusion counts
    tables.md            the tables, rendered from the records; where the time went
    confusion_<task>.png confusion matrix of each task's figure model (fixed in advance)

Settings: experiments/configs/har_fusion.py; figures and caveats: docs/har_fusion.md.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

import numpy as np
from tqdm.auto import tqdm

from evaluation import plots
from evaluation import records as records_lib
from evaluation import reports
from evaluation.keys import named_key
from experiments import cli
from experiments.configs import har_fusion as configs
from fewshot import timing
from fewshot.protocols import har as protocol
from signals.har import data as har_data
from signals.har import synthetic as har_synthetic

DATA_HELP = "'synthetic' (default), 'basicmotions', or a folder of JSON participants"


def load_data(key, cfg: protocol.Config, data: str):
  """({task name: HARWindows}, description) of the data source `data`."""
  if data == 'basicmotions':
    d = har_data.load_basicmotions(cfg.basicmotions_groups)
    return {'4 classes': d}, 'aeon BasicMotions'
  if data == 'synthetic':
    parts = har_synthetic.synthetic_harage(
      named_key(key, 'synthetic data'),
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
  return {f'{t} classes': har_data.select_task(windows, t) for t in cfg.tasks}, desc


def read_done(path) -> dict:
  """{cell id: outcome} of the cells a previous call finished (cells.jsonl)."""
  done = {}
  if os.path.exists(path):
    with open(path) as f:
      for line in f:
        if line.strip():
          item = json.loads(line)
          done[item.pop('cell')] = item
  return done


def write_outputs(out_dir, res: protocol.Results, desc: str) -> str:
  """results.json, tables.md and the figures; returns the tables' markdown."""
  reports.write_results(
    out_dir,
    res.records,
    timings=res.timings,
    compile=timing.compile_summary(res.timings['total']),
    data=desc,
    cells=res.cells,
    baselines=res.baselines,
    confusion=res.confusion,
  )
  md = [f'# harAGE fusion: UAR (%), leave one participant out\n\nData: {desc}\n']
  for table in records_lib.tables(res.records):
    # Cross-entropy in nats, not a percentage.
    style = dict(scale=1.0, digits=4) if table.endswith('training loss') else dict(digits=1)
    if table.endswith(('convergence and baseline', 'training loss')):
      style['layout'] = 'inline'
    md.append(reports.table_markdown(res.records, table, title=table, row_header='model', **style))
  md.append(reports.timings_markdown(res.timings))
  text = '\n'.join(md)
  with open(os.path.join(out_dir, 'tables.md'), 'w') as f:
    f.write(text)
  for task, fig in res.confusion.items():
    path = os.path.join(out_dir, f'confusion_{task.split()[0]}.png')
    plots.plot_confusion_matrix(
      np.asarray(fig['counts']), fig['class_names'], path, title=fig['title']
    )
  return text


def main(argv=None) -> int:
  args, cfg = cli.parse(
    argv,
    __doc__.split('\n\n')[0],
    out='runs/har_fusion',
    get_config=configs.get_config,
    data=[('--data', DATA_HELP)],
  )
  if args.estimate:
    return cli.estimate(main, argv, args.out)
  clock = timing.Stage('total')
  data = args.data or 'synthetic'
  key = cli.root_key(cfg)
  os.makedirs(args.out, exist_ok=True)
  reports.check_run_config(args.out, {'config': dataclasses.asdict(cfg), 'data': data})
  with timing.stage('data') as loading:
    tasks, desc = load_data(key, cfg, data)
  path = os.path.join(args.out, 'cells.jsonl')

  def save(cell_id, outcome):
    with open(path, 'a') as f:
      f.write(json.dumps({'cell': cell_id, **outcome}) + '\n')

  cells = protocol.grid(cfg, tasks)
  with tqdm(total=len(cells), desc='har_fusion', unit='cell', disable=args.no_progress) as bar:
    res = protocol.run(key, cfg, tasks, progress=bar.update, done=read_done(path), on_cell=save)
  timings = {'data': loading, **res.timings, 'total': clock.stop()}
  print(write_outputs(args.out, res._replace(timings=timings), desc))
  print(timing.compile_line(timings['total']))
  return 0


if __name__ == '__main__':
  sys.exit(main())
