"""Table IV networks: shapes, parameter counts layer by layer, forward passes against NumPy."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fewshot.models import megc as megc_models


def _init(name):
  model = megc_models.network(name)
  return model, megc_models.init_variables(
    model, jax.random.key(0), megc_models.INPUT_CHANNELS[name]
  )


def _conv_count(k, c_in, c_out):
  return k * k * c_in * c_out + c_out


def _dense_count(n_in, n_out):
  return n_in * n_out + n_out


def _inception_count(c_in, f):
  # 1x1 -> 5x5, 1x1 -> 3x3, pool -> 1x1, 1x1
  return 4 * _conv_count(1, c_in, f) + _conv_count(5, f, f) + _conv_count(3, f, f)


# Layer arithmetic of the published architectures (module doc of fewshot.models.megc).
EXPECTED = {
  'STSTNet': sum(_conv_count(3, 3, f) + 2 * f for f in (3, 5, 8)) + _dense_count(5 * 5 * 16, 3),
  'OFF-ApexNet': 2 * (_conv_count(5, 1, 6) + _conv_count(5, 6, 16))
  + _dense_count(2 * 7 * 7 * 16, 1024)
  + _dense_count(1024, 1024)
  + _dense_count(1024, 3),
  'Dual-Inception': 2 * (_inception_count(1, 6) + _inception_count(24, 16))
  + _dense_count(2 * 7 * 7 * 64, 1024)
  + _dense_count(1024, 3),
}


@pytest.mark.parametrize('name', list(megc_models.MODELS))
def test_parameter_counts_match_the_papers_architectures(name):
  model = megc_models.network(name)
  x = jnp.zeros((1, 28, 28, megc_models.INPUT_CHANNELS[name]))
  shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), x, None, train=False))
  count = megc_models.parameter_count(shapes['params'])
  print(f'{name}: {count:,} parameters')
  assert count == EXPECTED[name] == megc_models.PAPER_PARAMETERS[name]
  assert (EXPECTED['STSTNet'], EXPECTED['OFF-ApexNet'], EXPECTED['Dual-Inception']) == (
    1_683,
    2_664_475,
    6_449_867,
  )


@functools.lru_cache(maxsize=None)
def _forward(model):
  """One compiled program per model: eval logits and training logits under two dropout keys."""

  def run(variables, x, mask):
    out = model.apply(variables, x, mask, train=False)
    train = lambda k: model.apply(
      variables, x, mask, train=True, rngs={'dropout': jax.random.key(k)}, mutable=['batch_stats']
    )[0]
    return out, train(0), train(1)

  return jax.jit(run)


@pytest.mark.parametrize('name', list(megc_models.MODELS))
def test_output_shapes(name):
  model = megc_models.network(name)
  x = jnp.zeros((5, 28, 28, megc_models.INPUT_CHANNELS[name]))
  variables = jax.eval_shape(lambda: model.init(jax.random.key(0), x, None, train=False))
  out = jax.eval_shape(lambda v: model.apply(v, x, jnp.ones(5, bool), train=False), variables)
  chex.assert_shape(out, (5, 3))
  assert out.dtype == jnp.float32
  assert ('batch_stats' in variables) == (name == 'STSTNet')  # only STSTNet has batch norm


def test_ststnet_dropout_is_on_in_training_only():
  model, variables = _init('STSTNet')
  x = jax.random.normal(jax.random.key(1), (5, 28, 28, 3))
  out, train0, train1 = _forward(model)(variables, x, jnp.ones(5, bool))
  chex.assert_tree_all_finite(out)
  assert not np.allclose(train0, train1)
  np.testing.assert_array_equal(out, _forward(model)(variables, x, jnp.ones(5, bool))[0])


def _np_conv(x, w, b, pad):
  """NHWC cross-correlation with a HWIO kernel and explicit zero padding (a loop over taps)."""
  k = w.shape[0]
  xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  h, wd = xp.shape[1] - k + 1, xp.shape[2] - k + 1
  out = np.zeros((x.shape[0], h, wd, w.shape[-1]))
  for i in range(k):
    for j in range(k):
      out += xp[:, i : i + h, j : j + wd] @ w[i, j]
  return out + b


def _np_max_pool(x, k, stride, pad):
  xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=-np.inf)
  h = (xp.shape[1] - k) // stride + 1
  w = (xp.shape[2] - k) // stride + 1
  out = np.full((x.shape[0], h, w, x.shape[-1]), -np.inf)
  for i in range(k):
    for j in range(k):
      out = np.maximum(out, xp[:, i : i + stride * h : stride, j : j + stride * w : stride])
  return out


def test_ststnet_forward_equals_numpy():
  model, variables = _init('STSTNet')
  rng = np.random.default_rng(0)
  # Non-trivial running statistics, so eval-mode batch norm is exercised.
  stats = jax.tree.map(
    lambda a: jnp.asarray(rng.uniform(0.5, 1.5, a.shape), a.dtype), variables['batch_stats']
  )
  variables = {'params': variables['params'], 'batch_stats': stats}
  x = rng.normal(size=(5, 28, 28, 3)).astype(np.float32)
  out = _forward(model)(variables, x, jnp.ones(5, bool))[0]
  p = jax.tree.map(np.asarray, variables['params'])
  streams = []
  for i in (1, 2, 3):
    h = np.maximum(_np_conv(x, p[f'conv{i}']['kernel'], p[f'conv{i}']['bias'], 2), 0)
    bn, st = p[f'bn{i}'], jax.tree.map(np.asarray, stats[f'bn{i}'])
    h = (h - st['mean']) / np.sqrt(st['var'] + 1e-5) * bn['scale'] + bn['bias']
    streams.append(_np_max_pool(h, 3, 3, 1))
  h = np.concatenate(streams, -1)  # (5, 10, 10, 16)
  h = h.reshape(5, 5, 2, 5, 2, 16).mean(axis=(2, 4))  # 2 x 2 average pooling
  ref = h.reshape(5, -1) @ p['fc']['kernel'] + p['fc']['bias']
  np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


def test_inception_block_equals_numpy():
  block = megc_models.InceptionBlock(4)
  x = np.random.default_rng(1).normal(size=(2, 8, 8, 3)).astype(np.float32)
  variables = block.init(jax.random.key(2), x)
  p = jax.tree.map(np.asarray, variables['params'])
  conv = lambda h, name: _np_conv(
    h, p[name]['kernel'], p[name]['bias'], p[name]['kernel'].shape[0] // 2
  )
  relu = lambda h: np.maximum(h, 0)
  b1 = relu(conv(relu(conv(x, 'b1_1x1')), 'b1_5x5'))
  b2 = relu(conv(relu(conv(x, 'b2_1x1')), 'b2_3x3'))
  b3 = relu(conv(_np_max_pool(x, 3, 1, 1), 'b3_1x1'))
  b4 = conv(x, 'b4_1x1')
  ref = _np_max_pool(np.concatenate([b1, b2, b3, b4], -1), 2, 2, 0)
  np.testing.assert_allclose(block.apply(variables, x), ref, rtol=1e-4, atol=1e-5)


def test_padded_examples_do_not_change_batch_norm():
  """Whatever the padded rows hold, real outputs and batch statistics are the same."""
  model, variables = _init('STSTNet')
  x = jax.random.normal(jax.random.key(3), (5, 28, 28, 3))
  mask = jnp.arange(5) < 3

  @jax.jit
  def run(inp):
    return model.apply(
      variables, inp, mask, train=True, rngs={'dropout': jax.random.key(0)}, mutable=['batch_stats']
    )

  out_a, st_a = run(x.at[3:].set(0.0))
  out_b, st_b = run(x.at[3:].set(1e3))  # wild padding
  np.testing.assert_allclose(out_a[:3], out_b[:3], rtol=1e-5, atol=1e-5)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), st_a, st_b)
  # The running mean moved towards the masked batch mean of the first conv's output.
  h = np.maximum(
    _np_conv(
      np.asarray(x[:3]),
      *(np.asarray(variables['params']['conv1'][k]) for k in ('kernel', 'bias')),
      2,
    ),
    0,
  )
  np.testing.assert_allclose(
    st_a['batch_stats']['bn1']['mean'], 0.1 * h.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-6
  )


def test_make_model_rejects_unknown_names():
  with pytest.raises(ValueError, match='unknown model'):
    megc_models.network('CapsuleNet')
  with pytest.raises(ValueError, match='num_classes'):
    megc_models.network('STSTNet', num_classes=1)


def _conv_kind_cases():
  from fewshot.models import emr
  from fewshot.models import megc_capsule

  # OFF-ApexNet and Dual-Inception with 8 hidden units instead of 1,024: the
  # convolutions are the published ones, the dense layers only cost compile time.
  cases = [
    ('STSTNet', megc_models.STSTNet, (28, 28, 3)),
    ('OFF-ApexNet', functools.partial(megc_models.OFFApexNet, hidden=8), (28, 28, 2)),
    ('Dual-Inception', functools.partial(megc_models.DualInception, hidden=8), (28, 28, 2)),
  ]
  # CapsuleNet small, with its strided 7 x 7, 3 x 3 and 1 x 1 convolutions.
  cases.append(
    ('CapsuleNet', lambda conv: megc_capsule.CapsuleNet(3, 4, 1, conv=conv), (16, 16, 1))
  )
  cases.append(('EMR', lambda conv: emr.emr_network(conv=conv), (28, 28, 2)))
  return cases


@pytest.mark.parametrize(
  'name,make,shape', _conv_kind_cases(), ids=[c[0] for c in _conv_kind_cases()]
)
def test_native_and_patch_networks_share_variables_and_outputs(name, make, shape):
  """Every MEGC network's `conv='native'` equals its `conv='patch'` on the same variables."""
  patch, native = make(conv='patch'), make(conv='native')
  x = jax.random.normal(jax.random.key(1), (2, *shape))
  v = jax.jit(lambda x: patch.init(jax.random.key(0), x, None, train=False))(x)
  shapes = jax.eval_shape(lambda x: native.init(jax.random.key(0), x, None, train=False), x)
  assert jax.tree.map(jnp.shape, v) == jax.tree.map(lambda s: s.shape, shapes)
  a, b = (
    jax.jit(lambda v, x, m=m: m.apply(v, x, None, train=False))(v, x) for m in (patch, native)
  )
  np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
  with pytest.raises(ValueError, match='must be one of'):
    make(conv='grouped').init(jax.random.key(0), x, None, train=False)


@pytest.mark.parametrize(
  'k,stride,padding,use_bias', [(3, 1, 'SAME', True), (7, 2, 3, False), (2, 2, 'VALID', True)]
)
def test_patch_conv_kinds_agree_in_value_and_gradient(k, stride, padding, use_bias):
  """`PatchConv` native and patch: same parameters, outputs and gradients (strides, paddings)."""
  from fewshot.models.layers import PatchConv

  x = jax.random.normal(jax.random.key(0), (2, 9, 9, 3))
  convs = [PatchConv(4, k, padding, stride, use_bias, kind=kind) for kind in ('patch', 'native')]
  v = convs[0].init(jax.random.key(1), x)

  @jax.jit
  def value_and_grads(v, x):
    return [
      jax.value_and_grad(lambda v, x: jnp.sum(jnp.sin(c.apply(v, x))), (0, 1))(v, x) for c in convs
    ]

  (a, ga), (b, gb) = value_and_grads(v, x)
  np.testing.assert_allclose(a, b, rtol=1e-5)
  chex.assert_trees_all_close(ga, gb, rtol=1e-4, atol=1e-5)
