"""Micro-expression spotting in long videos: the LBP-chi^2 feature-difference baseline.

Moilanen, Zhao and Pietikainen (ICPR 2014), the paper's [8] and the
baseline of Table II (LBP-chi^2):

1. The face (a Haar box fixed over the video, `faces.clip_face_box`) is cut
   and divided into 6 x 6 blocks; every frame's block gets an LBP histogram
   (uniform patterns, P = 8, R = 1: 59 bins).
2. Feature difference: for the current frame i, the average feature frame
   is the mean histogram of the tail frame i - k and the head frame i + k;
   each block's chi-squared distance between frame i and that average
   measures change that happens within +-k frames. k = (N - 1) / 2, N the
   micro-interval: an odd number of frames about as long as a
   micro-expression (Moilanen et al. use N = 9 at 25 fps and N = 21 at
   60 fps, i.e. about 0.35 s; `micro_interval`).
3. F_i is the sum of the M largest block distances, M a third of the blocks
   (12 of 36): micro-expressions move a few regions of the face, and the
   sum over several blocks averages out the noise of any one block (with
   M = 1, one noisy block decides F_i; tests/test_megc_spotting.py).
4. Contrast: C_i = F_i - (F_{i-k} + F_{i+k}) / 2, negative values set to 0,
   which keeps rapid changes and suppresses slow ones (a long macro-
   expression raises F for many frames in a row).
5. Threshold relative to the video: T = C_mean + p (C_max - C_mean), p in
   [0, 1]; peaks of C above T, at least k frames apart (the higher peak
   wins; `scipy.signal.find_peaks` with `distance`; the distance is this
   library's choice, `peak_distance`).
6. Each peak becomes the interval [peak - k, peak + k] (N frames), as in the
   MEGC baseline.

The method spots the largest rapid changes of a video, so blinks and the
onsets of macro-expressions are spotted as well (section II-D).
Everything runs on the host in NumPy (the LBP codes must match
scikit-image's, see `lbp`).
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np
from scipy import signal

from evaluation import checks
from vision.megc import faces
from vision.megc import lbp as lbp_lib

# Parameters and their sources (docs/megc2019.md has the table). "[8]" is
# Moilanen et al. as this module's description cites it; the others are
# this library's choices.
MICRO_SECONDS = 0.35  # [8]'s N = 9 at 25 fps and 21 at 60 fps, as a duration (ours)
BLOCKS = 6  # [8]: 6 x 6 face blocks
TOP_FRACTION = 1 / 3  # [8]: M = 12 of the 36 blocks
LBP_POINTS, LBP_RADIUS = 8, 1.0  # [8]: uniform LBP, P = 8, R = 1 (59 bins)
DEFAULT_P = 0.1  # ours: best F1 on synthetic long videos of another seed (first README)
# Minimum distance between spotted peaks: None means k frames (ours; [8]
# gives no rule here, and without one a single event's wiggles above the
# threshold become several spotted intervals).
PEAK_DISTANCE = None


class SpottingAnalysis(NamedTuple):
  """The steps of the LBP-chi^2 spotter on one video.

  k: half the micro-interval, frames.
  difference: [T] F_i (0 where i - k or i + k is outside the video).
  contrast: [T] C_i (0 where undefined).
  threshold: T.
  peaks: [n] int frames of the spotted peaks.
  intervals: [n, 2] int inclusive (onset, offset) = (peak - k, peak + k), clipped.
  peak_distance: the minimum distance between peaks used (frames).
  """

  k: int
  difference: np.ndarray
  contrast: np.ndarray
  threshold: float
  peaks: np.ndarray
  intervals: np.ndarray
  peak_distance: int = 1


def micro_interval(fps: float, seconds: float = MICRO_SECONDS) -> int:
  """N, the micro-interval in frames: 2 floor(seconds * fps / 2) + 1 (odd, at least 3).

  With 0.35 s: 9 at 25 fps and 21 at 60 fps, Moilanen et al.'s settings for
  SMIC and CASME; 11 at 30 fps (CAS(ME)^2), 71 at 200 fps (SAMM).
  """
  fps = checks.check_positive_float('fps', fps)
  seconds = checks.check_positive_float('seconds', seconds)
  return max(2 * int(np.floor(seconds * fps / 2)) + 1, 3)


def block_histograms(
  frames,
  blocks: int = BLOCKS,
  face_size: int | None = None,
  points: int = LBP_POINTS,
  radius: float = LBP_RADIUS,
  box=None,
) -> np.ndarray:
  """Per-frame LBP histograms of a grid of face blocks (step 1).

  Args:
    frames: [T, H, W, 3] uint8 BGR video.
    blocks: the face is split into blocks x blocks.
    face_size: side the face crop is resized to (default: the box's own, so
      pixel noise is not averaged or interpolated).
    points, radius: LBP settings.
    box: (x, y, w, h) face box; default: a Haar box fixed over the video.

  Returns:
    [T, blocks * blocks, P (P - 1) + 3] float64 normalised histograms.
  """
  frames = np.asarray(frames)
  if box is None:
    box = faces.clip_face_box(frames, margin=0.0, samples=5, name='video')
  face = faces.crop(frames, box, int(box[2]) if face_size is None else face_size)
  grey = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in face])
  codes = lbp_lib.lbp(grey, points, radius, 'nri_uniform')
  b = int(np.ceil(radius))
  return lbp_lib.block_histograms(codes, (blocks, blocks), lbp_lib.num_bins(points), border=(b, b))


def feature_difference(hists, k: int, top_fraction: float = TOP_FRACTION) -> np.ndarray:
  """F_i: sum of the largest block chi^2 distances to the average feature frame (steps 2-3).

  Args:
    hists: [T, B, bins] per-frame block histograms.
    k: distance of the tail and head frames.
    top_fraction: M / B.

  Returns:
    [T] float64, 0 for the first and last k frames.
  """
  hists = np.asarray(hists, np.float64)
  t, nb = hists.shape[:2]
  f = np.zeros(t)
  if t <= 2 * k:
    return f
  aff = 0.5 * (hists[: t - 2 * k] + hists[2 * k :])  # (T - 2k, B, bins)
  d = lbp_lib.chi2_distance(hists[k : t - k], aff)  # (T - 2k, B)
  m = max(int(round(nb * top_fraction)), 1)
  f[k : t - k] = np.sort(d, axis=1)[:, -m:].sum(axis=1)
  return f


def contrast(difference, k: int) -> np.ndarray:
  """C_i = F_i - (F_{i-k} + F_{i+k}) / 2, clipped at 0, over 2k <= i < T - 2k (step 4)."""
  f = np.asarray(difference, np.float64)
  t = len(f)
  c = np.zeros(t)
  if t > 4 * k:
    c[2 * k : t - 2 * k] = f[2 * k : t - 2 * k] - 0.5 * (f[k : t - 3 * k] + f[3 * k : t - k])
  return np.maximum(c, 0.0)


def _peak_distance(k: int, peak_distance) -> int:
  if peak_distance is None:
    return max(int(k), 1)
  return checks.check_int('peak_distance', peak_distance, low=1)


def spot_peaks(
  contrast_curve, k: int, p: float = DEFAULT_P, peak_distance: int | None = PEAK_DISTANCE
):
  """Threshold and peaks of the contrasted difference (step 5).

  Args:
    contrast_curve: [T] C_i.
    k: half the micro-interval.
    p: threshold fraction in [0, 1].
    peak_distance: minimum frames between two peaks (the higher wins); None:
      k. 1 keeps every local maximum above the threshold.

  Returns:
    (threshold, peaks [n] int).
  """
  c = np.asarray(contrast_curve, np.float64)
  distance = _peak_distance(k, peak_distance)
  valid = c[2 * k : len(c) - 2 * k]
  if valid.size == 0 or valid.max() <= 0:
    return 0.0, np.zeros(0, np.int64)
  thr = float(valid.mean() + p * (valid.max() - valid.mean()))
  peaks, _ = signal.find_peaks(c, height=thr, distance=distance)
  return thr, peaks.astype(np.int64)


def analyse(
  frames,
  fps: float,
  p: float = DEFAULT_P,
  seconds: float = MICRO_SECONDS,
  blocks: int = BLOCKS,
  face_size: int | None = None,
  box=None,
  top_fraction: float = TOP_FRACTION,
  peak_distance: int | None = PEAK_DISTANCE,
) -> SpottingAnalysis:
  """Every step of the LBP-chi^2 spotter (module doc), for plots and tuning.

  Args:
    frames: [T, H, W, 3] uint8 BGR long video.
    fps: its frame rate.
    p: threshold fraction in [0, 1].
    seconds: expected micro-expression length (sets N and k).
    blocks: blocks per side of the face grid.
    face_size: face crop side in pixels (default: the face box's).
    box: optional fixed face box (x, y, w, h).
    top_fraction: M / blocks^2, the share of most-changed blocks summed in F_i.
    peak_distance: minimum frames between spotted peaks (None: k).

  Returns:
    SpottingAnalysis.
  """
  frames = np.asarray(frames)
  if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
    raise ValueError(f'frames must be [T, H, W, 3] uint8 BGR, got {frames.dtype} {frames.shape}.')
  if not 0.0 <= float(p) <= 1.0:
    raise ValueError(f'p must lie in [0, 1], got {p}.')
  if not 0.0 < float(top_fraction) <= 1.0:
    raise ValueError(f'top_fraction must lie in (0, 1], got {top_fraction}.')
  k = (micro_interval(fps, seconds) - 1) // 2
  distance = _peak_distance(k, peak_distance)
  if len(frames) <= 4 * k:
    raise ValueError(
      f'a video of {len(frames)} frames is too short for k = {k} at {fps} fps; '
      f'it needs more than {4 * k} frames.'
    )
  hists = block_histograms(frames, blocks, face_size, box=box)
  return analyse_histograms(hists, k, p, top_fraction, distance)


def analyse_histograms(
  hists, k: int, p: float = DEFAULT_P, top_fraction: float = TOP_FRACTION, peak_distance=None
) -> SpottingAnalysis:
  """Steps 2-6 from per-frame block histograms (`block_histograms`).

  Args:
    hists: [T, B, bins] per-frame block histograms.
    k: half the micro-interval, frames.
    p: threshold fraction.
    top_fraction: M / B.
    peak_distance: minimum frames between peaks (None: k).

  Returns:
    SpottingAnalysis.
  """
  distance = _peak_distance(k, peak_distance)
  f = feature_difference(hists, k, top_fraction)
  c = contrast(f, k)
  empty = np.zeros(0, np.int64), np.zeros((0, 2), np.int64)
  return rethreshold(SpottingAnalysis(k, f, c, 0.0, *empty, distance), p)


def rethreshold(analysis: SpottingAnalysis, p: float) -> SpottingAnalysis:
  """The same analysis at another threshold fraction p (steps 5-6 only).

  Args:
    analysis: a SpottingAnalysis (its curves are kept).
    p: threshold fraction in [0, 1].

  Returns:
    SpottingAnalysis with the threshold, peaks and intervals of p.
  """
  if not 0.0 <= float(p) <= 1.0:
    raise ValueError(f'p must lie in [0, 1], got {p}.')
  k, n = analysis.k, len(analysis.contrast)
  thr, peaks = spot_peaks(analysis.contrast, k, p, analysis.peak_distance)
  intervals = np.stack([np.maximum(peaks - k, 0), np.minimum(peaks + k, n - 1)], 1)
  return analysis._replace(threshold=thr, peaks=peaks, intervals=intervals.reshape(-1, 2))


def spot_micro_expressions(frames, fps: float, p: float = DEFAULT_P, **kwargs) -> list[tuple]:
  """Spotted micro-expression intervals of a long video (LBP-chi^2 baseline, module doc).

  Args:
    frames: [T, H, W, 3] uint8 BGR.
    fps: frame rate.
    p: threshold fraction in [0, 1] (step 5).
    **kwargs: `seconds`, `blocks`, `face_size`, `box`, `top_fraction`,
      `peak_distance` of `analyse`.

  Returns:
    List of inclusive (onset, offset) frame intervals, in time order.
  """
  res = analyse(frames, fps, p, **kwargs)
  return [(int(a), int(b)) for a, b in res.intervals]
