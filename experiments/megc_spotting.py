"""MEGC 2019 spotting experiment: Table II (LBP-chi^2) on synthetic long videos.

    python -m experiments.megc_spotting --quick [--out runs/megc_spotting]

For each synthetic database (`experiments/configs/megc_spotting.py`) the
videos are made from real faces (`vision.synthetic_long_videos`), the
LBP-chi^2 feature-difference curve of every video is computed once
(`vision.analyse_spotting`), and the spotted intervals at each threshold p
are scored against the micro-expressions with `evaluation.spotting_scores`
(IoU >= 0.5, eq. 1-2). The run folder gets

    config.json         the settings
    results.json        per database and p: TP, FP, FN, precision, recall,
                        F1, and how many false positives fell on a
                        macro-expression or a blink
    tables.md           Table II's layout (per database TP, FP, FN, P, R, F1)
    spotting_<db>.png   the contrasted feature difference of the first video
                        with threshold, spotted, true and distractor intervals
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

import evaluation
import vision
from evaluation import plots
from evaluation import reports
from experiments.configs import megc_spotting as configs
from vision.megc import spotting

COLUMNS = ('TP', 'FP', 'FN', 'Precision', 'Recall', 'F1')


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--quick', action='store_true', help='minutes-long CPU setting')
  p.add_argument('--out', default='runs/megc_spotting', help='run folder')
  p.add_argument('--no-progress', action='store_true', help='hide the progress bar')
  return p.parse_args(argv)


def on_distractors(spotted, video) -> int:
  """False positives of one video that overlap a macro-expression or a blink."""
  distract = np.concatenate([video.macro, video.blinks])
  matched = {int(s) for s, _ in evaluation.match_intervals(spotted, video.micro)}
  free = [iv for i, iv in enumerate(spotted) if i not in matched]
  return int(sum((evaluation.interval_iou([iv], distract) > 0).any() for iv in free))


def score_database(cfg, videos, analyses) -> dict:
  """Table II cells of one database at every p."""
  out = {}
  for p in cfg.ps:
    spotted = [spotting.rethreshold(a, p).intervals for a in analyses]
    s = evaluation.spotting_scores([v.micro for v in videos], spotted)
    fp_distract = sum(on_distractors(sp, v) for sp, v in zip(spotted, videos))
    out[f'p={p:g}'] = {
      'TP': s['tp'],
      'FP': s['fp'],
      'FN': s['fn'],
      'Precision': s['precision'],
      'Recall': s['recall'],
      'F1': s['f1'],
      'FP on distractors': fp_distract,
    }
  return out


def plot(cfg, out_dir, db, video, analysis) -> str:
  path = os.path.join(
    out_dir, f'spotting_{db.replace("(", "").replace(")", "").replace("^", "")}.png'
  )
  at_p = spotting.rethreshold(analysis, cfg.figure_p)
  plots.plot_spotting(
    at_p.contrast,
    path,
    threshold=at_p.threshold,
    spotted=at_p.intervals,
    truth=video.micro,
    distractors={'macro-expression': video.macro, 'blink': video.blinks},
    fps=video.fps,
    title=f'{db}-like video {video.name}: LBP-chi2 contrasted difference, p = {cfg.figure_p:g}',
  )
  return path


def table_md(results: dict) -> str:
  lines = ['# MEGC 2019 Table II layout: LBP-chi^2 spotting on synthetic long videos', '']
  for db, rows in results.items():
    lines += [f'## {db}-like ({rows["videos"]} videos, {rows["micro"]} micro-expressions)', '']
    lines += ['| method | ' + ' | '.join(COLUMNS) + ' | FP on macro/blinks |']
    lines += ['|---' * (len(COLUMNS) + 2) + '|']
    for name, cell in rows['table'].items():
      vals = [str(cell[c]) if c in ('TP', 'FP', 'FN') else f'{cell[c]:.4f}' for c in COLUMNS]
      lines.append(f'| LBP-χ² {name} | ' + ' | '.join(vals) + f' | {cell["FP on distractors"]} |')
    lines.append('')
  return '\n'.join(lines)


def run(cfg: configs.Config, out_dir: str, progress: bool = True) -> dict:
  os.makedirs(out_dir, exist_ok=True)
  reports.check_run_config(out_dir, {'config': dataclasses.asdict(cfg)})
  results = {}
  for db, n_videos, seconds in cfg.databases:
    t0 = time.perf_counter()
    videos = vision.synthetic_long_videos(jax.random.key(cfg.seed), db, n_videos, seconds, cfg.size)
    analyses = [
      vision.analyse_spotting(v.frames, v.fps)
      for v in tqdm(videos, desc=f'{db} spotting', unit='video', disable=not progress)
    ]
    results[db] = {
      'videos': n_videos,
      'micro': int(sum(len(v.micro) for v in videos)),
      'k': analyses[0].k,
      'table': score_database(cfg, videos, analyses),
      'figure': plot(cfg, out_dir, db, videos[0], analyses[0]),
      'seconds': time.perf_counter() - t0,
    }
  reports.write_json(results, os.path.join(out_dir, 'results.json'))
  with open(os.path.join(out_dir, 'tables.md'), 'w') as f:
    f.write(table_md(results))
  return results


def main(argv=None) -> int:
  args = parse_args(argv)
  t0 = time.perf_counter()
  results = run(configs.get_config(args.quick), args.out, progress=not args.no_progress)
  with open(os.path.join(args.out, 'tables.md')) as f:
    print(f.read())
  for db, r in results.items():
    print(f'{db}: figure {r["figure"]}')
  print(f'wall time {time.perf_counter() - t0:.0f} s')
  return 0


if __name__ == '__main__':
  sys.exit(main())
