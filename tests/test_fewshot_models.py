"""Shapes and structure of the Table I / Table II models, and the BiLSTM vs NumPy."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

from fewshot import models
from fewshot.models import layers

HIDDEN = (6, 4, 3)
FC = (8, 5)


@pytest.fixture(scope='module')
def x():
  return jax.random.normal(jax.random.key(0), (3, 2, 61))


def test_classifier_and_embedding_shapes(x):
  model = models.SEMGClassifier(7, hidden=HIDDEN, fc=FC)
  variables = model.init(jax.random.key(1), x)
  chex.assert_shape(model.apply(variables, x), (3, 7))
  chex.assert_shape(model.apply(variables, x, method='embed'), (3, FC[-1]))
  # Layer structure of Table I: three BiLSTMs, two FC layers, the head.
  assert set(variables['params']['embedder']) == {
    'bilstm_1',
    'bilstm_2',
    'bilstm_3',
    'fc_1',
    'fc_2',
  }
  assert variables['params']['head']['kernel'].shape == (FC[-1], 7)
  assert 'batch_stats' not in variables


def test_paper_sizes(x):
  model = models.SEMGClassifier(4)
  variables = model.init(jax.random.key(1), x)
  emb = variables['params']['embedder']
  # Table I units per direction 128, 64, 64: recurrent kernels are [H, H].
  for layer, units in (('bilstm_1', 128), ('bilstm_2', 64), ('bilstm_3', 64)):
    cell = emb[layer]['OptimizedLSTMCell_0']
    assert cell['hi']['kernel'].shape == (units, units)
  # Input widths: 2 channels, then 2 x 128, 2 x 64 (both directions concatenated).
  assert emb['bilstm_1']['OptimizedLSTMCell_0']['ii']['kernel'].shape == (2, 128)
  assert emb['bilstm_2']['OptimizedLSTMCell_0']['ii']['kernel'].shape == (256, 64)
  assert emb['bilstm_3']['OptimizedLSTMCell_0']['ii']['kernel'].shape == (128, 64)
  # Table I output widths after the last BiLSTM: 128 -> FC 64 -> FC 32.
  assert emb['fc_1']['kernel'].shape == (128, 64)
  assert emb['fc_2']['kernel'].shape == (64, 32)
  chex.assert_shape(model.apply(variables, x, method='embed'), (3, 32))


def test_batchnorm_variant_has_bn_after_every_hidden_layer(x):
  model = models.SEMGClassifier(4, hidden=HIDDEN, fc=FC, batch_norm=True)
  variables = model.init(jax.random.key(1), x)
  bn = {k for k in variables['params']['embedder'] if k.startswith('bn_')}
  assert bn == {'bn_lstm_1', 'bn_lstm_2', 'bn_lstm_3', 'bn_fc_1', 'bn_fc_2'}
  assert set(variables['batch_stats']['embedder']) == bn
  out, updates = model.apply(variables, x, train=True, mutable=['batch_stats'])
  chex.assert_shape(out, (3, 4))
  # Training mode moves the running statistics.
  moved = jax.tree.map(
    lambda a, b: float(jnp.abs(a - b).max()), variables['batch_stats'], updates['batch_stats']
  )
  assert max(jax.tree.leaves(moved)) > 0


def test_siamese_shapes_shared_weights_and_symmetry(x):
  model = models.SiameseNet(hidden=HIDDEN, fc=FC)
  variables = model.init(jax.random.key(2), x, x[::-1])
  # One embedder: the twins share weights (Table II, rows 1-6).
  assert set(variables['params']) == {'embedder', 'sim_fc_1', 'sim_fc_2', 'sim_out'}
  assert variables['params']['sim_fc_1']['kernel'].shape == (FC[-1], 32)
  assert variables['params']['sim_fc_2']['kernel'].shape == (32, 16)
  assert variables['params']['sim_out']['kernel'].shape == (16, 1)
  ab = model.apply(variables, x, x[::-1])
  ba = model.apply(variables, x[::-1], x)
  chex.assert_shape(ab, (3,))
  # |a - b| makes the similarity symmetric.
  np.testing.assert_allclose(ab, ba[::-1], rtol=1e-5, atol=1e-6)


def test_bilstm_matches_numpy_reference():
  """The BiLSTM against a naive NumPy LSTM loop with the same weights."""
  layer = models.BiLSTM(3, return_sequences=True)
  last = models.BiLSTM(3, return_sequences=False)
  x = np.asarray(jax.random.normal(jax.random.key(3), (2, 7, 4)))
  params = layer.init(jax.random.key(4), x)['params']
  got_seq = np.asarray(layer.apply({'params': params}, x))
  got_last = np.asarray(last.apply({'params': params}, x))

  cells = [params[k] for k in sorted(params) if k.startswith('OptimizedLSTMCell')]
  assert len(cells) == 2  # forward, backward

  def sigmoid(z):
    return 1 / (1 + np.exp(-z))

  def run(cell, seq):
    h = np.zeros((seq.shape[0], 3))
    c = np.zeros((seq.shape[0], 3))
    outs = []
    for t in range(seq.shape[1]):
      xt = seq[:, t]
      gate = lambda g: (
        xt @ np.asarray(cell['i' + g]['kernel'])
        + h @ np.asarray(cell['h' + g]['kernel'])
        + np.asarray(cell['h' + g]['bias'])
      )
      i, f, g, o = sigmoid(gate('i')), sigmoid(gate('f')), np.tanh(gate('g')), sigmoid(gate('o'))
      c = f * c + i * g
      h = o * np.tanh(c)
      outs.append(h)
    return np.stack(outs, axis=1)

  fwd = run(cells[0], x)
  bwd = run(cells[1], x[:, ::-1])[:, ::-1]
  np.testing.assert_allclose(got_seq, np.concatenate([fwd, bwd], -1), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(
    got_last, np.concatenate([fwd[:, -1], bwd[:, 0]], -1), rtol=1e-4, atol=1e-5
  )


def test_input_is_channels_by_time(x):
  """[B, 2, 61] is read as 61 time steps of 2 channels: the first LSTM's input
  kernel has 2 rows, and reversing time changes the embedding."""
  model = models.SEMGClassifier(3, hidden=HIDDEN, fc=FC)
  variables = model.init(jax.random.key(1), x)
  cell = variables['params']['embedder']['bilstm_1']['OptimizedLSTMCell_0']
  assert cell['ii']['kernel'].shape == (2, HIDDEN[0])
  e = model.apply(variables, x, method='embed')
  e_rev = model.apply(variables, x[..., ::-1], method='embed')
  chex.assert_shape(e, (3, FC[-1]))
  assert float(jnp.abs(e - e_rev).max()) > 1e-4


class _FlaxBiLSTM(nn.Module):
  """The plain reference: Flax's own bidirectional LSTM (the layer before the fast one)."""

  features: int
  return_sequences: bool = True

  @nn.compact
  def __call__(self, x, lengths=None):
    fwd = nn.RNN(nn.OptimizedLSTMCell(self.features), name='forward')
    bwd = nn.RNN(nn.OptimizedLSTMCell(self.features), name='backward')
    y = nn.Bidirectional(fwd, bwd, name='bi')(x, seq_lengths=lengths)
    if self.return_sequences:
      return y
    return jnp.concatenate([y[:, -1, : self.features], y[:, 0, self.features :]], axis=-1)


def test_fast_bilstm_equals_flax_reference_with_same_parameters():
  x = jax.random.normal(jax.random.key(1), (3, 9, 5))
  fast, ref = layers.BiLSTM(4), _FlaxBiLSTM(4)
  v_fast, v_ref = fast.init(jax.random.key(0), x), ref.init(jax.random.key(0), x)
  # Same parameter tree and values from the same key: checkpoints load either way.
  assert jax.tree.structure(v_fast) == jax.tree.structure(v_ref)
  assert all(jax.tree.leaves(jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), v_fast, v_ref)))
  run_fast, run_ref = jax.jit(fast.apply), jax.jit(ref.apply)
  np.testing.assert_allclose(run_fast(v_fast, x), run_ref(v_ref, x), atol=1e-6)
  last_fast = jax.jit(layers.BiLSTM(4, return_sequences=False).apply)
  last_ref = _FlaxBiLSTM(4, return_sequences=False).apply(v_ref, x)
  np.testing.assert_allclose(last_fast(v_fast, x), last_ref, atol=1e-6)
  # Padded sequences: equal on the real steps, zeros after them.
  lengths = jnp.array([9, 5, 1])
  y_fast, y_ref = run_fast(v_fast, x, lengths), run_ref(v_ref, x, lengths)
  real = (jnp.arange(9)[None, :] < lengths[:, None])[..., None]
  np.testing.assert_allclose(jnp.where(real, y_fast, 0), jnp.where(real, y_ref, 0), atol=1e-6)
  assert float(jnp.abs(jnp.where(real, 0, y_fast)).max()) == 0.0
  # Padding changes no output: the same sequences cut to their length give the same states.
  short = last_fast(v_fast, x[1:2, :5])
  np.testing.assert_allclose(last_fast(v_fast, x, lengths)[1:2], short, atol=1e-6)


@pytest.mark.parametrize('return_sequences', [True, False])
def test_fast_bilstm_gradients_equal_flax_reference(return_sequences):
  """The hand-written backward pass (custom VJP) against autodiff of Flax's layer."""
  x = jax.random.normal(jax.random.key(1), (3, 9, 5))
  fast, ref = layers.BiLSTM(4, return_sequences), _FlaxBiLSTM(4, return_sequences)
  params = fast.init(jax.random.key(0), x)['params']
  w = jax.random.normal(jax.random.key(2), (3, 9, 8) if return_sequences else (3, 8))
  # The reference's last output of a padded sequence is not its final state:
  # padding is compared on the sequences (the state path is the same code).
  for lengths in (None, jnp.array([9, 5, 1])) if return_sequences else (None,):

    def loss(module, p, x):
      y = module.apply({'params': p}, x, lengths)
      if return_sequences and lengths is not None:  # the reference's padding outputs differ
        y = jnp.where((jnp.arange(9)[None, :] < lengths[:, None])[..., None], y, 0.0)
      return jnp.sum(jnp.sin(y) * w)

    g_fast = jax.jit(jax.grad(functools.partial(loss, fast), argnums=(0, 1)))(params, x)
    g_ref = jax.grad(functools.partial(loss, ref), argnums=(0, 1))(params, x)
    for a, b in zip(jax.tree.leaves(g_fast), jax.tree.leaves(g_ref)):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert float(jnp.abs(g_fast[1]).max()) > 1e-3  # gradients reach the inputs
