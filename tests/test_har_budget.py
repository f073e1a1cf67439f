"""harAGE fair comparison (issue 21): fixed step budget, convergence report, linear baseline."""

import dataclasses

import jax
import numpy as np
import pytest
import sklearn.linear_model
import sklearn.metrics
import sklearn.preprocessing

from experiments.configs import har_fusion as configs
from fewshot import trainer
from fewshot.protocols import har as ht
from signals.har import data as hd

# 2 epochs of 3 full batches of 8: 6 Adam steps per model, whatever the fold's size.
FIXED = ht.train_config(
  batch_size=8, learning_rate=1e-2, max_epochs=2, steps_per_epoch=3, epoch_rule='fixed'
)


def _toy(n_subjects=4, seed=0):
  # Subjects of different sizes, so folds differ in their number of windows.
  rng = np.random.default_rng(seed)
  sizes = np.arange(n_subjects) * 3 + 9
  subjects = np.repeat(np.arange(n_subjects), sizes).astype(np.int32)
  n = subjects.size
  labels = (np.arange(n) % 3).astype(np.int32)
  a = rng.normal(size=(n, 6, 2)).astype(np.float32) + labels[:, None, None]
  b = rng.normal(size=(n, 5, 3)).astype(np.float32) * (1 + labels[:, None, None])
  return hd.HARWindows(
    {'a': a, 'b': b},
    labels,
    subjects,
    np.ones(n, bool),
    np.arange(n) % 2 == 0,
    ('x', 'y', 'z'),
    tuple(f'P{i}' for i in range(n_subjects)),
  )


def test_quick_budget_is_fixed_and_at_least_300_steps():
  cfg = configs.get_config(quick=True)
  assert cfg.train.epoch_rule == 'fixed'  # no selection on any fold
  assert cfg.train.fit.steps_per_epoch is not None  # the same steps for every fold
  steps = ht.budget_steps(cfg.train)
  assert steps == cfg.train.fit.num_epochs * cfg.train.fit.steps_per_epoch >= 300
  assert cfg.seeds >= 3
  assert cfg.tasks == (7,)
  assert {ht.parse_name(f'cnn:{c}')[2] for c in cfg.combos} == {'concat', 'outer'}
  assert all(len(ht.parse_name(f'cnn:{c}')[1]) == 3 for c in cfg.combos)
  # Selected budgets have no fixed step count; without steps_per_epoch it needs the fold size.
  assert ht.budget_steps(configs.get_config().train) is None
  one_pass = ht.train_config(batch_size=16, max_epochs=10, epoch_rule='fixed')
  assert ht.budget_steps(one_pass, max_train=33) == 10 * 3
  with pytest.raises(ValueError, match='max_train'):
    ht.budget_steps(one_pass)


def test_fixed_budget_trains_every_fold_and_seed_exactly_its_steps():
  data = _toy()
  model = ht.make_model(ht.Config(), 'cnn:a*b', num_classes=3)
  res = ht.nested_loso(jax.random.key(0), model, FIXED, data, seeds=2)
  assert res.fold_uar.shape == res.train_uar.shape == res.steps.shape == (2, 4)
  assert res.inner_epochs.shape == (2, 4, 0)  # no inner fold trained
  np.testing.assert_array_equal(res.steps, ht.budget_steps(FIXED))
  np.testing.assert_array_equal(res.epochs, FIXED.fit.num_epochs)
  assert not np.allclose(res.train_loss[0], res.train_loss[1])  # seeds train differently
  assert np.all(res.train_loss > 0)
  # Seed r is the same training whatever the number of seeds.
  one = ht.nested_loso(jax.random.key(0), model, FIXED, data, seeds=1)
  np.testing.assert_array_equal(one.y_pred[0], res.y_pred[0])
  np.testing.assert_allclose(one.train_loss[0], res.train_loss[0], rtol=1e-5)


def test_training_uar_is_the_uar_of_the_training_windows():
  # Validate on the training windows themselves: the reported training UAR
  # must then equal the UAR of the predictions of those windows.
  data = _toy()
  model = ht.make_model(ht.Config(), 'cnn:a+b', num_classes=3)
  rows = [np.flatnonzero(data.subjects != s) for s in (0, 3)]
  split = trainer.make_split(rows, rows)
  arrays = {'inputs': data.inputs, 'y': data.labels}
  keys = jax.random.split(jax.random.key(1), 2)
  res = ht.train_folds(keys, model, FIXED, arrays, split, 2, use_eval=False)
  for f, idx in enumerate(rows):
    pred = np.asarray(res.predictions[f, : idx.size])
    want = sklearn.metrics.balanced_accuracy_score(data.labels[idx], pred)
    assert float(res.train_uar[f]) == pytest.approx(want, abs=1e-6)
  assert rows[0].size != rows[1].size  # the padded fold's padding is left out


def _reference_features(data):
  cols = []
  for m in ('a', 'b'):
    x = data.inputs[m].astype(np.float64)
    for stat in (np.mean, np.std):
      for c in range(x.shape[2]):
        cols.append([stat(x[i, :, c]) for i in range(x.shape[0])])
  return np.asarray(cols).T


def test_logistic_regression_baseline_matches_sklearn_on_the_same_folds():
  data = _toy(n_subjects=5)
  cfg = dataclasses.replace(FIXED, inner_folds=3)
  outer, _ = ht.fold_indices(jax.random.key(0), data, cfg)
  res = ht.logistic_regression_baseline(data, outer, 3, c=0.5)
  x = _reference_features(data)
  np.testing.assert_allclose(ht.mean_std_features(data.inputs, ('a', 'b')), x, atol=1e-12)
  preds = []
  for f, (tr, te, held) in enumerate(outer):
    assert held not in set(data.subjects[tr]) and set(data.subjects[te]) == {held}
    scaler = sklearn.preprocessing.StandardScaler().fit(x[tr])
    clf = sklearn.linear_model.LogisticRegression(C=0.5, max_iter=5000)
    clf.fit(scaler.transform(x[tr]), data.labels[tr])
    p = clf.predict(scaler.transform(x[te]))
    preds.append(p)
    want = sklearn.metrics.balanced_accuracy_score(data.labels[te], p)
    assert res.fold_uar[f] == pytest.approx(want, abs=1e-6)
    p_tr = clf.predict(scaler.transform(x[tr]))
    want_tr = sklearn.metrics.balanced_accuracy_score(data.labels[tr], p_tr)
    assert res.train_uar[f] == pytest.approx(want_tr, abs=1e-6)
    loss = sklearn.metrics.log_loss(data.labels[tr], clf.predict_proba(scaler.transform(x[tr])))
    assert res.train_loss[f] == pytest.approx(loss, rel=1e-6)
  np.testing.assert_array_equal(res.y_pred, np.concatenate(preds))
  assert 0.34 < res.fold_uar.mean() < 1  # learnable but not trivial


def test_caveat_survives_task_and_modality_selection():
  data = _toy()
  assert data.caveat == ''  # one subject, one person, unless a loader says otherwise
  n = data.labels.size
  noted = data._replace(
    labels=(np.arange(n) % 10).astype(np.int32), class_names=hd.ACTIVITIES, caveat='groups'
  )
  assert hd.select_task(noted, 7).caveat == 'groups'
  assert hd.select_modalities(noted, ('a',)).caveat == 'groups'
