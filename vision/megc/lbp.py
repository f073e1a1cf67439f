"""Local binary patterns (LBP), LBP-TOP and block histograms, vectorised NumPy.

LBP (Ojala et al.): each pixel compares its grey value g_c with P samples g_p
on a circle (here an ellipse with radii (R_row, R_col)) around it,

    LBP = sum_p s(g_p - g_c) 2^p,  s(x) = 1 if x >= 0 else 0,

sample p at (row - R_row sin(2 pi p / P), col + R_col cos(2 pi p / P)),
off-grid samples bilinearly interpolated and samples outside the image read
as 0. This is scikit-image's `local_binary_pattern` convention, reproduced
operation for operation in float64 (offsets rounded to 5 decimals, the same
interpolation formula), so codes are identical to scikit-image's, border
included (tests). 'nri_uniform' maps the 2^P codes to the P (P - 1) + 3
non-rotation-invariant uniform patterns (59 for P = 8; Ahonen et al.), with
scikit-image's bin numbering.

LBP-TOP (Zhao and Pietikainen, TPAMI 2007; the paper's [25], the
hand-crafted baseline of Table IV): LBP on the three orthogonal planes of a
clip [T, H, W]: XY (each frame, radii (R_y, R_x)), XT (each row y, the image
[T, W], radii (R_t, R_x)) and YT (each column x, the image [T, H], radii
(R_t, R_y)). Histograms are taken per spatial block of a grid over the
whole clip duration, over the voxels whose three neighbourhoods lie inside
the clip (Zhao's rule), normalised to sum 1 and concatenated plane by plane.

Everything runs on the host: the codes feed histograms, the linear SVM of
the baseline and the spotter's chi-squared distances, all host-side, and
scikit-image equality needs float64.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from evaluation import checks

LBP_METHODS = ('default', 'nri_uniform')
_CHUNK_PIXELS = 1 << 17


def _check_pr(points, radius) -> tuple[int, tuple[float, float]]:
  points = checks.check_int('points', points, low=2, high=16)
  r = radius if isinstance(radius, (tuple, list)) else (radius, radius)
  if len(r) != 2:
    raise ValueError(f'radius must be a number or (row, col) radii, got {radius!r}.')
  r = tuple(checks.check_positive_float('radius', float(x)) for x in r)
  return points, r


def num_bins(points: int, method: str = 'nri_uniform') -> int:
  """Histogram length of `method`: 2^P ('default') or P (P - 1) + 3 ('nri_uniform')."""
  checks.check_choice('method', method, LBP_METHODS)
  return 2**points if method == 'default' else points * (points - 1) + 3


@functools.lru_cache(maxsize=None)
def _nri_uniform_table(points: int) -> np.ndarray:
  """Code -> bin of scikit-image's 'nri_uniform' (`_texture.pyx`)."""
  table = np.empty(2**points, np.int64)
  for code in range(2**points):
    bits = [(code >> i) & 1 for i in range(points)]
    changes = sum(bits[i] != bits[i + 1] for i in range(points - 1))
    ones = sum(bits)
    if changes > 2:
      table[code] = points * (points - 1) + 2
    elif ones == 0:
      table[code] = 0
    elif ones == points:
      table[code] = points * (points - 1) + 1
    else:
      first_one = bits.index(1)
      first_zero = bits.index(0)
      rot = ones - first_zero if first_one == 0 else points - first_one
      table[code] = 1 + (ones - 1) * points + rot
  return table


def _offsets(points: int, radius: tuple[float, float]):
  angle = 2 * np.pi * np.arange(points, dtype=np.float64) / points
  rp = np.round(-radius[0] * np.sin(angle), 5)
  cp = np.round(radius[1] * np.cos(angle), 5)
  return rp, cp


def _gather(padded, pad: int, r_idx: np.ndarray, c_idx: np.ndarray):
  """padded[..., r_idx + pad, c_idx + pad] for index vectors [rows], [cols]."""
  dr, dc = r_idx - np.arange(len(r_idx)), c_idx - np.arange(len(c_idx))
  if (dr == dr[0]).all() and (dc == dc[0]).all():  # a shifted window: slice, no copy
    r, c = pad + dr[0], pad + dc[0]
    return padded[..., r : r + len(r_idx), c : c + len(c_idx)]
  return padded[..., r_idx[:, None] + pad, c_idx[None, :] + pad]


def _sample(padded, pad: int, rows: int, cols: int, dr_off: float, dc_off: float):
  """Bilinear samples at (r + dr_off, c + dc_off) for all pixels: [..., rows, cols]."""
  # Per-row / per-column fractions, computed as scikit-image does (r + offset,
  # then floor), so they carry the same float64 rounding.
  r = np.arange(rows, dtype=np.float64) + dr_off
  c = np.arange(cols, dtype=np.float64) + dc_off
  r0, c0 = np.floor(r), np.floor(c)
  r1, c1 = np.ceil(r), np.ceil(c)
  dr, dc = (r - r0)[:, None], (c - c0)[None, :]
  r0, r1, c0, c1 = (a.astype(np.int64) for a in (r0, r1, c0, c1))
  # A zero fraction weighs a sample by exactly 1 and its neighbour by 0, so
  # skipping that interpolation gives the same float64 result, faster.
  on_cols, on_rows = not dc.any(), not dr.any()

  def row(r_idx):
    left = _gather(padded, pad, r_idx, c0)
    return left if on_cols else (1 - dc) * left + dc * _gather(padded, pad, r_idx, c1)

  top = row(r0)
  return top if on_rows else (1 - dr) * top + dr * row(r1)


def lbp(image, points: int = 8, radius=1.0, method: str = 'nri_uniform') -> np.ndarray:
  """LBP codes of every pixel (module doc), batched over leading axes.

  Args:
    image: [..., rows, cols] grey values (uint8 or float; compared in float64).
    points: P sampling points, 2..16.
    radius: R, or (R_row, R_col) for an elliptical neighbourhood.
    method: 'default' (codes 0..2^P - 1) or 'nri_uniform' (bins 0..P(P-1)+2).

  Returns:
    [..., rows, cols] int codes; equal to
    `skimage.feature.local_binary_pattern(image, P, R, method)` per image.
  """
  points, radius = _check_pr(points, radius)
  checks.check_choice('method', method, LBP_METHODS)
  image = checks.check_array('image', image, min_ndim=2, kind='number')
  x = np.asarray(image)
  rows, cols = x.shape[-2:]
  flat = x.reshape(-1, rows, cols)
  code = np.empty(flat.shape, np.int32 if points < 16 else np.int64)
  # A few images at a time keep the float64 temporaries in cache (2x faster
  # on a long video than one pass over all frames).
  step = max(1, _CHUNK_PIXELS // (rows * cols))
  for i in range(0, len(flat), step):
    code[i : i + step] = _codes(flat[i : i + step].astype(np.float64), points, radius)
  code = code.reshape(x.shape)
  return code if method == 'default' else _nri_uniform_table(points)[code]


def _codes(x: np.ndarray, points: int, radius) -> np.ndarray:
  """'default' LBP codes of [n, rows, cols] float64 images."""
  rows, cols = x.shape[-2:]
  pad = int(math.ceil(max(radius))) + 1
  padded = np.pad(x, [(0, 0), (pad, pad), (pad, pad)])  # zeros outside the image
  code = np.zeros(x.shape, np.int32 if points < 16 else np.int64)
  for p, (dr, dc) in enumerate(zip(*_offsets(points, radius))):
    g = _sample(padded, pad, rows, cols, dr, dc)
    code |= (g - x >= 0).astype(code.dtype) << p
  return code


def block_histograms(
  codes, grid: tuple[int, int], n_bins: int, border=(0, 0), normalize: bool = True
) -> np.ndarray:
  """Code histograms of a grid of blocks, batched over leading axes.

  Args:
    codes: [..., rows, cols] int codes in [0, n_bins).
    grid: (block rows, block cols); block edges at round(linspace) positions,
      so blocks differ by at most one pixel.
    n_bins: histogram length.
    border: (rows, cols) of pixels left out on each side (pixels without a
      full neighbourhood).
    normalize: divide each histogram by its count (sum 1) or keep counts.

  Returns:
    [..., grid rows * grid cols, n_bins] float64.
  """
  codes = np.asarray(codes)
  gr, gc = (checks.check_int('grid', g) for g in grid)
  br, bc = border
  inner = codes[..., br : codes.shape[-2] - br, bc : codes.shape[-1] - bc]
  rows, cols = inner.shape[-2:]
  if rows < gr or cols < gc:
    raise ValueError(
      f'{rows} x {cols} usable pixels cannot be split into a {gr} x {gc} grid of blocks.'
    )
  r_edges = np.round(np.linspace(0, rows, gr + 1)).astype(int)
  c_edges = np.round(np.linspace(0, cols, gc + 1)).astype(int)
  # One bincount over (block id, code) pairs: no Python loop over blocks.
  block_id = (np.searchsorted(r_edges, np.arange(rows), 'right') - 1)[:, None] * gc + (
    np.searchsorted(c_edges, np.arange(cols), 'right') - 1
  )[None, :]  # (rows, cols)
  lead = inner.shape[:-2]
  flat = inner.reshape(-1, rows * cols)
  keys = (np.arange(flat.shape[0])[:, None] * (gr * gc) + block_id.reshape(1, -1)) * n_bins + flat
  counts = np.bincount(keys.ravel(), minlength=flat.shape[0] * gr * gc * n_bins)
  counts = counts.reshape(*lead, gr * gc, n_bins).astype(np.float64)
  return counts / counts.sum(axis=-1, keepdims=True) if normalize else counts


def lbp_top(
  clip,
  grid: tuple[int, int] = (5, 5),
  points: int = 8,
  radii: tuple[float, float, float] = (1.0, 1.0, 1.0),
  method: str = 'nri_uniform',
) -> np.ndarray:
  """LBP-TOP feature vector of one clip (Zhao and Pietikainen 2007, module doc).

  Args:
    clip: [T, H, W] grey frames (uint8 or float); T > 2 R_t.
    grid: (rows, cols) spatial blocks.
    points: P of every plane.
    radii: (R_x, R_y, R_t).
    method: 'nri_uniform' (59 bins for P = 8) or 'default'.

  Returns:
    [3 * rows * cols * bins] float64: for each plane XY, XT, YT (that order),
    the normalised histograms of the blocks in row-major order.
  """
  clip = checks.check_array('clip', clip, ndim=3, kind='number')
  rx, ry, rt = (checks.check_positive_float('radii', float(r)) for r in radii)
  t, h, w = clip.shape
  bt, by, bx = (int(math.ceil(r)) for r in (rt, ry, rx))
  if t <= 2 * bt or h <= 2 * by or w <= 2 * bx:
    raise ValueError(f'clip of shape {clip.shape} is too short or small for radii {radii}.')
  x = np.asarray(clip, np.float64)
  bins = num_bins(points, method)
  xy = lbp(x, points, (ry, rx), method)  # (T, H, W)
  xt = lbp(x.transpose(1, 0, 2), points, (rt, rx), method).transpose(1, 0, 2)
  yt = lbp(x.transpose(2, 0, 1), points, (rt, ry), method).transpose(1, 2, 0)
  feats = []
  for codes in (xy, xt, yt):
    # Voxels with full neighbourhoods in all three planes; a block's histogram
    # counts its pixels over all those frames.
    counts = block_histograms(codes[bt : t - bt], grid, bins, (by, bx), normalize=False)
    hist = counts.sum(axis=0)  # (blocks, bins)
    feats.append(hist / hist.sum(axis=-1, keepdims=True))
  return np.concatenate(feats, axis=0).ravel()


def chi2_distance(p, q, axis: int = -1) -> np.ndarray:
  """Chi-squared histogram distance sum_i (p_i - q_i)^2 / (p_i + q_i) (Moilanen et al.).

  Bins where p_i + q_i = 0 contribute 0.

  Args:
    p, q: histograms, broadcastable, non-negative.
    axis: the bin axis.

  Returns:
    The distances, `axis` reduced.
  """
  p = np.asarray(p, np.float64)
  q = np.asarray(q, np.float64)
  if (p < 0).any() or (q < 0).any():
    raise ValueError('histograms must be non-negative.')
  s = p + q
  d = np.divide((p - q) ** 2, s, out=np.zeros(np.broadcast_shapes(p.shape, q.shape)), where=s > 0)
  return d.sum(axis=axis)
