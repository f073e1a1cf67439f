"""MEGC 2019 spotting experiment: Table II (LBP-chi^2) on synthetic long videos.

    python -m experiments.megc_spotting --quick [--out runs/megc_spotting] [--estimate]
    python -m experiments.megc_spotting --data-root PATH   # CASME_sq/rawpic, SAMMLV/SAMM_longvideos
    python -m experiments.megc_spotting --samm-long DIR --samm-cropped DIR   # SAMM^f and SAMM^c

Both of Table II's methods: LBP-chi^2 at every threshold fraction p, and
LTP-ML (local temporal patterns of 12 facial regions, `vision.megc.ltp`;
an SVM trained leave-one-subject-out and a fusion, in the protocol).

For each synthetic database the videos are made from real faces
(`vision.synthetic_long_videos`), the LBP-chi^2 feature-difference curve of
every video is computed once (`vision.analyse_spotting`) and thresholded at
each p; the protocol (`fewshot.protocols.megc_spotting.run`) scores the
spotted intervals against the micro-expressions: by default only the videos
with micro-expressions, as the paper does (each database also has
`videos_without_micro` videos with only a macro-expression and blinks;
`--set empty_videos=count` scores them too). The run folder gets

    config.json, results.json   settings; Table II's records (per database and p:
                        TP, FP, FN, precision, recall, F1, FP on a macro-expression
                        or a blink), per-stage times, compile count
    tables.md           Table II rendered from the records, one block per database, times
    spotting_<db>.png   the first scored video's contrasted feature difference

Results and caveats: docs/megc2019.md.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import sys
import types

import numpy as np
from tqdm.auto import tqdm

import vision
from evaluation import keys
from evaluation import plots
from evaluation import reports
from experiments import cli
from experiments.configs import megc_spotting as configs
from fewshot import timing
from fewshot.protocols import megc_spotting as protocol
from vision.megc import long_videos
from vision.megc import ltp
from vision.megc import spotting

# Per-database data flags: (argparse dest, database).
FOLDER_FLAGS = (('casme_sq', 'CAS(ME)^2'), ('samm_long', 'SAMM'))
CODING_FLAGS = (('casme_sq_coding', 'CAS(ME)^2'), ('samm_long_coding', 'SAMM'))
DATA_FLAGS = [
  ('--data-root', 'folder holding the long videos as unpacked: CASME_sq/rawpic, '
   'SAMMLV/SAMM_longvideos (docs/megc2019.md; default: synthetic long videos)'),
  ('--casme-sq', "CAS(ME)^2's folder (rawpic/, or up to 3 levels above it)"),
  ('--casme-sq-coding', "CAS(ME)^2's spreadsheet (CAS(ME)^2code_final.xlsx)"),
  ('--samm-long', "SAMM long videos' folder (SAMM_longvideos/, or up to 3 levels above it)"),
  ('--samm-long-coding', "SAMM long videos' spreadsheet (SAMM_LongVideos_V1_Release.xlsx)"),
  ('--samm-cropped', "the organisers' cropped SAMM long videos (same layout): Table II's "
   'SAMM^c column beside the full frames (SAMM^f)'),
]  # fmt: skip


def plot(cfg, out_dir, db, video, analysis) -> str:
  name = db.replace('(', '').replace(')', '').replace('^', '')
  path = os.path.join(out_dir, f'spotting_{name}.png')
  at_p = spotting.rethreshold(analysis, cfg.figure_p)
  plots.plot_spotting(
    at_p.contrast,
    path,
    threshold=at_p.threshold,
    spotted=at_p.intervals,
    truth=video.micro,
    distractors={'macro-expression': video.macro, 'blink': video.blinks},
    fps=video.fps,
    title=f'{db} video {video.name}: LBP-chi2 contrasted difference, p = {cfg.figure_p:g}',
  )
  return path


def prepare(cfg, out_dir: str, progress: bool):
  """({database: protocol.Database}, times per step): videos, curves, spotted intervals (in
  threads); a video Table II does not score gets no curve and empty spotted lists."""
  data, timings = {}, {}
  pool = concurrent.futures.ThreadPoolExecutor(4)  # a thread per video: both cores busy to the end
  for db, n_videos, seconds in cfg.databases:
    clock = timing.Stage(f'{db} videos and curves')
    key = keys.named_key(cli.root_key(cfg), 'data', db)
    parts = [pool.submit(vision.synthetic_long_videos, key, db, n_videos, seconds, cfg.size)]
    if cfg.videos_without_micro:  # their own key: the videos above do not change
      parts.append(pool.submit(
        vision.synthetic_long_videos, keys.named_key(key, 'without micro'),
        db, cfg.videos_without_micro, seconds, cfg.size, events=(0, 1, 2),
      ))  # fmt: skip
    videos = [v for part in parts for v in part.result()]
    scored = [cfg.empty_videos == 'count' or len(v.micro) > 0 for v in videos]
    analyse = lambda v, s: vision.analyse_spotting(v.frames, v.fps, **cfg.spotter()) if s else None
    curves = pool.map(analyse, videos, scored)
    analyses = list(tqdm(curves, total=len(videos), desc=f'{db} spotting', disable=not progress))
    timings[f'{db} videos and curves'] = clock.stop()
    clock = timing.Stage(f'{db} LTP patterns')
    patterns = None
    if cfg.ltp_ml:
      patterns = list(pool.map(lambda v: ltp_patterns(cfg, v.frames, v.fps), videos))
    timings[f'{db} LTP patterns'] = clock.stop()
    at = lambda a, p: [] if a is None else spotting.rethreshold(a, p).intervals
    data[db] = protocol.Database(
      micro=[v.micro for v in videos],
      distractors=[np.concatenate([v.macro, v.blinks]) for v in videos],
      spotted={p: [at(a, p) for a in analyses] for p in cfg.ps},
      ltp=patterns,
      subjects=[synthetic_subject(v) for v in videos],
      fps=videos[0].fps,
    )
    plot(cfg, out_dir, db, videos[scored.index(True)], analyses[scored.index(True)])
  pool.shutdown()
  return data, timings


def _flag(args, flag: str):
  return getattr(args, flag.lstrip('-').replace('-', '_'))


def real_data(args) -> bool:
  return any(_flag(args, f) for f, _ in DATA_FLAGS)


def data_source(cfg, args) -> str:
  if not real_data(args):
    return f'synthetic long videos from real faces (seed {cfg.seed})'
  return 'real long videos: ' + ', '.join(
    f'{f} {_flag(args, f)}' for f, _ in DATA_FLAGS if _flag(args, f)
  )


def real_databases(cfg, args) -> dict:
  """{Table II column: [LongVideoRecord]} (`vision.megc.long_videos.table_ii_videos`)."""
  folders = {db: getattr(args, f) for f, db in FOLDER_FLAGS if getattr(args, f)}
  codings = {db: getattr(args, f) for f, db in CODING_FLAGS if getattr(args, f)}
  asked = [db for db, _, _ in cfg.databases]
  return long_videos.table_ii_videos(args.data_root, asked, folders, codings, args.samm_cropped)


def prepare_real(cfg, out_dir: str, args, progress: bool):
  """({column: protocol.Database}, times per database): the real long videos, read one at a time."""
  data, timings = {}, {}
  for db, videos in real_databases(cfg, args).items():
    clock = timing.Stage(f'{db} curves and patterns')
    spotted, patterns = {p: [] for p in cfg.ps}, []
    for i, rec in enumerate(tqdm(videos, desc=f'{db} spotting', disable=not progress)):
      frames = long_videos.read_long_video(rec, cfg.max_side)
      analysis = vision.analyse_spotting(frames, rec.fps, **cfg.spotter())
      for p in cfg.ps:
        spotted[p].append(spotting.rethreshold(analysis, p).intervals)
      if cfg.ltp_ml:
        patterns.append(ltp_patterns(cfg, frames, rec.fps))
      if i == 0:
        shown = types.SimpleNamespace(
          name=rec.name, micro=rec.micro, macro=rec.macro, blinks=np.zeros((0, 2), int), fps=rec.fps
        )
        plot(cfg, out_dir, db, shown, analysis)
      del frames
    data[db] = protocol.Database(
      micro=[v.micro for v in videos],
      distractors=[v.macro for v in videos],
      spotted=spotted,
      ltp=patterns if cfg.ltp_ml else None,
      subjects=[v.subject for v in videos],
      fps=videos[0].fps if videos else None,
    )
    timings[f'{db} curves and patterns'] = clock.stop()
  return data, timings


def synthetic_subject(video) -> str:
  """A synthetic long video's subject: its source face ('<face> <index>' names the video)."""
  return video.name.rsplit(' ', 1)[0]


def ltp_patterns(cfg, frames, fps) -> protocol.LTPPatterns:
  """LTP-ML's patterns of one video (`vision.megc.ltp`), as the protocol takes them."""
  res = ltp.video_ltp(frames, fps, **cfg.ltp.patterns())
  return protocol.LTPPatterns(res.features, res.starts, res.clip)


def write_tables(
  out_dir: str, res: protocol.Results, source: str = 'synthetic long videos'
) -> None:
  lines = [f'# MEGC 2019 Table II layout: LBP-chi^2 and LTP-ML spotting on {source}', '']
  like = '-like' if source.startswith('synthetic') else ''
  for db, n in res.counts.items():
    empty = n['videos without micro-expressions']
    rule = f'{empty} without micro-expressions left out, as in the paper'
    rule = rule if n['rule'] == 'skip' else f'including {empty} without micro-expressions'
    title = f'{db}{like} ({n["videos"]} videos scored, {rule}; {n["micro"]} micro-expressions)'
    table = protocol.table_name(db)
    lines.append(
      reports.table_markdown(
        res.records, table, title=title, scale=1.0, digits=3, integer_columns=protocol.COUNT_COLUMNS
      )
    )
  if any(r.table == protocol.SUMMARY_TABLE for r in res.records):
    title = "Table II: F1 of both methods per database (the paper's layout)"
    lines.append(
      reports.table_markdown(res.records, protocol.SUMMARY_TABLE, title=title, scale=1.0, digits=4)
    )
  with open(os.path.join(out_dir, 'tables.md'), 'w') as f:
    f.write('\n'.join(lines))


def main(argv=None) -> int:
  args, cfg = cli.parse(
    argv, __doc__.split('\n\n')[0], out='runs/megc_spotting', get_config=configs.get_config,
    data=DATA_FLAGS,
  )  # fmt: skip
  if args.estimate:
    return cli.estimate(main, argv, args.out)
  clock = timing.Stage('total')
  os.makedirs(args.out, exist_ok=True)
  source = data_source(cfg, args)
  if real_data(args):
    data, timings = prepare_real(cfg, args.out, args, not args.no_progress)
    if not data:
      raise ValueError('no long-video database given: pass --data-root or a database folder.')
    cfg = dataclasses.replace(
      cfg, databases=tuple((db, len(d.micro), 0.0) for db, d in data.items())
    )
  reports.check_run_config(args.out, {'config': dataclasses.asdict(cfg), 'data': source})
  if not real_data(args):
    data, timings = prepare(cfg, args.out, not args.no_progress)
  res = protocol.run(cli.root_key(cfg), cfg, data)
  timings |= {f'{db} scoring': s for db, s in res.timings.items()}
  timings = {**timings, 'total': clock.stop()}
  reports.write_results(
    args.out, res.records, timings=timings, compile=timing.compile_summary(timings['total']), data=source,
    counts=res.counts, ltp_training=res.ltp_training,
  )  # fmt: skip
  write_tables(args.out, res, 'real long videos' if real_data(args) else 'synthetic long videos')
  with open(os.path.join(args.out, 'tables.md'), 'a') as f:
    f.write('\n' + reports.timings_markdown(timings) + '\n' + timing.compile_line(timings['total']))
  with open(os.path.join(args.out, 'tables.md')) as f:
    print(f.read())
  return 0


if __name__ == '__main__':
  sys.exit(main())
