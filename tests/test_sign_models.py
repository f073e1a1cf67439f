"""The two sign models: padding and masking leave every output unchanged; paper sizes; CTC class read-out."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fewshot
from fewshot.models.layers import BiLSTM
from fewshot.models.sign import sinusoidal_encoding

F = 6
LENGTHS = np.array([5, 3, 1], np.int32)


def _batch(t_pad, seed=0):
  """Three sequences (lengths 5, 3, 1) padded to t_pad with random junk in the padding."""
  x = np.random.default_rng(0).normal(size=(3, 5, F)).astype(np.float32)
  junk = np.random.default_rng(seed + 1).normal(size=(3, t_pad, F)).astype(np.float32) * 100
  mask = np.arange(t_pad)[None] < LENGTHS[:, None]
  padded = np.where(mask[..., None], np.pad(x, ((0, 0), (0, t_pad - 5), (0, 0))), junk)
  return x, padded, mask


MODELS = {
  'bilstm': fewshot.SignBiLSTM(num_classes=4, hidden=16, lstm=(8, 8), dropout=0.0),
  'transformer': fewshot.SignTransformer(
    num_classes=4, dim=16, heads=2, layers=2, ff=32, dropout=0.0
  ),
}


@pytest.fixture(scope='module')
def initialized():
  """Variables of both models with random values in flax's structure (from eval_shape).

  Padding invariance holds for any parameter values; compiling the models'
  initialisers (orthogonal LSTM kernels) would cost more than the tests."""
  _, padded, mask = _batch(5)
  rng = np.random.default_rng(0)
  out = {}
  for name, model in MODELS.items():
    shapes = jax.eval_shape(model.init, jax.random.key(0), padded, mask)

    def draw(path, s):
      name = jax.tree_util.keystr(path)
      if 'batch_stats' in name:  # running mean 0, variance 1, as flax starts them
        return np.full(s.shape, 'var' in name, s.dtype)
      return (0.3 * rng.normal(size=s.shape)).astype(s.dtype)

    out[name] = jax.tree_util.tree_map_with_path(draw, shapes)
  return out


def _run(model):
  """Eval-mode output and embedding (train-mode output and batch statistics when the
  model has batch norm): one compile per shape. Dropout is 0, so train mode differs
  from eval mode only by batch statistics."""

  def run(variables, x, mask):
    if 'batch_stats' in variables:  # BiLSTM: logits = head(embedding)
      emb = model.apply(variables, x, mask, method='embed')
      return emb, model.apply(variables, x, mask, train=True, mutable=('batch_stats',))
    return model.apply(variables, x, mask, method='embed'), (model.apply(variables, x, mask), {})

  return jax.jit(run)


@pytest.mark.parametrize('name', list(MODELS))
def test_padding_changes_no_output(name, initialized):
  model, variables = MODELS[name], initialized[name]
  x, padded5, mask5 = _batch(5)
  _, padded9, mask9 = _batch(9, seed=1)
  run = _run(model)
  (emb5, (out5, s5)), (emb9, (out9, s9)) = (
    run(variables, padded5, mask5),
    run(variables, padded9, mask9),
  )
  np.testing.assert_allclose(emb9, emb5, rtol=1e-5, atol=1e-5)
  if out5.ndim == 3:  # per-frame CTC logits: compare the real frames
    real = mask5[..., None]
    np.testing.assert_allclose(np.where(real, out9[:, :5], 0), np.where(real, out5, 0), atol=1e-5)
  else:
    np.testing.assert_allclose(out9, out5, rtol=1e-5, atol=1e-5)
  # training mode: batch-norm statistics come from the real frames only
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), s9, s5)
  if 'batch_stats' in variables:
    real = x.reshape(-1, F)[(np.arange(5)[None] < LENGTHS[:, None]).reshape(-1)]
    mean = s5['batch_stats']['norm']['mean']
    np.testing.assert_allclose(
      mean, 0.1 * real.mean(0), rtol=1e-4, atol=1e-6
    )  # momentum 0.9 from 0


def test_bilstm_final_state_respects_lengths(initialized):
  rng = np.random.default_rng(5)
  x = rng.normal(size=(3, 5, 16)).astype(np.float32)
  padded = np.where((np.arange(5)[None] < LENGTHS[:, None])[..., None], x, 100.0)
  layer = BiLSTM(8, return_sequences=False)
  # the first BiLSTM layer of the model above: 8 units per direction over 16 features
  variables = {'params': initialized['bilstm']['params']['bilstms_0']}
  both = jax.jit(lambda v, a, n: (layer.apply(v, a, lengths=n), layer.apply(v, a)))
  got, full = both(variables, padded, jnp.asarray(LENGTHS))
  # a padded row with its length = the row alone with its real frames only
  alone = jax.jit(layer.apply)(variables, x[2:, :1])
  np.testing.assert_allclose(got[2:], alone, rtol=1e-5, atol=1e-6)
  # without lengths (what the sEMG models use) the full-length row is the same,
  # the padded rows read their padding
  np.testing.assert_allclose(full[0], got[0], rtol=1e-6)
  assert not np.allclose(full[1:], got[1:], atol=1e-3)


def test_paper_sizes():
  x = jax.ShapeDtypeStruct((2, 7, 379), jnp.float32)
  m = jax.ShapeDtypeStruct((2, 7), jnp.bool_)
  shapes = jax.eval_shape(fewshot.SignBiLSTM(num_classes=226).init, jax.random.key(0), x, m)
  p = shapes['params']
  assert p['project']['kernel'].shape == (379, 512)
  for layer in ('bilstms_0', 'bilstms_1'):  # two directions of 256 units, input 512
    for direction in ('OptimizedLSTMCell_0', 'OptimizedLSTMCell_1'):
      assert p[layer][direction]['ii']['kernel'].shape == (512, 256)
      assert p[layer][direction]['hi']['kernel'].shape == (256, 256)
  assert p['head']['kernel'].shape == (512, 226)
  assert shapes['batch_stats']['norm']['mean'].shape == (379,)
  out = jax.eval_shape(
    fewshot.SignTransformer(num_classes=226).apply,
    jax.eval_shape(fewshot.SignTransformer(num_classes=226).init, jax.random.key(0), x, m),
    x,
    m,
  )
  assert out.shape == (2, 7, 227)  # the blank and 226 classes per frame


def test_sinusoidal_encoding():
  enc = sinusoidal_encoding(50, 8)
  pos, i = 17, 2
  np.testing.assert_allclose(enc[pos, 2 * i], np.sin(pos / 10000 ** (2 * i / 8)), rtol=1e-6)
  np.testing.assert_allclose(enc[pos, 2 * i + 1], np.cos(pos / 10000 ** (2 * i / 8)), rtol=1e-6)
  np.testing.assert_array_equal(enc[0], np.tile([0.0, 1.0], 4))


def test_ctc_classes_reads_the_first_label():
  # symbols: blank, class 0, class 1, class 2
  probs = np.full((3, 4, 4), 0.02, np.float32)
  probs[0, :, 0], probs[0, 1:3, 3] = 0.94, 0.94  # "class 2" between blanks
  probs[0, 1:3, 0] = 0.02
  probs[1, :, 0] = 0.94  # all blank: fall back to the largest class mass ...
  probs[1, :, 2] = 0.04  # ... class 1
  probs[2, :2, 1], probs[2, 2:, 0] = 0.94, 0.94  # class 0 on the 2 real frames, padding says blank
  probs[2, :2, 0] = 0.02
  mask = np.array([[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 0, 0]], bool)
  got = fewshot.ctc_classes(np.log(probs), mask, beam_width=4)
  np.testing.assert_array_equal(np.asarray(got), [2, 1, 0])
