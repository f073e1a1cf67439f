"""Benchmark: compiling a stage's init at XLA's default -O3 vs `trainer.INIT_COMPILER_OPTIONS` (-O0).

    python -m experiments.bench.init_compile [--runs 5] [--repeats 3] [--paper-size]

Every training stage initialises its runs once (`trainer.make_stage`'s
`init`: the vmapped `model.init` and the optimizer state); its run time is
negligible and its compile time is the parameter draws' (threefry and the
initializers), which XLA:CPU compiles slowly at its default -O3. Both sides
lower the same function afresh (the sEMG base model of Table I, 4 classes, `--runs`
keys) and compile it fresh each repetition; prints the median compile time
of each side, their ratio, and whether the variables are bit-identical.
Run it without XLA_FLAGS (the test suite's -O0 default would make both sides
the same).
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from fewshot import trainer
from fewshot.models import semg as models
from fewshot.protocols import semg as semg_protocol


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--runs', type=int, default=5)
  p.add_argument('--repeats', type=int, default=3)
  p.add_argument(
    '--paper-size', action='store_true', help='Table I sizes (128/64/64) instead of 16/8/8'
  )
  return p.parse_args(argv)


def _compile(fn, args, options):
  jax.clear_caches()  # compile afresh each repetition (no in-memory executable reuse)
  lowered = jax.jit(fn).lower(*args)
  t0 = time.perf_counter()
  compiled = lowered.compile(compiler_options=options)
  return compiled, time.perf_counter() - t0


def main(argv=None) -> int:
  args = parse_args(argv)
  hidden = (128, 64, 64) if args.paper_size else (16, 8, 8)
  model = models.SEMGClassifier(num_classes=4, hidden=hidden, fc=(64, 32))
  stage = semg_protocol.classifier_stage(model, trainer.FitConfig(num_epochs=1))
  keys = jax.random.split(jax.random.key(0), args.runs)
  x = jnp.zeros((2, 2, 61), jnp.float32)
  sides = {'XLA default (-O3)': {}, 'INIT_COMPILER_OPTIONS (-O0)': trainer.INIT_COMPILER_OPTIONS}
  times, outputs = {}, {}
  for _ in range(args.repeats):
    for name, options in sides.items():
      compiled, seconds = _compile(stage.init.__wrapped__, (keys, x), options)
      times.setdefault(name, []).append(seconds)
      outputs[name] = jax.tree.leaves(compiled(keys, x))
  same = all(
    np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
    for a, b in zip(*outputs.values(), strict=True)
  )
  print(f'sEMG base model init, {args.runs} runs, hidden {hidden}, {jax.devices()[0].platform}')
  medians = {name: statistics.median(t) for name, t in times.items()}
  for name, m in medians.items():
    print(f'  {name}: median compile {m:.2f} s over {args.repeats}')
  default, fast = medians.values()
  print(f'  ratio: {default / fast:.1f}x faster to compile; variables bit-identical: {same}')
  return 0


if __name__ == '__main__':
  raise SystemExit(main())
