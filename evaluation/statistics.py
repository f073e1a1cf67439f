"""Summaries over seeds or folds, and the Wilcoxon rank-sum test.

* sEMG paper (section III): 10 seeds summarised by the median and the
  interquartile range IQR = Q3 - Q1.
* harAGE paper (Tables 2-4): UAR over LOSO folds summarised by mean (mu) and
  standard deviation (sigma).
* Sign-language paper (footnote 2): Wilcoxon rank-sum test of a difference
  between two groups.

Quantiles use linear interpolation between order statistics (NumPy's default
`method='linear'`, Hyndman & Fan type 7). The paper does not name its
quantile method; with 10 seeds other methods can move Q1/Q3 by a fraction of
the gap between neighbouring scores.

`median_iqr`, `quartiles` and `mean_std` are pure jnp and reduce over `axis`,
so they also work under `jax.vmap`/`jax.jit`; input checks (empty, NaN/inf)
run on the host, the value checks only on concrete inputs, and each function
then runs one jitted program per shape, axis (and ddof).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats as sps

from evaluation import checks as _checks


class MedianIQR(NamedTuple):
  median: jax.Array
  iqr: jax.Array


class Quartiles(NamedTuple):
  q1: jax.Array
  median: jax.Array
  q3: jax.Array


class MeanStd(NamedTuple):
  mean: jax.Array
  std: jax.Array


class RankSumResult(NamedTuple):
  statistic: float  # standard-normal z of the rank sum of x
  pvalue: float
  n_x: int
  n_y: int


def _check_scores(scores, axis):
  """Host checks shared by the summaries; returns (array, axis >= 0)."""
  x = _checks.as_array(scores)
  if isinstance(axis, bool) or not isinstance(axis, int) or not -x.ndim <= axis < x.ndim:
    raise ValueError(f'axis {axis!r} out of range for shape {tuple(x.shape)}.')
  _checks.check_finite_scores(x)
  return x, axis % x.ndim


def _quartiles(x, axis):
  x = jnp.asarray(x, dtype=jnp.float32)
  q = jnp.percentile(x, jnp.array([25.0, 50.0, 75.0]), axis=axis, method='linear')
  return Quartiles(q[0], q[1], q[2])


_quartiles_jit = jax.jit(_quartiles, static_argnames=('axis',))


@functools.partial(jax.jit, static_argnames=('axis',))
def _median_iqr(x, axis):
  q = _quartiles(x, axis)
  return MedianIQR(q.median, q.q3 - q.q1)


@functools.partial(jax.jit, static_argnames=('axis', 'ddof'))
def _mean_std(x, axis, ddof):
  x = jnp.asarray(x, dtype=jnp.float32)
  return MeanStd(jnp.mean(x, axis=axis), jnp.std(x, axis=axis, ddof=ddof))


def quartiles(scores, axis: int = 0) -> Quartiles:
  """First quartile, median and third quartile along `axis`.

  Args:
    scores: [..., n, ...] float scores, n seeds/folds along `axis`.
    axis: the axis holding seeds or folds.

  Returns:
    Quartiles(q1, median, q3), each with `axis` removed.
  """
  x, axis = _check_scores(scores, axis)
  return _quartiles_jit(x, axis=axis)


def median_iqr(scores, axis: int = 0) -> MedianIQR:
  """Median and IQR = Q3 - Q1 along `axis` (sEMG paper, section III).

  Args:
    scores: [..., n, ...] float scores over seeds (or folds) on `axis`.
    axis: the seed/fold axis.

  Returns:
    MedianIQR(median, iqr) with `axis` removed; equals
    `np.median(x, axis)` and `scipy.stats.iqr(x, axis)`.
  """
  x, axis = _check_scores(scores, axis)
  return _median_iqr(x, axis=axis)


def mean_std(scores, axis: int = 0, ddof: int = 1) -> MeanStd:
  """Mean and standard deviation along `axis` (harAGE paper, Tables 2-4).

  Args:
    scores: [..., n, ...] float scores over folds or seeds on `axis`.
    axis: the fold/seed axis.
    ddof: delta degrees of freedom; 1 (default) is the sample standard
      deviation, 0 the population one. The paper does not say which it used.

  Returns:
    MeanStd(mean, std) with `axis` removed.
  """
  x, axis = _check_scores(scores, axis)
  ddof = _checks.check_int('ddof', ddof, low=0)
  if x.shape[axis] - ddof <= 0:
    raise ValueError(
      f'std with ddof={ddof} needs more than {ddof} scores along axis {axis}, got {x.shape[axis]}.'
    )
  return _mean_std(x, axis=axis, ddof=ddof)


def wilcoxon_ranksum(x, y, alternative: str = 'two-sided') -> RankSumResult:
  """Wilcoxon rank-sum test of two independent samples (scipy.stats.ranksums).

  As in the sign-language paper (footnote 2), e.g. x = per-sample fraction of
  frames with a detected hand for correct predictions, y = for incorrect ones.
  This is the large-sample normal approximation without tie correction (what
  `scipy.stats.ranksums` computes); for small samples or many ties use
  `scipy.stats.mannwhitneyu`, which is the same test with exact/tie-corrected
  p-values.

  Args:
    x: [n_x] float first sample.
    y: [n_y] float second sample.
    alternative: 'two-sided', 'less' or 'greater' (x relative to y).

  Returns:
    RankSumResult(statistic, pvalue, n_x, n_y).
  """
  if alternative not in ('two-sided', 'less', 'greater'):
    raise ValueError(f'unknown alternative {alternative!r}.')
  arrays = []
  for name, a in (('x', x), ('y', y)):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 1:
      raise ValueError(f'{name} must be 1-D, got shape {a.shape}.')
    _checks.check_finite_scores(a, name)
    arrays.append(a)
  res = sps.ranksums(arrays[0], arrays[1], alternative=alternative)
  return RankSumResult(float(res.statistic), float(res.pvalue), len(arrays[0]), len(arrays[1]))
