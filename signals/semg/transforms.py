"""sEMG preprocessing of Ergeneci et al., section II-B, as pure JAX functions.

The chain is framing (eq. 1), sample entropy per frame (eq. 2-3), a
Savitzky-Golay low-pass (eq. 4-6) and decimation (eq. 7):

    [..., channels, 8000] --frame--> [..., channels, 247, 128]
                          --sampen-> [..., channels, 247]
                          --savgol-> [..., channels, 247]
                          --decimate-> [..., channels, 61]

Every function is batched over any leading axes, jit-compatible, and
validates concrete user input on the host before anything is traced.

Frame and sample counts. The paper says 248 frames and 2x61 features; 8000
samples with frame 128 and overlap 96 (hop 32) give 1 + (8000 - 128) / 32 =
247 frames, and eq. (7) with k = 1..floor(M / 4) for M = 247 gives 61. So 248
is a typo and we keep floor(M / factor) samples, which is the paper's 61.

Sample entropy conventions (keyword switches of `sampen`). Templates are the
length-m windows of a frame; A counts pairs of (m+1)-templates, B pairs of
m-templates, matching when their Chebyshev distance is below the tolerance.
SampEn = -log(A / B). Settings that reproduce the common libraries (checked
in tests/test_semg_sampen.py; `r` is the multiplier of the frame's std):

| library            | call                                   | sampen(...) settings                            |
|--------------------|----------------------------------------|-------------------------------------------------|
| this paper         | (default)                              | r=0.25, ddof=0, strict=True, templates='n-m'    |
| antropy 0.2.3      | sample_entropy(x, 2, tolerance=t)      | r=t, relative=False, strict=True                |
|                    | sample_entropy(x, 2)  (t = 0.2 std)    | r=0.2, ddof=0, strict=True, undefined='library' |
| nolds 0.6          | sampen(x, 2, tolerance=t)              | r=t, relative=False, strict=True                |
| EntropyHub 2.0     | SampEn(x, m=2, r=t)[0][-1]             | r=t, relative=False, strict=False               |
| neurokit2 0.2      | entropy_sample(x, tolerance=t)[0]      | r=t, relative=False, strict=False               |
|                    | entropy_sample(x)  (t = 0.2 std ddof 1)| r=0.2, ddof=1, strict=False                     |

All four libraries count N - m templates of both lengths (Richman & Moorman
2000); `templates='n-m+1'` counts every m-template in B instead. nolds' own
default tolerance is 0.2006 std(ddof=1) for m = 2 (a fitted constant), so pass
it explicitly. When no pair matches the libraries disagree (antropy and
EntropyHub give nan for B = 0, neurokit2 -inf; all give inf for A = 0): see
`undefined`.
"""

from __future__ import annotations

import functools
import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np
import scipy.signal
from jax import lax

from evaluation import checks

__all__ = [
  'frame',
  'sampen',
  'sampen_counts',
  'savgol',
  'decimate',
  'semg_features',
  'num_frames',
]

_WORD = 32  # bits per packed word of the comparison matrix
_CHUNK = 256  # frames per loop iteration of the counting kernel

# Public functions validate on the host (shapes, dtypes, NaN/inf of concrete
# input, static settings), then call one module-level jitted core per
# function, compiled once per input shape and static settings. The cores call
# each other's traced bodies, so `semg_features` is one program.


def _check_signal(name: str, x, min_length: int, min_ndim: int = 1):
  """x as an array [..., time] of floats with time >= min_length, finite when concrete."""
  x = checks.check_array(
    name,
    x,
    min_ndim=min_ndim,
    kind='float',
    nonempty=False,
    hint='Clean or interpolate the recording first.',
  )
  if x.shape[-1] < min_length:
    raise ValueError(
      f'{name}: signal of length {x.shape[-1]} is shorter than '
      f'one frame/window of {min_length} samples'
    )
  return x


# ---------------------------------------------------------------------------
# Framing, eq. (1).
# ---------------------------------------------------------------------------


def num_frames(length: int, size: int = 128, hop: int = 32) -> int:
  """Number of whole frames of `size` samples every `hop` samples."""
  return 1 + (length - size) // hop


def _frame(x, size: int, hop: int):
  n = num_frames(x.shape[-1], size, hop)
  idx = hop * np.arange(n)[:, None] + np.arange(size)[None, :]  # (frames, size)
  return x[..., idx]


_frame_jit = jax.jit(_frame, static_argnames=('size', 'hop'))


def frame(x, size: int = 128, hop: int = 32):
  """Splits the last axis into overlapping frames, eq. (1).

  Args:
    x: [..., time] float signal.
    size: frame length N (paper: 128).
    hop: frame step N - L (paper: overlap L = 96, so hop 32).

  Returns:
    [..., frames, size] with frames = 1 + (time - size) // hop; samples after
    the last whole frame are dropped.
  """
  size = checks.check_int('size', size)
  hop = checks.check_int('hop', hop)
  x = _check_signal('frame', x, size)
  return _frame_jit(x, size=size, hop=hop)


# ---------------------------------------------------------------------------
# Sample entropy, eq. (2)-(3).
#
# Kernel layout. The pair {p, (p + d) mod n} for lags d = 1..n // 2 and
# positions p = 0..n-1 visits every unordered pair of samples of a frame once
# (twice for d = n / 2 when n is even; the copy is masked out), so the
# comparisons form a rectangular [n // 2, n] array: n^2 / 2 compares and no
# ragged triangle (a row-by-column upper triangle in 32-bit words costs 28%
# more compares for n = 128, plus scalar loop remainders). Template pairs keep
# their lag: the pair of templates (i, j) compares samples (i + s, j + s),
# which sit at positions p + s of the same lag, so an m-template match is the
# AND of m neighbouring positions. Lags are packed 32 to a uint32 word, so one AND
# handles 32 lags and a population count sums them.
# ---------------------------------------------------------------------------


def _lag_words(n: int) -> int:
  return -(-(n // 2) // _WORD)


def _pack_matches(x, tol, strict: bool):
  """Sample comparisons of each frame at every lag, packed into bits.

  Args:
    x: [F, n] frames.
    tol: [F] tolerance per frame.
    strict: compare with < (True) or <=.

  Returns:
    Tuple over words k of [F, n] uint32: bit b of element [:, p] is
    |x_p - x_{(p + d) mod n}| < tol (<= when not strict) for the lag
    d = 32 k + b + 1 <= n // 2; bits of larger lags are 0. Positions are the
    minor axis, so the compares vectorize over p with no remainder for n = 128.
  """
  f, n = x.shape
  half = n // 2
  xx = jnp.concatenate([x, x[:, :half]], axis=1)  # (F, n + half): x_{(p + d) mod n} is a slice
  t = tol[:, None]
  out = []
  for k in range(_lag_words(n)):
    word = jnp.zeros((f, n), jnp.uint32)
    for b in range(min(_WORD, half - _WORD * k)):  # unrolled: one fused elementwise loop
      d = _WORD * k + b + 1
      diff = jnp.abs(x - xx[:, d : d + n])
      hit = diff < t if strict else diff <= t
      word = word | (hit.astype(jnp.uint32) << b)
    out.append(word)
  return tuple(out)


def _counted_pairs(n: int, t: int) -> np.ndarray:
  """[words, n] uint32: bit b of [k, p] set iff the pair at lag 32 k + b + 1 and
  position p is counted: both samples index templates < t, and it is not the
  second copy of a lag-n/2 pair."""
  half = n // 2
  p = np.arange(n)[None, :, None]
  d = _WORD * np.arange(_lag_words(n))[:, None, None] + np.arange(_WORD)[None, None, :] + 1
  later = np.where(p + d < n, p + d, p)  # the later template of the pair {p, (p + d) mod n}
  ok = (d <= half) & (later < t) & ~((2 * d == n) & (p >= half))
  return (ok.astype(np.uint64) << np.arange(_WORD, dtype=np.uint64)).sum(-1).astype(np.uint32)


def _pair_counts(words, m: int, t_a: int, t_b: int):
  """Matching template pairs from the packed comparisons (see the layout note).

  Args:
    words: tuple from `_pack_matches`.
    m: template length.
    t_a, t_b: number of templates counted for A (length m+1) and B (length m).

  Returns:
    (a, b): [F] int32 unordered pair counts.
  """
  n = words[0].shape[1]
  counted_a, counted_b = _counted_pairs(n, t_a), _counted_pairs(n, t_b)
  # One reduction instead of one per count and word: per position, the bit
  # counts of B go to the low and those of A to the high 16 bits, which
  # cannot carry over while B has fewer than 2^16 pairs (n <= 362).
  packed = t_b * (t_b - 1) // 2 < 1 << 16
  a = b = 0
  for k, word in enumerate(words):
    # Counted pairs never read past position n - 1; the zero padding only
    # keeps the slices in bounds.
    padded = jnp.pad(word, ((0, 0), (0, m)))  # (F, n + m)
    match_m = word
    for s in range(1, m):
      match_m = match_m & padded[:, s : s + n]
    match_m1 = match_m & padded[:, m : m + n] & jnp.asarray(counted_a[k])
    match_m = match_m & jnp.asarray(counted_b[k])
    b = b + lax.population_count(match_m)  # (F, n) uint32
    a = a + lax.population_count(match_m1)
  if packed:
    total = (b + (a << 16)).sum(-1, dtype=jnp.uint32)  # (F,)
    return (total >> 16).astype(jnp.int32), (total & 0xFFFF).astype(jnp.int32)
  return a.sum(-1, dtype=jnp.int32), b.sum(-1, dtype=jnp.int32)


def _to_chunks(xs, chunk: int):
  """Pads the leading axis of every array in xs and splits it into chunks.

  Returns:
    (chunked xs with leading axes [n_chunks, size], the original length).
    At least two chunks are made so that a lax.map over them is never
    simplified away (see `_sampen_counts`).
  """
  total = jax.tree.leaves(xs)[0].shape[0]
  n_chunks = max(2, -(-total // chunk))
  size = -(-total // n_chunks)
  pad = n_chunks * size - total

  def split(a):
    a = jnp.concatenate([a, jnp.zeros((pad,) + a.shape[1:], a.dtype)]) if pad else a
    return a.reshape((n_chunks, size) + a.shape[1:])

  return jax.tree.map(split, xs), total


def _from_chunks(xs, total: int):
  """Inverse of `_to_chunks`: [n_chunks, size, ...] -> [total, ...]."""
  return jax.tree.map(lambda a: a.reshape((-1,) + a.shape[2:])[:total], xs)


def _sampen_counts(frames, tol, m: int, strict: bool, templates: str):
  f, n = frames.shape
  t_a = n - m
  t_b = n - m + (1 if templates == 'n-m+1' else 0)
  if f == 0:
    return jnp.zeros(0, jnp.int32), jnp.zeros(0, jnp.int32)
  chunks, total = _to_chunks((frames, tol.astype(frames.dtype)), _CHUNK)
  # Two loops: the loop boundary keeps XLA from fusing the comparison kernel
  # into its consumers, which would re-evaluate it once per use (m + 1 uses).
  words = lax.map(lambda a: _pack_matches(a[0], a[1], strict), chunks)
  counts = lax.map(lambda ws: _pair_counts(ws, m, t_a, t_b), words)
  return _from_chunks(counts, total)


_sampen_counts_jit = jax.jit(_sampen_counts, static_argnames=('m', 'strict', 'templates'))
_TEMPLATES = ('n-m', 'n-m+1')


def sampen_counts(frames, tol, m: int = 2, strict: bool = True, templates: str = 'n-m'):
  """Unordered matching template pairs (A, B) of each frame, self pairs excluded.

  Args:
    frames: [F, n] float frames, n >= m + 2.
    tol: [F] absolute tolerance per frame.
    m: template length.
    strict: count |d| < tol (True) or |d| <= tol (False).
    templates: 'n-m' (both counts over the first n - m templates, Richman &
      Moorman) or 'n-m+1' (B over all n - m + 1 m-templates).

  Returns:
    (a, b): [F] int32; a counts pairs of matching (m+1)-templates, b of
    m-templates.
  """
  m = checks.check_int('m', m)
  checks.check_choice('templates', templates, _TEMPLATES)
  frames = _check_signal('sampen_counts', frames, m + 2)
  if frames.ndim != 2:
    raise ValueError(f'sampen_counts: frames must be [F, n], got shape {tuple(frames.shape)}')
  tol = checks.check_array('tol', tol, kind='float', nonempty=False)
  if tuple(tol.shape) != tuple(frames.shape[:1]):
    raise ValueError(f'tol must be [F] = [{frames.shape[0]}], got shape {tuple(tol.shape)}')
  return _sampen_counts_jit(frames, tol, m=m, strict=bool(strict), templates=templates)


_UNDEFINED = ('bound', 'nan', 'library')


def _std(x, ddof: int):
  """Standard deviation of the last axis (two passes, as jnp.std), with the
  sums as matrix-vector products: XLA:CPU reduces short rows slowly (about
  0.6 us per 128-sample frame against 0.2 us, a fifth of the whole SampEn)."""
  n = x.shape[-1]
  ones = jnp.ones((n,), x.dtype)
  row_sum = lambda a: jnp.matmul(a, ones, precision=lax.Precision.HIGHEST)
  centred = x - (row_sum(x) / n)[..., None]
  return jnp.sqrt(row_sum(centred * centred) / (n - ddof))


def _sampen(x, r, m, relative, ddof, strict, templates, undefined):
  lead, n = x.shape[:-1], x.shape[-1]
  if relative:
    tol = r * _std(x, ddof)
  else:
    tol = jnp.broadcast_to(jnp.asarray(r, x.dtype), lead)
  frames = x.reshape(-1, n)
  a, b = _sampen_counts(frames, tol.reshape(-1).astype(x.dtype), m, strict, templates)
  a = a.astype(x.dtype)
  b = b.astype(x.dtype)
  value = -jnp.log(a / b)
  if undefined == 'bound':
    pairs = (n - m) * (n - m - 1) / 2
    value = jnp.where((a == 0) | (b == 0), jnp.asarray(math.log(pairs), x.dtype), value)
  elif undefined == 'nan':
    value = jnp.where((a == 0) | (b == 0), jnp.nan, value)
  else:
    value = jnp.where(b == 0, jnp.nan, jnp.where(a == 0, jnp.inf, value))
  return value.reshape(lead)


def _check_tolerance(r, name: str | None):
  """r as a jit argument (Python numbers stay weakly typed, arrays stay arrays).

  With a `name` (absolute tolerances), negative concrete values raise; a
  relative r is not checked (a negative one matches nothing).
  """
  if not isinstance(r, numbers.Number):
    r = checks.check_array('r', r, finite=False, nonempty=False)
  if name is not None and checks.is_concrete(r) and np.any(np.asarray(r) < 0):
    raise ValueError(f'{name} must be >= 0, got {r!r}')
  return r


# r is traced, so a sweep over tolerances reuses one program.
_sampen_jit = jax.jit(
  _sampen, static_argnames=('m', 'relative', 'ddof', 'strict', 'templates', 'undefined')
)


def sampen(
  x,
  m: int = 2,
  r=0.25,
  *,
  relative: bool = True,
  ddof: int = 0,
  strict: bool = True,
  templates: str = 'n-m',
  undefined: str = 'bound',
):
  """Sample entropy of the last axis, eq. (2)-(3), with Chebyshev distance.

  Every unordered pair of samples of a frame is compared once (n^2 / 2
  compares), the results are packed 32 lags to a word, and template matches
  are ANDs of neighbouring words counted with population counts (see the
  layout note above `_pack_matches`). See the module docstring for the
  conventions that reproduce antropy, nolds, EntropyHub and neurokit2.

  Compiled once per input shape, dtype and static setting (m, relative,
  ddof, strict, templates, undefined); `r` is a traced input, so new
  tolerances reuse the compiled program.

  Args:
    x: [..., n] float signal or frames (e.g. `frame(x)` output [..., F, 128]).
    m: template length s of eq. (2) (paper: 2).
    r: tolerance; a multiplier of each frame's standard deviation when
      `relative` (paper: 0.25), otherwise an absolute value (scalar or
      broadcastable to x.shape[:-1]).
    relative: whether r is relative to the frame's standard deviation.
    ddof: delta degrees of freedom of that standard deviation.
    strict: match when distance < tolerance (paper, antropy, nolds) or <=
      (EntropyHub, neurokit2).
    templates: 'n-m' counts n - m templates of both lengths (all four
      libraries); 'n-m+1' counts all n - m + 1 m-templates in B.
    undefined: what to return when A = 0 or B = 0 (no pair matches, e.g. a
      constant frame with a relative tolerance, whose tolerance is 0):
      'bound' (default) returns log(number of (m+1)-template pairs), the
      largest finite value, as if a single pair had matched, so features
      stay finite; 'nan' returns nan for both; 'library' returns inf for
      A = 0 < B and nan for B = 0, as antropy and EntropyHub do.

  Returns:
    [...] float sample entropy (x.shape[:-1]).
  """
  m = checks.check_int('m', m)
  ddof = checks.check_int('ddof', ddof, low=0)
  checks.check_choice('templates', templates, _TEMPLATES)
  checks.check_choice('undefined', undefined, _UNDEFINED)
  x = _check_signal('sampen', x, m + 2)
  r = _check_tolerance(r, 'absolute tolerance r' if not relative else None)
  return _sampen_jit(
    x,
    r,
    m=m,
    relative=bool(relative),
    ddof=ddof,
    strict=bool(strict),
    templates=templates,
    undefined=undefined,
  )


# ---------------------------------------------------------------------------
# Savitzky-Golay filter, eq. (4)-(6), and decimation, eq. (7).
# ---------------------------------------------------------------------------


def _savgol_edge_matrix(window: int, order: int):
  """[half, window] matrix mapping the first window samples to the fitted values of
  the first half samples (scipy's mode='interp' at the left edge)."""
  half = window // 2
  t = np.arange(window, dtype=np.float64)
  vander = np.vander(t, order + 1, increasing=True)  # J of eq. (4), (window, order+1)
  fit = np.linalg.pinv(vander)  # C = (J^T J)^-1 J^T
  return vander[:half] @ fit


def _savgol(x, window: int, order: int):
  coeffs = scipy.signal.savgol_coeffs(window, order, use='dot')  # (window,)
  # Full-precision products: TPUs would otherwise use bf16 passes for f32.
  dot = lambda a, b: jnp.matmul(a, b, precision=lax.Precision.HIGHEST)
  patches = _frame(x, window, 1)  # (..., time - window + 1, window)
  interior = dot(patches, jnp.asarray(coeffs, x.dtype))
  edge = jnp.asarray(_savgol_edge_matrix(window, order), x.dtype)  # (half, window)
  left = dot(x[..., :window], edge.T)
  right = dot(x[..., ::-1][..., :window], edge.T)[..., ::-1]
  return jnp.concatenate([left, interior, right], axis=-1)


_savgol_jit = jax.jit(_savgol, static_argnames=('window', 'order'))


def _check_savgol(window, order) -> tuple[int, int]:
  window = checks.check_int('window', window)
  order = checks.check_int('order', order, low=0)
  if window % 2 == 0:
    raise ValueError(f'window must be odd, got {window}')
  if order >= window:
    raise ValueError(f'order must be less than window, got order={order}, window={window}')
  return window, order


def savgol(x, window: int = 51, order: int = 3):
  """Savitzky-Golay smoothing of the last axis, eq. (4)-(6).

  Equal to `scipy.signal.savgol_filter(x, window, order, mode='interp')`
  (scipy's default): interior samples are the least-squares polynomial fit
  over the centred window; the first and last window // 2 samples take the
  polynomial fitted to the first and last whole window, so the output has
  the input's length.

  Args:
    x: [..., time] float signal, time >= window.
    window: odd window length W_n (paper: 51).
    order: polynomial order P_o < window (paper: 3).

  Returns:
    [..., time] smoothed signal.
  """
  window, order = _check_savgol(window, order)
  x = _check_signal('savgol', x, window)
  return _savgol_jit(x, window=window, order=order)


def _decimate(x, factor: int):
  keep = x.shape[-1] // factor
  return x[..., : keep * factor : factor]


_decimate_jit = jax.jit(_decimate, static_argnames=('factor',))


def decimate(x, factor: int = 4):
  """Keeps every `factor`-th sample from the first, eq. (7).

  No anti-aliasing filter is applied here: in the paper the Savitzky-Golay
  filter is the low-pass before this step.

  Args:
    x: [..., time] signal.
    factor: decimation factor (paper: 4).

  Returns:
    [..., time // factor] samples x[..., 0], x[..., factor], ...
  """
  factor = checks.check_int('factor', factor)
  x = _check_signal('decimate', x, factor)
  return _decimate_jit(x, factor=factor)


@functools.partial(jax.jit, static_argnames=('size', 'hop', 'm', 'window', 'order', 'factor'))
def _semg_features(x, r, *, size, hop, m, window, order, factor):
  s = _sampen(_frame(x, size, hop), r, m, True, 0, True, 'n-m', 'bound')  # (..., channels, frames)
  return _decimate(_savgol(s, window, order), factor)


def semg_features(
  x,
  *,
  size: int = 128,
  hop: int = 32,
  m: int = 2,
  r: float = 0.25,
  window: int = 51,
  order: int = 3,
  factor: int = 4,
):
  """The whole preprocessing chain of section II-B, as one compiled program.

  Compiled once per input shape and setting; `r` is traced.

  Args:
    x: [..., channels, time] float sEMG (paper: [..., 2, 8000] at 1 kHz).
    size, hop: framing (paper: 128 and 96 overlap, i.e. hop 32).
    m, r: sample entropy template length and relative tolerance.
    window, order: Savitzky-Golay filter.
    factor: decimation factor.

  Returns:
    [..., channels, floor(frames / factor)]: [..., 2, 61] for the paper's input
    (247 frames; see the module docstring for why not 248).
  """
  size = checks.check_int('size', size)
  hop = checks.check_int('hop', hop)
  m = checks.check_int('m', m)
  factor = checks.check_int('factor', factor)
  window, order = _check_savgol(window, order)
  if size < m + 2:
    raise ValueError(f'size must be at least m + 2 = {m + 2} samples, got {size}')
  r = _check_tolerance(r, None)
  x = _check_signal('semg_features', x, size, min_ndim=2)
  frames = num_frames(x.shape[-1], size, hop)
  if frames < window:
    raise ValueError(
      f'semg_features: {frames} frames are fewer than the '
      f'Savitzky-Golay window of {window}; use a longer signal '
      'or a smaller window'
    )
  if frames < factor:
    raise ValueError(
      f'semg_features: {frames} frames are fewer than the decimation factor {factor}'
    )
  return _semg_features(x, r, size=size, hop=hop, m=m, window=window, order=order, factor=factor)
