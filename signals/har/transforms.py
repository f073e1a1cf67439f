"""Smartwatch activity-recognition preprocessing (harAGE, Mallol-Ragolta et al. 2021).

Implements Section 3 (trimming into continuous segments) and Section 4.1 (per
modality features and 20 s windows) of `har_multimodal_fusion.txt`:

* pedometer (cumulative steps since midnight, 1 Hz): first and second
  derivatives (4.1.1) -> 2 channels;
* heart rate (1 Hz): debiased by the participant's median resting heart rate,
  the debiased signal normalised by 220 bpm, plus the first and second
  derivatives of the debiased (un-normalised) signal, as the paper words it
  (4.1.2) -> 3 channels;
* accelerometer (25 Hz, x/y/z): debiased by the participant's per-axis median,
  smoothed by a 1-D Gaussian filter with sigma 1, plus the first and second
  derivatives of the smoothed signal (4.1.3) -> 9 channels.

Derivative scheme (the paper does not state one): a backward first difference
with the first sample repeated, `np.diff(x, axis=0, prepend=x[:1])`, so the
output keeps the input length, d[0] = 0 and d[t] = x[t] - x[t-1] per sample
(causal: a window's features never use samples after the window). The second
derivative is the same operator applied twice. Derivatives are taken per
continuous segment, before windowing, so the first window of a segment is the
only place where d[0] = 0 appears.

Gaussian filter: equal to `scipy.ndimage.gaussian_filter1d(x, sigma,
mode='reflect', truncate=4.0)` (scipy's defaults): the kernel has radius
`int(truncate * sigma + 0.5)` and the signal is extended by half-sample
symmetric reflection (`d c b a | a b c d | d c b a`, numpy's 'symmetric').

Timestamps are float seconds. A stream is continuous between two samples when
their spacing is at most 1.5 sample periods; longer spacings are gaps (lost
watch messages). Unsorted or duplicated timestamps raise ValueError: they are
not silently reordered, since a reordered stream would make wrong derivatives.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evaluation import checks

# Section 4.1: window length and the number of points per window.
WINDOW_SECONDS = 20.0
RATES = {'steps': 1.0, 'hr': 1.0, 'acc': 25.0}
HR_MAX_BPM = 220.0  # 4.1.2: normalisation by the maximum human heart rate.
GAP_TOLERANCE = 1.5  # spacing above 1.5 periods is a gap
# A median spacing this many sampling periods long is not a stream with gaps
# but a unit error: milliseconds read as seconds would leave zero windows.
UNIT_ERROR_PERIODS = 100.0


# --------------------------------------------------------------- Gaussian


def gaussian_kernel(sigma: float = 1.0, truncate: float = 4.0) -> np.ndarray:
  """Normalised Gaussian kernel of radius int(truncate * sigma + 0.5).

  Returns:
    [2 * radius + 1] float64 weights summing to 1 (scipy's `_gaussian_kernel1d`
    for order 0).
  """
  sigma = checks.check_positive_float('sigma', sigma)
  truncate = checks.check_positive_float('truncate', truncate, allow_zero=True)
  radius = int(truncate * float(sigma) + 0.5)
  offsets = np.arange(-radius, radius + 1, dtype=np.float64)
  weights = np.exp(-0.5 * (offsets / sigma) ** 2)
  return weights / weights.sum()


def _bucket(n: int) -> int:
  # Streams have many different lengths (gaps cut them into runs); padding to
  # a power of two bounds the number of compilations to a handful.
  return max(64, 1 << (int(n) - 1).bit_length())


def _reflect_index(j, n):
  # scipy.ndimage 'reflect' (numpy 'symmetric'): d c b a | a b c d | d c b a,
  # periodic with period 2n, so any distance past the edges is handled.
  m = jnp.mod(j, 2 * n)
  return jnp.where(m < n, m, 2 * n - 1 - m)


def _gaussian_filter_core(x, n, kernel):
  # x: (L, ...) with only the first n rows valid; rows >= n come out as junk.
  radius = (kernel.shape[0] - 1) // 2
  t = jnp.arange(x.shape[0])
  taps = jnp.arange(-radius, radius + 1)
  idx = _reflect_index(t[:, None] + taps[None, :], n)  # (L, K)
  return jnp.einsum('k,tk...->t...', kernel.astype(x.dtype), x[idx])


@functools.partial(jax.jit, static_argnames=('sigma', 'truncate'))
def _gaussian_filter_padded(x, n, sigma: float, truncate: float):
  return _gaussian_filter_core(x, n, jnp.asarray(gaussian_kernel(sigma, truncate)))


def _pad_time(x, length):
  return np.pad(x, ((0, length - x.shape[0]),) + ((0, 0),) * (x.ndim - 1))


def gaussian_filter1d(x, sigma: float = 1.0, truncate: float = 4.0) -> jax.Array:
  """1-D Gaussian smoothing along time (axis 0), mode 'reflect' (4.1.3).

  Jitted; the input is zero-padded to a power-of-two length (the padding never
  enters the result: reflection indices use the true length), so streams of
  many lengths share one compilation per length bucket, channel count and
  (sigma, truncate). The true length is cut off on the host, which compiles
  nothing.

  Args:
    x: [time] or [time, channels] float signal; each channel filtered alone.
    sigma: standard deviation of the kernel in samples (paper: 1).
    truncate: kernel radius in standard deviations (scipy's default 4.0).

  Returns:
    Array of x's shape; equals `scipy.ndimage.gaussian_filter1d(x, sigma,
    axis=0, mode='reflect', truncate=truncate)`.
  """
  x = np.asarray(x)
  if x.ndim not in (1, 2) or x.shape[0] == 0:
    raise ValueError(f'x must be [time] or [time, channels] with time > 0, got shape {x.shape}.')
  if not np.issubdtype(x.dtype, np.floating):
    x = x.astype(np.float32)
  gaussian_kernel(sigma, truncate)  # validates sigma and truncate on the host
  n = x.shape[0]
  out = _gaussian_filter_padded(_pad_time(x, _bucket(n)), n, float(sigma), float(truncate))
  return jax.device_put(np.asarray(out)[:n])  # jnp.asarray would compile a copy per length


# ------------------------------------------------------------ derivatives


def _derivative(x):
  xp = np if isinstance(x, np.ndarray) else jnp
  return xp.diff(x, axis=0, prepend=x[:1])


def _derivatives(x):
  d1 = _derivative(x)
  return d1, _derivative(d1)


_derivative_jit = jax.jit(_derivative)
_derivatives_jit = jax.jit(_derivatives)


def derivative(x):
  """Backward difference with the first sample repeated (length preserving).

  NumPy input stays on the host (float64 kept); jax arrays and tracers go
  through one jitted program per shape.

  Args:
    x: [time, ...] float.

  Returns:
    [time, ...] like x: `np.diff(x, axis=0, prepend=x[:1])`, i.e. d[0] = 0 and
    d[t] = x[t] - x[t-1].
  """
  return _derivative(x) if isinstance(x, np.ndarray) else _derivative_jit(x)


def derivatives(x):
  """First and second derivatives, each [time, ...] like x (one program for jax input)."""
  return _derivatives(x) if isinstance(x, np.ndarray) else _derivatives_jit(x)


# ---------------------------------------------------- per-modality features


def preprocess_steps(steps) -> np.ndarray:
  """Pedometer features of one continuous segment (4.1.1).

  Computed on the host in float64: cumulative counts reach 1e4-1e5, where
  float32 would lose the unit differences that matter.

  Args:
    steps: [time] cumulative steps since midnight at 1 Hz.

  Returns:
    [time, 2] float32: first and second derivatives (steps/s, steps/s^2).
  """
  steps = checks.check_array('steps', np.asarray(steps, np.float64), ndim=1)
  d1, d2 = derivatives(steps)
  return np.stack([d1, d2], axis=-1).astype(np.float32)


def resting_baseline(hr_resting) -> float:
  """Personal baseline heart rate: the median of the resting samples (4.1.2).

  Raises:
    ValueError: if there is no resting sample (no baseline can be computed).
  """
  hr_resting = np.asarray(hr_resting, dtype=np.float64).ravel()
  if hr_resting.size == 0:
    raise ValueError(
      'no resting heart-rate samples: the personal baseline (median resting HR) is undefined.'
    )
  checks.check_array('resting heart rate', hr_resting)
  return float(np.median(hr_resting))


def preprocess_heart_rate(hr, baseline: float) -> np.ndarray:
  """Heart-rate features of one continuous segment (4.1.2).

  Args:
    hr: [time] heart rate in bpm at 1 Hz.
    baseline: the participant's median resting heart rate in bpm.

  Returns:
    [time, 3] float32: (hr - baseline) / 220, and the first and second
    derivatives of hr - baseline in bpm/s and bpm/s^2.
  """
  hr = checks.check_array('hr', np.asarray(hr, np.float64), ndim=1)
  baseline = checks.check_finite_float('baseline', baseline)
  debiased = hr - baseline
  d1, d2 = derivatives(debiased)
  return np.stack([debiased / HR_MAX_BPM, d1, d2], axis=-1).astype(np.float32)


def accelerometer_median(acc_segments) -> np.ndarray:
  """Per-axis median over all of a participant's accelerometer samples (4.1.3).

  Args:
    acc_segments: sequence of [time, axes] arrays (all the participant's data).

  Returns:
    [axes] float64 medians.

  Raises:
    ValueError: naming the segment with NaN/inf (its NaN would make the median,
      hence every window of the participant, NaN) or with another axis count.
  """
  arrays = []
  for i, a in enumerate(acc_segments):
    a = checks.check_array(
      f'acc_segments[{i}]', np.asarray(a, dtype=np.float64), ndim=2, nonempty=False
    )
    if arrays and a.shape[1] != arrays[0].shape[1]:
      raise ValueError(
        f'acc_segments[{i}] must be [time, {arrays[0].shape[1]}] like the first segment, '
        f'got shape {a.shape}.'
      )
    arrays.append(a)
  arrays = [a for a in arrays if a.size]
  if not arrays:
    raise ValueError('no accelerometer samples: the per-axis median is undefined.')
  return np.median(np.concatenate(arrays, axis=0), axis=0)


@functools.partial(jax.jit, static_argnames=('sigma',))
def _accelerometer_core(debiased, n, sigma: float):
  smooth = _gaussian_filter_core(debiased, n, jnp.asarray(gaussian_kernel(sigma)))
  d1, d2 = _derivatives(smooth)
  return jnp.concatenate([smooth, d1, d2], axis=-1)  # (L, 3 * axes)


def preprocess_accelerometer(acc, median, sigma: float = 1.0) -> np.ndarray:
  """Accelerometer features of one continuous segment (4.1.3), jitted core.

  Args:
    acc: [time, axes] raw accelerometer (x, y, z) at 25 Hz.
    median: [axes] the participant's per-axis median.
    sigma: Gaussian filter width in samples (paper: 1).

  Returns:
    [time, 3 * axes] float32: the debiased filtered signal, then its first and
    then its second derivative, each block in axis order.
  """
  acc = checks.check_array('acc', np.asarray(acc, np.float64), ndim=2)
  median = checks.check_array('median', np.asarray(median, dtype=np.float64), nonempty=False)
  if median.shape != acc.shape[1:]:
    raise ValueError(f'median shape {median.shape} does not match acc axes {acc.shape[1:]}.')
  gaussian_kernel(sigma)
  n = acc.shape[0]
  debiased = _pad_time((acc - median).astype(np.float32), _bucket(n))
  return np.asarray(_accelerometer_core(debiased, n, float(sigma)))[:n]


# ---------------------------------------------------- trimming, windowing


def check_timestamps(t, name: str = 'timestamps') -> np.ndarray:
  """Validate a stream's timestamps: finite, strictly increasing.

  Raises:
    ValueError: naming the first duplicated or decreasing position.
  """
  t = checks.check_array(name, np.asarray(t, dtype=np.float64), ndim=1, nonempty=False)
  dt = np.diff(t)
  if np.any(dt == 0):
    i = int(np.argmax(dt == 0))
    raise ValueError(f'{name} are duplicated at index {i + 1} (t={t[i + 1]}).')
  if np.any(dt < 0):
    i = int(np.argmax(dt < 0))
    raise ValueError(
      f'{name} are not sorted: index {i + 1} (t={t[i + 1]}) precedes index {i} (t={t[i]}).'
    )
  return t


def continuous_runs(
  t, rate: float, tolerance: float = GAP_TOLERANCE, name: str = 'timestamps'
) -> list[tuple[int, int]]:
  """Maximal runs of consecutive samples (no gap) of a stream.

  Args:
    t: [n] strictly increasing timestamps in seconds.
    rate: nominal sampling rate in Hz (> 0).
    tolerance: a spacing above tolerance / rate seconds is a gap.
    name: the stream's name in error messages.

  Returns:
    (start, stop) index pairs, stop exclusive, covering every sample.

  Raises:
    ValueError: on a rate or tolerance that is not a positive number, or when
      the median spacing exceeds UNIT_ERROR_PERIODS sampling periods (e.g.
      milliseconds given for seconds, which would silently leave no window).
  """
  rate = checks.check_positive_float('rate', rate)
  tolerance = checks.check_positive_float('tolerance', tolerance)
  t = check_timestamps(t, name)
  if t.size == 0:
    return []
  spacing = float(np.median(np.diff(t))) if t.size > 1 else 0.0
  if spacing > UNIT_ERROR_PERIODS / rate:
    raise ValueError(
      f'{name} must be in seconds: their median spacing is {spacing:g} s, '
      f'{spacing * rate:.0f} sampling periods at {rate:g} Hz. Timestamps in milliseconds? '
      'Divide them by 1000.'
    )
  breaks = np.flatnonzero(np.diff(t) > tolerance / rate) + 1
  edges = np.concatenate([[0], breaks, [t.size]])
  return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def trim_segments(
  t, rate: float, min_seconds: float = WINDOW_SECONDS, name: str = 'timestamps'
) -> list[tuple[int, int]]:
  """Continuous runs holding at least `min_seconds` of samples (Section 3).

  A run is kept when it has at least `round(min_seconds * rate)` samples, i.e.
  enough consecutive samples for one window. Errors as `continuous_runs`.
  """
  rate = checks.check_positive_float('rate', rate)
  min_seconds = checks.check_positive_float('min_seconds', min_seconds)
  need = int(round(min_seconds * rate))
  return [(a, b) for a, b in continuous_runs(t, rate, name=name) if b - a >= need]


class Window(NamedTuple):
  """One multimodal window: its start time and, per modality, a sample slice."""

  start: float
  slices: dict  # modality -> (segment id, first index within the segment)


def _intervals(t, runs, rate):
  # A run of n samples starting at t0 covers [t0, t0 + n / rate).
  return [(t[a], t[b - 1] + 1.0 / rate, k) for k, (a, b) in enumerate(runs)]


def window_starts(
  streams: dict, rates: dict, hop_seconds: float, window_seconds: float = WINDOW_SECONDS
) -> tuple[list[Window], int]:
  """Aligned window positions where every modality has a full continuous window.

  Windows are laid on the intersection of the modalities' continuous runs,
  starting at each intersection's start and moving by `hop_seconds` (10 s for
  training, 50% overlap; 20 s for testing, no overlap). For each modality the
  window takes the first sample at or after the window start and the next
  `window_seconds * rate` samples. A window is kept only when, in every
  modality, all those samples lie in one continuous run and inside
  [start - 0.5 / rate, start + window_seconds + 0.5 / rate); otherwise it is
  excluded and counted. There is no silent partial window.

  Args:
    streams: modality -> [n] timestamps (seconds), each strictly increasing.
    rates: modality -> sampling rate in Hz.
    hop_seconds: distance between window starts.
    window_seconds: window length (paper: 20 s).

  Returns:
    (windows, n_excluded): windows, each with per-modality (run index, first
    index within the run) as computed by `trim_segments`, and the number of
    candidate windows dropped because a modality was missing or not
    consecutive in it.
  """
  if not streams:
    raise ValueError('no modality given.')
  checks.check_positive_float('hop_seconds', hop_seconds)
  checks.check_positive_float('window_seconds', window_seconds)
  unknown = [m for m in streams if m not in rates]
  if unknown:
    raise ValueError(
      f'unknown modality {unknown[0]!r}: rates has no sampling rate for it '
      f'(rates has {tuple(rates)}).'
    )
  rates = {m: checks.check_positive_float(f'rates[{m!r}]', rates[m]) for m in streams}
  runs = {}
  for m, t in streams.items():
    t = check_timestamps(t, f'{m} timestamps')
    runs[m] = (t, trim_segments(t, rates[m], window_seconds, f'{m} timestamps'))
  # Intersection of the modalities' covered intervals.
  common = None
  for m, (t, r) in runs.items():
    ivs = [(a, b) for a, b, _ in _intervals(t, r, rates[m])]
    if common is None:
      common = ivs
    else:
      common = [
        (max(a, c), min(b, d)) for a, b in common for c, d in ivs if min(b, d) - max(a, c) > 0
      ]
  windows, excluded = [], 0
  eps = 1e-9
  for lo, hi in sorted(common):
    n_win = int(np.floor((hi - lo - window_seconds) / hop_seconds + eps)) + 1
    for w in range(max(n_win, 0)):
      start = lo + w * hop_seconds
      slices, ok = {}, True
      for m, (t, r) in runs.items():
        need = int(round(window_seconds * rates[m]))
        half = 0.5 / rates[m]
        i = int(np.searchsorted(t, start - half + eps))
        hit = [(k, i - a) for k, (a, b) in enumerate(r) if a <= i and i + need <= b]
        if not hit or t[i + need - 1] >= start + window_seconds + half - eps:
          ok = False
          break
        slices[m] = hit[0]
      if ok:
        windows.append(Window(float(start), slices))
      else:
        excluded += 1
  return windows, excluded
