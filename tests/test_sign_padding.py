"""Team 2's batch norm and masked examples: a padded or ragged run trains as it does alone (issue 21, item 1)."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fewshot import trainer
from fewshot.models.layers import MaskedBatchNorm
from fewshot.protocols import sign as protocol

B, T, F = 6, 5, 4


def _clips(n=B, t=T, f=F, seed=0):
  """Random clips with a prefix frame mask (lengths 2..t); padded frames zero."""
  rng = np.random.default_rng(seed)
  lengths = rng.integers(2, t + 1, n)
  frames = np.arange(t)[None] < lengths[:, None]
  x = (rng.normal(size=(n, t, f)) * frames[..., None]).astype(np.float32)
  return x, frames


def test_masked_batch_norm_with_a_frame_mask_against_numpy():
  x, frames = _clips()
  x = x * 3 + 1
  real = frames & (np.arange(B) < 4)[:, None]  # examples 4, 5 are padding slots
  norm = MaskedBatchNorm()
  variables = norm.init(jax.random.key(0), x, real, False)
  out, state = norm.apply(variables, x, real, True, mutable=['batch_stats'])
  # Reference: the biased moments of the real frames of the real examples.
  rows = x[real]  # (n_real, F)
  mean, var = rows.mean(0), rows.var(0)
  np.testing.assert_allclose(out[real], (rows - mean) / np.sqrt(var + 1e-5), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(state['batch_stats']['mean'], 0.1 * mean, rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(state['batch_stats']['var'], 0.9 + 0.1 * var, rtol=1e-5)
  # With every example real it is flax's BatchNorm over the frame mask (the
  # model's batch norm before the example mask): same names, same numbers.
  ref = nn.BatchNorm(momentum=0.9, epsilon=1e-5)
  ref_out, ref_state = ref.apply(
    variables, x, use_running_average=False, mask=frames[..., None], mutable=['batch_stats']
  )
  out, state = norm.apply(variables, x, frames, True, mutable=['batch_stats'])
  np.testing.assert_allclose(out[frames], ref_out[frames], rtol=1e-4, atol=1e-5)
  jax.tree.map(
    lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), state, ref_state
  )
  with pytest.raises(ValueError, match='leading axes'):
    norm.apply(variables, x, frames[:, :3], True, mutable=['batch_stats'])


def _bilstm():
  model = protocol.make_model(protocol.Config(bilstm=(8, (4,), 0.0)), 'bilstm', num_classes=3)
  x, frames = _clips()
  return model, model.init(jax.random.key(1), x, frames), x, frames


def test_bilstm_batch_statistics_skip_masked_examples():
  """Whatever masked examples hold, the real ones' logits and the running averages are
  those of the batch of real examples alone (a ragged last batch)."""
  model, variables, x, frames = _bilstm()
  example = np.arange(B) < 4
  junk = np.where(example[:, None, None], x, 1e3).astype(np.float32)

  @jax.jit
  def train(x, frames, mask):
    return model.apply(variables, x, frames, True, mask, mutable=['batch_stats'])

  out_pad, st_pad = train(junk, frames, example)
  out_real, st_real = train(x[:4], frames[:4], np.ones(4, bool))
  np.testing.assert_allclose(out_pad[:4], out_real, rtol=1e-4, atol=1e-5)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), st_pad, st_real)
  # Without the example mask the junk enters the statistics (what the mask prevents).
  _, st_all = train(junk, frames, np.ones(B, bool))
  assert np.abs(st_all['batch_stats']['norm']['mean']).max() > 10


def _data(n=64, t=6, f=5):
  x, frames = _clips(n, t, f)
  flipped, _ = _clips(n, t, f, seed=1)
  y = np.random.default_rng(2).integers(0, 3, n).astype(np.int32)
  return {'x': x, 'x_flip': flipped * frames[..., None], 'mask': frames, 'y': y}


def test_padded_and_ragged_run_trains_as_it_does_alone():
  """Run 0 (24 clips, batches of 16) beside a run of 40: each epoch's second batch
  holds 8 clips and 8 masked slots (ragged), which alone repeat one of its clips
  and here point at clip 0 (not one of its clips: `make_split`'s padding), and a
  third batch of 16 masked slots. Before the example mask reached the batch norm,
  the parameters moved apart by 0.0055 and the running averages by 0.13 after 3
  epochs."""
  data = _data()
  cfg = protocol.Config(bilstm=(16, (8,), 0.2), epochs=3, batch_size=16)
  model = protocol.make_model(cfg, 'bilstm', num_classes=3)
  fit = protocol.fit_config(cfg, 'bilstm', validate=False)
  run0, run1 = np.arange(1, 25), np.arange(24, 64)
  padded = trainer.make_split([run0, run1], [run0, run1])
  assert padded.train_idx.shape[1] == 40 and not padded.train_mask[0, 24:].any()
  key = jax.random.key(3)
  both, _ = protocol.train_runs(key, model, data, padded, config=fit)
  alone, _ = protocol.train_runs(key, model, data, trainer.make_split([run0], [run0]), config=fit)
  close = lambda a, b: np.testing.assert_allclose(a[0], b[0], rtol=1e-6, atol=1e-6)
  jax.tree.map(close, both.best_params, alone.best_params)
  jax.tree.map(close, both.best_batch_stats, alone.best_batch_stats)
  assert (
    int(both.train.step[0]) == int(alone.train.step[0]) == 3 * 2
  )  # the no-real-example steps are skipped
  # The running averages did move (the comparison is not of untouched statistics).
  assert np.abs(np.asarray(jnp.asarray(alone.best_batch_stats['norm']['mean']))).max() > 1e-3
