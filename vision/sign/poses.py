"""`.pose` files (pose-format) to arrays: the paper's 75 points (or OpenPose's) and a presence mask.

Section 3.2: of the 543 MediaPipe Holistic landmarks, the 468 (or 478 with
refined irises) face-mesh points are dropped and the remaining 75 used:

    0..32   POSE_LANDMARKS        (body, 33)
    33..53  LEFT_HAND_LANDMARKS   (21)
    54..74  RIGHT_HAND_LANDMARKS  (21)

Coordinates are pose-format's: x and y in pixels of the source video (the
header's width and height), z as MediaPipe reports it (unscaled). A point is
present when its confidence is > 0, which is pose-format's own mask
(`NumPyPoseBody` masks confidence == 0); Holistic writes confidence 0 and
coordinates 0 for a hand it did not detect, so a missing hand is 21 points
with mask False. Missing points are returned as exact zeros.

OpenPose `.pose` files (pose-format's `load_openpose_directory` of OpenPose
JSON, or AUTSL's BODY_135 poses of sign-language-datasets) are read the same
way into their own layouts (`vision.sign.layouts`: 67 or 65 points, x and y
in pixels); OpenPose writes confidence 0 for a point it did not find.

The file format itself is pose-format's (`Pose.read`); nothing here parses
bytes by hand.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from evaluation import checks
from vision.sign import layouts

__all__ = [
  'COMPONENTS',
  'NUM_POINTS',
  'interpolate_missing',
  'PoseArrays',
  'PoseBatch',
  'pad_poses',
  'pose_to_arrays',
  'read_pose',
  'read_pose_arrays',
]

# The three Holistic components kept by the paper (section 3.2), in this order.
COMPONENTS = ('POSE_LANDMARKS', 'LEFT_HAND_LANDMARKS', 'RIGHT_HAND_LANDMARKS')
COMPONENT_SIZES = (33, 21, 21)
NUM_POINTS = sum(COMPONENT_SIZES)  # 75


class PoseArrays(NamedTuple):
  """One clip as arrays.

  Attributes:
    points: [T, P, D] float32 (Holistic [T, 75, 3]: x/y in pixels, z
      unscaled; OpenPose [T, 67 or 65, 2]: x/y in pixels); 0 where missing.
    mask: [T, P] bool, True where the point was estimated (confidence > 0).
    fps: frames per second from the file.
    width: frame width in pixels (the header's), needed to mirror x.
    height: frame height in pixels.
  """

  points: np.ndarray
  mask: np.ndarray
  fps: float
  width: int
  height: int


class PoseBatch(NamedTuple):
  """Clips of different lengths, zero-padded at the end to a common length.

  Attributes:
    points: [B, T, P, D] float32 (Holistic [B, T, 75, 3]); padded frames are zeros.
    mask: [B, T, P] bool; padded frames are all False.
    lengths: [B] int32 number of real frames of each clip.
    width: [B] float32 frame widths (for `flip_horizontal`).
  """

  points: np.ndarray
  mask: np.ndarray
  lengths: np.ndarray
  width: np.ndarray


def read_pose(path):
  """Reads a `.pose` file with pose-format (`pose_format.Pose.read`).

  Raises:
    FileNotFoundError: naming the path.
    ValueError: naming the path when pose-format cannot parse it.
  """
  from pose_format import Pose

  path = os.fspath(path)
  if not os.path.isfile(path):
    raise FileNotFoundError(f'pose file not found: {path}')
  with open(path, 'rb') as f:
    buffer = f.read()
  try:
    return Pose.read(buffer)
  except Exception as e:  # pose-format raises struct/Index/Value errors on bad bytes
    raise ValueError(f'{path} is not a readable .pose file ({type(e).__name__}: {e}).') from e


def pose_to_arrays(pose, person: int = 0, source: str = 'pose', layout=None) -> PoseArrays:
  """The body and hand points of one person of a pose-format `Pose` (face dropped).

  Args:
    pose: a `pose_format.Pose` from MediaPipe Holistic (the 75 points of
      section 3.2), from OpenPose JSON (`load_openpose_directory`: BODY_25
      and both hands, 67 points) or AUTSL's OpenPose BODY_135 (its body and
      hands, 65 points); `vision.sign.layouts`.
    person: which person of the body's people axis.
    source: a name for error messages (e.g. the file path).
    layout: the layout expected (a `PoseLayout` or its name); None: the one
      the header's components name.

  Returns:
    `PoseArrays` with points [T, P, D] and mask [T, P] (Holistic: P = 75,
    D = 3; OpenPose: P = 67 or 65, D = 2).

  Raises:
    ValueError: a component is missing or has other points, or the person
      index is out of range, naming `source`.
  """
  names = [c.name for c in pose.header.components]
  found = layouts.layout_of_components(names)
  if isinstance(layout, str):
    checks.check_choice('layout', layout, tuple(layouts.LAYOUTS))
    layout = layouts.LAYOUTS[layout]
  if layout is None:
    layout = found
  if layout is None or layout is not found:
    expected = {n: [c for c, _ in lay.components] for n, lay in layouts.LAYOUTS.items()}
    # Name the first missing component of the layout asked for, or of the nearest one.
    near = layout or max(
      layouts.LAYOUTS.values(), key=lambda x: sum(c in names for c, _ in x.components)
    )
    first = next((c for c, _ in near.components if c not in names), near.components[0][0])
    raise ValueError(
      f'{source}: no {first} component (components: {names}); expected a MediaPipe '
      f'Holistic or OpenPose pose as written by pose-format (components per layout: {expected}).'
    )
  starts, start = {}, 0
  for c in pose.header.components:
    starts[c.name] = (start, list(c.points))
    start += len(c.points)
  idx = []
  for name, points in layout.components:
    first, have = starts[name]
    if have[: len(points)] != list(points) and not set(points) <= set(have):
      raise ValueError(
        f'{source}: {name} has {len(have)} points, expected {len(points)} ({layout.name}).'
      )
    idx.extend(first + have.index(p) for p in points)
  data = np.asarray(pose.body.data.data if hasattr(pose.body.data, 'data') else pose.body.data)
  confidence = np.asarray(pose.body.confidence)
  if data.ndim != 4 or data.shape[-1] < layout.dims:
    raise ValueError(
      f'{source}: body data must be [frames, people, points, >={layout.dims}], got {data.shape}.'
    )
  people = data.shape[1]
  checks.check_int('person', person, low=0, high=people - 1)
  idx = np.asarray(idx)
  points = data[:, person][:, idx, : layout.dims].astype(np.float32)
  mask = confidence[:, person][:, idx] > 0
  points = np.where(mask[..., None], points, 0.0).astype(np.float32)
  if not np.all(np.isfinite(points)):
    raise ValueError(f'{source}: the pose holds NaN or inf coordinates at present points.')
  dims = pose.header.dimensions
  return PoseArrays(points, mask, float(pose.body.fps), int(dims.width), int(dims.height))


def interpolate_missing(pose):
  """pose-format's `Pose.interpolate` at the pose's own frame rate: missing points filled in.

  Each point's missing frames between its first and last detection (a hand
  Holistic or OpenPose lost for a few frames) are interpolated over time
  (cubic where the point has more than 3 detections, quadratic or linear
  with fewer), confidence too; frames before its first or after its last
  detection stay missing. A clip of one frame is returned as it is
  (pose-format cannot interpolate one frame).
  """
  if pose.body.data.shape[0] < 2:
    return pose
  return pose.interpolate(kind='cubic')


def read_pose_arrays(path, person: int = 0, layout=None, interpolate: bool = False) -> PoseArrays:
  """`read_pose` then `pose_to_arrays`: a `.pose` file -> [T, P, D] points and [T, P] mask.

  Args:
    path: the `.pose` file (Holistic, OpenPose BODY_25 + hands, or BODY_135).
    person: which person.
    layout: the layout expected (see `pose_to_arrays`); None: the file's.
    interpolate: fill missing points first (`interpolate_missing`,
      pose-format's `Pose.interpolate`).
  """
  pose = read_pose(path)
  if interpolate:
    found = layouts.layout_of_components([c.name for c in pose.header.components])
    if found is not None:  # only the kept points (pose-format interpolates point by point)
      names = [c for c, _ in found.components]
      pose = pose.get_components(names, {c: list(p) for c, p in found.components})
    pose = interpolate_missing(pose)
  return pose_to_arrays(pose, person=person, source=os.fspath(path), layout=layout)


def _subsample(n: int, max_frames: int) -> np.ndarray:
  # Evenly spaced frames over the whole clip (first and last kept), so a long
  # clip keeps its time course instead of losing its end.
  if n <= max_frames:
    return np.arange(n)
  return np.round(np.linspace(0, n - 1, max_frames)).astype(np.int64)


def pad_poses(
  clips: Sequence[PoseArrays], max_frames: int | None = None, pad_to: int | None = None
) -> PoseBatch:
  """Stacks clips into one zero-padded batch with their lengths.

  Args:
    clips: `PoseArrays` (or any objects with `points` [T, P, D], `mask`
      [T, P] and `width`), all of one layout (P = 75 Holistic, 67 or 65
      OpenPose).
    max_frames: clips longer than this are subsampled to `max_frames` evenly
      spaced frames (first and last kept); None keeps every frame.
    pad_to: pad to this many frames (>= the longest clip after
      subsampling), so batches of different clips share one shape; default
      the longest clip.

  Returns:
    `PoseBatch` with points [B, T, P, D], mask [B, T, P], lengths [B].
  """
  if len(clips) == 0:
    raise ValueError('clips is empty: nothing to batch.')
  if max_frames is not None:
    checks.check_int('max_frames', max_frames)
  kept = []
  shape = np.shape(clips[0].points)[1:]
  if len(shape) != 2 or shape[1] not in (2, 3):
    raise ValueError(f'clip 0: points must be [T, P, 2 or 3], got {np.shape(clips[0].points)}.')
  layouts.layout_of(shape[0])
  for i, c in enumerate(clips):
    p, m = np.asarray(c.points), np.asarray(c.mask)
    if p.ndim != 3 or p.shape[1:] != shape or m.shape != p.shape[:2]:
      raise ValueError(
        f'clip {i}: points must be [T, {shape[0]}, {shape[1]}] and mask [T, {shape[0]}] like '
        f'clip 0, got {p.shape} and {m.shape}.'
      )
    if p.shape[0] == 0:
      raise ValueError(f'clip {i} has no frames.')
    sel = _subsample(p.shape[0], max_frames) if max_frames else np.arange(p.shape[0])
    kept.append((p[sel], m[sel]))
  longest = max(p.shape[0] for p, _ in kept)
  if pad_to is None:
    pad_to = longest
  checks.check_int('pad_to', pad_to, low=longest)
  b = len(kept)
  points = np.zeros((b, pad_to, *shape), np.float32)
  mask = np.zeros((b, pad_to, shape[0]), bool)
  lengths = np.zeros(b, np.int32)
  for i, (p, m) in enumerate(kept):
    points[i, : len(p)] = p
    mask[i, : len(p)] = m
    lengths[i] = len(p)
  width = np.array([float(c.width) for c in clips], np.float32)
  return PoseBatch(points, mask, lengths, width)
