"""Classification metrics against scikit-learn, absent classes included."""

import warnings

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sklearn import metrics as skm

import evaluation
from evaluation import metrics

SETTINGS = settings(max_examples=50, deadline=None)


@st.composite
def label_pairs(draw, max_classes=6, max_n=25):
  """(y_true, y_pred, num_classes); small n so classes are often absent."""
  num_classes = draw(st.integers(1, max_classes))
  n = draw(st.integers(1, max_n))
  labels = st.lists(st.integers(0, num_classes - 1), min_size=n, max_size=n)
  y_true = np.array(draw(labels), dtype=np.int32)
  y_pred = np.array(draw(labels), dtype=np.int32)
  return y_true, y_pred, num_classes


def _sk(fn, *args, **kw):
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    return fn(*args, **kw)


@SETTINGS
@given(label_pairs())
def test_confusion_matrix_matches_sklearn(case):
  y_true, y_pred, c = case
  ours = np.asarray(evaluation.confusion_matrix(y_true, y_pred, c))
  ref = _sk(skm.confusion_matrix, y_true, y_pred, labels=range(c))
  np.testing.assert_array_equal(ours, ref)


@SETTINGS
@given(
  label_pairs(), st.sampled_from([None, 'macro', 'weighted', 'micro']), st.sampled_from([0.0, 1.0])
)
def test_f1_precision_recall_match_sklearn(case, average, zero_division):
  y_true, y_pred, c = case
  kw = dict(labels=list(range(c)), average=average, zero_division=zero_division)
  for ours_fn, ref_fn in (
    (evaluation.f1_score, skm.f1_score),
    (evaluation.precision, skm.precision_score),
    (evaluation.recall, skm.recall_score),
  ):
    ours = ours_fn(y_true, y_pred, c, average=average, zero_division=zero_division)
    ref = _sk(ref_fn, y_true, y_pred, **kw)
    np.testing.assert_allclose(
      np.asarray(ours), ref, rtol=1e-6, atol=1e-6, err_msg=f'{ours_fn.__name__} {average}'
    )


@SETTINGS
@given(label_pairs())
def test_uar_and_accuracy_match_sklearn(case):
  y_true, y_pred, c = case
  np.testing.assert_allclose(
    float(evaluation.uar(y_true, y_pred, c)),
    _sk(skm.balanced_accuracy_score, y_true, y_pred),
    rtol=1e-6,
  )
  np.testing.assert_allclose(
    float(evaluation.accuracy(y_true, y_pred, c)), skm.accuracy_score(y_true, y_pred), rtol=1e-6
  )


def test_absent_class_is_scored_not_dropped():
  # Class 2 never occurs: macro F1 averages over 3 classes, not 2.
  y_true = np.array([0, 0, 1, 1])
  y_pred = np.array([0, 0, 1, 1])
  assert float(evaluation.f1_score(y_true, y_pred, 3, average='macro')) == (pytest.approx(2 / 3))
  assert float(evaluation.f1_score(y_true, y_pred, 3, average='macro', zero_division=1.0)) == 1.0
  # UAR leaves the absent class out (balanced accuracy), recall-macro does not.
  assert float(evaluation.uar(y_true, y_pred, 3)) == 1.0
  assert float(evaluation.recall(y_true, y_pred, 3, average='macro')) == (pytest.approx(2 / 3))
  assert evaluation.confusion_matrix(y_true, y_pred, 3).shape == (3, 3)


def test_uar_is_not_mean_precision():
  # The known bug: UAR computed as mean precision. Here they differ.
  y_true = np.array([0, 0, 0, 1])
  y_pred = np.array([0, 1, 1, 1])
  assert float(evaluation.uar(y_true, y_pred, 2)) == pytest.approx((1 / 3 + 1) / 2)
  assert float(evaluation.precision(y_true, y_pred, 2, average='macro')) == (
    pytest.approx((1 + 1 / 3) / 2)
  )
  y_true = np.array([0, 0, 0, 1, 1])
  y_pred = np.array([0, 1, 1, 1, 1])
  assert float(evaluation.uar(y_true, y_pred, 2)) != pytest.approx(
    float(evaluation.precision(y_true, y_pred, 2, average='macro'))
  )


def test_vmap_jit_over_episodes_matches_sklearn_per_episode():
  rng = np.random.default_rng(0)
  y_true = rng.integers(0, 5, size=(64, 12)).astype(np.int32)
  y_pred = rng.integers(0, 5, size=(64, 12)).astype(np.int32)
  fns = {
    'macro': lambda t, p: evaluation.f1_score(t, p, 5, average='macro'),
    'weighted': lambda t, p: evaluation.f1_score(t, p, 5, average='weighted'),
    'uar': lambda t, p: evaluation.uar(t, p, 5),
  }
  for name, fn in fns.items():
    batched = np.asarray(jax.jit(jax.vmap(fn))(y_true, y_pred))
    assert batched.shape == (64,)
    for i in range(64):
      if name == 'uar':
        ref = _sk(skm.balanced_accuracy_score, y_true[i], y_pred[i])
      else:
        ref = _sk(
          skm.f1_score, y_true[i], y_pred[i], labels=range(5), average=name, zero_division=0
        )
      assert batched[i] == pytest.approx(ref, abs=1e-6), (name, i)


def test_nested_vmap_over_seeds_and_episodes():
  rng = np.random.default_rng(1)
  y_true = rng.integers(0, 3, size=(2, 4, 9)).astype(np.int32)
  y_pred = rng.integers(0, 3, size=(2, 4, 9)).astype(np.int32)
  fn = jax.vmap(jax.vmap(lambda t, p: evaluation.confusion_matrix(t, p, 3)))
  cms = np.asarray(fn(y_true, y_pred))
  assert cms.shape == (2, 4, 3, 3)
  np.testing.assert_array_equal(
    cms[1, 2], skm.confusion_matrix(y_true[1, 2], y_pred[1, 2], labels=range(3))
  )


def test_per_class_scores_fields():
  y_true = np.array([0, 1, 1, 2, 2, 2])
  y_pred = np.array([0, 1, 2, 2, 2, 0])
  s = evaluation.precision_recall_f1(y_true, y_pred, 4)
  p, r, f, sup = _sk(
    skm.precision_recall_fscore_support, y_true, y_pred, labels=range(4), zero_division=0
  )
  np.testing.assert_allclose(s.precision, p, rtol=1e-6)
  np.testing.assert_allclose(s.recall, r, rtol=1e-6)
  np.testing.assert_allclose(s.f1, f, rtol=1e-6)
  np.testing.assert_array_equal(s.support, sup)


def test_from_confusion_variants_agree_with_label_versions():
  rng = np.random.default_rng(2)
  t = rng.integers(0, 4, 40)
  p = rng.integers(0, 4, 40)
  cm = evaluation.confusion_matrix(t, p, 4)
  for avg in (None, 'macro', 'weighted'):
    np.testing.assert_allclose(
      metrics.f1_from_confusion(cm, avg), evaluation.f1_score(t, p, 4, average=avg)
    )
  assert float(metrics.uar_from_confusion(cm)) == pytest.approx(float(evaluation.uar(t, p, 4)))
  assert float(metrics.accuracy_from_confusion(cm)) == pytest.approx(
    float(evaluation.accuracy(t, p))
  )


@pytest.mark.parametrize(
  'y_true,y_pred,num_classes,match',
  [
    ([0, 1, 2], [0, 1], 3, 'different lengths'),
    ([0, 1, 3], [0, 1, 2], 3, r'outside \[0, 3\)'),
    ([0, -1, 2], [0, 1, 2], 3, 'outside'),
    ([], [], 3, 'empty'),
    ([[0, 1]], [[0, 1]], 3, '1-D'),
    ([0.0, 1.0], [0, 1], 3, 'integer'),
    ([0, 1], [0, 1], 0, 'num_classes must be >= 1'),
    ([0, 1], [0, 1], 2.0, 'num_classes must be a positive Python int'),
  ],
)
def test_bad_label_inputs_raise(y_true, y_pred, num_classes, match):
  with pytest.raises(ValueError, match=match):
    evaluation.f1_score(np.array(y_true), np.array(y_pred), num_classes, average='macro')


def test_bad_average_and_zero_division_raise():
  with pytest.raises(ValueError, match='average'):
    evaluation.f1_score([0, 1], [0, 1], 2, average='binary')
  with pytest.raises(ValueError, match='zero_division'):
    evaluation.f1_score([0, 1], [0, 1], 2, zero_division=2.0)
  with pytest.raises(ValueError, match='square'):
    metrics.f1_from_confusion(jnp.ones((2, 3)))
  with pytest.raises(ValueError, match='static'):
    jax.jit(lambda c: evaluation.uar(jnp.array([0]), jnp.array([0]), c))(2)


def test_out_of_range_labels_under_trace_count_nowhere():
  # Documented behaviour of the traced path: no host check, no wrap-around.
  cm = jax.jit(lambda t, p: metrics._confusion(t, p, 3))(
    jnp.array([0, -1, 5]), jnp.array([0, 2, 2])
  )
  np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 0, 0], [0, 0, 0]])


def test_jitted_metric_traces_once_across_calls():
  def macro(t, p):
    return jax.vmap(lambda a, b: evaluation.f1_score(a, b, 4, average='macro'))(t, p)

  macro = jax.jit(chex.assert_max_traces(macro, n=1))
  rng = np.random.default_rng(3)
  for _ in range(3):
    t = rng.integers(0, 4, (8, 10)).astype(np.int32)
    p = rng.integers(0, 4, (8, 10)).astype(np.int32)
    np.testing.assert_allclose(
      macro(t, p)[0],
      _sk(skm.f1_score, t[0], p[0], labels=range(4), average='macro', zero_division=0),
      atol=1e-6,
    )
