"""Training loop, transfer masks, siamese losses/samplers and checkpoints."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from fewshot import checkpoint
from fewshot import models
from fewshot import siamese
from fewshot import trainer as train_lib
from fewshot import transfer

HIDDEN, FC = (3, 3), (4, 4)  # two BiLSTM layers: enough to freeze one, not the other
N, R = 48, 3
CFG = train_lib.FitConfig(
  num_epochs=4, steps_per_epoch=2, batch_size=6, patience=2, learning_rate=1e-2
)


@pytest.fixture(scope='module')
def data():
  y = jnp.arange(N) % 4
  x = jax.random.normal(jax.random.key(0), (N, 2, 61)) + y[:, None, None] * 0.5
  return x, y


def _split(runs):
  return train_lib.Split(
    jnp.tile(jnp.arange(32), (runs, 1)),
    jnp.array([32, 9, 4][:runs]),
    jnp.tile(jnp.arange(32, 48), (runs, 1)),
  )


def _fit_runs(model, tx, data, runs=R, cfg=CFG, base=None):
  x, _ = data

  def init(k):
    v = model.init(k, x[:2])
    if base is not None:
      v = transfer.transfer_variables(v, base)
    return train_lib.init_fit_state(train_lib.init_train_state(v, tx))

  keys = jax.random.split(jax.random.key(1), runs)
  fs0 = jax.vmap(init)(keys)
  fit = train_lib.make_fit(
    train_lib.classifier_loss_fn(model),
    train_lib.classifier_val_fn(model),
    train_lib.supervised_batches,
    tx,
    cfg,
  )
  keys = jax.random.split(jax.random.key(2), runs)
  vfit = train_lib.vmap_fit(fit)
  # Two chunks of half the epochs: the same result as one call (epoch e uses
  # fold_in(key, e)), and the checkpoint test reuses this compiled program.
  half = cfg.num_epochs // 2
  fs, h1 = vfit(fs0, keys, data, _split(runs), 0, half)
  fs, h2 = vfit(fs, keys, data, _split(runs), half, half)
  hist = jax.tree.map(lambda a, b: jnp.concatenate([a, b], axis=1), h1, h2)
  return fs0, fs, hist, fit


def _changed(a, b):
  return jax.tree.map(lambda u, v: bool(jnp.any(u != v)), a, b)


# ---------------------------------------------------------------- losses


def test_cross_entropy_matches_numpy():
  logits = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
  y = np.array([0, 2, 1, 1, 0])
  logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
  np.testing.assert_allclose(
    train_lib.cross_entropy_loss(logits, y), -logp[np.arange(5), y].mean(), rtol=1e-5
  )


def test_contrastive_and_triplet_losses_match_numpy():
  rng = np.random.default_rng(1)
  s = rng.normal(size=8).astype(np.float32) * 3
  same = rng.integers(0, 2, 8)
  d = 1 - 1 / (1 + np.exp(-s))
  m = 0.7
  want = np.mean([dd**2 if y else max(m - dd, 0) ** 2 for dd, y in zip(d, same)])
  np.testing.assert_allclose(siamese.contrastive_loss(s, same, m), want, rtol=1e-5)
  s2 = rng.normal(size=8).astype(np.float32) * 3
  d2 = 1 - 1 / (1 + np.exp(-s2))
  want3 = np.mean([max(a - b + 0.5, 0) for a, b in zip(d, d2)])
  np.testing.assert_allclose(siamese.triplet_loss(s, s2, 0.5), want3, rtol=1e-5)


def test_triplet_sampler_statistics():
  labels = jnp.array([0, 0, 1, 1, 1, 2, 2, 9, 9, 9])  # 7..9 are padding
  idx = jnp.arange(10)
  a, n, p = siamese.sample_triplets(jax.random.key(3), labels, idx, 7, 512)
  a, n, p = map(np.asarray, (a, n, p))
  lab = np.asarray(labels)
  assert a.max() < 7 and n.max() < 7 and p.max() < 7  # only valid entries
  assert np.all(lab[a] == lab[p]) and np.all(a != p)
  assert np.all(lab[a] != lab[n])
  # Anchors are uniform over the 7 valid examples.
  counts = np.bincount(a, minlength=7)
  assert counts.min() > 512 / 7 * 0.6
  pa, pb, same = map(np.asarray, siamese.sample_pairs(jax.random.key(4), labels, idx, 7, 64))
  np.testing.assert_array_equal(lab[pa] == lab[pb], same.astype(bool))


def test_epoch_positions_permute_valid_entries():
  pos = np.asarray(train_lib.epoch_positions(jax.random.key(0), 5, 8, 2, 5))
  assert sorted(pos[0].tolist()) == [0, 1, 2, 3, 4]  # one full pass first
  assert pos.max() < 5


def test_validate_split_errors():
  with pytest.raises(ValueError, match='n_train'):
    train_lib.validate_split(train_lib.Split(np.zeros(3, int), np.array(0), np.zeros(2, int)), 5)
  with pytest.raises(ValueError, match='out of range'):
    train_lib.validate_split(train_lib.Split(np.arange(3), np.array(3), np.array([9])), 5)
  with pytest.raises(ValueError, match='unknown layer'):
    transfer.check_frozen_layers({'embedder': {'bilstm_1': {'w': 0}}}, ['bilstm_7'])


# --------------------------------------------------- training, vmap, transfer


@pytest.fixture(scope='module')
def base(data):
  model = models.SEMGClassifier(4, hidden=HIDDEN, fc=FC, batch_norm=True)
  fs0, fs, hist, fit = _fit_runs(model, optax.adam(CFG.learning_rate), data)
  return model, fs0, fs, hist, fit


def test_training_learns_and_keeps_best_epoch(base, data):
  model, fs0, fs, hist, _ = base
  val = np.asarray(hist['val_loss'])
  assert np.all(np.isfinite(val))
  # The kept parameters are those of the best validation epoch.
  np.testing.assert_allclose(np.asarray(fs.best_val_loss), val.min(axis=1), rtol=1e-6)
  x, y = data
  split = _split(R)
  for r in range(R):
    p = jax.tree.map(lambda a: a[r], fs.best_params)
    b = jax.tree.map(lambda a: a[r], fs.best_batch_stats)
    loss = train_lib.classifier_val_fn(model)(p, b, data, jax.tree.map(lambda a: a[r], split))
    np.testing.assert_allclose(loss, val[r].min(), rtol=1e-4)
  assert int(fs.train.step[0]) > 0


def test_seed_vmapped_equals_sequential(base, data):
  """R seeds as one vmapped program give the numbers of R separate runs."""
  model, fs0, fs, hist, fit = base
  single = jax.jit(fit, static_argnums=(5,))
  keys = jax.random.split(jax.random.key(2), R)
  split = _split(R)
  for r in range(R):
    one = lambda t: jax.tree.map(lambda a: a[r], t)
    fs_r, hist_r = single(one(fs0), keys[r], data, one(split), 0, CFG.num_epochs)
    # (one call of 4 epochs here vs two vmapped calls of 2 in the fixture)
    np.testing.assert_allclose(hist_r['val_loss'], hist['val_loss'][r], rtol=2e-4, atol=1e-5)
    chex_close = jax.tree.map(
      lambda a, b: np.allclose(a, b, rtol=2e-4, atol=1e-5), fs_r.best_params, one(fs.best_params)
    )
    assert all(jax.tree.leaves(chex_close))


def test_early_stopping_freezes_state():
  """After `patience` epochs without improvement the state stops changing."""
  params = {'w': jnp.ones(())}
  tx = optax.sgd(0.1)
  fs = train_lib.init_fit_state(
    train_lib.TrainState(params, {}, tx.init(params), jnp.zeros((), jnp.int32))
  )

  def loss_fn(p, bs, key, batch):
    return (p['w'] - 5.0) ** 2, bs  # training pushes w up towards 5

  def val_fn(p, bs, data, split):
    return (p['w'] - 1.0) ** 2  # validation prefers w = 1: never improves after epoch 0

  cfg = train_lib.FitConfig(num_epochs=6, steps_per_epoch=1, batch_size=1, patience=2)
  batches = lambda key, data, split, steps, bs: jnp.zeros((steps,))
  fit = train_lib.make_fit(loss_fn, val_fn, batches, tx, cfg)
  out, hist = jax.jit(fit, static_argnums=(5,))(fs, jax.random.key(0), None, None, 0, 6)
  val = np.asarray(hist['val_loss'])
  assert val[0] < val[1] < val[2]  # getting worse for 2 epochs ...
  np.testing.assert_allclose(val[3:], val[2])  # ... then frozen
  assert int(out.train.step) == 3
  np.testing.assert_allclose(out.best_val_loss, val[0])


def test_fine_tune_labels_of_each_table_vi_setting():
  params = models.SEMGClassifier(3, hidden=(2, 2, 2), fc=(2, 2)).init(
    jax.random.key(0), jnp.zeros((1, 2, 61))
  )['params']
  for setting, frozen in transfer.FROZEN_SETTINGS.items():
    labels = transfer.fine_tune_labels(params, frozen)
    for layer, sub in labels['embedder'].items():
      want = transfer.FROZEN if layer in frozen else transfer.TRAINABLE
      assert set(jax.tree.leaves(sub)) == {want}, (setting, layer)
    assert set(jax.tree.leaves(labels['head'])) == {transfer.TRAINABLE}


def test_fine_tuning_freezes_exactly_the_chosen_layers(base, data):
  _, _, fs_base, _, _ = base
  model = models.SEMGClassifier(3, hidden=HIDDEN, fc=FC)  # new head: 3 classes
  plain = {
    'params': {
      'embedder': {
        k: v for k, v in fs_base.best_params['embedder'].items() if not k.startswith('bn_')
      }
    }
  }
  frozen = transfer.FROZEN_SETTINGS['1']
  tx = transfer.fine_tune_tx(frozen, 1e-2)
  cfg = train_lib.FitConfig(num_epochs=2, steps_per_epoch=2, batch_size=6, patience=5)
  y3 = data[1] % 3
  fs0, fs, _, _ = _fit_runs(
    model, tx, (data[0], y3), runs=1, cfg=cfg, base=jax.tree.map(lambda a: a[0], plain)
  )
  changed = _changed(fs0.train.params['embedder'], fs.train.params['embedder'])
  assert set(changed) == {'bilstm_1', 'bilstm_2', 'fc_1', 'fc_2'}
  for layer, flags in changed.items():
    leaves = jax.tree.leaves(flags)
    if layer in frozen:
      assert not any(leaves), f'{layer} changed although frozen'
    else:
      assert all(leaves), f'{layer} did not train'
  assert all(jax.tree.leaves(_changed(fs0.train.params['head'], fs.train.params['head'])))
  # Transfer copied the base weights into the new model.
  np.testing.assert_array_equal(
    jax.tree.leaves(fs0.train.params['embedder']['fc_1'])[0][0],
    jax.tree.leaves(plain['params']['embedder']['fc_1'])[0][0],
  )


def test_adabatch_changes_only_batchnorm_and_head(base, data):
  _, _, fs_base, _, _ = base
  model = models.SEMGClassifier(3, hidden=HIDDEN, fc=FC, batch_norm=True)
  cfg = train_lib.FitConfig(num_epochs=2, steps_per_epoch=2, batch_size=6, patience=5)
  base_vars = {
    'params': jax.tree.map(lambda a: a[0], fs_base.best_params),
    'batch_stats': jax.tree.map(lambda a: a[0], fs_base.best_batch_stats),
  }
  fs0, fs, _, _ = _fit_runs(
    model, transfer.adabatch_tx(1e-2), (data[0], data[1] % 3), runs=1, cfg=cfg, base=base_vars
  )
  changed = _changed(fs0.train.params['embedder'], fs.train.params['embedder'])
  for layer, flags in changed.items():
    assert all(jax.tree.leaves(flags)) == layer.startswith('bn_'), layer
    assert any(jax.tree.leaves(flags)) == layer.startswith('bn_'), layer
  assert all(jax.tree.leaves(_changed(fs0.train.params['head'], fs.train.params['head'])))
  # The BN statistics are re-estimated on the new task.
  assert all(jax.tree.leaves(_changed(fs0.train.batch_stats, fs.train.batch_stats)))


def test_siamese_training_and_scores(data):
  # One BiLSTM layer keeps compilation short; AdaBatch as in CS^3_AB.
  model = models.SiameseNet(hidden=(3,), fc=FC, batch_norm=True)
  tx = transfer.adabatch_tx(1e-2)
  x, y = data
  v0 = model.init(jax.random.key(5), x[:2], x[:2])
  fs0 = train_lib.init_fit_state(train_lib.init_train_state(v0, tx))
  cfg = train_lib.FitConfig(num_epochs=2, steps_per_epoch=1, batch_size=4, patience=5)
  fit = siamese.make_siamese_fit(model, 'triplet', tx, cfg, num_val=8)
  split = jax.tree.map(lambda a: a[0], _split(1))
  fs, hist = jax.jit(fit, static_argnums=(5,))(fs0, jax.random.key(6), data, split, 0, 2)
  assert np.all(np.isfinite(np.asarray(hist['val_loss'])))
  changed = _changed(fs0.train.params, fs.train.params)
  assert not any(jax.tree.leaves(changed['embedder']['bilstm_1']))
  assert all(jax.tree.leaves(changed['embedder']['bn_lstm_1']))
  assert all(jax.tree.leaves(changed['sim_out']))
  p, b = fs.train.params, fs.train.batch_stats
  scores = siamese.siamese_scores(model, p, b, x[:3], x[:5])
  assert scores.shape == (3, 5)
  assert np.all((np.asarray(scores) >= 0) & (np.asarray(scores) <= 1))
  # The head-only score function used with evaluate_episodes agrees.
  eq = train_lib.embed(model, p, b, x[:3])
  es = train_lib.embed(model, p, b, x[:5])
  np.testing.assert_allclose(
    siamese.head_scores(siamese.head_params(p), eq, es), scores, rtol=1e-5, atol=1e-6
  )


# ------------------------------------------------------------- checkpoints


def test_checkpoint_resume_and_skip(base, data, tmp_path):
  model, fs0, fs_full, _, fit = base
  vfit = train_lib.vmap_fit(fit)
  keys = jax.random.split(jax.random.key(2), R)
  split = _split(R)
  calls = []

  def run_chunk(fs, c):
    calls.append(c)
    if c == 1 and len(calls) == 2:
      raise KeyboardInterrupt  # the first attempt dies in its second chunk
    return vfit(fs, keys, data, split, 2 * c, 2)[0]

  with pytest.raises(KeyboardInterrupt):
    checkpoint.run_stage(str(tmp_path / 'stage'), fs0, run_chunk, 2)
  assert checkpoint.completed_chunks(str(tmp_path / 'stage')) == 1
  fs, ran = checkpoint.run_stage(str(tmp_path / 'stage'), fs0, run_chunk, 2)
  assert ran == 1 and calls == [0, 1, 1]  # resumed at chunk 1
  # Same result as the uninterrupted 4 epochs of the fixture.
  close = jax.tree.map(
    lambda a, b: np.allclose(a, b, rtol=1e-5, atol=1e-6), fs.best_params, fs_full.best_params
  )
  assert all(jax.tree.leaves(close))
  np.testing.assert_array_equal(fs.train.step, fs_full.train.step)
  # A finished stage is skipped and restored as it was.
  fs2, ran2 = checkpoint.run_stage(str(tmp_path / 'stage'), fs0, run_chunk, 2)
  assert ran2 == 0 and calls == [0, 1, 1]
  same = jax.tree.map(lambda a, b: np.array_equal(a, b), fs2.train.opt_state, fs.train.opt_state)
  assert all(jax.tree.leaves(same))
