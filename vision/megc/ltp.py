"""Local temporal patterns (LTP) of facial regions: LTP-ML's preprocessing (Table II).

Li, Soladie and Seguier's LTP-ML (the paper's [11], [12]; MEGC 2019's
spotting submission) looks at 12 small facial regions of interest (ROIs)
and asks, for every frame, how far each region's appearance moves away from
that frame during the next 300 ms (the mean micro-expression duration):

1. ROIs: 12 squares centred on landmarks: three points of each eyebrow, two
   of the nose and four of the mouth (the authors' 49-point IntraFace
   indices 1, 4, 5, 6, 7, 10, 11, 14, 32, 35, 38, 41). Here the centres are
   MediaPipe FaceMesh landmarks of the video's first frame
   (`ROI_FACEMESH`, the `[pose]` extra) or, when MediaPipe is absent or finds
   no face, fixed proportions of the Haar face box (`ROI_FACE_BOX`). The
   ROI side is `ROI_FRACTION` of the face width. Regions stay in place over
   the video (the authors place them on each clip's first frame).
2. The long video is cut into clips of `CLIP_SECONDS` (1 s) that overlap by
   the ME length L (`ME_SECONDS` = 300 ms), so every frame's next L frames
   lie in one clip.
3. Per clip and ROI, PCA along time: the region's grey pixels of each frame
   form a row; the rows are centred and projected on their first two
   principal components (`PCA_COMPONENTS`), which keep the region's main
   motion and drop pixel noise.
4. The LTP of frame j: the distances d_m = |P(j + m) - P(j)|, m = 1..L, of
   the frames that follow it to the frame itself in the PCA plane (0 past
   the clip's end). A micro-expression starting at j draws an S: the distance
   rises for about half of L and then holds or falls back.
5. Normalisation per clip and ROI: all distances are divided by the largest
   d_m, m <= L/2, over the clip's frames; the coefficient
   CN = min(`NORM_CAP`, 1 / that maximum) is kept as the pattern's first
   feature, so the classifier still sees how much the region moved.

`video_ltp` returns each frame's pattern from the clip that holds its next L
frames: [T, 12, 1 + L] (CN, d_1..d_L). The SVM, its leave-one-subject-out
training and the fusion are learning steps and live in
`fewshot.protocols.megc_spotting`.

Per clip, the PCA runs in NumPy (`pca_scores`: LAPACK's eigh of the frames'
Gram matrix) and the distances and normalisation in one jitted function,
compiled once per clip length and L, whatever the ROI size (`clip_ltp`).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import cv2
import jax
import jax.numpy as jnp
import numpy as np
import threadpoolctl

from evaluation import checks
from vision.megc import faces

# Parameters and their sources (docs/megc2019.md, the parameter table).
ME_SECONDS = 0.3  # [11], [12]: L = 300 ms, the mean ME duration (60 frames at 200 fps)
CLIP_SECONDS = 1.0  # [11]'s code: 1 s clips (200 frames at 200 fps) overlapping by L
PCA_COMPONENTS = 2  # [11]'s code: the first two principal components
NORM_CAP = 10.0  # [11]'s code: CN = min(10, 1 / max distance)
# ROI side as a fraction of the face width. [11]'s code sizes it from the
# landmarks (a quarter of the distance between two brow points, rounded to
# a multiple of 5 pixels; 15 pixels in its SAMM setting); as a fraction of
# the face box it is ours.
ROI_FRACTION = 0.15
# FaceMesh indices standing in for [12]'s IntraFace points: right brow
# (outer, middle, inner), left brow (inner, middle, outer), nose bridge top and
# tip, mouth corners and lip centres (right corner, upper lip, left corner,
# lower lip). The order is the fusion's: 0-5 brows, 6-7 nose, 8-11 mouth.
ROI_FACEMESH = (70, 66, 107, 336, 296, 300, 168, 4, 61, 0, 291, 17)
# The same points as (u, v) fractions of the Haar face box (x right, y down;
# ours, from the face proportions `vision.megc.synthetic` animates).
ROI_FACE_BOX = (
  (0.22, 0.25), (0.34, 0.24), (0.43, 0.27), (0.57, 0.27), (0.66, 0.24), (0.78, 0.25),
  (0.50, 0.40), (0.50, 0.62),
  (0.34, 0.78), (0.50, 0.72), (0.66, 0.78), (0.50, 0.86),
)  # fmt: skip
ROI_GROUPS = {'brows': tuple(range(6)), 'nose': (6, 7), 'mouth': (8, 9, 10, 11)}
PLACEMENTS = ('auto', 'facemesh', 'box')


class LTPVideo(NamedTuple):
  """A long video's local temporal patterns.

  features: [T, R, 1 + L] float32: per frame and ROI, CN then d_1..d_L.
  length: L, frames (the ME length at the video's rate).
  clip: clip length in frames.
  starts: [C] int first frame of each clip.
  centres: [R, 2] float (x, y) ROI centres in pixels.
  side: ROI side in pixels.
  placement: 'facemesh' or 'box': how the ROIs were placed.
  """

  features: np.ndarray
  length: int
  clip: int
  starts: np.ndarray
  centres: np.ndarray
  side: int
  placement: str


def me_length(fps: float, seconds: float = ME_SECONDS) -> int:
  """L, the ME length in frames: round(seconds * fps), at least 2 (9 at 30 fps, 60 at 200 fps)."""
  fps = checks.check_positive_float('fps', fps)
  seconds = checks.check_positive_float('seconds', seconds)
  return max(int(round(seconds * fps)), 2)


def clip_starts(n_frames: int, clip: int, length: int) -> np.ndarray:
  """First frames of clips of `clip` frames overlapping by `length` (the last one ends the video).

  Returns:
    [C] int; a single clip [0] when the video is not longer than a clip.
  """
  n_frames = checks.check_int('n_frames', n_frames, low=1)
  if clip <= length:
    raise ValueError(f'a clip of {clip} frames must be longer than L = {length}.')
  if n_frames <= clip:
    return np.zeros(1, np.int64)
  starts = list(range(0, n_frames - clip + 1, clip - length))
  if starts[-1] != n_frames - clip:
    starts.append(n_frames - clip)
  return np.asarray(starts, np.int64)


def pca_scores(rois, components: int = PCA_COMPONENTS) -> np.ndarray:
  """The frames' coordinates on the first principal components of each ROI (step 3).

  Computed from the frames' Gram matrix of the time-centred pixels (n x n,
  n << p): its eigenvectors scaled by the root eigenvalues are U S of the
  pixels' SVD (sign aside, which distances ignore). The eigendecomposition
  runs in NumPy's LAPACK: XLA:CPU's eigh took several times longer on these
  100 x 100 matrices (measured), and it is the one costly step.

  Args:
    rois: [R, n, p] pixels.
    components: how many components to keep.

  Returns:
    [R, n, components] float32.
  """
  x = np.asarray(rois, np.float64)
  xc = x - x.mean(axis=1, keepdims=True)
  # One BLAS thread: on these small matrices OpenBLAS's threads only wait
  # on each other (20-30 times slower on a busy 2-core machine, measured).
  with threadpoolctl.threadpool_limits(1, user_api='blas'):
    w, v = np.linalg.eigh(xc @ xc.transpose(0, 2, 1))  # ascending
  k = min(components, x.shape[1])
  w = np.maximum(w[:, ::-1][:, :k], 0.0)
  return (v[:, :, ::-1][:, :, :k] * np.sqrt(w)[:, None, :]).astype(np.float32)


def _ltp_one(scores, length: int):
  """One ROI of one clip: its frames' PCA scores [n, c] -> [n, 1 + L] (CN, normalised d_1..d_L)."""
  n = scores.shape[0]
  j = jnp.arange(n)[:, None]
  m = jnp.arange(1, length + 1)[None, :]
  later = j + m  # (n, L)
  valid = later < n
  diff = scores[jnp.minimum(later, n - 1)] - scores[:, None, :]  # (n, L, c)
  d = jnp.where(valid, jnp.sqrt(jnp.sum(diff * diff, axis=-1)), 0.0)
  top = d[:, : max(length // 2, 1)].max()
  safe = jnp.where(top > 0, top, 1.0)
  cn = jnp.where(top > 0, jnp.minimum(NORM_CAP, 1.0 / safe), NORM_CAP)
  return jnp.concatenate([jnp.full((n, 1), cn), d / safe], axis=1)


@functools.partial(jax.jit, static_argnames='length')
def _clip_ltp(scores, length: int):
  return jax.vmap(_ltp_one, in_axes=(0, None))(scores, length)


def clip_ltp(rois, length: int) -> np.ndarray:
  """LTPs of every ROI and frame of one clip (steps 3-5 of the module doc).

  Args:
    rois: [R, n, p] the ROIs' pixels per frame (p = side^2 grey values).
    length: L, frames.

  Returns:
    [R, n, 1 + L] float32: CN, then the normalised distances d_1..d_L.
  """
  rois = np.asarray(checks.check_array('rois', rois), np.float32)
  if rois.ndim != 3 or rois.shape[1] < 2:
    raise ValueError(f'rois must be [R, n >= 2, p], got {rois.shape}.')
  length = checks.check_int('length', length, low=1)
  return np.asarray(_clip_ltp(jnp.asarray(pca_scores(rois)), length))


def roi_centres(frame, box, placement: str = 'auto') -> tuple[np.ndarray, str]:
  """The 12 ROI centres on one frame (step 1): FaceMesh landmarks or face-box proportions.

  Args:
    frame: [H, W, 3] uint8 BGR.
    box: (x, y, w, h) Haar face box.
    placement: 'facemesh' (MediaPipe, an error if absent or no face),
      'box' (`ROI_FACE_BOX`) or 'auto' (FaceMesh when MediaPipe is installed
      and finds the face, else the box).

  Returns:
    ([12, 2] float (x, y) pixels, the placement used).
  """
  checks.check_choice('placement', placement, PLACEMENTS)
  if placement != 'box':
    try:
      lm = faces.face_landmarks(np.asarray(frame)[None], name='LTP ROI placement')[0]
      return lm[list(ROI_FACEMESH)].astype(np.float64), 'facemesh'
    except (ImportError, ValueError):
      if placement == 'facemesh':
        raise
  x, y, w, h = (float(v) for v in box)
  uv = np.asarray(ROI_FACE_BOX)
  return np.stack([x + uv[:, 0] * w, y + uv[:, 1] * h], 1), 'box'


def roi_pixels(grey, centres, side: int) -> np.ndarray:
  """The ROIs' pixels over time: [R, T, side * side] float32 (squares kept inside the frame).

  Args:
    grey: [T, H, W] uint8 grey frames.
    centres: [R, 2] (x, y) centres.
    side: square side in pixels.
  """
  grey = np.asarray(grey)
  _, h, w = grey.shape
  side = int(min(side, h, w))
  out = []
  for cx, cy in np.asarray(centres, np.float64):
    x0 = int(np.clip(round(cx - side / 2), 0, w - side))
    y0 = int(np.clip(round(cy - side / 2), 0, h - side))
    out.append(grey[:, y0 : y0 + side, x0 : x0 + side].reshape(len(grey), -1))
  return np.stack(out).astype(np.float32)


def video_ltp(
  frames,
  fps: float,
  me_seconds: float = ME_SECONDS,
  clip_seconds: float = CLIP_SECONDS,
  roi_fraction: float = ROI_FRACTION,
  placement: str = 'auto',
  box=None,
) -> LTPVideo:
  """Every frame's local temporal pattern in every ROI of a long video (module doc).

  Args:
    frames: [T, H, W, 3] uint8 BGR.
    fps: frame rate.
    me_seconds: L as a duration.
    clip_seconds: clip length (clips overlap by L).
    roi_fraction: ROI side / face width.
    placement: see `roi_centres`.
    box: optional (x, y, w, h) face box; default: a Haar box fixed over the video.

  Returns:
    LTPVideo; frame j's pattern comes from the last clip starting at or
    before j (the one holding j's next L frames, except at the video's end).
  """
  frames = np.asarray(frames)
  if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
    raise ValueError(f'frames must be [T, H, W, 3] uint8 BGR, got {frames.dtype} {frames.shape}.')
  if not 0.0 < float(roi_fraction) <= 1.0:
    raise ValueError(f'roi_fraction must lie in (0, 1], got {roi_fraction}.')
  length = me_length(fps, me_seconds)
  clip = max(int(round(checks.check_positive_float('clip_seconds', clip_seconds) * fps)), 2)
  if len(frames) <= length:
    raise ValueError(f'a video of {len(frames)} frames is shorter than L + 1 = {length + 1}.')
  if box is None:
    box = faces.clip_face_box(frames, margin=0.0, samples=5, name='video')
  centres, used = roi_centres(frames[0], box, placement)
  side = max(int(round(roi_fraction * float(box[2]))), 3)
  grey = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames])
  pixels = roi_pixels(grey, centres, side)  # (R, T, p)
  n = len(frames)
  starts = clip_starts(n, clip, length)
  width = min(clip, n)
  per_clip = [clip_ltp(pixels[:, s : s + width], length) for s in starts]  # C x (R, n, 1 + L)
  owner = np.searchsorted(starts, np.arange(n), side='right') - 1
  features = np.empty((n, len(centres), length + 1), np.float32)
  for c, s in enumerate(starts):
    idx = np.flatnonzero(owner == c)
    features[idx] = per_clip[c][:, idx - s].transpose(1, 0, 2)
  return LTPVideo(features, length, width, starts, centres, side, used)
