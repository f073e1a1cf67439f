"""Prints the cost of scoring many few-shot episodes at once.

    /tmp/venv/bin/python -m evaluation.benchmark [--episodes 10000]

Compares `jax.jit(jax.vmap(f1_score(..., average='macro')))` over all
episodes with a Python loop of scikit-learn `f1_score` (on a subset, scaled
up), and checks both give the same scores. A script, not a timed test.
"""

from __future__ import annotations

import argparse
import time
import warnings

import jax
import numpy as np
from sklearn import metrics as skm

from evaluation import metrics


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--episodes', type=int, default=10_000)
  parser.add_argument('--queries', type=int, default=75)
  parser.add_argument('--classes', type=int, default=5)
  parser.add_argument('--sklearn-subset', type=int, default=500)
  args = parser.parse_args()

  rng = np.random.default_rng(0)
  shape = (args.episodes, args.queries)
  y_true = rng.integers(0, args.classes, shape).astype(np.int32)
  y_pred = np.where(rng.random(shape) < 0.6, y_true, rng.integers(0, args.classes, shape)).astype(
    np.int32
  )

  c = args.classes
  fn = jax.jit(jax.vmap(lambda t, p: metrics.f1_score(t, p, c, 'macro')))
  t_dev, p_dev = jax.device_put(y_true), jax.device_put(y_pred)
  t0 = time.perf_counter()
  ours = fn(t_dev, p_dev).block_until_ready()
  compile_s = time.perf_counter() - t0
  reps = 20
  t0 = time.perf_counter()
  for _ in range(reps):
    ours = fn(t_dev, p_dev).block_until_ready()
  ours_s = (time.perf_counter() - t0) / reps

  n_sub = min(args.sklearn_subset, args.episodes)
  t0 = time.perf_counter()
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    ref = np.array(
      [
        skm.f1_score(y_true[i], y_pred[i], labels=range(c), average='macro', zero_division=0)
        for i in range(n_sub)
      ]
    )
  sk_s = (time.perf_counter() - t0) * args.episodes / n_sub

  err = np.max(np.abs(np.asarray(ours)[:n_sub] - ref))
  print(
    f'device: {jax.devices()[0].platform}, episodes: {args.episodes}, '
    f'queries: {args.queries}, classes: {c}'
  )
  print(
    f'jit+vmap macro F1: {ours_s * 1e3:.2f} ms per call '
    f'(first call incl. compile {compile_s * 1e3:.0f} ms)'
  )
  print(f'sklearn loop (extrapolated from {n_sub}): {sk_s * 1e3:.0f} ms')
  print(f'speed-up: {sk_s / ours_s:.0f}x, max |difference|: {err:.2e}')


if __name__ == '__main__':
  main()
