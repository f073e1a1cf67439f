"""`transfer.trainable_adam`: masks carried as data equal `optax.multi_transform` bit for bit."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from fewshot import transfer


def _params(seed):
  r = np.random.default_rng(seed)
  normal = lambda *shape: r.standard_normal(shape).astype(np.float32)
  return {
    'embedder': {
      'bilstm_1': {'kernel': normal(3, 4), 'bias': np.zeros(4, np.float32)},
      'bilstm_2': {'kernel': normal(4, 4), 'bias': np.full(4, 0.1, np.float32)},
    },
    'head': {'kernel': normal(4, 2)},
  }


def _loss(params, x, y):
  h = jnp.tanh(
    x @ params['embedder']['bilstm_1']['kernel'] + params['embedder']['bilstm_1']['bias']
  )
  h = jnp.tanh(
    h @ params['embedder']['bilstm_2']['kernel'] + params['embedder']['bilstm_2']['bias']
  )
  return jnp.mean((h @ params['head']['kernel'] - y) ** 2)


def _train(tx, params, opt_state, x, y):
  """Ten Adam steps on fixed data: (final params, final optimizer state)."""

  def step(carry, i):
    p, s = carry
    g = jax.grad(_loss)(p, x[i], y[i])
    u, s = tx.update(g, s, p)
    return (optax.apply_updates(p, u), s), None

  return jax.lax.scan(step, (params, opt_state), jnp.arange(x.shape[0]))[0]


def test_masked_runs_equal_multi_transform_and_adam():
  """Two runs in one vmapped program, one all-trainable (DL), one with 'bilstm_1'
  frozen (TL), equal plain Adam and `optax.multi_transform` run alone (bit for bit
  on jax 0.12; on jax 0.10 XLA rounds the masked program's updates up to 1 ulp
  apart); the frozen layer does not move at all."""
  lr = 1e-2
  params = jax.tree.map(lambda *a: np.stack(a), _params(0), _params(1))
  r = np.random.default_rng(2)
  data = r.standard_normal((2, 10, 5, 3)).astype(np.float32)
  target = r.standard_normal((2, 10, 5, 2)).astype(np.float32)
  one = lambda tree, r: jax.tree.map(lambda a: a[r], tree)
  frozen = ('bilstm_1',)
  labels = transfer.fine_tune_labels(one(params, 0), frozen)
  tx = transfer.trainable_adam(lr)
  assert tx is transfer.trainable_adam(lr)  # one object per rate: shared stages
  adam = optax.adam(lr)
  multi = transfer.masked_adam(lambda p: transfer.fine_tune_labels(p, frozen), lr)
  masks = [jax.tree.map(lambda _: True, labels), transfer.trainable_mask(labels)]
  masks = jax.tree.map(lambda *m: jnp.stack(m), *masks)

  @jax.jit
  def both(params, data, target):
    # One program (one compile): the two masked runs vmapped, and each reference alone.
    state = transfer.with_trainable(jax.vmap(tx.init)(params), masks)
    got = jax.vmap(lambda p, s, x, y: _train(tx, p, s, x, y)[0])(params, state, data, target)
    refs = [
      _train(t, one(params, r), t.init(one(params, r)), data[r], target[r])[0]
      for r, t in enumerate((adam, multi))
    ]
    return got, refs

  got, refs = both(params, data, target)
  for r, want in enumerate(refs):
    for a, b in zip(jax.tree.leaves(one(got, r)), jax.tree.leaves(want)):
      np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-6, atol=1e-8)
    moved = jax.tree.map(lambda a, b: bool(np.any(np.asarray(a) != b)), one(got, r), one(params, r))
    assert moved['embedder']['bilstm_1'] == {'kernel': r == 0, 'bias': r == 0}
    assert moved['embedder']['bilstm_2']['kernel'] and moved['head']['kernel']


def test_with_trainable_rejects_a_mask_of_another_structure():
  tx = transfer.trainable_adam(1e-3)
  state = jax.eval_shape(tx.init, _params(0))
  with pytest.raises(ValueError, match='structure'):
    transfer.with_trainable(state, {'head': {'kernel': True}})
