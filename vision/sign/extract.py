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

Many videos (`extract_pose_files`): worker processes (each with its own
Holistic graph), a progress bar, videos whose `.pose` already exists are
skipped (so an interrupted run resumes; files appear atomically, a killed
worker leaves no half-written `.pose`), a video that cannot be read is named
in the report and the others go on, and `shard=(i, n)` takes every n-th video
of the sorted list starting at i, so n machines of a job array split a list
without talking to each other. A worker that dies (a segfault in a decoder
or in mediapipe, `os._exit`) or runs past `timeout` seconds on one video is
killed and replaced; that video is reported as failed and the others go on.
Every failure is recorded in `OUT/extraction_failures.json` (one file per
shard), and a rerun skips the recorded videos unless `retry_failed`.

mediapipe and PyAV are imported only here, inside the functions, so
`import vision` stays light.
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.connection
import os
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from evaluation import checks
from vision import optional

__all__ = [
  'ExtractionReport',
  'FAILURES_FILE',
  'extract_pose_files',
  'parse_shard',
  'pose_path_for',
  'read_failures',
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
    failed: {video path: error message} for videos that could not be
      processed in this call (unreadable, worker died, timed out).
    previously_failed: {video path: error message} for videos not tried
      because an earlier call recorded them as failed (`FAILURES_FILE`).
  """

  written: list
  skipped: list
  failed: dict
  previously_failed: dict


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


FAILURES_FILE = 'extraction_failures.json'


def _failures_file(out_dir: Path, shard) -> Path:
  # One file per shard: machines of a job array writing one folder never share a file.
  if shard is None:
    return out_dir / FAILURES_FILE
  return out_dir / FAILURES_FILE.replace('.json', f'.shard{shard[0]}of{shard[1]}.json')


def read_failures(out_dir) -> dict:
  """{`.pose` name: {'video', 'error'}} recorded in `out_dir` by earlier calls (every shard's file)."""
  recorded = {}
  for path in sorted(Path(out_dir).glob(FAILURES_FILE.replace('.json', '*.json'))):
    with open(path, 'rb') as f, checks.reading(path, 'JSON file'):
      recorded.update(json.loads(f.read().decode('utf-8')))
  return recorded


def _write_json_atomic(data, path: Path) -> None:
  tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
  tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
  os.replace(tmp, path)


def _extract_one(video: str, out_path: str, config: dict, video_fn=None) -> str | None:
  """Extracts one video; returns None on success or the error message."""
  try:
    _write_atomic((video_fn or video_to_pose)(video, config), Path(out_path))
    return None
  except Exception as e:  # one bad video must not stop the others
    return str(e) if isinstance(e, (ValueError, FileNotFoundError)) else repr(e)


def _worker(conn, config: dict, video_fn) -> None:
  """A worker process: extracts the videos sent on `conn` one at a time until None or EOF."""
  # So a video's time starts when a worker is there to take it, and so the parent
  # can tell that this worker runs the same copy of this module as it does.
  conn.send(('ready', os.path.abspath(__file__)))
  while True:
    try:
      task = conn.recv()
    except EOFError:
      return
    if task is None:
      return
    conn.send(_extract_one(*task, config, video_fn))


class _Slot:
  """One worker process, its pipe and the video it is on (None when idle)."""

  def __init__(self, context, config, video_fn):
    self.conn, child = context.Pipe()
    self.process = context.Process(target=_worker, args=(child, config, video_fn), daemon=True)
    self.process.start()
    child.close()
    self.task, self.started = None, 0.0

  def wait_ready(self, limit: float = 300.0) -> '_Slot':
    try:
      if self.conn.poll(limit) and self.conn.recv() == ('ready', os.path.abspath(__file__)):
        return self
    except (EOFError, OSError):
      pass
    self.stop(kill=True)
    raise RuntimeError(
      f'a pose-extraction worker process did not start (exit code {self.process.exitcode}); '
      'see its error above.'
    )

  def stop(self, kill: bool = False) -> None:
    if not kill:
      try:
        self.conn.send(None)
      except OSError:
        kill = True
      self.process.join(5)
    if self.process.is_alive():
      self.process.kill()
      self.process.join()
    self.conn.close()


_forkserver_failed = []  # set when a forkserver worker could not start: spawn from then on


def _context():
  # forkserver where there is one: workers fork from a clean single-threaded
  # server that has imported this module once, so replacing a dead worker costs
  # milliseconds, and no worker is a fork of this process's threads (XLA, PyAV).
  # The server imports it from its own sys.path (Python 3.12 ignores the
  # parent's), which may find another copy of the library: `_start` then
  # falls back to spawn.
  if 'forkserver' in multiprocessing.get_all_start_methods() and not _forkserver_failed:
    context = multiprocessing.get_context('forkserver')
    context.set_forkserver_preload([__name__])
    return context
  return multiprocessing.get_context('spawn')


def _start(count: int, config, video_fn):
  """`count` started workers and their context (spawn if forkserver's could not start)."""
  context = _context()
  try:
    return context, [_Slot(context, config, video_fn).wait_ready() for _ in range(count)]
  except RuntimeError:
    if context.get_start_method() == 'spawn':
      raise
  _forkserver_failed.append(True)
  context = _context()
  return context, [_Slot(context, config, video_fn).wait_ready() for _ in range(count)]


def _run_pool(todo, workers, timeout, config, video_fn, record):
  """Extracts `todo` [(video, target)] in `workers` processes, replacing any that dies or hangs."""
  pending = list(reversed(todo))
  context, slots = _start(min(workers, len(todo)), config, video_fn)
  try:
    while pending or any(s.task for s in slots):
      for i, slot in enumerate(slots):
        if slot.task is None and pending:
          slot.task, slot.started = pending.pop(), time.monotonic()
          try:
            slot.conn.send((slot.task[0], str(slot.task[1])))
          except OSError:  # died idle: a fresh worker takes the video
            slot.stop(kill=True)
            pending.append(slot.task)
            slots[i] = _Slot(context, config, video_fn).wait_ready()
      busy = [s for s in slots if s.task]
      wait = None
      if timeout is not None:
        wait = max(0.0, min(s.started + timeout for s in busy) - time.monotonic())
      ready = multiprocessing.connection.wait(
        [s.conn for s in busy] + [s.process.sentinel for s in busy], wait
      )
      for i, slot in enumerate(slots):
        if slot.task is None:
          continue
        video, target = slot.task
        error, replace = None, False
        if slot.conn in ready or slot.process.sentinel in ready:
          try:
            error = slot.conn.recv() if slot.conn.poll() else None
            done = slot.conn in ready or error is not None
          except (EOFError, OSError):
            done = False
          if not done:
            slot.process.join(1)
            code = slot.process.exitcode
            error = f'worker process died (exit code {code}) while extracting {video}'
            replace = True
        elif timeout is not None and time.monotonic() - slot.started >= timeout:
          error = f'timed out after {timeout:g} s extracting {video} (worker killed)'
          replace = True
        else:
          continue
        slot.task = None
        if replace:
          slot.stop(kill=True)
          slots[i] = _Slot(context, config, video_fn).wait_ready() if pending else slot
        record(video, error, target)
  finally:
    for slot in slots:
      if slot.process.is_alive() or not slot.conn.closed:
        slot.stop()


def _plan(videos, out_dir: Path, shard, retry_failed: bool):
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
  recorded = {} if retry_failed else read_failures(out_dir)
  todo, skipped, before = [], [], {}
  for v in videos:
    target = pose_path_for(v, out_dir)
    if target.is_file():
      skipped.append(str(target))
    elif target.name in recorded:
      before[v] = recorded[target.name]['error']
    else:
      todo.append((v, target))
  return todo, skipped, before


def extract_pose_files(
  videos: Sequence,
  out_dir,
  *,
  workers: int = 1,
  shard: tuple[int, int] | None = None,
  holistic_config: Mapping | None = None,
  progress: bool = True,
  timeout: float | None = None,
  retry_failed: bool = False,
  video_fn: Callable | None = None,
) -> ExtractionReport:
  """Extracts `out_dir/STEM.pose` for every video, resuming and sharding.

  Args:
    videos: video paths (their stems must be distinct).
    out_dir: output folder (created if missing).
    workers: worker processes (a crashed or hung one is replaced and its
      video reported as failed); 0 runs in this process, unprotected.
    shard: (I, N): process only every N-th video of the sorted list from I.
    holistic_config: see `video_to_pose`.
    progress: show a tqdm progress bar.
    timeout: seconds one video may take before its worker is killed (None:
      no limit; needs workers >= 1).
    retry_failed: also try the videos `out_dir`'s `FAILURES_FILE` records as
      failed by an earlier call (otherwise they are skipped and listed in
      `previously_failed`).
    video_fn: the per-video function `video_fn(video, holistic_config) ->`
      an object with `.write(file)` (a `pose_format.Pose`); default
      `video_to_pose`. Must be picklable (a module-level function) for workers.

  Returns:
    `ExtractionReport`; failed videos are listed in `failed` and recorded in
    `out_dir`, not raised.
  """
  from tqdm import tqdm

  config = _check_config(holistic_config)
  checks.check_int('workers', workers, low=0)
  if timeout is not None:
    checks.check_positive_float('timeout', timeout)
    if workers == 0:
      raise ValueError('a timeout needs worker processes (workers >= 1), got workers=0.')
  if videos and video_fn is None:  # fail once, before any worker, when the [pose] extra is missing
    optional.import_mediapipe('Holistic pose extraction (vision.extract_pose_files)')
  out_dir = Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  todo, skipped, before = _plan(videos, out_dir, shard, retry_failed)
  failures_file = _failures_file(out_dir, shard)
  mine = {}
  if failures_file.is_file():
    with open(failures_file, 'rb') as f, checks.reading(failures_file, 'JSON file'):
      mine = json.loads(f.read().decode('utf-8'))
  written, failed = [], {}
  bar = tqdm(total=len(todo), disable=not progress, unit='video', desc='Holistic')

  def record(video, error, target):
    if error is None:
      written.append(str(target))
      changed = mine.pop(Path(target).name, None) is not None  # a retry that worked
    else:
      failed[video] = error
      mine[Path(target).name] = {'video': video, 'error': error}
      changed = True
      bar.write(f'failed: {error}')
    if changed:  # after every failure, so a killed run keeps what it learnt
      _write_json_atomic(mine, failures_file)
    bar.update(1)

  if workers == 0:
    for video, target in todo:
      record(video, _extract_one(video, str(target), config, video_fn), target)
  elif todo:
    _run_pool(todo, workers, timeout, config, video_fn, record)
  bar.close()
  return ExtractionReport(written, skipped, failed, before)
