"""Nested LOSO of one harAGE configuration: folds vmapped vs one after another.

    python -m experiments.bench.har_folds [--participants 6] [--epochs 10] \
        [--extractor cnn] [--modalities steps,hr,acc] [--fusion concat] [--task 10]

Runs the full nested-LOSO grid (all inner folds of all outer folds, then all
outer folds) of one configuration twice in one process: each level as one
vmapped program (`vmapped=True`) and the same padded folds through the
single-fold program in a Python loop (`vmapped=False`). Each mode is timed
on a first call (compilation included) and a second call (compiled), and the
two modes' UARs are compared. Patience equals the epoch cap, so every fold
runs the same number of epochs in both modes and the timings compare equal
work. A script, not a timed test.

Measured on the 2-core development CPU (no accelerator), defaults (6
participants, 30 inner + 6 outer folds, 10 epochs): CNN sequential/vmapped
0.53x-0.66x compiled over two runs (vmapped slower: XLA:CPU runs the fold-batched small matmuls
and batch-norm reductions less efficiently than separate calls); GRU
(`--extractor rnn --epochs 3`) 1.85x compiled, 1.28x with compilation.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from fewshot.models import har as har_models
from fewshot.protocols import har as har_protocol
from signals.har import data as har_data
from signals.har import synthetic as har_synthetic


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--participants', type=int, default=6)
  p.add_argument('--block-seconds', type=float, default=60.0)
  p.add_argument('--epochs', type=int, default=10)
  p.add_argument('--extractor', default='cnn', choices=har_models.EXTRACTORS)
  p.add_argument('--fusion', default='concat', choices=har_models.FUSIONS)
  p.add_argument('--modalities', default='steps,hr,acc')
  p.add_argument('--task', type=int, default=10, choices=(2, 7, 10))
  return p.parse_args(argv)


def main(argv=None) -> None:
  args = parse_args(argv)
  parts = har_synthetic.synthetic_harage(
    jax.random.key(0), args.participants, args.block_seconds, rest_seconds=60.0
  )
  windows, stats = har_data.windows_from_participants(parts)
  data = har_data.select_task(windows, args.task)
  mods = tuple(args.modalities.split(','))
  name = f'{args.extractor}:' + ('+' if args.fusion == 'concat' else '*').join(mods)
  model = har_protocol.make_model(har_protocol.Config(), name, num_classes=len(data.class_names))
  cfg = har_protocol.train_config(max_epochs=args.epochs, patience=args.epochs)
  outer, inner = har_protocol.nested_fold_indices(
    jax.random.key(1), data.subjects, data.train_window, data.test_window, cfg.inner_folds
  )
  n_inner = sum(len(f) for f in inner)
  print(
    f'data: {args.participants} synthetic participants, {data.labels.size} windows '
    f'({stats.n_train_windows} train grid / {stats.n_test_windows} test grid), task '
    f'{args.task}; model {args.extractor} {"+".join(mods)} {args.fusion}'
  )
  print(
    f'folds: {n_inner} inner + {len(outer)} outer, {args.epochs} epochs each '
    f'(patience = cap), batch {cfg.fit.batch_size}'
  )
  dev = jax.devices()[0]
  print(f'device: {dev.platform} ({dev.device_kind}) x {jax.device_count()}; jax {jax.__version__}')

  compare(model, cfg, data)


def compare(model, cfg, data) -> None:
  """Nested LOSO vmapped and fold after fold, twice each; prints times, ratios, agreement."""
  times, results = {}, {}
  for mode in (True, False):
    name = 'vmapped' if mode else 'sequential'
    for call in ('first', 'second'):
      t0 = time.perf_counter()
      res = har_protocol.nested_loso(jax.random.key(1), model, cfg, data, vmapped=mode)
      times[name, call] = time.perf_counter() - t0
    results[name] = res
    print(
      f'{name:>10}: first call {times[name, "first"]:7.2f} s (with compilation), '
      f'second call {times[name, "second"]:7.2f} s'
    )
  for call in ('first', 'second'):
    print(
      f'ratio sequential / vmapped, {call} call: '
      f'{times["sequential", call] / times["vmapped", call]:.2f}x'
    )
  a, b = results['vmapped'], results['sequential']
  print(
    f'mean fold UAR vmapped {a.fold_uar.mean():.4f}, sequential {b.fold_uar.mean():.4f}, '
    f'max |difference| {np.abs(a.fold_uar - b.fold_uar).max():.2e}'
  )
  # Float32 summation order differs between batched and single matmuls; a
  # near-tie in an inner validation UAR can then pick another best epoch.
  same = int((a.inner_epochs == b.inner_epochs).sum())
  print(
    f'inner best epochs equal in {same} of {a.inner_epochs.size} inner folds; outer epoch '
    f'counts vmapped {a.epochs.tolist()}, sequential {b.epochs.tolist()}'
  )


if __name__ == '__main__':
  main()
