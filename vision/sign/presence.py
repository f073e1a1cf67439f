"""Hand presence per frame, and the dominant hand's share of frames (section 5, Figures 5 and 6).

Holistic omits a hand it fails to detect (hands interacting, a hand over the
face): the hand's 21 points then all have confidence 0. Section 5 correlates
recognition errors with the percentage of frames in which the *dominant*
hand was estimated.

The paper does not say how it picked the dominant hand. Here it is the side
whose body-model wrist (POSE_LANDMARKS LEFT_WRIST / RIGHT_WRIST, which the
body model estimates in every frame it sees the person, independently of the
hand models) is held higher on average over the clip: the signing hand is
raised, the other usually rests. The choice does not look at hand detections,
so it cannot bias the percentage it is used for.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from evaluation import checks
from vision.sign.features import BODY_POINTS
from vision.sign.features import LEFT_HAND
from vision.sign.features import RIGHT_HAND
from vision.sign.features import check_points_mask
from vision.sign.layouts import HOLISTIC
from vision.sign.poses import NUM_POINTS

__all__ = ['dominant_hand', 'dominant_hand_presence', 'hand_presence']

LEFT_WRIST = BODY_POINTS.index('LEFT_WRIST')
RIGHT_WRIST = BODY_POINTS.index('RIGHT_WRIST')


@jax.jit
def _hand_presence(mask):
  return jnp.stack([mask[..., LEFT_HAND].any(-1), mask[..., RIGHT_HAND].any(-1)], axis=-1)


def hand_presence(mask) -> jax.Array:
  """Whether each hand was estimated in each frame.

  Args:
    mask: [..., T, 75] bool presence of the 75 points.

  Returns:
    [..., T, 2] bool: (left hand, right hand) has at least one point present.
  """
  mask = checks.check_array('mask', mask, min_ndim=2, finite=False)
  if mask.shape[-1] != NUM_POINTS or np.dtype(mask.dtype) != np.bool_:
    raise ValueError(f'mask must be bool [..., T, {NUM_POINTS}], got {mask.dtype} {mask.shape}.')
  return _hand_presence(mask)


@jax.jit
def _dominant_hand(points, mask):
  y = jnp.stack([points[..., LEFT_WRIST, 1], points[..., RIGHT_WRIST, 1]], axis=-1)  # (..., T, 2)
  seen = jnp.stack([mask[..., LEFT_WRIST], mask[..., RIGHT_WRIST]], axis=-1)
  n = seen.sum(-2)
  mean_y = jnp.where(seen, y, 0).sum(-2) / jnp.maximum(n, 1)  # (..., 2)
  # Image y grows downwards: the higher wrist has the smaller mean y. A wrist
  # never seen counts as lowest; ties and clips without wrists go right.
  mean_y = jnp.where(n > 0, mean_y, jnp.inf)
  return jnp.where(mean_y[..., 0] < mean_y[..., 1], 0, 1).astype(jnp.int32)


def dominant_hand(points, mask) -> jax.Array:
  """0 (left) or 1 (right): the hand whose body-model wrist is higher on average.

  Args:
    points: [..., T, 75, D] float in image coordinates (y down), padded
      frames masked out.
    mask: [..., T, 75] bool.

  Returns:
    [...] int32, 0 = left, 1 = right (also for ties and clips without wrists).
  """
  points, mask, _ = check_points_mask(points, mask, HOLISTIC)
  return _dominant_hand(points, mask)


@jax.jit
def _dominant_hand_presence(points, mask, lengths):
  hand = _dominant_hand(points, mask)
  present = _hand_presence(mask)  # (..., T, 2)
  dominant = jnp.take_along_axis(present, hand[..., None, None], axis=-1)[..., 0]  # (..., T)
  frames = jnp.arange(mask.shape[-2]) < lengths[..., None]
  return (dominant & frames).sum(-1) / lengths


def dominant_hand_presence(points, mask, lengths) -> jax.Array:
  """Fraction of a clip's frames in which its dominant hand was estimated (Figure 6).

  Args:
    points: [..., T, 75, D] float, image coordinates.
    mask: [..., T, 75] bool; frames at or after a clip's length are ignored.
    lengths: [...] int number of real frames of each clip (>= 1).

  Returns:
    [...] float in [0, 1].
  """
  points, mask, _ = check_points_mask(points, mask, HOLISTIC)
  lengths = checks.check_array('lengths', lengths, kind='int')
  if tuple(lengths.shape) != tuple(points.shape[:-3]):
    raise ValueError(f'lengths must have shape {tuple(points.shape[:-3])}, got {lengths.shape}.')
  if checks.is_concrete(lengths):
    ls = np.asarray(lengths)
    if ls.size and (ls.min() < 1 or ls.max() > points.shape[-3]):
      raise ValueError(
        f'lengths must lie in [1, {points.shape[-3]}], got [{ls.min()}, {ls.max()}].'
      )
  return _dominant_hand_presence(points, mask, lengths)
