"""evaluation.checks: the one set of host-side checks every package uses."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evaluation import checks


def test_check_int_accepts_ints_and_names_the_problem():
  assert checks.check_int('n', np.int64(3)) == 3
  assert checks.check_int('n', 0, low=0) == 0
  with pytest.raises(ValueError, match='n must be a positive Python int, got 2.0'):
    checks.check_int('n', 2.0)
  with pytest.raises(ValueError, match='n must be a Python int'):
    checks.check_int('n', True, low=0)
  with pytest.raises(ValueError, match=r'n must be >= 1, got 0'):
    checks.check_int('n', 0)
  with pytest.raises(ValueError, match=r'n must be in \[1, 3\], got 4'):
    checks.check_int('n', 4, high=3)
  with pytest.raises(ValueError, match='static Python int, got a traced value'):
    jax.jit(lambda k: checks.check_int('n', k))(3)


def test_check_array_shapes_dtypes_and_values():
  x = checks.check_array('x', [[1.0, 2.0]], ndim=2)
  assert isinstance(x, np.ndarray) and x.shape == (1, 2)
  with pytest.raises(ValueError, match=r'x must have 1 dimension\(s\) \(1-D\), got shape \(1, 2\)'):
    checks.check_array('x', x, ndim=1)
  with pytest.raises(ValueError, match='at least 3 dimension'):
    checks.check_array('x', x, min_ndim=3)
  with pytest.raises(ValueError, match='x is empty'):
    checks.check_array('x', np.zeros((0, 3)))
  with pytest.raises(ValueError, match='floating-point'):
    checks.check_array('x', np.ones(3, np.int16), kind='float')
  bad = np.ones((4, 5), np.float32)
  bad[1, 2], bad[3, 0] = np.nan, -np.inf
  with pytest.raises(ValueError, match='x contains 2 NaN or inf value.* Clean it.'):
    checks.check_array('x', bad, hint='Clean it.')
  with pytest.raises(ValueError, match='contains 2 NaN'):
    checks.check_array('x', jnp.asarray(bad))
  # Under a trace only static checks run: values are unknown.
  assert jax.jit(lambda a: checks.check_array('x', a, ndim=2).sum())(bad).shape == ()


def test_count_nonfinite_and_as_array():
  a = np.array([1.0, np.nan, np.inf, -np.inf, 0.0])
  assert checks.count_nonfinite(a) == 3
  assert checks.count_nonfinite(jnp.asarray(a, jnp.float32)) == 3
  assert checks.count_nonfinite(np.arange(4)) == 0
  assert checks.as_array(a) is a
  assert isinstance(checks.as_array([1, 2]), np.ndarray)


def test_labels_floats_and_confusion():
  np.testing.assert_array_equal(checks.check_labels('y', [0, 2, 1], 3), [0, 2, 1])
  with pytest.raises(ValueError, match='integer class ids'):
    checks.check_labels('y', [0.0, 1.0])
  np.testing.assert_array_equal(checks.check_labels('y', [0.0, 1.0], whole_floats=True), [0, 1])
  with pytest.raises(ValueError, match='integer class ids'):
    checks.check_labels('y', [0.5, 1.0], whole_floats=True)
  with pytest.raises(ValueError, match=r'must lie in \[0, 3\), got \[-1, 3\] \(negative'):
    checks.check_labels('y', [0, -1, 3], 3)
  assert checks.check_finite_float('b', np.float64(2.5)) == 2.5
  with pytest.raises(ValueError, match='b must be finite'):
    checks.check_finite_float('b', float('nan'))
  checks.check_confusion(np.zeros((2, 2)), allow_empty=True)
  with pytest.raises(ValueError, match='all zeros'):
    checks.check_confusion(np.zeros((2, 2)))
  with pytest.raises(ValueError, match='NaN or inf'):
    checks.check_confusion(np.array([[1.0, np.nan], [0.0, 1.0]]))
