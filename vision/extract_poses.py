"""Command line: MediaPipe Holistic poses of many videos as pose-format `.pose` files.

    python -m vision.extract_poses VIDEO... --out DIR [--workers N] [--shard I/N]
                                   [--timeout S] [--retry-failed]

Writes DIR/STEM.pose for every VIDEO (the same file pose-format's
`video_to_pose -i VIDEO -o DIR/STEM.pose` writes), skips videos whose `.pose`
exists (rerun the same command to resume), names every video that could not
be read and exits with status 1 after finishing the others. `--shard I/N`
(0 <= I < N) processes every N-th video of the sorted list from I, e.g. a
Slurm array: `--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT`.
A worker process that dies or spends more than --timeout seconds (default
600) on one video is replaced and the video reported as failed; failures are
recorded in DIR/extraction_failures*.json and skipped when the command is
rerun, unless --retry-failed.
"""

from __future__ import annotations

import argparse
import sys

from vision.sign.extract import extract_pose_files
from vision.sign.extract import parse_shard


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog='python -m vision.extract_poses', description=__doc__)
  parser.add_argument('videos', nargs='+', metavar='VIDEO', help='video files')
  parser.add_argument('--out', required=True, help='output folder for STEM.pose files')
  parser.add_argument(
    '--workers',
    type=int,
    default=1,
    help='worker processes (default 1; 0: in this process, no crash/timeout protection)',
  )
  parser.add_argument('--shard', type=parse_shard, default=None, metavar='I/N')
  parser.add_argument(
    '--timeout',
    type=float,
    default=600.0,
    help='seconds per video before its worker is killed (default 600)',
  )
  parser.add_argument(
    '--retry-failed', action='store_true', help='retry the videos recorded as failed before'
  )
  parser.add_argument('--refine-face', action='store_true', help='478-point face mesh (irises)')
  parser.add_argument('--no-progress', action='store_true', help='no progress bar')
  args = parser.parse_args(argv)
  config = {'refine_face_landmarks': True} if args.refine_face else {}
  report = extract_pose_files(
    args.videos,
    args.out,
    workers=args.workers,
    shard=args.shard,
    holistic_config=config,
    progress=not args.no_progress,
    timeout=args.timeout,
    retry_failed=args.retry_failed,
  )
  print(
    f'{len(report.written)} written, {len(report.skipped)} already done, '
    f'{len(report.failed)} failed, {len(report.previously_failed)} failed before and not '
    f'retried (--retry-failed) (in {args.out})'
  )
  for video, error in sorted(report.failed.items()):
    print(f'FAILED {video}: {error}', file=sys.stderr)
  for video, error in sorted(report.previously_failed.items()):
    print(f'FAILED BEFORE {video}: {error}', file=sys.stderr)
  return 1 if report.failed or report.previously_failed else 0


if __name__ == '__main__':
  sys.exit(main())
