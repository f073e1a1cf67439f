"""harAGE training (paper 4.3): vmapped folds == fold by fold, padding, nested LOSO."""

import dataclasses

import jax
import numpy as np
import pytest
import sklearn.metrics

import evaluation
from fewshot import trainer
from fewshot.protocols import har as ht
from signals.har import data as hd

CFG = ht.train_config(
  batch_size=8, learning_rate=1e-2, max_epochs=4, patience=2, inner_folds=3, eval_chunk=16
)


def _toy(n_subjects=4, per_subject=12, seed=0):
  # Two short modalities; class 1 has a larger mean on 'a', so it is learnable.
  rng = np.random.default_rng(seed)
  n = n_subjects * per_subject
  labels = np.tile(np.arange(3), n // 3).astype(np.int32)
  a = rng.normal(size=(n, 6, 2)).astype(np.float32) + labels[:, None, None]
  b = rng.normal(size=(n, 5, 3)).astype(np.float32)
  subjects = np.repeat(np.arange(n_subjects), per_subject).astype(np.int32)
  train_w = np.ones(n, bool)
  test_w = np.arange(n) % 2 == 0  # half of the windows are on the no-overlap grid
  return hd.HARWindows(
    {'a': a, 'b': b},
    labels,
    subjects,
    train_w,
    test_w,
    ('x', 'y', 'z'),
    tuple(f'P{i}' for i in range(n_subjects)),
  )


def _spec(data, folds=((0, 1), (2,), (1, 2, 3))):
  train = [np.flatnonzero(np.isin(data.subjects, f, invert=True)) for f in folds]
  evals = [np.flatnonzero(np.isin(data.subjects, f) & data.test_window) for f in folds]
  return trainer.make_split(train, evals)


def test_vmapped_folds_equal_fold_by_fold():
  # Early stopping on: every epoch's validation UAR enters best_uar/best_epoch,
  # so equal results mean equal parameters along the whole run.
  data = _toy()
  model = ht.make_model(ht.Config(), 'cnn:a+b', num_classes=3)
  spec = _spec(data)
  keys = jax.random.split(jax.random.key(0), 3)
  arrays = {'inputs': data.inputs, 'y': data.labels}
  vm = ht.train_folds(keys, model, CFG, arrays, spec, 4)
  seq = ht.train_folds(keys, model, CFG, arrays, spec, 4, vmapped=False)
  np.testing.assert_array_equal(vm.epochs_run, seq.epochs_run)
  np.testing.assert_array_equal(vm.best_epoch, seq.best_epoch)
  np.testing.assert_allclose(vm.best_uar, seq.best_uar, atol=1e-6)
  assert len(set(np.asarray(vm.best_uar).tolist())) > 1  # folds really differ
  # Padding: fold 2 (12 training windows) ran beside a fold of 36, i.e. with
  # 24 masked entries and 3 all-padding batches per epoch; alone it has none.
  alone = trainer.make_split(
    [spec.train_idx[2][spec.train_mask[2]]], [spec.val_idx[2][spec.val_mask[2]]]
  )
  one = ht.train_folds(keys[2:], model, CFG, arrays, alone, 4, vmapped=False)
  assert spec.train_mask[2].sum() == 12 and spec.train_idx.shape[1] == 36
  assert int(one.epochs_run[0]) == int(vm.epochs_run[2])
  assert int(one.best_epoch[0]) == int(vm.best_epoch[2])
  np.testing.assert_allclose(one.best_uar[0], vm.best_uar[2], atol=1e-6)


def test_masked_uar_matches_sklearn():
  rng = np.random.default_rng(0)
  y = rng.integers(0, 4, 40)
  p = rng.integers(0, 4, 40)
  m = rng.random(40) < 0.6
  # har.eval_fn labels the padding -1, which the jitted UAR leaves out.
  ours = float(jax.jit(evaluation.uar, static_argnums=2)(np.where(m, y, -1), p, 4))
  assert ours == pytest.approx(sklearn.metrics.balanced_accuracy_score(y[m], p[m]), abs=1e-6)


def test_nested_folds_have_no_subject_leakage():
  data = _toy(n_subjects=6, per_subject=6)
  outer, inner = ht.nested_fold_indices(
    jax.random.key(0), data.subjects, data.train_window, data.test_window, 5
  )
  assert len(outer) == 6 and all(len(f) == 5 for f in inner)
  s = data.subjects
  for (tr, te, held), folds in zip(outer, inner):
    assert set(s[te]) == {held} and held not in set(s[tr])
    assert data.test_window[te].all() and data.train_window[tr].all()
    vals = []
    for itr, iva in folds:
      assert not set(s[itr]) & set(s[iva])
      assert held not in set(s[itr]) | set(s[iva])
      vals += list(set(s[iva]))
    assert sorted(vals) == sorted(set(s[tr]))  # each training subject validates once


def test_too_many_inner_folds_warn_with_the_numbers():
  data = _toy(n_subjects=4, per_subject=6)
  with pytest.warns(UserWarning, match='inner_folds=5.*4 participants.*uses 3 inner folds'):
    _, inner = ht.nested_fold_indices(
      jax.random.key(0), data.subjects, data.train_window, data.test_window, 5
    )
  assert all(len(f) == 3 for f in inner)


def test_nested_loso_end_to_end_and_validation():
  data = _toy(n_subjects=4)
  model = ht.make_model(ht.Config(), 'cnn:a', num_classes=3)
  res = ht.nested_loso(jax.random.key(0), model, CFG, data)
  assert res.fold_uar.shape == (1, 4) and np.all((res.fold_uar >= 0) & (res.fold_uar <= 1))
  assert res.inner_epochs.shape == (1, 4, 3)
  assert np.all((res.epochs >= 1) & (res.epochs <= CFG.fit.num_epochs))
  np.testing.assert_array_equal(res.epochs, np.floor(np.median(res.inner_epochs, 2) + 0.5))
  # One pass per epoch in batches of 8 (36 windows at most): the largest fold
  # takes 5 steps per epoch, smaller folds skip their all-padding batches.
  sizes = np.asarray([np.sum(data.subjects != s) for s in range(4)])
  np.testing.assert_array_equal(res.steps[0], res.epochs[0] * np.ceil(sizes / 8))
  n_test = int(data.test_window.sum())
  assert res.y_true.shape == (n_test,) and res.y_pred.shape == (1, n_test)
  pooled = sklearn.metrics.balanced_accuracy_score(res.y_true, res.y_pred[0])
  assert res.pooled_uar == pytest.approx(pooled, abs=1e-6)
  bad = data._replace(
    inputs={'a': np.where(np.arange(48)[:, None, None] == 3, np.nan, data.inputs['a'])}
  )
  with pytest.raises(ValueError, match='NaN'):
    ht.nested_loso(jax.random.key(0), model, CFG, bad)
  huge = data._replace(inputs={'a': data.inputs['a'] * np.float32(1e37)})  # finite, overflows
  with pytest.raises(FloatingPointError, match='NaN or inf'):
    ht.nested_loso(jax.random.key(0), model, CFG, huge)  # same shapes: no new compilation
  with pytest.raises(ValueError, match='at least 3'):
    ht.nested_loso(jax.random.key(0), model, dataclasses.replace(CFG), _toy(n_subjects=2))
