"""Pose features of section 3.2: shoulder normalisation, limb angles and lengths, mirroring.

Every function takes the paper's 75 points (`vision.sign.poses`: body 33,
left hand 21, right hand 21) with any leading axes, `points: [..., T, 75, D]`
(D = 3 as read, or 2) and a presence mask `mask: [..., T, 75]`, is jitted
once per shape, and returns exact zeros at missing points. Each one equals a
pose-format operation on the same data (tests check them on real `.pose`
files):

* `normalize_shoulders` = `Pose.normalize()`: subtract the mean shoulder
  centre over the clip, divide by the mean shoulder width (D-dimensional
  Euclidean distance, as pose-format's `distance_batch` takes it), both
  averaged over the frames where both shoulders are present.
* `LIMBS`, `limb_features` = the limb modules of pose-format's
  `PoseRepresentation` over those three components: `AngleRepresentation`
  (atan of dy/dx, 0/0 -> 0, so a vertical limb is +-pi/2 and a zero-length
  limb 0) and the 2-D `DistanceRepresentation`; both 0 where an end is
  missing.
* `flip_horizontal` = `pose_format.utils.holistic.mirror_horizontal`:
  x -> width - x, body left/right landmarks relabelled, hands swapped. The
  paper's only augmentation ("horizontal frame flip to account for
  left-handed signers").

`pose_features` builds the model input of section 3.2: the flat normalised
points concatenated with the angle and length of every limb.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from evaluation import checks
from vision.sign.poses import NUM_POINTS

__all__ = [
  'BODY_POINTS',
  'FEATURE_SETS',
  'FLIP_PERMUTATION',
  'LIMBS',
  'feature_columns',
  'feature_size',
  'flip_horizontal',
  'limb_features',
  'normalize_shoulders',
  'pose_features',
]

# MediaPipe's PoseLandmark names in index order (pose-format's POSE_LANDMARKS points).
BODY_POINTS = (
  'NOSE',
  'LEFT_EYE_INNER',
  'LEFT_EYE',
  'LEFT_EYE_OUTER',
  'RIGHT_EYE_INNER',
  'RIGHT_EYE',
  'RIGHT_EYE_OUTER',
  'LEFT_EAR',
  'RIGHT_EAR',
  'MOUTH_LEFT',
  'MOUTH_RIGHT',
  'LEFT_SHOULDER',
  'RIGHT_SHOULDER',
  'LEFT_ELBOW',
  'RIGHT_ELBOW',
  'LEFT_WRIST',
  'RIGHT_WRIST',
  'LEFT_PINKY',
  'RIGHT_PINKY',
  'LEFT_INDEX',
  'RIGHT_INDEX',
  'LEFT_THUMB',
  'RIGHT_THUMB',
  'LEFT_HIP',
  'RIGHT_HIP',
  'LEFT_KNEE',
  'RIGHT_KNEE',
  'LEFT_ANKLE',
  'RIGHT_ANKLE',
  'LEFT_HEEL',
  'RIGHT_HEEL',
  'LEFT_FOOT_INDEX',
  'RIGHT_FOOT_INDEX',
)
LEFT_SHOULDER = BODY_POINTS.index('LEFT_SHOULDER')
RIGHT_SHOULDER = BODY_POINTS.index('RIGHT_SHOULDER')
LEFT_HAND = slice(33, 54)
RIGHT_HAND = slice(54, 75)

# pose-format's limbs of POSE_LANDMARKS (MediaPipe POSE_CONNECTIONS, 35), then
# LEFT_HAND_LANDMARKS and RIGHT_HAND_LANDMARKS (HAND_CONNECTIONS, 21 each),
# offset into the 75 points, in the order pose-format's header stores them
# (`PoseRepresentation.get_limbs_points`; checked against real files). Written
# out rather than computed from mediapipe so that `import vision` stays light.
_BODY_LIMBS = [
  (15, 21), (16, 20), (18, 20), (3, 7), (14, 16), (23, 25), (28, 30), (11, 23), (27, 31),
  (6, 8), (15, 17), (24, 26), (16, 22), (4, 5), (5, 6), (29, 31), (12, 24), (23, 24),
  (0, 1), (9, 10), (1, 2), (0, 4), (11, 13), (30, 32), (28, 32), (15, 19), (16, 18),
  (25, 27), (26, 28), (12, 14), (17, 19), (2, 3), (11, 12), (27, 29), (13, 15),
]  # fmt: skip
_HAND_LIMBS = [
  (3, 4), (0, 5), (17, 18), (0, 17), (13, 14), (13, 17), (18, 19), (5, 6), (5, 9), (14, 15),
  (0, 1), (9, 10), (1, 2), (9, 13), (10, 11), (19, 20), (6, 7), (15, 16), (2, 3), (11, 12),
  (7, 8),
]  # fmt: skip
LIMBS = np.array(
  _BODY_LIMBS
  + [(a + 33, b + 33) for a, b in _HAND_LIMBS]
  + [(a + 54, b + 54) for a, b in _HAND_LIMBS],
  dtype=np.int32,
)  # [77, 2]
LIMBS.setflags(write=False)


def _flip_permutation() -> np.ndarray:
  # Output point i takes the data of point perm[i]: a body landmark takes its
  # left/right counterpart (pose-format's FLIPPED_BODY_POINTS), the left hand
  # takes the right hand's points and vice versa.
  swap = lambda n: n.replace('LEFT', '\0').replace('RIGHT', 'LEFT').replace('\0', 'RIGHT')
  body = [BODY_POINTS.index(swap(n)) for n in BODY_POINTS]
  return np.array(body + list(range(54, 75)) + list(range(33, 54)), dtype=np.int32)


FLIP_PERMUTATION = _flip_permutation()  # [75]
FLIP_PERMUTATION.setflags(write=False)

FEATURE_SETS = ('points', 'limbs', 'points+limbs')


def check_points_mask(points, mask):
  points = checks.check_array('points', points, min_ndim=3, kind='float')
  if points.shape[-2] != NUM_POINTS or points.shape[-1] not in (2, 3):
    raise ValueError(
      f'points must be [..., T, {NUM_POINTS}, 2 or 3] (body 33, left hand 21, right hand '
      f'21), got shape {tuple(points.shape)}.'
    )
  mask = checks.check_array('mask', mask, finite=False)
  if tuple(mask.shape) != tuple(points.shape[:-1]):
    raise ValueError(
      f'mask must be [..., T, {NUM_POINTS}] = {tuple(points.shape[:-1])} (points without the '
      f'coordinate axis), got {tuple(mask.shape)}.'
    )
  if np.dtype(mask.dtype) != np.bool_:
    raise ValueError(f'mask must be boolean (True = point present), got dtype {mask.dtype}.')
  return points, mask


@jax.jit
def _normalize_shoulders(points, mask):
  right, left = points[..., RIGHT_SHOULDER, :], points[..., LEFT_SHOULDER, :]  # (..., T, D)
  both = mask[..., RIGHT_SHOULDER] & mask[..., LEFT_SHOULDER]  # (..., T)
  n = both.sum(-1)[..., None]  # (..., 1)
  valid = n > 0
  denom = jnp.maximum(n, 1)
  center = jnp.where(both[..., None], (right + left) / 2, 0).sum(-2) / denom  # (..., D)
  width = jnp.sqrt(jnp.sum((right - left) ** 2, axis=-1))  # (..., T)
  mean_width = jnp.where(both, width, 0).sum(-1, keepdims=True) / denom  # (..., 1)
  # A clip without one frame holding both shoulders has no reference: it is
  # returned as it is (pose-format would produce a fully masked pose).
  ok = valid & (mean_width > 0)
  center = jnp.where(ok, center, 0)
  scale = jnp.where(ok, 1 / jnp.where(ok, mean_width, 1), 1)
  out = (points - center[..., None, None, :]) * scale[..., None, None, :]
  return jnp.where(mask[..., None], out, 0)


def normalize_shoulders(points, mask) -> jax.Array:
  """Centres on the mean shoulder midpoint and scales by the mean shoulder width.

  Equal to pose-format's `Pose.normalize()` (holistic: p1 = RIGHT_SHOULDER,
  p2 = LEFT_SHOULDER): over the frames where both shoulders are present,
  `center = mean((p1 + p2) / 2)` and `width = mean(||p1 - p2||)` (all D
  coordinates), then `(points - center) / width`. Each clip (leading index)
  is normalised on its own.

  Args:
    points: [..., T, 75, D] float, D = 2 or 3.
    mask: [..., T, 75] bool presence.

  Returns:
    [..., T, 75, D] float, zeros where `mask` is False. A clip with no frame
    holding both shoulders (or shoulders on one spot) is returned unchanged.
  """
  points, mask = check_points_mask(points, mask)
  return _normalize_shoulders(points, mask)


@jax.jit
def _limb_features(points, mask):
  a, b = LIMBS[:, 0], LIMBS[:, 1]
  d = points[..., b, :2] - points[..., a, :2]  # (..., T, L, 2): p2 - p1 as pose-format
  dx, dy = d[..., 0], d[..., 1]
  ok = mask[..., a] & mask[..., b]  # (..., T, L)
  # slope dy/dx with 0/0 -> 0 (pose-format's fix_nan); dy/0 stays +-inf and
  # atan maps it to +-pi/2, a vertical limb.
  flat = (dx == 0) & (dy == 0)
  angles = jnp.arctan(dy / jnp.where(flat, 1, dx))
  lengths = jnp.sqrt(jnp.where(ok, dx * dx + dy * dy, 0))
  return jnp.where(ok, angles, 0), lengths


def limb_features(points, mask) -> tuple[jax.Array, jax.Array]:
  """2-D angle and length of every limb in `LIMBS` (section 3.2, pose-format's representation).

  Args:
    points: [..., T, 75, D] float, D = 2 or 3 (only x and y are used).
    mask: [..., T, 75] bool presence.

  Returns:
    (angles, lengths), each [..., T, L] float with L = len(LIMBS) = 77:
    angle = atan(dy / dx) in [-pi/2, pi/2] with 0/0 -> 0, length = sqrt(dx^2
    + dy^2), (dx, dy) = end - start; both 0 where either end is missing.
  """
  points, mask = check_points_mask(points, mask)
  return _limb_features(points, mask)


@jax.jit
def _flip_horizontal(points, mask, width):
  perm = jnp.asarray(FLIP_PERMUTATION)
  p = points[..., perm, :]
  m = mask[..., perm]
  x = width[..., None, None] - p[..., 0]  # (..., T, 75)
  p = p.at[..., 0].set(x)
  return jnp.where(m[..., None], p, 0), m


def flip_horizontal(points, mask, width) -> tuple[jax.Array, jax.Array]:
  """Mirrors poses left-to-right, as if the video had been flipped.

  Equal to pose-format's `mirror_horizontal` on these 75 points: x ->
  width - x (y and z unchanged), body landmarks relabelled LEFT <-> RIGHT,
  the left and right hand components swapped (the mask moves with them).

  Args:
    points: [..., T, 75, D] float in pixels (before normalisation).
    mask: [..., T, 75] bool.
    width: frame width in pixels: a scalar or an array of the leading shape
      `[...]` (one width per clip).

  Returns:
    (points [..., T, 75, D], mask [..., T, 75]) of the mirrored clip, zeros
    at missing points.
  """
  points, mask = check_points_mask(points, mask)
  width = checks.check_array('width', width, kind='number')
  lead = tuple(points.shape[:-3])
  if tuple(width.shape) not in ((), lead):
    raise ValueError(f'width must be a scalar or of the leading shape {lead}, got {width.shape}.')
  return _flip_horizontal(points, mask, jnp.asarray(width, points.dtype))


def feature_columns(feature_set: str, dims: int = 3) -> np.ndarray:
  """Which columns of the full 'points+limbs' feature vector a feature set uses.

  Returns:
    [75 * dims + 2 * L] bool; `pose_features(p, m, feature_set)` equals
    `pose_features(p, m)[..., feature_columns(feature_set)]`.
  """
  checks.check_choice('feature_set', feature_set, FEATURE_SETS)
  n_points = NUM_POINTS * dims
  keep = np.zeros(n_points + 2 * len(LIMBS), bool)
  keep[:n_points] = 'points' in feature_set
  keep[n_points:] = 'limbs' in feature_set
  return keep


def feature_size(feature_set: str = 'points+limbs', dims: int = 3) -> int:
  """Length F of one frame's feature vector from `pose_features`."""
  checks.check_choice('feature_set', feature_set, FEATURE_SETS)
  n_points = NUM_POINTS * dims if 'points' in feature_set else 0
  n_limbs = 2 * len(LIMBS) if 'limbs' in feature_set else 0
  return n_points + n_limbs


@functools.partial(jax.jit, static_argnames='feature_set')
def _pose_features(points, mask, feature_set):
  normalized = _normalize_shoulders(points, mask)
  parts = []
  if 'points' in feature_set:
    parts.append(normalized.reshape(*normalized.shape[:-2], -1))  # (..., T, 75 * D)
  if 'limbs' in feature_set:
    parts.extend(_limb_features(normalized, mask))  # 2 x (..., T, L)
  return jnp.concatenate(parts, axis=-1)


def pose_features(points, mask, feature_set: str = 'points+limbs') -> jax.Array:
  """The model input of section 3.2: flat normalised points + limb angles and lengths.

  The points are first normalised by `normalize_shoulders` (so lengths are in
  shoulder widths); angles are scale-free.

  Args:
    points: [..., T, 75, D] float.
    mask: [..., T, 75] bool.
    feature_set: 'points+limbs' (the paper's Team 2 input), 'points' (flat
      normalised points only) or 'limbs' (angles and lengths only); the rows
      of our Table 1.

  Returns:
    [..., T, F] float, F = `feature_size(feature_set, D)` (75 * 3 + 2 * 77
    = 379 for points+limbs with D = 3): 75 * D coordinates, then L angles,
    then L lengths.
  """
  checks.check_choice('feature_set', feature_set, FEATURE_SETS)
  points, mask = check_points_mask(points, mask)
  return _pose_features(points, mask, feature_set)


def pose_batch_data(poses, labels, flip: bool = True) -> dict:
  """The trainer's `data` pytree of a padded `PoseBatch`: features, frame mask, labels.

  Args:
    poses: `vision.PoseBatch` (points in pixels, mask, lengths, width).
    labels: [N] int class ids.
    flip: also store the features of the mirrored clips (`x_flip`).

  Returns:
    {'x': [N, T, 379] float32 features, 'mask': [N, T] bool real frames,
    'y': [N] int32, ['x_flip': [N, T, 379]]}.
  """
  labels = checks.check_labels('labels', labels, n=len(poses.lengths))
  if np.min(poses.lengths) < 1:
    raise ValueError('every clip needs at least one frame.')
  t = poses.points.shape[1]
  data = {
    'x': pose_features(poses.points, poses.mask),
    'mask': jnp.asarray(np.arange(t)[None] < poses.lengths[:, None]),
    'y': jnp.asarray(labels),
  }
  if flip:
    points, mask = flip_horizontal(poses.points, poses.mask, poses.width)
    data['x_flip'] = pose_features(points, mask)
  return data
