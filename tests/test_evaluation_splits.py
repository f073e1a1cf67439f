"""Splits: no subject on both sides of a split; Table III; MEGC CDE."""

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sklearn import metrics as skm

import evaluation
from evaluation import megc
from evaluation import splits
from fewshot.protocols.semg import SEMG_TABLE_III

SETTINGS = settings(max_examples=50, deadline=None)

subject_arrays = (
  st.lists(st.integers(0, 9), min_size=2, max_size=60)
  .filter(lambda s: len(set(s)) >= 2)
  .map(np.array)
)


def _disjoint_subjects(s, train, test):
  return not set(s[train].tolist()) & set(s[test].tolist())


@SETTINGS
@given(subject_arrays)
def test_loso_never_leaks_a_subject(s):
  folds = evaluation.loso_splits(s)
  assert len(folds) == len(set(s.tolist()))
  covered = []
  for train, test in folds:
    assert _disjoint_subjects(s, train, test)
    assert len(set(s[test].tolist())) == 1
    assert len(train) + len(test) == len(s)
    covered.extend(test.tolist())
  # Every sample is tested exactly once.
  assert sorted(covered) == list(range(len(s)))


@SETTINGS
@given(
  st.lists(st.integers(0, 11), min_size=4, max_size=80)
  .filter(lambda s: len(set(s)) >= 4)
  .map(np.array),
  st.integers(2, 3),
  st.integers(0, 2**31),
)
def test_nested_loso_never_leaks_a_subject(s, k, seed):
  nested = evaluation.nested_loso_splits(s, inner_folds=k, key=jax.random.key(seed))
  assert len(nested) == len(set(s.tolist()))
  for train, test, inner in nested:
    assert _disjoint_subjects(s, train, test)
    assert len(inner) == k
    inner_val = []
    for itrain, ival in inner:
      assert _disjoint_subjects(s, itrain, ival)
      # The outer test subject never enters the inner loop.
      assert not set(itrain.tolist() + ival.tolist()) & set(test.tolist())
      assert set(itrain.tolist()) | set(ival.tolist()) == set(train.tolist())
      inner_val.extend(ival.tolist())
    assert sorted(inner_val) == sorted(train.tolist())


def test_nested_loso_is_deterministic_from_key():
  s = np.repeat(np.arange(8), 3)
  a = evaluation.nested_loso_splits(s, 3, key=jax.random.key(1))
  b = evaluation.nested_loso_splits(s, 3, key=jax.random.key(1))
  c = evaluation.nested_loso_splits(s, 3, key=jax.random.key(2))
  same = lambda x, y: all(
    np.array_equal(f.test, g.test) for fx, fy in zip(x, y) for f, g in zip(fx.inner, fy.inner)
  )
  assert same(a, b) and not same(a, c)
  # A legacy uint32 [2] key of the same data gives the same split.
  legacy = evaluation.nested_loso_splits(s, 3, key=jax.random.key_data(jax.random.key(1)))
  assert same(a, legacy)


def test_string_subjects_and_bad_inputs():
  folds = evaluation.loso_splits(['b', 'a', 'b', 'c'])
  np.testing.assert_array_equal(folds[0].test, [1])  # 'a' first (sorted)
  with pytest.raises(ValueError, match='at least 2 subjects'):
    evaluation.loso_splits([3, 3, 3])
  with pytest.raises(ValueError, match='empty'):
    evaluation.loso_splits([])
  with pytest.raises(ValueError, match='1-D'):
    evaluation.loso_splits([[1, 2]])
  with pytest.raises(ValueError, match='at least 6 subjects'):
    evaluation.nested_loso_splits(np.arange(5), inner_folds=5, key=jax.random.key(0))
  with pytest.raises(TypeError, match='jax.random key'):
    evaluation.nested_loso_splits(np.arange(6), 2, key=3)


def test_per_class_split_reproduces_table_iii_counts():
  # Table III: the dataset has exactly train + val + test samples per class.
  totals = [sum(r) for r in SEMG_TABLE_III]
  y = np.concatenate([np.full(n, c) for c, n in enumerate(totals)])
  y = np.random.default_rng(0).permutation(y)
  split = splits.per_class_split(y, SEMG_TABLE_III, key=jax.random.key(3))
  for part, col in zip(split, range(3)):
    counts = np.bincount(y[part], minlength=7)
    np.testing.assert_array_equal(counts, [r[col] for r in SEMG_TABLE_III])
  assert (len(split.train), len(split.val), len(split.test)) == (2682, 671, 840)
  all_idx = np.concatenate(split)
  assert len(np.unique(all_idx)) == len(all_idx) == len(y)
  again = splits.per_class_split(y, SEMG_TABLE_III, key=jax.random.key(3))
  other = splits.per_class_split(y, SEMG_TABLE_III, key=jax.random.key(4))
  assert np.array_equal(split.test, again.test)
  assert not np.array_equal(split.test, other.test)


def test_per_class_split_rejects_too_few_samples():
  y = np.array([0, 0, 1, 1, 1])
  with pytest.raises(ValueError, match='class 0 has 2 samples'):
    splits.per_class_split(y, key=jax.random.key(0), counts=[[1, 1, 1], [1, 1, 1]])
  with pytest.raises(ValueError, match=r'\[0, 1\)'):
    splits.per_class_split(y, key=jax.random.key(0), counts=[[1, 1, 0]])


# ------------------------------------------------------------------ MEGC


def test_megc_label_mapping_follows_section_iii():
  np.testing.assert_array_equal(
    megc.map_emotions(
      ['Repression', 'disgust', 'Happiness', 'surprise', 'Others', 'fear'], 'CASME II'
    ),
    [0, 0, 1, 2, megc.OMITTED, megc.OMITTED],
  )
  np.testing.assert_array_equal(
    megc.map_emotions(
      ['Anger', 'Contempt', 'Disgust', 'Fear', 'Sadness', 'Happiness', 'Surprise', 'Other'], 'SAMM'
    ),
    [0, 0, 0, 0, 0, 1, 2, megc.OMITTED],
  )
  np.testing.assert_array_equal(
    megc.map_emotions(['negative', 'positive', 'surprise'], 'SMIC'), [0, 1, 2]
  )
  with pytest.raises(ValueError, match='no emotion'):
    megc.map_emotions(['joy'], 'SAMM')
  with pytest.raises(ValueError, match='unknown database'):
    megc.map_emotions(['surprise'], 'CK+')


def test_composite_database_loso_over_qualified_subjects():
  databases = ['SMIC', 'SMIC', 'CASME2', 'CASME2', 'SAMM', 'SAMM', 'SAMM']
  subjects = ['s01', 's02', 's01', 's01', '006', '006', '007']
  emotions = ['negative', 'surprise', 'others', 'happiness', 'anger', 'other', 'surprise']
  comp = megc.composite_database(databases, subjects, emotions)
  np.testing.assert_array_equal(comp.index, [0, 1, 3, 4, 6])
  np.testing.assert_array_equal(comp.labels, [0, 2, 1, 0, 2])
  # SMIC/s01 and CASME II/s01 are different people.
  assert len(comp.folds) == 5
  for train, test in comp.folds:
    assert not set(comp.subject[train]) & set(comp.subject[test])


def test_composite_scores_pool_counts_over_folds():
  rng = np.random.default_rng(0)
  folds_t = [rng.integers(0, 3, n) for n in (3, 5, 2, 7)]
  folds_p = [rng.integers(0, 3, n) for n in (3, 5, 2, 7)]
  res = megc.composite_scores(folds_t, folds_p)
  t, p = np.concatenate(folds_t), np.concatenate(folds_p)
  assert res['UF1'] == pytest.approx(
    skm.f1_score(t, p, labels=range(3), average='macro', zero_division=0)
  )
  assert res['UAR'] == pytest.approx(skm.balanced_accuracy_score(t, p))
  # Not the mean of per-fold UF1 (the pitfall the pooling avoids).
  per_fold = np.mean(
    [float(evaluation.f1_score(a, b, 3, average='macro')) for a, b in zip(folds_t, folds_p)]
  )
  assert res['UF1'] != pytest.approx(per_fold)
  stacked = np.stack([evaluation.confusion_matrix(a, b, 3) for a, b in zip(folds_t, folds_p)])
  np.testing.assert_array_equal(megc.pooled_confusion(stacked), res['confusion'])


def test_scores_by_database_table_iv_layout():
  y = np.array([0, 1, 2, 0, 1, 2])
  p = np.array([0, 1, 2, 1, 1, 0])
  db = ['SMIC'] * 3 + ['SAMM'] * 3
  out = megc.scores_by_database(y, p, db)
  assert list(out) == ['Full', 'SMIC', 'SAMM']
  assert out['SMIC']['UF1'] == 1.0 and out['SMIC']['UAR'] == 1.0
  assert out['Full']['UAR'] == pytest.approx(skm.balanced_accuracy_score(y, p))
