"""Preprocessing of one setting of the sEMG paper's Fig. 3 sweep (Sec. III-A).

Frame size N, overlap L (hop N - L) and downsampling rate vary; the
Savitzky-Golay window (paper: 51) must fit the SampEn sequence of the
setting. `savgol_window` is that rule; `setting_features` computes a
setting's features once with the jitted chain (`semg_features`) and caches
them as .npz. The sweep itself (models, scores) is
`fewshot.protocols.semg_sweep`.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from evaluation import checks
from signals.semg.transforms import num_frames
from signals.semg.transforms import semg_features

SAVGOL_RULES = ('skip', 'scale')


def savgol_window(frames: int, window: int, order: int, rule: str) -> int | None:
  """The Savitzky-Golay window a SampEn sequence of `frames` values gets, or None if none fits.

  Args:
    frames: length of the SampEn sequence (`num_frames`).
    window: the configured odd window (paper: 51).
    order: the polynomial order (paper: 3).
    rule: 'skip' (the window as configured; None when frames < window) or
      'scale' (the largest odd window <= frames; None when that is not above order).
  """
  checks.check_choice('savgol rule', rule, SAVGOL_RULES)
  if frames >= window:
    return window
  if rule == 'skip':
    return None
  scaled = frames if frames % 2 else frames - 1
  return scaled if scaled > order else None


class Preprocessed(NamedTuple):
  """One setting's preprocessing: SampEn frame count, the Savitzky-Golay window
  used (None: no window fits, nothing computed) and the [n, 2, frames // rate]
  features (None when skipped)."""

  frames: int
  window: int | None
  features: np.ndarray | None


def setting_features(
  x,
  *,
  size: int,
  overlap: int,
  rate: int,
  window: int = 51,
  order: int = 3,
  rule: str = 'skip',
  m: int = 2,
  r: float = 0.25,
  cache_dir: str | None = None,
) -> Preprocessed:
  """`semg_features` of raw recordings under one sweep setting, computed once and cached.

  Args:
    x: [n, channels, T] raw sEMG.
    size, overlap: frame size N and overlap L (hop N - L).
    rate: downsampling rate.
    window, order, rule: the Savitzky-Golay filter and `savgol_window`'s rule.
    m, r: SampEn template length and relative tolerance.
    cache_dir: folder of `features_N<N>_L<L>_rate<rate>_W<window>.npz`, or None.

  Returns:
    `Preprocessed`; features [n, channels, frames // rate] float32.
  """
  size = checks.check_int('size', size)
  overlap = checks.check_int('overlap', overlap, low=0)
  rate = checks.check_int('rate', rate)
  if overlap >= size:
    raise ValueError(f'overlap L={overlap} must be smaller than the frame size N={size}')
  x = checks.check_array('recordings', x, ndim=3, kind='float')
  hop = size - overlap
  frames = num_frames(x.shape[-1], size, hop) if size <= x.shape[-1] else 0
  used = savgol_window(frames, window, order, rule)
  if used is None or frames < rate:
    return Preprocessed(frames, None, None)
  path = None
  if cache_dir is not None:
    path = os.path.join(cache_dir, f'features_N{size}_L{overlap}_rate{rate}_W{used}.npz')
    if os.path.isfile(path):
      with np.load(path, allow_pickle=False) as z:
        if z['x'].shape == (*x.shape[:2], frames // rate):
          return Preprocessed(frames, used, z['x'])
  f = semg_features(x, size=size, hop=hop, m=m, r=r, window=used, order=order, factor=rate)
  f = np.asarray(f, np.float32)
  if path is not None:
    os.makedirs(cache_dir, exist_ok=True)
    np.savez(path, x=f)
  return Preprocessed(frames, used, f)
