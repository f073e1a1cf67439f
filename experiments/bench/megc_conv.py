"""Benchmark: the MEGC networks' training step per fold layout and convolution kind.

    python -m experiments.bench.megc_conv [--folds 11] [--batch 32] [--steps 2] [--repeats 3]
                                          [--networks STSTNet,EMR] [--paper-size] [--quick]

Every convolution of the MEGC recognition networks (STSTNet, OFF-ApexNet,
Dual-Inception, CapsuleNet, EMR) is a `layers.PatchConv`, computed either
as XLA's convolution ('native') or as image patches times a kernel matrix
('patch'); LOSO folds train as runs of `trainer.fit_runs`, laid out as one
vmapped program ('vmap'), one program that maps the folds one after another
('map', `lax.map`) or the single-fold program called per fold ('loop').
Vmapped over folds, a native convolution becomes a grouped convolution
(one kernel per fold), which XLA:CPU runs slowly; this benchmark times each
pair on the current device so that the protocol's 'auto' choice
(`fewshot.protocols.megc_recognition.fold_layout`) is a measured one.

Each path trains `--folds` folds of `--steps` steps of `--batch` clips
(forward, backward and Adam, inside the trainer's real epoch loop: one call
of `fit_runs` with one epoch), from the same variables on the same data;
the first call (compile and run) is timed apart, then the median of
`--repeats` calls. Repeats alternate between the paths so that a change of
machine load hits every path. A path whose first call takes longer than
`--slow` seconds is not repeated: its first call (compile included) is an
upper bound of its time. Prints ms per training step (all
folds), the compile seconds, and each path's time over the chosen path's
('auto' on this backend), and the machine's load average before and after.

Sizes: the networks at their quick settings' input sizes (the 28 x 28 flow
networks are the same at both; CapsuleNet 32 x 32 apex frames, width 16,
2 x 2 capsule kernels; EMR's batch draws micro and macro clips alike);
`--paper-size` adds CapsuleNet at its released size (224 x 224, width 64,
9 x 9 kernels: minutes per path on a 2-core CPU). `--quick`: 2 folds,
batch 4, 1 step, 1 repeat, STSTNet on vmap+patch and map+native only, for
the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from fewshot import trainer
from fewshot.models import emr as emr_models
from fewshot.models import megc as megc_models
from fewshot.models import megc_capsule
from fewshot.protocols import megc_recognition as protocol

PATHS = (
  ('vmap', 'patch'),
  ('vmap', 'native'),
  ('map', 'native'),
  ('map', 'patch'),
  ('loop', 'native'),
)
NETWORKS = ('STSTNet', 'OFF-ApexNet', 'Dual-Inception', 'CapsuleNet', 'EMR')


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--folds', type=int, default=11)
  p.add_argument('--batch', type=int, default=32)
  p.add_argument('--steps', type=int, default=2, help='training steps per timed call')
  p.add_argument('--repeats', type=int, default=3)
  p.add_argument('--networks', default=','.join(NETWORKS))
  p.add_argument('--paths', default=','.join(f'{r}+{c}' for r, c in PATHS))
  p.add_argument('--slow', type=float, default=60.0, help='seconds: time slower paths once')
  p.add_argument('--paper-size', action='store_true', help='add CapsuleNet at 224 x 224, width 64')
  p.add_argument('--quick', action='store_true', help='a tiny run for the test suite')
  args = p.parse_args(argv)
  if args.quick:
    args.folds, args.batch, args.steps, args.repeats = 2, 4, 1, 1
    if args.networks == ','.join(NETWORKS):
      args.networks = 'STSTNet'
    if args.paths == ','.join(f'{r}+{c}' for r, c in PATHS):
      args.paths = 'vmap+patch,map+native'
  return args


def _setups(names, paper_size: bool):
  """(label, name, make_model(conv), loss, variables, input shape) per network."""
  out = []
  for name in names:
    if name in megc_models.MODELS:
      shape = (28, 28, megc_models.INPUT_CHANNELS[name])
      make = lambda conv, name=name: megc_models.network(name, conv=conv)
      out.append((name, name, make, protocol.loss_fn, protocol._variables, shape))
    elif name == 'CapsuleNet':
      sizes = [(32, 16, 2)] + ([(224, 64, 9)] if paper_size else [])
      for size, width, k in sizes:
        make = lambda conv, w=width, k=k: megc_capsule.CapsuleNet(3, w, k, conv=conv)
        label = f'CapsuleNet {size}px w{width} k{k}'
        variables = protocol._capsule_variables(None)
        out.append((label, name, make, protocol.capsule_loss_fn, variables, (size, size, 1)))
    elif name == 'EMR':
      make = lambda conv: emr_models.emr_network(conv=conv)
      out.append(('EMR', name, make, protocol.emr_loss_fn, protocol._emr_variables, (28, 28, 2)))
    else:
      raise ValueError(f'unknown network {name!r}; expected some of {NETWORKS}.')
  return out


def _timed(fn):
  t = time.perf_counter()
  jax.block_until_ready(fn())
  return time.perf_counter() - t


def bench_network(setup, args, paths):
  """{path: (compile s, [per-call s])} of one network."""
  _, _, make, loss, variables, shape = setup
  folds, batch = args.folds, args.batch
  n = folds * batch  # fold f holds out block f and trains on the others
  rng = np.random.default_rng(0)
  data = {
    'x': jnp.asarray(rng.normal(size=(n, *shape)), jnp.float32),
    'y': jnp.asarray(np.arange(n) % 3, jnp.int32),
    'd': jnp.asarray(np.arange(n) % 2, jnp.float32),
  }
  rows = np.arange(n).reshape(folds, batch)
  train = [np.delete(rows, f, axis=0).reshape(-1) for f in range(folds)]
  split = trainer.make_split(train, list(rows), num_examples=n)
  cfg = trainer.FitConfig(num_epochs=1, steps_per_epoch=args.steps, batch_size=batch)
  keys = jax.random.split(jax.random.key(0), folds)
  runs = {}
  fs0 = None
  for runs_as, conv in paths:
    model = make(conv)
    stage = trainer.make_stage(model, cfg, loss, variables=variables)
    if fs0 is None:  # the same variables for every path (both kinds share them)
      fs0 = jax.block_until_ready(stage.init(keys, data['x'][:1]))
    runs[(runs_as, conv)] = lambda stage=stage, r=runs_as: trainer.fit_runs(
      stage.fit, fs0, keys, data, split, num_epochs=1, runs_as=r
    )[0]
  first = {p: _timed(fn) for p, fn in runs.items()}
  times = {p: [] for p in runs}
  for _ in range(args.repeats):
    for p, fn in runs.items():
      if first[p] <= args.slow:
        times[p].append(_timed(fn))
  # A path slower than --slow is not repeated: its first call (compile
  # included) bounds its time from above, its compile time is unknown.
  return {
    p: (max(first[p] - min(t), 0.0), t) if t else (None, [first[p]]) for p, t in times.items()
  }


def main(argv=None) -> dict:
  args = parse_args(argv)
  paths = [tuple(p.split('+')) for p in args.paths.split(',')]
  for runs_as, conv in paths:
    if runs_as not in trainer.RUNS_AS or conv not in ('native', 'patch'):
      raise ValueError(f'unknown path {runs_as}+{conv}')
  load0 = os.getloadavg()
  print(
    f'device: {jax.devices()[0].platform} ({jax.devices()[0].device_kind}), jax {jax.__version__}, '
    f'{os.cpu_count()} CPUs; {args.folds} folds x batch {args.batch}, {args.steps} steps per call, '
    f'median of {args.repeats}; ratios to the path chosen here (auto, `fold_layout`)'
  )
  print(f'load average before: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}')
  header = ' | '.join(f'{r}+{c}' for r, c in paths)
  print(f'| network | {header} |')
  print('|---' * (len(paths) + 1) + '|')
  results = {}
  for setup in _setups(args.networks.split(','), args.paper_size):
    out = bench_network(setup, args, paths)
    results[setup[0]] = out
    ms = {p: 1e3 * statistics.median(t) / args.steps for p, (_, t) in out.items()}
    chosen = protocol.fold_layout('auto', 'auto', network=setup[1])
    ref = ms.get(chosen)
    cells = []
    for p in paths:
      ratio = f', {ms[p] / ref:.2f}x' if ref else ''
      compile_s = out[p][0]
      if compile_s is None:  # not repeated (--slow): compile and run together
        cells.append(f'< {ms[p]:.0f} ms (? s{ratio})')
      else:
        cells.append(f'{ms[p]:.1f} ms ({compile_s:.1f} s{ratio})')
    print(f'| {setup[0]} ({chosen[0]}+{chosen[1]}) | ' + ' | '.join(cells) + ' |', flush=True)
  load1 = os.getloadavg()
  print(
    'cells: ms per training step of all folds (compile s, time / chosen path); '
    f'load average after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; "< t (? s)": slower '
    f'than --slow {args.slow:g} s at the first call, timed once, compile included'
  )
  return results


if __name__ == '__main__':
  main()
