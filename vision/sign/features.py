"""Pose features of section 3.2: shoulder normalisation, limb angles and lengths, mirroring.

Every function takes the points of one pose layout (`vision.sign.layouts`:
the paper's 75 Holistic points, body 33, left hand 21, right hand 21; or
OpenPose's 67 = BODY_25 + 21 + 21, or AUTSL's BODY_135 body and hands, 65)
with any leading axes, `points: [..., T, P, D]` (D = 3 as read from
Holistic, 2 from OpenPose) and a presence mask `mask: [..., T, P]`, takes
the layout from P unless given, is jitted once per shape and layout, and
returns exact zeros at missing points. Each one equals a pose-format
operation on the same data (tests check them on real `.pose` files, and on
OpenPose files pose-format makes from OpenPose JSON):

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
from vision.sign.layouts import HOLISTIC
from vision.sign.layouts import HOLISTIC_BODY
from vision.sign.layouts import PoseLayout
from vision.sign.layouts import layout_of

__all__ = [
  'BODY_POINTS',
  'FEATURE_SETS',
  'FLIP_PERMUTATION',
  'LIMBS',
  'combined_batch_data',
  'feature_columns',
  'feature_size',
  'flip_horizontal',
  'limb_features',
  'normalize_shoulders',
  'pose_features',
  'upper_body_columns',
]

BODY_POINTS = HOLISTIC_BODY  # MediaPipe's PoseLandmark names in index order
LEFT_SHOULDER = BODY_POINTS.index('LEFT_SHOULDER')
RIGHT_SHOULDER = BODY_POINTS.index('RIGHT_SHOULDER')
LEFT_HAND = slice(*HOLISTIC.hands[0])
RIGHT_HAND = slice(*HOLISTIC.hands[1])

# pose-format's limbs of POSE_LANDMARKS (MediaPipe POSE_CONNECTIONS, 35), then
# LEFT_HAND_LANDMARKS and RIGHT_HAND_LANDMARKS (HAND_CONNECTIONS, 21 each),
# offset into the 75 points, in the order pose-format's header stores them
# (`PoseRepresentation.get_limbs_points`; checked against real files).
LIMBS = HOLISTIC.limb_array  # [77, 2]
LIMBS.setflags(write=False)

# Output point i takes the data of point FLIP_PERMUTATION[i]: a body landmark
# takes its left/right counterpart (pose-format's FLIPPED_BODY_POINTS), the
# left hand takes the right hand's points and vice versa.
FLIP_PERMUTATION = np.array(HOLISTIC.flip, np.int32)  # [75]
FLIP_PERMUTATION.setflags(write=False)

FEATURE_SETS = ('points', 'limbs', 'points+limbs')


def check_points_mask(points, mask, layout: PoseLayout | None = None):
  """Checked (points, mask) and their layout (from the number of points when not given)."""
  points = checks.check_array('points', points, min_ndim=3, kind='float')
  if layout is None:
    try:
      layout = layout_of(points.shape[-2])
    except ValueError as e:
      raise ValueError(
        f'points must be [..., T, P, 2 or 3], got {tuple(points.shape)}: {e}'
      ) from None
  if points.shape[-2] != layout.num_points or points.shape[-1] not in (2, 3):
    raise ValueError(
      f'points must be [..., T, {layout.num_points}, 2 or 3] ({layout.name}: '
      f'{", ".join(f"{c} {len(p)}" for c, p in layout.components)}), got shape '
      f'{tuple(points.shape)}.'
    )
  mask = checks.check_array('mask', mask, finite=False)
  if tuple(mask.shape) != tuple(points.shape[:-1]):
    raise ValueError(
      f'mask must be [..., T, {layout.num_points}] = {tuple(points.shape[:-1])} (points without '
      f'the coordinate axis), got {tuple(mask.shape)}.'
    )
  if np.dtype(mask.dtype) != np.bool_:
    raise ValueError(f'mask must be boolean (True = point present), got dtype {mask.dtype}.')
  return points, mask, layout


@functools.partial(jax.jit, static_argnames='layout')
def _normalize_shoulders(points, mask, layout=HOLISTIC):
  r_i, l_i = layout.right_shoulder, layout.left_shoulder
  right, left = points[..., r_i, :], points[..., l_i, :]  # (..., T, D)
  both = mask[..., r_i] & mask[..., l_i]  # (..., T)
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


def normalize_shoulders(points, mask, layout: PoseLayout | None = None) -> jax.Array:
  """Centres on the mean shoulder midpoint and scales by the mean shoulder width.

  Equal to pose-format's `Pose.normalize()` (p1 = the right shoulder, p2 =
  the left, `pose_format.utils.generic.pose_shoulders`: Holistic's
  RIGHT_SHOULDER / LEFT_SHOULDER, OpenPose's RShoulder / LShoulder): over
  the frames where both shoulders are present, `center = mean((p1 + p2) / 2)`
  and `width = mean(||p1 - p2||)` (all D coordinates), then
  `(points - center) / width`. Each clip (leading index) is normalised on
  its own.

  Args:
    points: [..., T, P, D] float, D = 2 or 3, P the layout's points (75
      Holistic, 67 OpenPose, 65 OpenPose BODY_135).
    mask: [..., T, P] bool presence.
    layout: `vision.sign.layouts` layout; default: from P.

  Returns:
    [..., T, P, D] float, zeros where `mask` is False. A clip with no frame
    holding both shoulders (or shoulders on one spot) is returned unchanged.
  """
  points, mask, layout = check_points_mask(points, mask, layout)
  return _normalize_shoulders(points, mask, layout)


@functools.partial(jax.jit, static_argnames='layout')
def _limb_features(points, mask, layout=HOLISTIC):
  limbs = layout.limb_array
  a, b = limbs[:, 0], limbs[:, 1]
  d = points[..., b, :2] - points[..., a, :2]  # (..., T, L, 2): p2 - p1 as pose-format
  dx, dy = d[..., 0], d[..., 1]
  ok = mask[..., a] & mask[..., b]  # (..., T, L)
  # slope dy/dx with 0/0 -> 0 (pose-format's fix_nan); dy/0 stays +-inf and
  # atan maps it to +-pi/2, a vertical limb.
  flat = (dx == 0) & (dy == 0)
  angles = jnp.arctan(dy / jnp.where(flat, 1, dx))
  lengths = jnp.sqrt(jnp.where(ok, dx * dx + dy * dy, 0))
  return jnp.where(ok, angles, 0), lengths


def limb_features(points, mask, layout: PoseLayout | None = None) -> tuple[jax.Array, jax.Array]:
  """2-D angle and length of every limb of the layout (section 3.2, pose-format's representation).

  Args:
    points: [..., T, P, D] float, D = 2 or 3 (only x and y are used).
    mask: [..., T, P] bool presence.
    layout: default: from P (Holistic's limbs are `LIMBS`).

  Returns:
    (angles, lengths), each [..., T, L] float with L = len(layout.limbs)
    (77 Holistic, 64 OpenPose, 62 BODY_135): angle = atan(dy / dx) in
    [-pi/2, pi/2] with 0/0 -> 0, length = sqrt(dx^2 + dy^2), (dx, dy) = end
    - start; both 0 where either end is missing.
  """
  points, mask, layout = check_points_mask(points, mask, layout)
  return _limb_features(points, mask, layout)


@functools.partial(jax.jit, static_argnames='layout')
def _flip_horizontal(points, mask, width, layout=HOLISTIC):
  perm = jnp.asarray(np.array(layout.flip, np.int32))
  p = points[..., perm, :]
  m = mask[..., perm]
  x = width[..., None, None] - p[..., 0]  # (..., T, P)
  p = p.at[..., 0].set(x)
  return jnp.where(m[..., None], p, 0), m


def flip_horizontal(points, mask, width, layout: PoseLayout | None = None):
  """Mirrors poses left-to-right, as if the video had been flipped.

  On Holistic's 75 points equal to pose-format's `mirror_horizontal`: x ->
  width - x (y and z unchanged), body landmarks relabelled LEFT <-> RIGHT,
  the left and right hand components swapped (the mask moves with them).
  OpenPose layouts the same way by their names (LShoulder <-> RShoulder,
  the hands exchanged; pose-format has no OpenPose mirror).

  Args:
    points: [..., T, P, D] float in pixels (before normalisation).
    mask: [..., T, P] bool.
    width: frame width in pixels: a scalar or an array of the leading shape
      `[...]` (one width per clip).
    layout: default: from P.

  Returns:
    (points [..., T, P, D], mask [..., T, P]) of the mirrored clip, zeros
    at missing points.
  """
  points, mask, layout = check_points_mask(points, mask, layout)
  width = checks.check_array('width', width, kind='number')
  lead = tuple(points.shape[:-3])
  if tuple(width.shape) not in ((), lead):
    raise ValueError(f'width must be a scalar or of the leading shape {lead}, got {width.shape}.')
  return _flip_horizontal(points, mask, jnp.asarray(width, points.dtype), layout)


def feature_columns(feature_set: str, dims: int = 3, layout: PoseLayout = HOLISTIC) -> np.ndarray:
  """Which columns of the full 'points+limbs' feature vector a feature set uses.

  Returns:
    [P * dims + 2 * L] bool; `pose_features(p, m, feature_set)` equals
    `pose_features(p, m)[..., feature_columns(feature_set)]`.
  """
  checks.check_choice('feature_set', feature_set, FEATURE_SETS)
  n_points = layout.num_points * dims
  keep = np.zeros(n_points + 2 * len(layout.limbs), bool)
  keep[:n_points] = 'points' in feature_set
  keep[n_points:] = 'limbs' in feature_set
  return keep


def upper_body_columns(dims: int = 3, layout: PoseLayout = HOLISTIC) -> np.ndarray:
  """[P * dims + 2 * L] bool: the coordinates of the upper-body points (Team 1's input, section 3.1).

  The points above the hips (head, shoulders, arms, hands) of
  `layout.upper_body`; no limb column.
  """
  keep = np.zeros(layout.num_points * dims + 2 * len(layout.limbs), bool)
  keep[: layout.num_points * dims] = np.repeat(np.array(layout.upper_body, bool), dims)
  return keep


def feature_size(feature_set: str = 'points+limbs', dims: int = 3, layout=HOLISTIC) -> int:
  """Length F of one frame's feature vector from `pose_features`."""
  checks.check_choice('feature_set', feature_set, FEATURE_SETS)
  n_points = layout.num_points * dims if 'points' in feature_set else 0
  n_limbs = 2 * len(layout.limbs) if 'limbs' in feature_set else 0
  return n_points + n_limbs


@functools.partial(jax.jit, static_argnames=('feature_set', 'layout'))
def _pose_features(points, mask, feature_set, layout=HOLISTIC):
  normalized = _normalize_shoulders(points, mask, layout)
  parts = []
  if 'points' in feature_set:
    parts.append(normalized.reshape(*normalized.shape[:-2], -1))  # (..., T, P * D)
  if 'limbs' in feature_set:
    parts.extend(_limb_features(normalized, mask, layout))  # 2 x (..., T, L)
  return jnp.concatenate(parts, axis=-1)


def pose_features(points, mask, feature_set: str = 'points+limbs', layout=None) -> jax.Array:
  """The model input of section 3.2: flat normalised points + limb angles and lengths.

  The points are first normalised by `normalize_shoulders` (so lengths are in
  shoulder widths); angles are scale-free.

  Args:
    points: [..., T, P, D] float (any layout: Holistic 75, OpenPose 67 or 65).
    mask: [..., T, P] bool.
    feature_set: 'points+limbs' (the paper's Team 2 input), 'points' (flat
      normalised points only) or 'limbs' (angles and lengths only); the rows
      of our Holistic feature-set table.
    layout: default: from P.

  Returns:
    [..., T, F] float, F = `feature_size(feature_set, D, layout)` (75 * 3 +
    2 * 77 = 379 for Holistic points+limbs with D = 3; 67 * 2 + 2 * 64 = 262
    for OpenPose; 65 * 2 + 2 * 62 = 254 for BODY_135): P * D coordinates,
    then L angles, then L lengths.
  """
  checks.check_choice('feature_set', feature_set, FEATURE_SETS)
  points, mask, layout = check_points_mask(points, mask, layout)
  return _pose_features(points, mask, feature_set, layout)


def pose_batch_data(poses, labels, flip: bool = True) -> dict:
  """The trainer's `data` pytree of a padded `PoseBatch`: features, frame mask, labels.

  Args:
    poses: `vision.PoseBatch` (points in pixels, mask, lengths, width), any
      layout.
    labels: [N] int class ids.
    flip: also store the features of the mirrored clips (`x_flip`).

  Returns:
    {'x': [N, T, F] float32 features (F = 379 for Holistic), 'mask': [N, T]
    bool real frames, 'y': [N] int32, ['x_flip': [N, T, F]]}.
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


def combined_batch_data(batches, labels, flip: bool = True) -> dict:
  """Several pose systems of the same clips, per frame concatenated (OpenPose+Holistic, section 3).

  Args:
    batches: `PoseBatch`es of the same N clips and T frames (padded alike),
      each in its own layout.
    labels: [N] int class ids.
    flip: also the mirrored clips' features (each system mirrored).

  Returns:
    `pose_batch_data`'s dict with 'x' (and 'x_flip') [N, T, sum F] the
    systems' features side by side in the order given.
  """
  if not batches:
    raise ValueError('batches is empty.')
  parts = [pose_batch_data(b, labels, flip) for b in batches]
  for i, b in enumerate(batches[1:], start=1):
    if b.points.shape[:2] != batches[0].points.shape[:2]:
      raise ValueError(
        f'pose batch {i} has {b.points.shape[:2]} clips x frames, batch 0 '
        f'{batches[0].points.shape[:2]}: the systems must cover the same clips and frames.'
      )
    if not np.array_equal(b.lengths, batches[0].lengths):
      bad = int(np.flatnonzero(b.lengths != batches[0].lengths)[0])
      raise ValueError(
        f'clip {bad} has {b.lengths[bad]} frames in pose batch {i} and '
        f'{batches[0].lengths[bad]} in batch 0: the systems must have the same frames.'
      )
  out = dict(parts[0])
  for name in ('x', 'x_flip'):
    if name in out:
      out[name] = jnp.concatenate([p[name] for p in parts], axis=-1)
  return out
