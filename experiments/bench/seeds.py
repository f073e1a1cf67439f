"""Benchmark: 10 seeds trained as one vmapped program vs 10 sequential runs.

    python -m experiments.bench.seeds [--seeds 10] [--repeats 3] [--paper-size]

Both sides run the same compiled epoch loop (`fewshot.trainer.make_fit`, base
model of Table I on 4 classes, random [2, 61] inputs); the sequential side
calls the single-run program once per seed, the vmapped side calls the
seed-vmapped program once. Compilation is timed separately and excluded from
the medians. Prints the median wall time of each side over `--repeats`
repetitions and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import optax

from fewshot import trainer
from fewshot.models import semg as models
from fewshot.protocols import semg as semg_protocol


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--seeds', type=int, default=10)
  p.add_argument('--repeats', type=int, default=3)
  p.add_argument('--epochs', type=int, default=3)
  p.add_argument('--steps', type=int, default=10, help='steps per epoch')
  p.add_argument('--batch', type=int, default=32)
  p.add_argument(
    '--paper-size',
    action='store_true',
    help='Table I sizes (128/64/64) instead of the quick ones (16/8/8)',
  )
  args = p.parse_args(argv)

  hidden = models.PAPER_HIDDEN if args.paper_size else (16, 8, 8)
  model = models.SEMGClassifier(4, hidden=hidden)
  cfg = trainer.FitConfig(
    num_epochs=args.epochs, steps_per_epoch=args.steps, batch_size=args.batch, patience=args.epochs
  )
  tx = optax.adam(cfg.learning_rate)
  n_train, n_val = 400, 100
  key_x, key_init, key_train = jax.random.split(jax.random.key(0), 3)
  y = jnp.arange(n_train + n_val) % 4
  x = jax.random.normal(key_x, (n_train + n_val, 2, 61)) + y[:, None, None] * 0.3
  data = {'x': x, 'y': y}
  R = args.seeds
  splits = trainer.make_split([range(n_train)] * R, [range(n_train, n_train + n_val)] * R)
  init = jax.vmap(lambda k: trainer.init_fit_state(model.init(k, x[:1]), tx))(
    jax.random.split(key_init, R)
  )
  train_keys = jax.random.split(key_train, R)
  fit = trainer.make_fit(
    semg_protocol.classifier_loss(model), tx, cfg, semg_protocol.classifier_eval(model)
  )

  def run(vmapped):
    return trainer.fit_runs(
      fit, init, train_keys, data, splits, num_epochs=cfg.num_epochs, vmapped=vmapped
    )[0]

  run_sequential = lambda: run(False)
  run_vmapped = lambda: run(True)

  def timed(fn):
    t = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - t

  compile_seq = timed(run_sequential)
  compile_vm = timed(run_vmapped)
  seq = [timed(run_sequential) for _ in range(args.repeats)]
  vm = [timed(run_vmapped) for _ in range(args.repeats)]
  # Same numbers either way (the test suite checks this with allclose too).
  a = run_vmapped().best_metric
  b = run_sequential().best_metric
  print(
    f'device: {jax.devices()[0].platform}, hidden/direction {hidden}, {R} seeds, '
    f'{cfg.num_epochs} epochs x {cfg.steps_per_epoch} steps x batch {cfg.batch_size}'
  )
  print(f'first call (compile + run): sequential {compile_seq:.2f} s, vmapped {compile_vm:.2f} s')
  print(f'sequential {R} runs: median {statistics.median(seq):.3f} s over {args.repeats}')
  print(f'vmapped    {R} runs: median {statistics.median(vm):.3f} s over {args.repeats}')
  print(f'speed-up (sequential / vmapped): {statistics.median(seq) / statistics.median(vm):.2f}x')
  print(f'max |best val loss difference|: {float(jnp.abs(a - b).max()):.2e}')


if __name__ == '__main__':
  main()
