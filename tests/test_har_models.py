"""harAGE models (paper 4.2): fusion against NumPy, extractor sizes, masked batch norm."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fewshot.models import har as hm
from fewshot.protocols import har as hp


def _kron_reference(feats):
  # Per example: kron([f_1, 1], kron([f_2, 1], ...)), the flattened outer product.
  out = []
  for row in zip(*feats):
    aug = [np.append(f, 1.0) for f in row]
    out.append(functools.reduce(np.kron, aug))
  return np.stack(out)


@pytest.mark.parametrize('dims', [(16,), (16, 16), (16, 16, 16), (2, 3, 4, 5)])
def test_outer_fusion_matches_kron(dims):
  rng = np.random.default_rng(len(dims))
  feats = [rng.normal(size=(4, d)).astype(np.float32) for d in dims]
  out = np.asarray(hm.outer_fusion([jnp.asarray(f) for f in feats]))
  assert out.shape == (4, int(np.prod([d + 1 for d in dims])))
  np.testing.assert_allclose(out, _kron_reference(feats), rtol=1e-5, atol=1e-6)


def test_outer_fusion_three_modalities_is_4913_and_keeps_unimodal_edges():
  f = [jnp.arange(16.0) + 100 * i for i in range(3)]
  out = hm.outer_fusion(f)
  assert out.shape == (4913,) == (hm.fused_size(3, 'outer'),)
  cube = out.reshape(17, 17, 17)
  np.testing.assert_allclose(cube[:16, 16, 16], f[0])  # an edge of the cube
  np.testing.assert_allclose(cube[16, :16, :16], np.outer(f[1], f[2]))  # a face
  assert cube[16, 16, 16] == 1.0


def test_concat_fusion():
  a, b = jnp.ones((2, 16)), 2 * jnp.ones((2, 16))
  out = hm.concat_fusion([a, b])
  chex.assert_shape(out, (2, 32))
  np.testing.assert_allclose(out[:, 16:], 2.0)
  assert hm.fused_size(2, 'concat') == 32 and hm.fused_size(1, 'outer') == 16


@pytest.mark.parametrize('length', [2, 5, 499])
def test_adaptive_avg_pool_matches_naive_torch_rule(length):
  x = np.random.default_rng(length).normal(size=(3, length, 4)).astype(np.float32)
  out = np.asarray(hm.adaptive_avg_pool(jnp.asarray(x), 2))
  for i in range(2):
    a = int(np.floor(i * length / 2))
    b = int(np.ceil((i + 1) * length / 2))
    np.testing.assert_allclose(out[:, i], x[:, a:b].mean(axis=1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('extractor', ['rnn', 'cnn'])
def test_extractors_give_16_features(extractor):
  cls = hm.GRUExtractor if extractor == 'rnn' else hm.CNNExtractor
  x = jnp.ones((5, 20, 3))
  mask = jnp.ones((5,), bool)
  mod = cls()
  v = mod.init(jax.random.key(0), x, mask, False)
  out = mod.apply(v, x, mask, False)
  chex.assert_shape(out, (5, hm.FEATURES))


def test_gru_is_bidirectional():
  x = jax.random.normal(jax.random.key(0), (2, 12, 3))
  mod = hm.GRUExtractor()
  v = mod.init(jax.random.key(1), x, None, False)
  out = mod.apply(v, x, None, False)
  flipped = mod.apply(v, x[:, ::-1], None, False)
  # Reversing time swaps what the two directions see; the outputs change.
  assert not np.allclose(out, flipped, atol=1e-4)


def test_cnn_batch_norm_ignores_padded_examples():
  x = jax.random.normal(jax.random.key(0), (6, 30, 3))
  junk = x.at[4:].set(1e3)  # padding rows full of junk
  mask = jnp.array([1, 1, 1, 1, 0, 0], bool)
  mod = hm.CNNExtractor()
  v = mod.init(jax.random.key(1), x, mask, False)
  out_pad, st_pad = mod.apply(v, junk, mask, True, mutable=['batch_stats'])
  out_real, st_real = mod.apply(v, x[:4], jnp.ones(4, bool), True, mutable=['batch_stats'])
  np.testing.assert_allclose(out_pad[:4], out_real, rtol=1e-4, atol=1e-5)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), st_pad, st_real)


@pytest.mark.parametrize(
  'extractor,fusion,n_mod', [('rnn', 'outer', 3), ('cnn', 'concat', 2), ('cnn', 'outer', 1)]
)
def test_model_logits_shape(extractor, fusion, n_mod):
  names = ('steps', 'hr', 'acc')[:n_mod]
  inputs = {m: jnp.ones((3, 10 + i, 2 + i)) for i, m in enumerate(names)}
  sign = '+' if fusion == 'concat' else '*'
  model = hp.make_model(hp.Config(), f'{extractor}:{sign.join(names)}', num_classes=7)
  v = model.init(jax.random.key(0), inputs, jnp.ones(3, bool), False)
  logits = model.apply(v, inputs, jnp.ones(3, bool), False)
  chex.assert_shape(logits, (3, 7))
  dense_in = v['params']['Dense_0']['kernel'].shape[0]
  assert dense_in == hm.fused_size(n_mod, fusion)


def test_make_model_reads_the_cell_name():
  model = hp.make_model(hp.Config(dropout=0.1), 'rnn:steps*acc', num_classes=3)
  assert (model.modalities, model.extractor, model.fusion) == (('steps', 'acc'), 'rnn', 'outer')
  assert (model.num_classes, model.dropout) == (3, 0.1)
  assert hp.make_model(hp.Config(), 'cnn:hr+acc', num_classes=2).fusion == 'concat'
  assert hp.paper_name('cnn:steps*hr*acc') == ('CNN', 'f_steps⊗hr⊗xyz')


@pytest.mark.parametrize(
  'name,match',
  [
    ('lstm:acc', 'extractor'),
    ('cnn:acc+acc', 'distinct'),
    ('cnn:acc+hr*steps', 'mixes'),
    ('cnn:acc+', 'non-empty'),
    ('acc', 'extractor'),
  ],
)
def test_make_model_validates(name, match):
  with pytest.raises(ValueError, match=match):
    hp.make_model(hp.Config(), name, num_classes=2)
  with pytest.raises(ValueError, match='num_classes'):
    hp.make_model(hp.Config(), 'cnn:acc', num_classes=1)
