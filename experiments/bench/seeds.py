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


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--seeds', type=int, default=10)
  p.add_argument('--repeats', type=int, default=3)
  p.add_argument('--epochs', type=int, default=3)
  p.add_argument('--steps', type=int, default=10, help='steps per epoch')
  p.add_argument('--batch', type=int, default=32)
  p.add_argument(
    '--paper-size', action='store_true', help='Table I sizes (128/64/64) instead of 16/8/8'
  )
  return p.parse_args(argv)


def setup(args):
  """`run(vmapped)`: R seeds of the base model, as one program or one after another."""
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
    fs, _ = trainer.fit_runs(
      fit,
      init,
      train_keys,
      data,
      splits,
      num_epochs=cfg.num_epochs,
      runs_as='vmap' if vmapped else 'loop',
    )
    return jax.block_until_ready(fs)

  return run, hidden, cfg


def timed(fn):
  t = time.perf_counter()
  fn()
  return time.perf_counter() - t


def main(argv=None) -> None:
  args = parse_args(argv)
  run, hidden, cfg = setup(args)
  compile_seq = timed(lambda: run(False))
  compile_vm = timed(lambda: run(True))
  seq = [timed(lambda: run(False)) for _ in range(args.repeats)]
  vm = [timed(lambda: run(True)) for _ in range(args.repeats)]
  # Same numbers either way (the test suite checks this with allclose too).
  diff = float(jnp.abs(run(True).best_metric - run(False).best_metric).max())
  print(
    f'device: {jax.devices()[0].platform}, jax {jax.__version__}, hidden/direction {hidden}, '
    f'{args.seeds} seeds, {cfg.num_epochs} epochs x {cfg.steps_per_epoch} steps x batch '
    f'{cfg.batch_size}'
  )
  print(f'first call (compile + run): sequential {compile_seq:.2f} s, vmapped {compile_vm:.2f} s')
  print(f'sequential: median {statistics.median(seq):.3f} s over {args.repeats}')
  print(f'vmapped:    median {statistics.median(vm):.3f} s over {args.repeats}')
  print(f'speed-up (sequential / vmapped): {statistics.median(seq) / statistics.median(vm):.2f}x')
  print(f'max |best val loss difference|: {diff:.2e}')


if __name__ == '__main__':
  main()
