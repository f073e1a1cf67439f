"""Summaries (median/IQR, mean/std) and the rank-sum test vs NumPy/SciPy."""

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats as sps

import evaluation

scores = hnp.arrays(
  np.float64,
  st.tuples(st.integers(1, 12), st.integers(1, 4)),
  elements=st.floats(0, 1, allow_nan=False, width=32),
)


@settings(max_examples=50, deadline=None)
@given(scores)
def test_median_iqr_matches_numpy_scipy(x):
  med, iqr = evaluation.median_iqr(x, axis=0)
  np.testing.assert_allclose(med, np.median(x, axis=0), atol=1e-6)
  np.testing.assert_allclose(iqr, sps.iqr(x, axis=0), atol=1e-6)


@settings(max_examples=50, deadline=None)
@given(scores)
def test_mean_std_matches_numpy(x):
  if x.shape[0] < 2:
    with pytest.raises(ValueError, match='ddof'):
      evaluation.mean_std(x)
    return
  mean, std = evaluation.mean_std(x, axis=0)
  np.testing.assert_allclose(mean, x.mean(0), atol=1e-6)
  np.testing.assert_allclose(std, x.std(0, ddof=1), atol=1e-6)
  _, std0 = evaluation.mean_std(x, axis=0, ddof=0)
  np.testing.assert_allclose(std0, x.std(0), atol=1e-6)


def test_semg_ten_seed_example_by_hand():
  # 10 seeds: sorted 1..10 -> median 5.5, Q1 = 3.25, Q3 = 7.75 (linear).
  x = np.arange(10, 0, -1).astype(float)
  med, iqr = evaluation.median_iqr(x)
  assert float(med) == 5.5
  assert float(iqr) == pytest.approx(4.5)
  q = evaluation.quartiles(x)
  assert (float(q.q1), float(q.q3)) == pytest.approx((3.25, 7.75))


def test_summaries_vmap_over_methods():
  x = np.random.default_rng(0).random((3, 10))
  med, iqr = jax.vmap(lambda r: evaluation.median_iqr(r))(x)
  np.testing.assert_allclose(med, np.median(x, axis=1), atol=1e-6)
  np.testing.assert_allclose(iqr, sps.iqr(x, axis=1), atol=1e-6)


def test_summaries_reject_bad_input():
  with pytest.raises(ValueError, match='empty'):
    evaluation.median_iqr(np.zeros((0,)))
  with pytest.raises(ValueError, match='NaN'):
    evaluation.median_iqr(np.array([0.1, np.nan]))
  with pytest.raises(ValueError, match='axis'):
    evaluation.mean_std(np.ones(3), axis=1)


def test_wilcoxon_ranksum_matches_scipy_and_detects_shift():
  rng = np.random.default_rng(0)
  x = rng.normal(0.85, 0.05, 300)
  y = rng.normal(0.80, 0.05, 200)
  res = evaluation.wilcoxon_ranksum(x, y)
  ref = sps.ranksums(x, y)
  assert res.statistic == pytest.approx(ref.statistic)
  assert res.pvalue == pytest.approx(ref.pvalue)
  assert res.pvalue < 1e-4 and (res.n_x, res.n_y) == (300, 200)
  greater = evaluation.wilcoxon_ranksum(x, y, alternative='greater')
  assert greater.pvalue == pytest.approx(res.pvalue / 2)


def test_wilcoxon_ranksum_bad_input():
  with pytest.raises(ValueError, match='empty'):
    evaluation.wilcoxon_ranksum([], [1.0])
  with pytest.raises(ValueError, match='NaN'):
    evaluation.wilcoxon_ranksum([1.0, np.inf], [1.0])
  with pytest.raises(ValueError, match='alternative'):
    evaluation.wilcoxon_ranksum([1.0], [1.0], alternative='bigger')
