"""Sample entropy throughput: signals.sampen against antropy, side by side.

The paper's workload (section II-B): recordings x 2 channels x 8000 samples,
framed at 128 samples with hop 32 (247 frames per channel), SampEn with
m = 2 and r = 0.25 std per frame. The recordings are windows cut from the
real facial sEMG shipped in the `emgflow` package (4 recordings x 2
channels x 20000 samples at 2 kHz, cut at their gaps of missing samples).

Competitors, timed in the same run on the same frames:
  * antropy.sample_entropy (numba) in a Python loop on one core;
  * the same split over all cores with joblib (one chunk of frames per worker);
  * signals.sampen jitted, on one CPU device and sharded over one CPU device
    per core (XLA runs these kernels single-threaded, so all cores are used
    by splitting the frames, exactly as on several accelerators).

Run:  python -m experiments.bench.sampen [--recordings 512] [--repeats 3]
Prints frames/s for each and the ratio to antropy on all cores, and checks
that every frame's SampEn equals antropy's (float64: to 1e-6; float32: the
count of frames off by more than 1e-6, which happen only where a distance
lies within float32 rounding of the tolerance).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

# One XLA CPU device per core; must be set before jax is imported.
_CORES = os.cpu_count() or 1
if 'jax' not in sys.modules:
  os.environ['XLA_FLAGS'] = (
    os.environ.get('XLA_FLAGS', '') + f' --xla_force_host_platform_device_count={_CORES}'
  )

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import Mesh  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

jax.config.update('jax_enable_x64', True)  # float64 path for the identity check

import signals  # noqa: E402
from signals.semg.real_data import emgflow_recordings  # noqa: E402
from signals.semg.real_data import finite_segments  # noqa: E402

try:
  from jax import shard_map  # jax >= 0.7
except ImportError:  # pragma: no cover
  from jax.experimental.shard_map import shard_map

M, R = 2, 0.25


def paper_workload(num_recordings: int, seed: int = 0) -> np.ndarray:
  """[recordings, 2, 8000] float64 windows of real sEMG (random offsets)."""
  recs = [seg for rec in emgflow_recordings() for seg in finite_segments(rec, 8001)]
  rng = np.random.default_rng(seed)
  out = np.empty((num_recordings, 2, 8000))
  for i in range(num_recordings):
    rec = recs[rng.integers(len(recs))]
    start = rng.integers(rec.shape[-1] - 8000)
    out[i] = rec[:, start : start + 8000]
  return out


def _antropy_chunk(frames: np.ndarray) -> np.ndarray:
  import antropy

  return np.array([antropy.sample_entropy(f, M, tolerance=R * np.std(f)) for f in frames])


def antropy_all_cores(frames: np.ndarray, cores: int) -> np.ndarray:
  from joblib import Parallel
  from joblib import delayed

  chunks = np.array_split(frames, cores)
  return np.concatenate(Parallel(n_jobs=cores)(delayed(_antropy_chunk)(c) for c in chunks))


def median_time(fn, repeats: int):
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    out = fn()
    jax.block_until_ready(out)
    times.append(time.perf_counter() - t0)
  return float(np.median(times)), out


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--recordings', type=int, default=512)
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument(
    '--antropy-frames',
    type=int,
    default=0,
    help='time antropy on this many frames and extrapolate (0: all frames, as the issue asks)',
  )
  args = parser.parse_args(argv)

  x = paper_workload(args.recordings)
  frames64 = np.asarray(signals.frame(x, 128, 32)).reshape(-1, 128)  # (F, 128)
  n_frames = frames64.shape[0]
  print(
    f'workload: {args.recordings} recordings x 2 channels x 8000 samples = '
    f'{n_frames} frames of 128; cores: {_CORES}; jax devices: {len(jax.devices())}'
  )

  timed = frames64 if args.antropy_frames <= 0 else frames64[: args.antropy_frames]
  scale = n_frames / timed.shape[0]
  # Warm-up: compile antropy's numba kernel here and in every joblib worker.
  _antropy_chunk(timed[:2])
  antropy_all_cores(timed[: 2 * _CORES], _CORES)
  t0 = time.perf_counter()
  ref_timed = _antropy_chunk(timed)
  t_ant1 = (time.perf_counter() - t0) * scale
  t0 = time.perf_counter()
  ref = antropy_all_cores(timed, _CORES)
  t_antn = (time.perf_counter() - t0) * scale
  assert np.array_equal(ref, ref_timed, equal_nan=True)

  mesh = Mesh(np.array(jax.devices()), ('d',))
  one = jax.jit(lambda f: signals.sampen(f, M, R, undefined='library'))
  sharded = jax.jit(
    shard_map(
      lambda f: signals.sampen(f, M, R, undefined='library'),
      mesh=mesh,
      in_specs=P('d'),
      out_specs=P('d'),
    )
  )
  pad = (-n_frames) % len(jax.devices())
  results = {}
  for dtype in (np.float32, np.float64):
    f = jnp.asarray(frames64, dtype)
    fp = jnp.concatenate([f, f[:pad]]) if pad else f
    one(f).block_until_ready()
    sharded(fp).block_until_ready()
    t1, out1 = median_time(lambda: one(f), args.repeats)
    tn, outn = median_time(lambda: sharded(fp), args.repeats)
    outn = np.asarray(outn)[:n_frames]
    assert np.array_equal(np.asarray(out1), outn, equal_nan=True)
    results[dtype.__name__] = (t1, tn, np.asarray(out1)[: timed.shape[0]])

  def rate(t):
    return n_frames / t

  print(f'\n{"method":44s} {"seconds":>9s} {"frames/s":>12s} {"vs antropy all cores":>22s}')
  rows = [('antropy, 1 core', t_ant1), (f'antropy + joblib, {_CORES} cores', t_antn)]
  for name, (t1, tn, _) in results.items():
    rows.append((f'signals.sampen {name}, 1 device', t1))
    rows.append((f'signals.sampen {name}, {len(jax.devices())} devices (all cores)', tn))
  for name, t in rows:
    print(f'{name:44s} {t:9.3f} {rate(t):12.0f} {t_antn / t:21.1f}x')
  if args.antropy_frames > 0:
    print(f'(antropy timed on {timed.shape[0]} frames and scaled to {n_frames})')

  print('\nagreement with antropy (frames compared: %d)' % timed.shape[0])
  for name, (_, _, out) in results.items():
    diff = np.abs(out - ref)
    both_inf = np.isinf(out) & np.isinf(ref) & (np.sign(out) == np.sign(ref))
    both_nan = np.isnan(out) & np.isnan(ref)
    off = ~(both_inf | both_nan | (diff <= 1e-6))
    finite = np.isfinite(diff)
    print(
      f'  {name}: frames off by > 1e-6: {int(off.sum())}; '
      f'max |diff| over finite: {diff[finite].max():.2e}'
    )
  speedup = t_antn / results['float32'][1]
  print(f'\nratio, signals.sampen (float32, all cores) / antropy (all cores): {speedup:.1f}x')
  return speedup


if __name__ == '__main__':
  main()
