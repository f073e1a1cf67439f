"""MediaPipe Holistic on every frame of a video, written as a pose-format `.pose` file (section 3).

One video goes through exactly the steps of pose-format's own `video_to_pose`
(`pose_format.bin.pose_estimation.pose_video`): metadata and RGB frames from
`simple_video_utils` (PyAV), then `pose_format.utils.holistic.load_holistic`,
which runs `mediapipe.solutions.holistic.Holistic` on every frame and builds
the header (POSE_LANDMARKS, FACE_LANDMARKS, LEFT_HAND_LANDMARKS,
RIGHT_HAND_LANDMARKS, POSE_WORLD_LANDMARKS; x, y in pixels, z as MediaPipe
gives it, confidence 0 for what it did not find). So every tool of the
pose-format ecosystem reads our files and we read theirs; the bytes are
written by `Pose.write`.

Only the models bundled in mediapipe 0.10.21 are used: `model_complexity=1`
(the default). Complexities 0 and 2 would make mediapipe download a model at
run time and are refused.

Many videos (`extract_pose_files`): worker processes (spawned, each with its own
Holistic graph), a progress bar, videos whose `.pose` already exists are
skipped (so an interrupted run resumes; files appear atomically, a killed
worker leaves no half-written `.pose`), a video that cannot be read is named
in the report and the others go on, and `shard=(i, n)` takes every n-th video
of the sorted list starting at i, so n machines of a job array split a list
without talking to each other.

mediapipe and PyAV are imported only here, inside the functions, so
`import vision` stays light.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from evaluation import checks
from vision import optional

__all__ = [
  'ExtractionReport',
  'extract_pose_files',
  'parse_shard',
  'pose_path_for',
  'video_to_pose',
]

# pose-format's `video_to_pose` with no --additional-config passes {} (mediapipe's defaults).
_ALLOWED_CONFIG = {
  'model_complexity': (1,),
  'smooth_landmarks': (True, False),
  'enable_segmentation': (False,),
  'refine_face_landmarks': (True, False),
  'min_detection_confidence': None,
  'min_tracking_confidence': None,
  'static_image_mode': (True, False),
}


class ExtractionReport(NamedTuple):
  """What `extract_pose_files` did.

  Attributes:
    written: `.pose` paths created by this call.
    skipped: `.pose` paths that already existed (not recomputed).
    failed: {video path: error message} for videos that could not be processed.
  """

  written: list
  skipped: list
  failed: dict


def _check_config(config: Mapping | None) -> dict:
  config = dict(config or {})
  for key, value in config.items():
    if key not in _ALLOWED_CONFIG:
      raise ValueError(
        f'holistic_config: unknown option {key!r}; known: {sorted(_ALLOWED_CONFIG)}.'
      )
    allowed = _ALLOWED_CONFIG[key]
    if allowed is not None and value not in allowed:
      why = (
        ' (only the model_complexity=1 model is bundled with mediapipe; others are downloaded)'
        if key == 'model_complexity'
        else ''
      )
      raise ValueError(f'holistic_config[{key!r}] must be one of {allowed}, got {value!r}{why}.')
    if allowed is None:
      checks.check_positive_float(f'holistic_config[{key!r}]', value)
  return config


def video_to_pose(video, holistic_config: Mapping | None = None):
  """Runs MediaPipe Holistic on every frame of one video (pose-format's `pose_video` steps).

  Args:
    video: path of a video file any FFmpeg build (PyAV) decodes.
    holistic_config: options for `mediapipe.solutions.holistic.Holistic`
      (pose-format's `--additional-config`); default {} as `video_to_pose`.

  Returns:
    A `pose_format.Pose` with pose-format's Holistic header, one person,
    [frames, 1, 543 or 553 + 33, 3] data in pixels.

  Raises:
    FileNotFoundError: the video does not exist.
    ValueError: naming the video when it cannot be decoded or has no frames.
  """
  config = _check_config(holistic_config)
  video = os.fspath(video)
  if not os.path.isfile(video):
    raise FileNotFoundError(f'video not found: {video}')
  optional.import_mediapipe('Holistic pose extraction (vision.video_to_pose)')
  from pose_format.utils.holistic import load_holistic
  from simple_video_utils.frames import read_frames_exact
  from simple_video_utils.metadata import video_metadata

  try:
    meta = video_metadata(video)
    frames = read_frames_exact(video)
    # load_holistic writes static_image_mode into the dict it gets: pass a copy.
    return load_holistic(
      frames,
      fps=meta.fps,
      width=meta.width,
      height=meta.height,
      progress=False,
      additional_holistic_config=dict(config),
    )
  except Exception as e:  # PyAV/decoder errors come as RuntimeError, an empty video as ValueError
    cause = f'{type(e).__name__}: {e}'
    if e.__cause__ is not None:
      cause += f' ({type(e.__cause__).__name__}: {e.__cause__})'
    raise ValueError(f'cannot extract poses from {video}: {cause}') from e


def pose_path_for(video, out_dir) -> Path:
  """`out_dir/STEM.pose` for a video `.../STEM.ext`."""
  return Path(out_dir) / (Path(video).stem + '.pose')


def parse_shard(text: str) -> tuple[int, int]:
  """'I/N' -> (I, N) with 0 <= I < N (a job array's task index and size)."""
  parts = str(text).split('/')
  try:
    index, count = (int(p) for p in parts)
  except ValueError:
    raise ValueError(f'shard must look like I/N (e.g. 0/4), got {text!r}.') from None
  if count < 1 or not 0 <= index < count:
    raise ValueError(f'shard I/N needs N >= 1 and 0 <= I < N, got {text!r}.')
  return index, count


def _write_atomic(pose, path: Path) -> None:
  tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
  try:
    with open(tmp, 'wb') as f:
      pose.write(f)
    os.replace(tmp, path)  # a reader never sees a half-written .pose
  finally:
    if tmp.exists():
      tmp.unlink()


def _extract_one(video: str, out_path: str, config: dict) -> tuple[str, str | None]:
  """Worker: returns (video, None) on success or (video, error message)."""
  try:
    _write_atomic(video_to_pose(video, config), Path(out_path))
    return video, None
  except Exception as e:  # one bad video must not stop the others
    return video, str(e) if isinstance(e, (ValueError, FileNotFoundError)) else repr(e)


def _plan(videos, out_dir: Path, shard):
  videos = sorted(os.fspath(v) for v in videos)
  if not videos:
    raise ValueError('no videos given.')
  stems = {}
  for v in videos:
    other = stems.setdefault(Path(v).stem, v)
    if other != v:
      raise ValueError(
        f'{other} and {v} would both be written as {Path(v).stem}.pose; rename one or '
        'extract them into different --out folders.'
      )
  if shard is not None:
    index, count = shard
    checks.check_int('shard count', count)
    checks.check_int('shard index', index, low=0, high=count - 1)
    videos = videos[index::count]
  todo, skipped = [], []
  for v in videos:
    target = pose_path_for(v, out_dir)
    (skipped if target.is_file() else todo).append((v, target))
  return todo, [str(t) for _, t in skipped]


def extract_pose_files(
  videos: Sequence,
  out_dir,
  *,
  workers: int = 1,
  shard: tuple[int, int] | None = None,
  holistic_config: Mapping | None = None,
  progress: bool = True,
) -> ExtractionReport:
  """Extracts `out_dir/STEM.pose` for every video, resuming and sharding.

  Args:
    videos: video paths (their stems must be distinct).
    out_dir: output folder (created if missing).
    workers: worker processes; 1 runs in this process.
    shard: (I, N): process only every N-th video of the sorted list from I.
    holistic_config: see `video_to_pose`.
    progress: show a tqdm progress bar.

  Returns:
    `ExtractionReport`; unreadable videos are listed in `failed`, not raised.
  """
  from tqdm import tqdm

  config = _check_config(holistic_config)
  checks.check_int('workers', workers)
  if videos:  # fail once, before any worker, when the [pose] extra is missing
    optional.import_mediapipe('Holistic pose extraction (vision.extract_pose_files)')
  out_dir = Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  todo, skipped = _plan(videos, out_dir, shard)
  written, failed = [], {}
  bar = tqdm(total=len(todo), disable=not progress, unit='video', desc='Holistic')

  def record(video, error, target):
    if error is None:
      written.append(str(target))
    else:
      failed[video] = error
      bar.write(f'failed: {error}')
    bar.update(1)

  if workers == 1 or len(todo) <= 1:
    for video, target in todo:
      record(*_extract_one(video, str(target), config), target)
  else:
    # spawn, not fork: a forked copy of a process that already holds threads
    # (XLA, PyAV decoders) can deadlock; each worker builds its own graph.
    context = multiprocessing.get_context('spawn')
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
      jobs = {pool.submit(_extract_one, v, str(t), config): t for v, t in todo}
      for job in concurrent.futures.as_completed(jobs):
        record(*job.result(), jobs[job])
  bar.close()
  return ExtractionReport(written, skipped, failed)
