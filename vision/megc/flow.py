"""Dense optical flow between face frames and its optical strain (MEGC 2019, section III-C).

The top three recognition methods of Table IV learn from optical flow
between the onset and the apex frame, not from pixels (observation 3 of
section III-D); STSTNet [17] adds the optical strain.

Flow convention (OpenCV's): `flow[y, x] = (u, v)` in pixels, such that
`prev(y, x) ~ next(y + v, x + u)`. TV-L1 (Zach, Pock and Bischof's duality
based TV-L1, `cv2.optflow.DualTVL1OpticalFlow`, OpenCV's defaults) is the
default, as in the methods of Table IV; Farneback's polynomial expansion is
the fast option (about 70x faster on a 128 x 128 face, half as accurate on a
sub-pixel shift, see tests). Flow is computed on the host by OpenCV; many
pairs go through a process pool (`optical_flow_pairs`).

Optical strain (Shreve et al.; STSTNet's third input channel): the magnitude
of the infinitesimal strain tensor of the flow field,

    |eps| = sqrt(eps_xx^2 + eps_yy^2 + eps_xy^2 + eps_yx^2),
    eps_xx = du/dx, eps_yy = dv/dy, eps_xy = eps_yx = (du/dy + dv/dx) / 2,

with derivatives by central differences (one-sided at the borders, as
`np.gradient`), in pixels per pixel. Rigid motion (translation, rotation)
has zero strain; stretch and shear do not.
"""

from __future__ import annotations

import concurrent.futures
import functools
import multiprocessing
import os

import cv2
import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from evaluation import checks
from vision.megc.faces import _grey

METHODS = ('tvl1', 'farneback')
# Farneback settings: a 3-level pyramid of scale 0.5, 15-pixel windows,
# 3 iterations, polynomial neighbourhood 5 with sigma 1.2 (OpenCV's sample
# values for faces of a hundred pixels or so).
_FARNEBACK = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2)
_MIN_SIDE = 8  # TV-L1 and Farneback build pyramids; smaller frames make no sense


@functools.lru_cache(maxsize=1)
def _tvl1():
  # One solver per process: creating it is cheap, but it keeps buffers that
  # are reused between calls of the same size.
  return cv2.optflow.DualTVL1OpticalFlow_create()


def _flow(prev: np.ndarray, nxt: np.ndarray, method: str) -> np.ndarray:
  if method == 'tvl1':
    flow = _tvl1().calc(prev, nxt, None)
  else:
    flow = cv2.calcOpticalFlowFarneback(prev, nxt, None, flags=0, **_FARNEBACK)
  return np.asarray(flow, dtype=np.float32)


def optical_flow(prev, next, method: str = 'tvl1') -> np.ndarray:
  """Dense optical flow from `prev` to `next` (OpenCV convention, see module doc).

  Args:
    prev: [H, W] uint8 grey or [H, W, 3] uint8 BGR frame.
    next: a frame of the same height and width.
    method: 'tvl1' (default) or 'farneback'.

  Returns:
    [H, W, 2] float32 (u, v) in pixels: prev(y, x) ~ next(y + v, x + u).
  """
  checks.check_choice('method', method, METHODS)
  a, b = _grey(prev, 'prev'), _grey(next, 'next')
  if a.shape != b.shape:
    raise ValueError(f'prev and next differ in size: {a.shape} vs {b.shape}.')
  if min(a.shape) < _MIN_SIDE:
    raise ValueError(f'frames must be at least {_MIN_SIDE} x {_MIN_SIDE} pixels, got {a.shape}.')
  return _flow(a, b, method)


def _worker_init():
  # Each worker is one process on one core: OpenCV's own thread pool would
  # only oversubscribe the cores.
  cv2.setNumThreads(1)


def _flow_chunk(args):
  prevs, nexts, method = args
  return np.stack([_flow(a, b, method) for a, b in zip(prevs, nexts)])


def optical_flow_pairs(
  prevs, nexts, method: str = 'tvl1', workers: int | None = None, progress: bool = True
) -> np.ndarray:
  """`optical_flow` of many frame pairs, spread over a process pool.

  Args:
    prevs: [N, H, W] uint8 grey or [N, H, W, 3] uint8 BGR first frames.
    nexts: second frames, same shape.
    method: 'tvl1' or 'farneback'.
    workers: processes (default: the CPU count); 1 runs in this process.
    progress: show a tqdm progress bar over the pairs.

  Returns:
    [N, H, W, 2] float32 flows, in the order of the pairs.
  """
  checks.check_choice('method', method, METHODS)
  prevs, nexts = np.asarray(prevs), np.asarray(nexts)
  if prevs.ndim not in (3, 4) or prevs.shape != nexts.shape:
    raise ValueError(
      'prevs and nexts must be [N, H, W] or [N, H, W, 3] of the same shape, got '
      f'{prevs.shape} and {nexts.shape}.'
    )
  if prevs.shape[0] == 0:
    raise ValueError('no frame pairs given.')
  grey_a = np.stack([_grey(f, f'prevs[{i}]') for i, f in enumerate(prevs)])
  grey_b = np.stack([_grey(f, f'nexts[{i}]') for i, f in enumerate(nexts)])
  if min(grey_a.shape[1:]) < _MIN_SIDE:
    raise ValueError(f'frames must be at least {_MIN_SIDE} x {_MIN_SIDE} pixels.')
  n = grey_a.shape[0]
  if workers is None:
    workers = os.cpu_count() or 1
  workers = checks.check_int('workers', workers)
  workers = min(workers, n)
  # Chunks of a few pairs keep every worker busy without pickling each pair.
  size = max(1, min(16, n // (4 * workers)))
  chunks = [(grey_a[i : i + size], grey_b[i : i + size], method) for i in range(0, n, size)]
  out = []
  with tqdm(total=n, desc=f'{method} flow', unit='pair', disable=not progress) as bar:
    if workers == 1:
      for c in chunks:
        out.append(_flow_chunk(c))
        bar.update(len(c[0]))
    else:
      # 'spawn': the parent holds JAX's threads, which fork would copy unsafely.
      ctx = multiprocessing.get_context('spawn')
      with concurrent.futures.ProcessPoolExecutor(workers, ctx, _worker_init) as pool:
        for flows in pool.map(_flow_chunk, chunks):
          out.append(flows)
          bar.update(len(flows))
  return np.concatenate(out)


@jax.jit
def _strain(flow):
  u, v = flow[..., 0], flow[..., 1]
  u_y, u_x = jnp.gradient(u, axis=(-2, -1))
  v_y, v_x = jnp.gradient(v, axis=(-2, -1))
  e_xy = 0.5 * (u_y + v_x)  # = e_yx
  return jnp.sqrt(u_x**2 + v_y**2 + 2.0 * e_xy**2)


def optical_strain(flow) -> jax.Array:
  """Optical strain magnitude |eps| of a flow field (module doc).

  Args:
    flow: [..., H, W, 2] float (u, v) in pixels; H, W >= 2.

  Returns:
    [..., H, W] float32 strain magnitude.
  """
  flow = checks.check_array('flow', flow, min_ndim=3, kind='float')
  if flow.shape[-1] != 2 or min(flow.shape[-3:-1]) < 2:
    raise ValueError(f'flow must be [..., H >= 2, W >= 2, 2], got shape {tuple(flow.shape)}.')
  return _strain(jnp.asarray(flow, jnp.float32))
