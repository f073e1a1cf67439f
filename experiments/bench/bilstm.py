"""Benchmark: one training step of the Table I BiLSTM in JAX vs PyTorch's `nn.LSTM`.

    pip install -e '.[bench]'   # torch==2.13.0 (CPU wheel: --index-url https://download.pytorch.org/whl/cpu)
    python -m experiments.bench.bilstm [--batch 64 512] [--rounds 7] [--steps 10] [--threads N]

The model is the base model of Table I on both sides: three bidirectional
LSTM layers of 128, 64 and 64 units per direction over 61 steps of 2 features
(the last one returns its final states), FC 64 + ReLU, FC 32 + ReLU and 4
logits; the step is forward, cross-entropy, backward and an Adam update
(lr 1e-3). JAX runs `fewshot.models.semg.SEMGClassifier` (the library's
`BiLSTM` layer) through `fewshot.trainer.make_train_step`, jitted once with
the state donated; PyTorch runs `nn.LSTM(bidirectional=True)` and
`torch.optim.Adam`. Both use the same cores: `torch.set_num_threads(N)` and
XLA's CPU thread pool (N = the cores this process may use). The two sides
alternate in rounds of `--steps` steps so that load from other processes
falls on both; the medians per step and their ratio (torch / JAX, > 1 means
JAX is faster) are printed. Compilation and warm-up steps are excluded.

Measured on the 2-core development CPU (no accelerator), idle (load average
about 1): two threads each, `--rounds 5 --steps 3`, batch 64 JAX 201 ms vs
torch 240 ms (1.19x, JAX faster; other runs 1.35x), batch 512 1.19 s vs
1.88 s (1.57x); pinned to one core (`taskset -c 1`, `--threads 1 --rounds 3
--steps 2`) 1.35x at batch 64 (268 vs 362 ms) and 1.36x at batch 512 (2.13 vs
2.90 s). Before the layer's rework (see fewshot/models/layers.py) it was
0.82x (two threads) and 0.69-0.81x (one core). No GPU was available to
measure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import optax

from fewshot import trainer
from fewshot.models import semg as models

TIME, CHANNELS, CLASSES = 61, 2, 4


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--batch', type=int, nargs='+', default=[64, 512])
  p.add_argument('--rounds', type=int, default=7, help='alternating timing rounds per side')
  p.add_argument('--steps', type=int, default=10, help='training steps per round')
  p.add_argument('--threads', type=int, default=len(os.sched_getaffinity(0)))
  return p.parse_args(argv)


def import_torch():
  """torch, or a clear exit: it is a benchmark-only extra, never a library dependency."""
  try:
    import torch
  except ImportError:
    sys.exit(
      'experiments.bench.bilstm compares against PyTorch, which is not installed. Install the '
      "benchmark extra: pip install -e '.[bench]' (torch==2.13.0; for the CPU wheel add "
      '--index-url https://download.pytorch.org/whl/cpu).'
    )
  return torch


def jax_step(batch: int):
  """`run(steps)`: `steps` jitted Adam steps of the Table I model on one fixed batch."""
  model = models.SEMGClassifier(CLASSES)
  key_x, key_init = jax.random.split(jax.random.key(0))
  x = jax.random.normal(key_x, (batch, CHANNELS, TIME))
  y = jnp.arange(batch) % CLASSES
  tx = optax.adam(1e-3)
  state = trainer.init_train_state(model.init(key_init, x[:1]), tx)

  def loss_fn(params, batch_stats, key, b):
    logits, batch_stats = trainer.apply_model(model, params, batch_stats, b.data['x'], train=True)
    return trainer.cross_entropy_loss(logits, b.data['y'], b.mask), batch_stats

  step = jax.jit(trainer.make_train_step(loss_fn, tx), donate_argnums=0)
  data = trainer.Batch({'x': x, 'y': y}, jnp.ones((batch,), bool))
  key = jax.random.key(1)
  holder = [state]

  def run(steps):
    s = holder[0]
    for _ in range(steps):
      s, metrics = step(s, key, data)
    jax.block_until_ready(metrics['loss'])
    holder[0] = s

  return run


def torch_step(torch, batch: int):
  """`run(steps)`: `steps` Adam steps of the same model in PyTorch."""
  nn = torch.nn

  class Net(nn.Module):
    def __init__(self):
      super().__init__()
      sizes = zip((CHANNELS, 256, 128), models.PAPER_HIDDEN)
      self.lstms = nn.ModuleList(
        nn.LSTM(d, h, batch_first=True, bidirectional=True) for d, h in sizes
      )
      self.fc = nn.Sequential(nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
      self.head = nn.Linear(32, CLASSES)

    def forward(self, x):  # x: (B, T, C)
      for lstm in self.lstms[:-1]:
        x, _ = lstm(x)
      _, (h_n, _) = self.lstms[-1](x)  # h_n: (2, B, H), forward then backward final states
      return self.head(self.fc(torch.cat([h_n[0], h_n[1]], dim=-1)))

  torch.manual_seed(0)
  net = Net()
  opt = torch.optim.Adam(net.parameters(), lr=1e-3)
  x = torch.randn(batch, TIME, CHANNELS)
  y = torch.arange(batch) % CLASSES
  loss_fn = nn.CrossEntropyLoss()

  def run(steps):
    for _ in range(steps):
      opt.zero_grad(set_to_none=True)
      loss = loss_fn(net(x), y)
      loss.backward()
      opt.step()

  return run


def compare(torch, batch: int, args) -> tuple[float, float]:
  """Median seconds per step of JAX and torch, timed in alternating rounds."""
  sides = {'jax': jax_step(batch), 'torch': torch_step(torch, batch)}
  for run in sides.values():
    run(2)  # compile / warm up
  times = {name: [] for name in sides}
  for _ in range(args.rounds):
    for name, run in sides.items():
      t = time.perf_counter()
      run(args.steps)
      times[name].append((time.perf_counter() - t) / args.steps)
  return statistics.median(times['jax']), statistics.median(times['torch'])


def main(argv=None) -> None:
  args = parse_args(argv)
  torch = import_torch()
  torch.set_num_threads(args.threads)
  print(
    f'device: {jax.devices()[0].device_kind} ({jax.devices()[0].platform}), jax {jax.__version__}, '
    f'torch {torch.__version__}, {args.threads} thread(s) each, cores {sorted(os.sched_getaffinity(0))}'
  )
  print(f'XLA_FLAGS={os.environ.get("XLA_FLAGS", "")!r}')
  print('Table I BiLSTM (128/64/64 per direction, 61 x 2) + FC 64, 32, 4; Adam step')
  rows = []
  for batch in args.batch:
    t_jax, t_torch = compare(torch, batch, args)
    rows.append((batch, t_jax, t_torch))
    print(
      f'batch {batch:4d}: jax {1e3 * t_jax:7.2f} ms, torch {1e3 * t_torch:7.2f} ms, '
      f'ratio torch/jax {t_torch / t_jax:.2f}x (medians of {args.rounds} rounds x {args.steps})',
      flush=True,
    )
  worst = min(t / j for _, j, t in rows)
  print(f'slowest ratio torch/jax: {worst:.2f}x ({"JAX" if worst >= 1 else "torch"} faster)')


if __name__ == '__main__':
  main()
