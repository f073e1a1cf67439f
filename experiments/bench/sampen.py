"""Sample entropy throughput: the plain call `signals.sampen` against antropy, side by side.

The paper's workload (section II-B): recordings x 2 channels x 8000 samples,
framed at 128 samples with hop 32 (247 frames per channel), SampEn with
m = 2 and r = 0.25 std per frame. The recordings are windows cut from the
real facial sEMG shipped in the `emgflow` package (4 recordings x 2
channels x 20000 samples at 2 kHz, cut at their gaps of missing samples).

Timed in the same run on the same frames, in rounds:
  * antropy.sample_entropy (numba) in a Python loop on one core;
  * the same split over the run's cores with joblib (one chunk per worker);
  * the plain public call `signals.sampen(frames, 2, 0.25)` on NumPy float32
    frames (and on float64 frames), exactly as a user writes it: no
    hand-written jax.jit, no sharding. Its first call compiles (reported
    separately); later calls reuse the compiled program, with the host-side
    NaN/inf check and the transfer included in the time.
Each plain call is timed just before and just after the antropy loop it is
compared with, so a change of machine load hits both; the ratios are given
per round (median and range) in wall-clock and in process CPU time.

Cores. XLA:CPU splits large elementwise loops over all the CPUs the process
may use, so a user's plain call on a 2-core machine uses both for part of
the kernel. `--cores 1` pins the whole run (XLA's thread pool and the joblib
workers) to one CPU: that is the one-core-against-one-core comparison.

Run:  python -m experiments.bench.sampen [--recordings 512] [--rounds 3] [--cores 1]
Prints frames/s per method and round, the ratios, the device and versions,
and checks that every frame's SampEn equals antropy's (float64: to 1e-6;
float32: the count of frames off by more than 1e-6, which happen only where
a distance lies within float32 rounding of the tolerance).
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import numpy as np

jax.config.update('jax_enable_x64', True)  # float64 path for the identity check

import signals  # noqa: E402
from signals.semg.real_data import emgflow_recordings  # noqa: E402
from signals.semg.real_data import finite_segments  # noqa: E402

M, R = 2, 0.25
NAMES = {
  'ant1': 'antropy 0.2.3, Python loop, 1 core',
  'antn': 'antropy + joblib, all cores of the run',
  'float32': 'signals.sampen(frames, 2, 0.25), NumPy float32',
  'float64': 'signals.sampen(frames, 2, 0.25), NumPy float64',
}


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


def timed(fn):
  """([wall, process CPU] seconds, result) of one call, device work included."""
  w0, c0 = time.perf_counter(), time.process_time()
  out = jax.block_until_ready(fn())
  return np.array([time.perf_counter() - w0, time.process_time() - c0]), out


def agreement(ours: np.ndarray, ref: np.ndarray) -> tuple[int, float]:
  """(frames off by more than 1e-6, largest finite difference)."""
  diff = np.abs(ours - ref)
  both_inf = np.isinf(ours) & np.isinf(ref) & (np.sign(ours) == np.sign(ref))
  both_nan = np.isnan(ours) & np.isnan(ref)
  off = ~(both_inf | both_nan | (diff <= 1e-6))
  finite = np.isfinite(diff)
  return int(off.sum()), float(diff[finite].max()) if finite.any() else 0.0


def one_round(frames: dict, timed_frames: np.ndarray, scale: float, cores: int):
  """Times every method once; returns ({method: [wall, cpu] s for all frames}, antropy values)."""
  call = {k: (lambda f=f: signals.sampen(f, M, R)) for k, f in frames.items()}
  before = {k: timed(c)[0] for k, c in call.items()}
  t_ant1, ref = timed(lambda: _antropy_chunk(timed_frames))
  t = {'ant1': t_ant1 * scale}
  for k, c in call.items():
    t[k] = (before[k] + timed(c)[0]) / 2
  if cores > 1:
    t_antn, ref_n = timed(lambda: antropy_all_cores(timed_frames, cores))
    t['antn'] = t_antn * scale  # (the workers' CPU time is not in this process)
    assert np.array_equal(ref, ref_n, equal_nan=True)
  return t, ref


def _ratio_line(name, num, den) -> str:
  r = np.asarray(num) / np.asarray(den)
  return f'{name}: {np.median(r):.1f}x (range {r.min():.1f}-{r.max():.1f}x over {len(r)} rounds)'


def report(rounds: list, n_frames: int, compile_s: dict, cores: int) -> float:
  wall = {k: np.array([t[k][0] for t in rounds]) for k in rounds[0]}
  cpu = {k: np.array([t[k][1] for t in rounds]) for k in rounds[0]}
  print(f'\n{"method (median over rounds)":50s} {"wall s":>8s} {"frames/s":>11s} {"CPU s":>7s}')
  for k in wall:
    cpu_s = '' if k == 'antn' else f'{np.median(cpu[k]):7.3f}'
    print(
      f'{NAMES[k]:50s} {np.median(wall[k]):8.3f} {n_frames / np.median(wall[k]):11,.0f} {cpu_s}'
    )
  for k in ('float32', 'float64'):
    print(
      f'  plain call {k}: first call (compile + run) {compile_s[k]:.2f} s; '
      f'CPU / wall {np.median(cpu[k] / wall[k]):.2f}'
    )
  print(f'\nplain call vs antropy on one core ({cores} core(s) in this run), per round:')
  for k in ('float32', 'float64'):
    print('  wall clock, ' + _ratio_line(k, wall['ant1'], wall[k]))
  for k in ('float32', 'float64'):
    print('  process CPU time, ' + _ratio_line(k, cpu['ant1'], cpu[k]))
  if 'antn' in wall:
    print(
      _ratio_line(f'plain call float32 vs antropy on {cores} cores', wall['antn'], wall['float32'])
    )
  return float(np.median(wall['ant1'] / wall['float32']))


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--recordings', type=int, default=512)
  parser.add_argument('--rounds', type=int, default=3)
  parser.add_argument('--cores', type=int, default=0, help='pin the run to N CPUs (0: all)')
  parser.add_argument(
    '--antropy-frames',
    type=int,
    default=0,
    help='time antropy on this many frames and scale (0: all frames, as the issue asks)',
  )
  args = parser.parse_args(argv)
  if args.cores > 0:  # before XLA starts: it sizes its thread pool from the affinity
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])
  cores = len(os.sched_getaffinity(0))

  x = paper_workload(args.recordings)
  frames64 = np.lib.stride_tricks.sliding_window_view(x, 128, axis=-1)[..., ::32, :]
  frames64 = np.ascontiguousarray(frames64.reshape(-1, 128))  # (F, 128) float64
  frames = {'float32': frames64.astype(np.float32), 'float64': frames64}
  n_frames = frames64.shape[0]
  dev = jax.devices()[0]
  print(
    f'workload: {args.recordings} recordings x 2 channels x 8000 samples = {n_frames} frames '
    f'of 128\ndevice: {dev.platform} ({dev.device_kind}); jax {jax.__version__}; '
    f'cores in this run: {cores} of {os.cpu_count()}'
  )
  timed_frames = frames64 if args.antropy_frames <= 0 else frames64[: args.antropy_frames]
  # Warm-up: antropy's numba kernel here and in every joblib worker, and the
  # plain call's one compilation per dtype (timed: a user pays it once).
  _antropy_chunk(timed_frames[:2])
  if cores > 1:
    antropy_all_cores(timed_frames[: 2 * cores], cores)
  compile_s = {k: timed(lambda f=f: signals.sampen(f, M, R))[0][0] for k, f in frames.items()}

  rounds = []
  for i in range(args.rounds):
    t, ref = one_round(frames, timed_frames, n_frames / timed_frames.shape[0], cores)
    rounds.append(t)
    print(
      f'round {i + 1}, frames/s: ' + '  '.join(f'{k} {n_frames / v[0]:,.0f}' for k, v in t.items())
    )
  if args.antropy_frames > 0:
    print(f'(antropy timed on {timed_frames.shape[0]} frames and scaled to {n_frames})')

  print(f'\nagreement with antropy (frames compared: {len(ref)})')
  for k, f in frames.items():
    off, worst = agreement(
      np.asarray(signals.sampen(f[: len(ref)], M, R, undefined='library')), ref
    )
    print(f'  {k}: frames off by > 1e-6: {off}; max |diff| over finite: {worst:.2e}')
  return report(rounds, n_frames, compile_s, cores)


if __name__ == '__main__':
  main()
