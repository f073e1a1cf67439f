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

import math

import jax
import jax.numpy as jnp
import numpy as np
import scipy.signal
from jax import lax

__all__ = ['frame', 'sampen', 'savgol', 'decimate', 'semg_features', 'num_frames']

_WORD = 32  # bits per packed word of the comparison matrix
_CHUNK = 256  # frames per loop iteration of the counting kernel


# ---------------------------------------------------------------------------
# Validation at the public boundary (host side, before tracing).
# ---------------------------------------------------------------------------


def _is_concrete(x) -> bool:
  return not isinstance(x, jax.core.Tracer)


def _check_signal(x, name: str, min_length: int, min_ndim: int = 1):
  """Returns x as a float array, or raises ValueError naming the problem."""
  if not hasattr(x, 'dtype'):
    x = np.asarray(x)
  if x.ndim < min_ndim:
    raise ValueError(
      f'{name}: expected an array with at least {min_ndim} '
      f'dimension(s) [..., time], got shape {tuple(x.shape)}'
    )
  if not jnp.issubdtype(x.dtype, jnp.floating):
    raise ValueError(
      f'{name}: expected a floating-point signal, got dtype '
      f'{x.dtype}; convert it with x.astype(np.float32) first'
    )
  if x.shape[-1] < min_length:
    raise ValueError(
      f'{name}: signal of length {x.shape[-1]} is shorter than '
      f'one frame/window of {min_length} samples'
    )
  if _is_concrete(x) and x.size and not bool(np.all(np.isfinite(np.asarray(x)))):
    bad = int(np.sum(~np.isfinite(np.asarray(x))))
    raise ValueError(
      f'{name}: signal contains {bad} NaN or inf value(s); clean or interpolate the recording first'
    )
  return x


def _check_int(value, name: str, low: int):
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
    raise ValueError(f'{name} must be an integer >= {low}, got {value!r}')
  return int(value)


# ---------------------------------------------------------------------------
# Framing, eq. (1).
# ---------------------------------------------------------------------------


def num_frames(length: int, size: int = 128, hop: int = 32) -> int:
  """Number of whole frames of `size` samples every `hop` samples."""
  return 1 + (length - size) // hop


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
  size = _check_int(size, 'size', 1)
  hop = _check_int(hop, 'hop', 1)
  x = _check_signal(x, 'frame', size)
  n = num_frames(x.shape[-1], size, hop)
  idx = hop * np.arange(n)[:, None] + np.arange(size)[None, :]  # (frames, size)
  return jnp.asarray(x)[..., idx]


# ---------------------------------------------------------------------------
# Sample entropy, eq. (2)-(3).
# ---------------------------------------------------------------------------


def _pack_matches(x, tol, strict: bool, m: int):
  """Upper-triangular comparison matrix of each frame, packed into bits.

  Only pairs j > i are ever counted, so word w (columns j in [32w, 32w + 32))
  is needed for rows i < 32(w + 1) only, plus m rows for the shifted rows of
  longer templates: 37.5% fewer compares than the full matrix for n = 128.

  Args:
    x: [F, n_pad + 32] frames, n_pad a multiple of 32, NaN-padded (NaN never
      matches).
    tol: [F] tolerance per frame.
    m: template length (extra rows kept per word).

  Returns:
    Tuple over words w of [F, 32(w + 1) + m] uint32: bit b of element
    [:, i] is |x_i - x_{32w+b}| < tol (<= when not strict). Rows are the
    minor axis so the compares vectorize over rows.
  """
  n_pad = x.shape[1] - _WORD
  t = tol[:, None]
  out = []
  for w in range(n_pad // _WORD):
    xi = x[:, : _WORD * (w + 1) + m]  # (F, rows)
    word = jnp.zeros(xi.shape, jnp.uint32)
    for b in range(_WORD):  # unrolled: one fused elementwise loop, no reduction
      d = jnp.abs(xi - x[:, _WORD * w + b, None])
      hit = d < t if strict else d <= t
      word = word | (hit.astype(jnp.uint32) << b)
    out.append(word)
  return tuple(out)


def _popcount(v):
  """Bit count of uint32 words (SWAR; vectorizes better than lax.population_count on CPU)."""
  v = v - ((v >> 1) & 0x55555555)
  v = (v & 0x33333333) + ((v >> 2) & 0x33333333)
  v = (v + (v >> 4)) & 0x0F0F0F0F
  return (v * 0x01010101) >> 24


def _pair_mask(w: int, rows: int, t: int):
  """[rows] uint32 for word w: bit b set iff i < 32w + b < t for row i."""
  i = np.arange(rows)[:, None]
  j = _WORD * w + np.arange(_WORD)[None, :]
  ok = (j > i) & (j < t)
  return jnp.asarray(np.packbits(ok[:, ::-1], axis=-1).view('>u4').reshape(rows).astype(np.uint32))


def _pair_counts(words, m: int, t_a: int, t_b: int):
  """Matching template pairs i < j from the packed comparisons.

  Template i matches template j iff rows i..i+m-1 match at columns j..j+m-1:
  row i + s is shifted down by s bits (borrowing from the next word), and the
  (m+1)-match is one more AND.

  Args:
    words: tuple from `_pack_matches`.
    m: template length.
    t_a, t_b: number of templates counted for A (length m+1) and B (length m).

  Returns:
    (a, b): [F] int32 unordered pair counts.
  """
  a = b = 0
  for w, word in enumerate(words):
    rows = min(t_b, _WORD * (w + 1))  # rows i that have some j > i in this word
    nxt = words[w + 1] if w + 1 < len(words) else None

    def shifted(s, word=word, nxt=nxt, rows=rows):
      low = word[:, s : s + rows] >> s
      return low if nxt is None else low | (nxt[:, s : s + rows] << (_WORD - s))

    match_m = word[:, :rows]
    for s in range(1, m):
      match_m = match_m & shifted(s)
    match_m1 = match_m & shifted(m) & _pair_mask(w, rows, t_a)
    match_m = match_m & _pair_mask(w, rows, t_b)
    b = b + _popcount(match_m).sum(-1, dtype=jnp.int32)
    a = a + _popcount(match_m1).sum(-1, dtype=jnp.int32)
  return a, b


def _to_chunks(xs, chunk: int):
  """Pads the leading axis of every array in xs and splits it into chunks.

  Returns:
    (chunked xs with leading axes [n_chunks, size], the original length).
    At least two chunks are made so that a lax.map over them is never
    simplified away (see `sampen_counts`).
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


def sampen_counts(frames, tol, m: int = 2, strict: bool = True, templates: str = 'n-m'):
  """Unordered matching template pairs (A, B) of each frame, self pairs excluded.

  Args:
    frames: [F, n] float frames.
    tol: [F] absolute tolerance per frame.
    m: template length.
    strict: count |d| < tol (True) or |d| <= tol (False).
    templates: 'n-m' (both counts over the first n - m templates, Richman &
      Moorman) or 'n-m+1' (B over all n - m + 1 m-templates).

  Returns:
    (a, b): [F] int32; a counts pairs of matching (m+1)-templates, b of
    m-templates.
  """
  f, n = frames.shape
  t_a = n - m
  t_b = n - m + (1 if templates == 'n-m+1' else 0)
  n_pad = -(-n // _WORD) * _WORD
  # NaN columns: the frame's padding plus one word for the shifted rows.
  frames = jnp.concatenate(
    [frames, jnp.full((f, n_pad - n + _WORD), jnp.nan, frames.dtype)], axis=-1
  )
  chunks, total = _to_chunks((frames, tol), _CHUNK)
  # Two loops: the loop boundary keeps XLA from fusing the comparison kernel
  # into its consumers, which re-evaluates it per use (~10x slower on CPU).
  words = lax.map(lambda a: _pack_matches(a[0], a[1], strict, m), chunks)
  counts = lax.map(lambda ws: _pair_counts(ws, m, t_a, t_b), words)
  return _from_chunks(counts, total)


_UNDEFINED = ('bound', 'nan', 'library')


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

  The pairwise comparisons of each frame (upper triangle only) are packed
  into 32-bit words and counted with population counts, so the cost per
  frame is about n^2 / 2 compares plus n^2 / 64 word operations. See the module docstring for the conventions
  that reproduce antropy, nolds, EntropyHub and neurokit2.

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
  m = _check_int(m, 'm', 1)
  if m > _WORD:
    raise ValueError(f'm must be at most {_WORD}, got {m}')
  if templates not in ('n-m', 'n-m+1'):
    raise ValueError(f"templates must be 'n-m' or 'n-m+1', got {templates!r}")
  if undefined not in _UNDEFINED:
    raise ValueError(f'undefined must be one of {_UNDEFINED}, got {undefined!r}')
  x = _check_signal(x, 'sampen', m + 2)
  x = jnp.asarray(x)
  lead, n = x.shape[:-1], x.shape[-1]
  if relative:
    tol = r * jnp.std(x, axis=-1, ddof=ddof)
  else:
    if _is_concrete(r) and np.any(np.asarray(r) < 0):
      raise ValueError(f'absolute tolerance r must be >= 0, got {r!r}')
    tol = jnp.broadcast_to(jnp.asarray(r, x.dtype), lead)
  frames = x.reshape(-1, n)
  if frames.shape[0] == 0:
    return jnp.zeros(lead, x.dtype)
  a, b = sampen_counts(frames, tol.reshape(-1).astype(x.dtype), m, strict, templates)
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
  window = _check_int(window, 'window', 1)
  order = _check_int(order, 'order', 0)
  if window % 2 == 0:
    raise ValueError(f'window must be odd, got {window}')
  if order >= window:
    raise ValueError(f'order must be less than window, got order={order}, window={window}')
  x = jnp.asarray(_check_signal(x, 'savgol', window))
  coeffs = scipy.signal.savgol_coeffs(window, order, use='dot')  # (window,)
  # Full-precision products: TPUs would otherwise use bf16 passes for f32.
  dot = lambda a, b: jnp.matmul(a, b, precision=lax.Precision.HIGHEST)
  patches = frame(x, window, 1)  # (..., time - window + 1, window)
  interior = dot(patches, jnp.asarray(coeffs, x.dtype))
  edge = jnp.asarray(_savgol_edge_matrix(window, order), x.dtype)  # (half, window)
  left = dot(x[..., :window], edge.T)
  right = dot(x[..., ::-1][..., :window], edge.T)[..., ::-1]
  return jnp.concatenate([left, interior, right], axis=-1)


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
  factor = _check_int(factor, 'factor', 1)
  x = jnp.asarray(_check_signal(x, 'decimate', factor))
  keep = x.shape[-1] // factor
  return x[..., : keep * factor : factor]


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
  """The whole preprocessing chain of section II-B.

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
  x = _check_signal(x, 'semg_features', size, min_ndim=2)
  frames = num_frames(x.shape[-1], size, hop)
  if frames < window:
    raise ValueError(
      f'semg_features: {frames} frames are fewer than the '
      f'Savitzky-Golay window of {window}; use a longer signal '
      'or a smaller window'
    )
  s = sampen(frame(x, size, hop), m, r)  # (..., channels, frames)
  return decimate(savgol(s, window, order), factor)
