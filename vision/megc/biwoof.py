"""Bi-WOOF: Bi-Weighted Oriented Optical Flow of the onset-to-apex flow (MEGC 2019 Table IV, [20]).

Liong, See, Wong and Phan, "Less is more: micro-expression recognition from
video using apex frame", Signal Processing: Image Communication 62 (2018),
the hand-crafted baseline of Table IV that the four submissions followed in
using the apex frame only. Only two frames of a clip enter: the onset and
the apex; from the TV-L1 flow (u, v) between them (`flow.optical_flow`) and
its optical strain |eps| (`flow.optical_strain`), per pixel:

    orientation theta = atan2(v, u) in [-pi, pi),  magnitude rho = sqrt(u^2 + v^2).

The face is cut into a grid of blocks (5 x 5); in block b,

    h_b[c]  = sum over the block's pixels with theta in bin c of rho        (local weight)
    h_b     = h_b / sum_c h_b[c]            (0 where the block has no motion)
    f_b     = mean strain of block b * h_b                                  (global weight)
    feature = (f_1, ..., f_B) / ||(f_1, ..., f_B)||_2     (0 for a flow without strain)

with C = 8 orientation bins of 45 degrees, the first starting at -180
degrees. The settings are the authors' released implementation's
(github.com/christy1206/biwoof, `biwoof.m`: nBin = 8, 5 x 5 blocks, bins
from -180 in steps of 360 / nBin, each block histogram normalised to sum 1,
multiplied by the block's optical strain, the whole vector L2-normalised).
Choices of this library: blocks do not overlap (rows and columns split by
`np.array_split`, the first blocks one pixel larger where the side does not
divide; the MATLAB code's blocks share their border pixels); the global
weight is the block's *mean* strain (the MATLAB code sums it, which differs
only by the block's pixel count, equal up to one row or column); the last
bin covers [135, 180] degrees (MATLAB's `histc` edges leave angles above 135
degrees uncounted).

The classifier is a linear SVM (`fewshot.protocols.megc_recognition`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from evaluation import checks
from vision.megc import flow as flow_lib

GRID = (5, 5)  # blocks (rows, columns), biwoof.m's nH = nW = 5
BINS = 8  # orientation bins, biwoof.m's nBin


def block_index(height: int, width: int, grid: tuple[int, int] = GRID) -> np.ndarray:
  """[H, W] int block of every pixel, row-major over the grid (non-overlapping blocks)."""
  rows = np.concatenate(
    [np.full(len(a), i) for i, a in enumerate(np.array_split(np.arange(height), grid[0]))]
  )
  cols = np.concatenate(
    [np.full(len(a), j) for j, a in enumerate(np.array_split(np.arange(width), grid[1]))]
  )
  return rows[:, None] * grid[1] + cols[None, :]


def orientation_bin(u, v, bins: int = BINS):
  """Bin of atan2(v, u) among `bins` equal sectors starting at -pi (any shapes)."""
  theta = jnp.arctan2(v, u)  # [-pi, pi]
  return jnp.clip(jnp.floor((theta + jnp.pi) / (2 * jnp.pi) * bins).astype(jnp.int32), 0, bins - 1)


@functools.partial(jax.jit, static_argnames=('grid', 'bins'))
def _biwoof(flows, strain, grid, bins):
  n, h, w, _ = flows.shape
  blocks = grid[0] * grid[1]
  block = jnp.asarray(block_index(h, w, grid)).reshape(-1)  # (H W,)
  count = jnp.zeros(blocks).at[block].add(1.0)

  def one(flow, eps):
    u, v = flow[..., 0].reshape(-1), flow[..., 1].reshape(-1)
    rho = jnp.sqrt(u * u + v * v)
    cell = block * bins + orientation_bin(u, v, bins)  # (H W,)
    hist = jax.ops.segment_sum(rho, cell, blocks * bins).reshape(blocks, bins)
    total = hist.sum(axis=1, keepdims=True)
    hist = jnp.where(total > 0, hist / jnp.where(total > 0, total, 1.0), 0.0)  # local weight
    mean_strain = jax.ops.segment_sum(eps.reshape(-1), block, blocks) / count
    feat = (hist * mean_strain[:, None]).reshape(-1)  # global weight
    norm = jnp.linalg.norm(feat)
    return jnp.where(norm > 0, feat / jnp.where(norm > 0, norm, 1.0), 0.0)

  return jax.vmap(one)(flows, strain)


def biwoof_features(flows, grid: tuple[int, int] = GRID, bins: int = BINS) -> np.ndarray:
  """Bi-WOOF descriptors of onset-to-apex flows (module doc).

  Args:
    flows: [N, H, W, 2] float (u, v) in pixels, at face resolution (the
      flows `vision.recognition_inputs` computes; `RecognitionInputs.flows`).
    grid: (rows, columns) of blocks; each side at most the flow's.
    bins: orientation bins C.

  Returns:
    [N, rows * columns * bins] float32, block-major (block b's C bins at
    b * C ... b * C + C - 1, blocks row by row); each row L2-normalised.
  """
  flows = checks.check_array('flows', flows, ndim=4, kind='float')
  if flows.shape[-1] != 2:
    raise ValueError(f'flows must be [N, H, W, 2], got {tuple(flows.shape)}.')
  grid = (checks.check_int('grid[0]', grid[0]), checks.check_int('grid[1]', grid[1]))
  bins = checks.check_int('bins', bins)
  if grid[0] > flows.shape[1] or grid[1] > flows.shape[2]:
    raise ValueError(f'grid {grid} has more blocks than the flow has pixels ({flows.shape[1:3]}).')
  flows = jnp.asarray(flows, jnp.float32)
  strain = flow_lib.optical_strain(flows)  # (N, H, W)
  return np.asarray(_biwoof(flows, strain, grid, bins))
