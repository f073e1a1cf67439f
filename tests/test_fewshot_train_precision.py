"""Determinism the trainer states: full float32 matmuls in training, vmapped seeds = sequential seeds.

On NVIDIA GPUs JAX's default float32 matmul precision is TF32; the batched
kernels of vmapped runs and the kernels of single runs then round
differently, and Adam (whose first steps are about sign(g)) turns that into
different trajectories. `FitConfig.matmul_precision='float32'` (the default)
makes every dot of the training program full float32 on every backend; the
HLO test below pins that on CPU, where the agreement test also runs.
"""

import functools
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from fewshot import trainer

N, RUNS = 48, 4
CFG = trainer.FitConfig(num_epochs=6, steps_per_epoch=4, batch_size=8, patience=6)


class _Net(nn.Module):
  @nn.compact
  def __call__(self, x, train=False):
    return nn.Dense(3)(jnp.tanh(nn.Dense(16)(x)))


def _setup(cfg, tx):
  model = _Net()

  def loss_fn(params, batch_stats, key, batch):
    logits, _ = trainer.apply_model(model, params, batch_stats, batch.data['x'], train=True)
    return trainer.cross_entropy_loss(logits, batch.data['y'], batch.mask), batch_stats

  def eval_fn(params, batch_stats, data, split):
    x, y = data['x'][split.val_idx], data['y'][split.val_idx]
    logits, _ = trainer.apply_model(model, params, batch_stats, x, train=False)
    return {'val_loss': trainer.cross_entropy_loss(logits, y, split.val_mask)}

  y = jnp.arange(N) % 3
  x = jax.random.normal(jax.random.key(0), (N, 5)) + 0.7 * y[:, None]
  data = {'x': x, 'y': y}
  fs0 = jax.vmap(lambda k: trainer.init_fit_state(model.init(k, x[:1]), tx))(
    jax.random.split(jax.random.key(1), RUNS)
  )
  split = trainer.make_split([range(8 + 6 * r) for r in range(RUNS)], [range(32, N)] * RUNS)
  fit = trainer.make_fit(loss_fn, tx, cfg, eval_fn)
  return fit, fs0, data, split


def _dot_precisions(cfg):
  fit, fs0, data, split = _setup(cfg, optax.adam(1e-2))
  one = jax.tree.map(lambda a: a[0], (fs0, split))
  text = (
    jax.jit(functools.partial(fit, num_epochs=1))
    .lower(one[0], jax.random.key(0), data, one[1])
    .as_text()
  )
  return set(re.findall(r'dot_general.*precision = \[(\w+), \w+\]', text))


def test_training_program_uses_the_configured_matmul_precision():
  assert _dot_precisions(CFG) == {'HIGHEST'}  # forward, backward and validation dots
  tf32 = trainer.FitConfig(**{**CFG.__dict__, 'matmul_precision': 'tensorfloat32'})
  assert _dot_precisions(tf32) == {'HIGH'}
  with pytest.raises(ValueError, match='matmul_precision'):
    trainer.FitConfig(matmul_precision='tf32')


def test_adam_seeds_vmapped_equal_sequential():
  """Stated tolerance: best validation losses within 1e-4 (absolute), histories within 1e-3."""
  fit, fs0, data, split = _setup(CFG, optax.adam(1e-2))
  keys = jax.random.split(jax.random.key(2), RUNS)
  run = functools.partial(trainer.fit_runs, fit, fs0, keys, data, split, num_epochs=6)
  vm, hist_vm = run(runs_as='vmap')
  seq, hist_seq = run(runs_as='loop')
  best = np.asarray(vm.best_metric)
  assert np.all(np.isfinite(best)) and np.all(best < np.log(3))  # it learned
  np.testing.assert_allclose(best, np.asarray(seq.best_metric), rtol=0, atol=1e-4)
  np.testing.assert_allclose(hist_vm['val_loss'], hist_seq['val_loss'], rtol=0, atol=1e-3)
  np.testing.assert_array_equal(vm.best_epoch, seq.best_epoch)
