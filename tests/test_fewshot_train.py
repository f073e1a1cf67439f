"""The one trainer: steps, masks, early stopping, NaN guard, vmap over runs, checkpoints;
transfer masks and siamese training on it."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from fewshot import checkpoint
from fewshot import siamese
from fewshot import trainer
from fewshot import transfer
from fewshot.models import semg as models
from fewshot.protocols import semg as protocol

HIDDEN, FC = (3, 3), (4, 4)  # two BiLSTM layers: enough to freeze one, not the other
N, R = 48, 3
# Patience = epochs: the runs' lengths must not hinge on float rounding (the toy
# problems below test early stopping itself).
CFG = trainer.FitConfig(
  num_epochs=4, steps_per_epoch=4, batch_size=8, patience=4, learning_rate=1e-2
)


@pytest.fixture(scope='module')
def data():
  y = jnp.arange(N) % 4
  x = jax.random.normal(jax.random.key(0), (N, 2, 61)) + y[:, None, None] * 1.0
  return {'x': x, 'y': y}


def _split(runs):
  # Ragged runs: 32, 9 and 4 training examples; all validate on the last 16.
  return trainer.make_split(
    [range(n) for n in (32, 9, 4)[:runs]], [range(32, 48)] * runs, num_examples=N
  )


def _fit_runs(model, tx, data, runs=R, cfg=CFG, base=None):
  x = data['x']

  def init(k):
    v = model.init(k, x[:2])
    if base is not None:
      v = transfer.transfer_variables(v, base)
    return trainer.init_fit_state(v, tx)

  fs0 = jax.vmap(init)(jax.random.split(jax.random.key(1), runs))
  fit = trainer.make_fit(protocol.classifier_loss(model), tx, cfg, protocol.classifier_eval(model))
  keys = jax.random.split(jax.random.key(2), runs)
  # Two chunks of half the epochs: the same result as one call (epoch e uses
  # fold_in(key, e)), and the checkpoint test reuses this compiled program.
  half = cfg.num_epochs // 2
  fs, h1 = trainer.fit_runs(fit, fs0, keys, data, _split(runs), num_epochs=half)
  fs, h2 = trainer.fit_runs(fit, fs, keys, data, _split(runs), num_epochs=half)
  hist = jax.tree.map(lambda a, b: jnp.concatenate([a, b], axis=1), h1, h2)
  return fs0, fs, hist, fit


def _changed(a, b):
  return jax.tree.map(lambda u, v: bool(jnp.any(u != v)), a, b)


# ---------------------------------------------------------------- losses


def test_cross_entropy_matches_numpy_and_masks():
  logits = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
  y = np.array([0, 2, 1, 1, 0])
  logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
  nll = -logp[np.arange(5), y]
  np.testing.assert_allclose(trainer.cross_entropy_loss(logits, y), nll.mean(), rtol=1e-5)
  mask = np.array([True, False, True, False, False])
  np.testing.assert_allclose(
    trainer.cross_entropy_loss(logits, y, mask), nll[mask].mean(), rtol=1e-5
  )
  assert float(trainer.masked_mean(jnp.ones(3), jnp.zeros(3, bool))) == 0.0


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
  a, p, n = siamese.sample_triplets(jax.random.key(3), labels, idx, 7, 512)
  a, p, n = map(np.asarray, (a, p, n))
  lab = np.asarray(labels)
  assert a.max() < 7 and n.max() < 7 and p.max() < 7  # only valid entries
  assert np.all(lab[a] == lab[p]) and np.all(a != p)
  assert np.all(lab[a] != lab[n])
  # Anchors are uniform over the 7 valid examples.
  counts = np.bincount(a, minlength=7)
  assert counts.min() > 512 / 7 * 0.6


# ------------------------------------------------------- splits and batches


def test_epoch_positions_one_pass_and_cycle():
  mask = jnp.arange(8) < 5
  pos, real = map(np.asarray, trainer.epoch_positions(jax.random.key(0), mask, 2, 4, False))
  assert sorted(pos[real].tolist()) == [0, 1, 2, 3, 4]  # one pass over the 5 valid entries
  assert real.sum() == 5 and not real[1, 1:].any()  # the tail is masked
  pos, real = map(np.asarray, trainer.epoch_positions(jax.random.key(0), mask, 3, 4, True))
  assert real.all() and pos.max() < 5  # cycling: full batches of valid entries
  assert sorted(pos.reshape(-1)[:5].tolist()) == [0, 1, 2, 3, 4]


def test_make_split_pads_with_masks_and_validates():
  split = trainer.make_split([[3, 4, 5], [7]], [[1], []])
  np.testing.assert_array_equal(split.train_idx, [[3, 4, 5], [7, 0, 0]])
  np.testing.assert_array_equal(split.train_mask, [[1, 1, 1], [1, 0, 0]])
  np.testing.assert_array_equal(split.val_mask, [[1], [0]])
  with pytest.raises(ValueError, match='run 1 has no example'):
    trainer.make_split([[1], []])
  with pytest.raises(ValueError, match='out of range'):
    trainer.make_split([[1, 9]], num_examples=5)
  with pytest.raises(ValueError, match='2 training runs but 1'):
    trainer.make_split([[1], [2]], [[3]])
  with pytest.raises(ValueError, match='prefix'):
    trainer.validate_split(
      trainer.Split(
        np.array([[0, 1]]), np.array([[False, True]]), np.zeros((1, 1), int), np.ones((1, 1), bool)
      ),
      5,
    )
  with pytest.raises(ValueError, match='unknown layer'):
    transfer.check_frozen_layers({'embedder': {'bilstm_1': {'w': 0}}}, ['bilstm_7'])
  with pytest.raises(ValueError, match='FitConfig.mode'):
    trainer.FitConfig(mode='up')
  with pytest.raises(ValueError, match='FitConfig.batch_size'):
    trainer.FitConfig(batch_size=0)


# ------------------------------------------------------ the loop on a toy problem


def _toy_fit(
  patience=2,
  mode='min',
  val=lambda w: (w - 1.0) ** 2,
  loss=lambda w: (w - 5.0) ** 2,
  smoothing=0.0,
  validate=True,
):
  """A one-parameter model: training pushes w towards 5, validation prefers `val`."""
  params = {'w': jnp.zeros(())}
  tx = optax.sgd(0.1)
  fs = trainer.init_fit_state({'params': params}, tx, mode)
  loss_fn = lambda p, bs, key, batch: (
    trainer.masked_mean(loss(p['w']) * batch.data, batch.mask),
    bs,
  )
  eval_fn = lambda p, bs, data, split: {'val_loss': val(p['w']), 'val_score': -val(p['w'])}
  batches = lambda key, data, split, cfg: trainer.Batch(jnp.ones((1, 1)), data[:, None])
  cfg = trainer.FitConfig(
    num_epochs=8,
    batch_size=1,
    patience=patience,
    mode=mode,
    monitor='val_loss' if mode == 'min' else 'val_score',
    smoothing=smoothing,
  )
  return fs, trainer.make_fit(loss_fn, tx, cfg, eval_fn if validate else None, batches)


def test_early_stopping_stops_and_keeps_the_best_epoch():
  fs, fit = _toy_fit()
  real = jnp.ones((1,), bool)
  out, hist = jax.jit(fit, static_argnames='num_epochs')(
    fs, jax.random.key(0), real, None, num_epochs=8
  )
  val = np.asarray(hist['val_loss'])
  # w moves 0 -> 1 -> 1.8 -> ...: epoch 1 is best, epochs 2 and 3 are worse, then it stops.
  assert val[0] < val[1] < val[2] and np.isnan(val[3:]).all()
  assert int(out.epoch) == 3 and int(out.best_epoch) == 1 and int(out.train.step) == 3
  np.testing.assert_allclose(out.best_metric, val[0])
  np.testing.assert_allclose(out.best_params['w'], 1.0, rtol=1e-6)
  # 'max' mode on a score gives the same decisions.
  fs, fit = _toy_fit(mode='max')
  out2, _ = jax.jit(fit, static_argnames='num_epochs')(
    fs, jax.random.key(0), real, None, num_epochs=8
  )
  assert int(out2.best_epoch) == 1 and int(out2.epoch) == 3


def test_smoothed_early_stopping_matches_a_numpy_loop():
  # A noisy validation curve: early stopping on its EMA must pick the epoch a
  # plain loop over s_e = a s_{e-1} + (1 - a) v_e picks, and stop where it stops.
  val = lambda w: (w - 3.0) ** 2 + 0.6 * jnp.sin(9.0 * w)
  real = jnp.ones((1,), bool)
  fs, fit = _toy_fit(patience=8, val=val)
  _, hist = jax.jit(fit, static_argnames='num_epochs')(
    fs, jax.random.key(0), real, None, num_epochs=8
  )
  raw = np.asarray(hist['val_loss'], np.float64)
  for a, patience in ((0.5, 2), (0.8, 3)):
    s, best, best_epoch, bad, stop = None, np.inf, 0, 0, 8
    for e, v in enumerate(raw, start=1):
      s = v if s is None else a * s + (1 - a) * v
      if s < best:
        best, best_epoch, bad = s, e, 0
      else:
        bad += 1
      if bad >= patience:
        stop = e
        break
    fs, fit = _toy_fit(patience=patience, val=val, smoothing=a)
    out, _ = jax.jit(fit, static_argnames='num_epochs')(
      fs, jax.random.key(0), real, None, num_epochs=8
    )
    assert int(out.best_epoch) == best_epoch and int(out.epoch) == stop, (a, raw)
    np.testing.assert_allclose(out.best_metric, best, rtol=1e-5)
  with pytest.raises(ValueError, match='smoothing'):
    trainer.FitConfig(smoothing=1.0)


def test_empty_batch_is_a_no_op_and_max_epochs_caps():
  fs, fit = _toy_fit(patience=10)
  fitj = jax.jit(fit, static_argnames='num_epochs')
  out, hist = fitj(fs, jax.random.key(0), jnp.zeros((1,), bool), None, num_epochs=8)
  assert int(out.epoch) == 8 and int(out.train.step) == 0  # steps without a real example
  assert float(out.train.params['w']) == 0.0
  out, _ = fitj(fs, jax.random.key(0), jnp.ones((1,), bool), None, 5, num_epochs=8)
  assert int(out.epoch) == 5  # max_epochs


def test_a_run_without_validation_examples_trains_as_without_eval_fn():
  # One validated program, two runs: with a validation example the run stops early
  # (epoch 1 best, patience 1); without one it keeps its last epoch and runs all
  # 8, its state equal to the program without eval_fn's (how the sEMG strict and
  # oracle DL/TL runs share a program).
  fs, fit = _toy_fit(patience=1)
  _, plain = _toy_fit(patience=1, validate=False)
  real = jnp.ones((1,), bool)
  split = trainer.Split(
    np.zeros((2, 1), np.int32), np.ones((2, 1), bool), np.zeros((2, 1), np.int32),
    np.array([[True], [False]]),
  )  # fmt: skip
  both = jax.jit(
    jax.vmap(functools.partial(fit, num_epochs=8), in_axes=(None, None, None, 0)),
  )(fs, jax.random.key(0), real, split)[0]
  alone = jax.jit(fit, static_argnames='num_epochs')
  validated = alone(fs, jax.random.key(0), real, jax.tree.map(lambda a: a[0], split), num_epochs=8)[
    0
  ]
  unvalidated = jax.jit(plain, static_argnames='num_epochs')(
    fs, jax.random.key(0), real, None, num_epochs=8
  )[0]
  assert int(validated.epoch) == 2 and int(validated.best_epoch) == 1
  assert int(unvalidated.epoch) == 8 and int(unvalidated.best_epoch) == 8
  for r, want in enumerate((validated, unvalidated)):
    chex.assert_trees_all_equal(jax.tree.map(lambda a, r=r: a[r], both), want)


def test_nan_loss_stops_the_run_and_is_reported():
  fs, fit = _toy_fit(loss=lambda w: jnp.log(w - 0.15))  # NaN once w < 0.15 ... from the start
  out, _ = jax.jit(fit, static_argnames='num_epochs')(
    fs, jax.random.key(0), jnp.ones((1,), bool), None, num_epochs=8
  )
  assert bool(out.nonfinite) and int(out.epoch) == 1
  with pytest.raises(FloatingPointError, match='run\\(s\\) \\[0\\]'):
    trainer.check_finite(jax.tree.map(lambda a: a[None], out), 'toy')


def test_unknown_monitor_is_named():
  params = {'w': jnp.zeros(())}
  tx = optax.sgd(0.1)
  cfg = trainer.FitConfig(num_epochs=2, batch_size=1, monitor='val_acc')
  fit = trainer.make_fit(
    lambda p, bs, k, b: (p['w'] ** 2, bs),
    tx,
    cfg,
    lambda p, bs, d, s: {'val_loss': p['w']},
    lambda k, d, s, c: trainer.Batch(jnp.ones((1, 1)), jnp.ones((1, 1), bool)),
  )
  with pytest.raises(ValueError, match="'val_acc'"):
    fit(trainer.init_fit_state({'params': params}, tx), jax.random.key(0), None, None, num_epochs=2)


# --------------------------------------------------- training, vmap, transfer


@pytest.fixture(scope='module')
def base(data):
  model = models.SEMGClassifier(4, hidden=HIDDEN, fc=FC, batch_norm=True)
  # SGD, not Adam: Adam's first steps are sign(g), which turns float rounding
  # in near-zero gradients (batched vs single matmuls) into 1e-2 steps, so
  # vmapped and sequential runs would differ by far more than rounding.
  fs0, fs, hist, fit = _fit_runs(model, optax.sgd(0.1, momentum=0.9), data)
  return model, fs0, fs, hist, fit


def test_training_learns_and_keeps_best_epoch(base, data):
  model, fs0, fs, hist, _ = base
  val, train_loss = np.asarray(hist['val_loss']), np.asarray(hist['train_loss'])
  assert np.all(np.isfinite(val[:, :2]))
  assert train_loss[0, -1] < train_loss[0, 0]  # the loss falls on the largest run
  # The kept parameters are those of the best validation epoch.
  np.testing.assert_allclose(np.asarray(fs.best_metric), np.nanmin(val, axis=1), rtol=1e-6)
  split = _split(R)
  for r in range(R):
    take = lambda t: jax.tree.map(lambda a: a[r], t)
    got = protocol.classifier_eval(model)(
      take(fs.best_params), take(fs.best_batch_stats), data, take(split)
    )
    np.testing.assert_allclose(got['val_loss'], np.nanmin(val[r]), rtol=1e-4)
  assert int(fs.train.step[0]) > 0


@pytest.mark.parametrize('runs_as', ['loop', 'map'])
def test_seed_vmapped_equals_sequential(base, data, runs_as):
  """R runs as one vmapped program give the numbers of R separate runs (Python
  loop) and of the R runs one after another inside one program (`lax.map`)."""
  model, fs0, fs, hist, fit = base
  keys = jax.random.split(jax.random.key(2), R)
  seq, hist_s = trainer.fit_runs(
    fit, fs0, keys, data, _split(R), num_epochs=CFG.num_epochs, runs_as=runs_as
  )
  assert hist_s['val_loss'].shape == hist['val_loss'].shape
  # (one call of 4 epochs here vs two vmapped calls of 2 in the fixture)
  np.testing.assert_allclose(hist_s['val_loss'], hist['val_loss'], rtol=2e-4, atol=1e-5)
  # Parameters (of scale 1) to 1e-3: batch norm's means over a BiLSTM's
  # time-major output may be summed in another order once vmap adds the run
  # axis (1-ulp differences), and 16 Adam steps at lr 1e-2 grow them to ~1e-4.
  close = jax.tree.map(
    lambda a, b: np.allclose(a, b, rtol=2e-4, atol=1e-3), seq.best_params, fs.best_params
  )
  assert all(jax.tree.leaves(close))


def test_fit_runs_rejects_an_unknown_layout(base, data):
  _, fs0, _, _, fit = base
  with pytest.raises(ValueError, match='runs_as'):
    trainer.fit_runs(
      fit,
      fs0,
      jax.random.split(jax.random.key(2), R),
      data,
      _split(R),
      num_epochs=1,
      runs_as='vmapped',
    )


def test_ragged_run_trains_as_it_would_alone(base, data):
  """Run 2 (4 examples) padded to 32 in a batch of runs trains as the same run alone."""
  model, fs0, fs, hist, fit = base
  take = lambda t: jax.tree.map(lambda a: a[2:], t)
  alone = trainer.make_split([range(4)], [range(32, 48)])
  keys = jax.random.split(jax.random.key(2), R)[2:]
  out, h = trainer.fit_runs(fit, take(fs0), keys, data, alone, num_epochs=CFG.num_epochs)
  np.testing.assert_allclose(h['val_loss'][0], hist['val_loss'][2], rtol=1e-5)
  assert int(out.epoch[0]) == int(fs.epoch[2])


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
  embedder = fs_base.best_params['embedder']
  plain = {'params': {'embedder': {k: v for k, v in embedder.items() if not k.startswith('bn_')}}}
  frozen = transfer.FROZEN_SETTINGS['1']
  tx = transfer.fine_tune_tx(frozen, 1e-2)
  cfg = trainer.FitConfig(num_epochs=2, steps_per_epoch=2, batch_size=6, patience=5)
  data3 = {'x': data['x'], 'y': data['y'] % 3}
  fs0, fs, _, _ = _fit_runs(
    model, tx, data3, runs=1, cfg=cfg, base=jax.tree.map(lambda a: a[0], plain)
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
  cfg = trainer.FitConfig(num_epochs=2, steps_per_epoch=2, batch_size=6, patience=5)
  base_vars = jax.tree.map(lambda a: a[0], trainer.best_variables(fs_base))
  data3 = {'x': data['x'], 'y': data['y'] % 3}
  fs0, fs, _, _ = _fit_runs(
    model, transfer.adabatch_tx(1e-2), data3, runs=1, cfg=cfg, base=base_vars
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
  x = data['x']
  fs0 = jax.tree.map(
    lambda a: a[None], trainer.init_fit_state(model.init(jax.random.key(5), x[:2], x[:2]), tx)
  )
  cfg = trainer.FitConfig(num_epochs=2, steps_per_epoch=1, batch_size=4, patience=5)
  fit = siamese.make_siamese_fit(model, 'triplet', tx, cfg, num_val=8, key=jax.random.key(0))
  fs, hist = trainer.fit_runs(fit, fs0, jax.random.key(6)[None], data, _split(1), num_epochs=2)
  fs = jax.tree.map(lambda a: a[0], fs)
  assert np.all(np.isfinite(np.asarray(hist['val_loss'])))
  changed = _changed(jax.tree.map(lambda a: a[0], fs0.train.params), fs.train.params)
  assert not any(jax.tree.leaves(changed['embedder']['bilstm_1']))
  assert all(jax.tree.leaves(changed['embedder']['bn_lstm_1']))
  assert all(jax.tree.leaves(changed['sim_out']))
  p, b = fs.train.params, fs.train.batch_stats
  scores = siamese.siamese_scores(model, p, b, x[:3], x[:5])
  assert scores.shape == (3, 5)
  assert np.all((np.asarray(scores) >= 0) & (np.asarray(scores) <= 1))
  # The head-only score function used with evaluate_episodes agrees.
  embed = lambda q: trainer.apply_model(model, p, b, q, train=False, method='embed')[0]
  np.testing.assert_allclose(
    siamese.head_scores(siamese.head_params(p), embed(x[:3]), embed(x[:5])),
    scores,
    rtol=1e-5,
    atol=1e-6,
  )
  with pytest.raises(ValueError, match='steps_per_epoch'):
    siamese.make_siamese_fit(model, 'triplet', tx, trainer.FitConfig(), key=jax.random.key(0))


# ------------------------------------------------------------- checkpoints


def test_checkpoint_resume_and_skip(base, data, tmp_path):
  model, fs0, fs_full, _, fit = base
  keys = jax.random.split(jax.random.key(2), R)
  split = _split(R)
  calls = []

  def run_chunk(fs, c):
    calls.append(c)
    if c == 1 and len(calls) == 2:
      raise KeyboardInterrupt  # the first attempt dies in its second chunk
    return trainer.fit_runs(fit, fs, keys, data, split, num_epochs=2)[0]

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
