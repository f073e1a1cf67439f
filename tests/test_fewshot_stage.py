"""trainer.make_stage: one cached way to build a stage's fit, init and optimizer."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from fewshot import compiles
from fewshot import trainer


class Tiny(nn.Module):
  classes: int = 3

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train
    return nn.Dense(self.classes)(x)


def loss(model):
  def loss_fn(params, batch_stats, key, batch):
    del key
    logits, batch_stats = trainer.apply_model(
      model, params, batch_stats, batch.data['x'], train=True
    )
    return trainer.cross_entropy_loss(logits, batch.data['y'], batch.mask), batch_stats

  return loss_fn


def test_same_model_and_setting_share_one_stage():
  cfg = trainer.FitConfig(num_epochs=2, batch_size=4, learning_rate=0.05)
  a = trainer.make_stage(Tiny(), cfg, loss)
  b = trainer.make_stage(
    Tiny(), trainer.FitConfig(num_epochs=2, batch_size=4, learning_rate=0.05), loss
  )
  assert a is b and a.fit is b.fit
  c = trainer.make_stage(
    Tiny(), trainer.FitConfig(num_epochs=2, batch_size=4, learning_rate=0.1), loss
  )
  assert c.fit is not a.fit


def test_stages_differing_in_loop_settings_share_one_init_program():
  # Same model, optimizer and mode, other epochs / validation: one init (compiled once).
  tx = trainer.adam(0.05)
  a = trainer.make_stage(Tiny(), trainer.FitConfig(num_epochs=2, batch_size=4), loss, tx=tx)
  b = trainer.make_stage(Tiny(), trainer.FitConfig(num_epochs=5, batch_size=8), loss, tx=tx)
  assert a is not b and a.fit is not b.fit and a.init is b.init
  x = np.zeros((2, 5), np.float32)
  keys = jax.random.split(jax.random.key(0), 3)
  before = compiles.snapshot()
  a.init(keys, x)
  b.init(keys, x)
  assert compiles.snapshot()['count'] - before['count'] == 1
  c = trainer.make_stage(Tiny(), trainer.FitConfig(num_epochs=2, batch_size=4), loss)
  assert c.init is not a.init  # another optimizer: its own init


def test_init_is_vmapped_model_init_and_trains_with_the_config_rate():
  cfg = trainer.FitConfig(num_epochs=3, batch_size=4, learning_rate=0.05)
  stage = trainer.make_stage(Tiny(), cfg, loss)
  x = np.random.default_rng(0).standard_normal((12, 5)).astype(np.float32)
  y = (np.arange(12) % 3).astype(np.int32)
  keys = jax.random.split(jax.random.key(0), 2)
  fs = stage.init(keys, x[:2])
  one = Tiny().init(keys[1], x[:2])
  np.testing.assert_array_equal(
    np.asarray(fs.train.params['Dense_0']['kernel'][1]),
    np.asarray(one['params']['Dense_0']['kernel']),
  )
  split = trainer.make_split([np.arange(12), np.arange(12)])
  data = {'x': jnp.asarray(x), 'y': jnp.asarray(y)}
  out, hist = trainer.fit_runs(stage.fit, fs, keys, data, split, num_epochs=3)
  # The same epochs with a hand-built Adam at the config's rate give the same parameters.
  fit = trainer.make_fit(loss(Tiny()), optax.adam(0.05), cfg)
  fs2 = jax.vmap(lambda k: trainer.init_fit_state(Tiny().init(k, x[:2]), optax.adam(0.05)))(keys)
  out2, _ = trainer.fit_runs(fit, fs2, keys, data, split, num_epochs=3)
  np.testing.assert_allclose(
    np.asarray(out.train.params['Dense_0']['kernel']),
    np.asarray(out2.train.params['Dense_0']['kernel']),
    rtol=1e-6,
    atol=1e-6,
  )
  assert hist['train_loss'].shape == (2, 3)


class Initialised(nn.Module):
  """An orthogonal kernel (the LSTMs' recurrent init: a QR, the float-heaviest draw), a bias, batch norm."""

  @nn.compact
  def __call__(self, x, train: bool = False):
    from fewshot.models.layers import MaskedBatchNorm

    h = nn.Dense(4, kernel_init=nn.initializers.orthogonal())(x)
    return MaskedBatchNorm()(h, jnp.ones(h.shape[:1], bool), train=train)


def test_init_compiled_at_o0_equals_xla_defaults_bit_for_bit():
  # make_stage compiles init with INIT_COMPILER_OPTIONS (LLVM -O0: ~10x faster to
  # compile); the variables must be those of XLA's default optimisation level.
  cfg = trainer.FitConfig(num_epochs=1, batch_size=4)
  stage = trainer.make_stage(Initialised(), cfg, loss)
  keys = jax.random.split(jax.random.key(3), 2)
  x = np.ones((2, 5), np.float32)
  fast = stage.init(keys, x)
  default = jax.jit(stage.init.__wrapped__).lower(keys, x)
  default = default.compile(compiler_options={'xla_backend_optimization_level': 3})(keys, x)
  assert trainer.INIT_COMPILER_OPTIONS == {'xla_backend_optimization_level': 0}
  for a, b in zip(jax.tree.leaves(fast), jax.tree.leaves(default), strict=True):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  # Traced (a checkpoint restore's eval_shape, a caller's jit) it is the plain function.
  shapes = jax.eval_shape(stage.init, keys, x)
  assert jax.tree.map(lambda a: a.shape, shapes) == jax.tree.map(lambda a: a.shape, fast)
  traced = jax.jit(lambda k: stage.init(k, x))(keys)
  np.testing.assert_array_equal(
    np.asarray(traced.train.params['Dense_0']['kernel']),
    np.asarray(fast.train.params['Dense_0']['kernel']),
  )


def test_row_chunks_pad_as_little_as_the_cap_allows():
  for n in (1, 5, 88, 256, 257, 300, 513):
    idx = np.arange(10, 10 + n)
    chunks = np.asarray(trainer.row_chunks(jnp.asarray(idx), 256))
    k = -(-n // 256)  # the fewest chunks of at most 256 rows
    assert chunks.shape[0] == k and chunks.shape[1] <= 256
    assert chunks.size - n < k  # padding: less than one row per chunk
    np.testing.assert_array_equal(chunks.reshape(-1)[:n], idx)
