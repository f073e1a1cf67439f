"""frame, savgol, decimate and semg_features against scipy and NumPy."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.signal

import signals
from signals.semg.real_data import emgflow_recordings
from signals.semg.real_data import finite_segments


def test_frame_matches_naive_slicing():
  x = np.random.default_rng(0).standard_normal((2, 3, 1000)).astype(np.float32)
  f = signals.frame(x, 128, 32)
  n = 1 + (1000 - 128) // 32
  chex.assert_shape(f, (2, 3, n, 128))
  for k in (0, 1, n - 1):
    np.testing.assert_array_equal(f[:, :, k], x[..., 32 * k : 32 * k + 128])
  assert signals.frame(np.zeros(8000, np.float32)).shape == (247, 128)
  assert signals.num_frames(8000) == 247


@pytest.mark.parametrize(
  'length,window,order', [(247, 51, 3), (60, 51, 3), (100, 11, 2), (51, 51, 0)]
)
def test_savgol_equals_scipy_interp(length, window, order):
  x = np.random.default_rng(length).standard_normal((3, length)).astype(np.float32)
  ref = scipy.signal.savgol_filter(x.astype(np.float64), window, order, mode='interp')
  np.testing.assert_allclose(signals.savgol(x, window, order), ref, atol=1e-5)


def test_savgol_on_real_emg_sampen():
  seg = finite_segments(emgflow_recordings()[3], 8000)[0][:, :8000].astype(np.float32)
  s = signals.sampen(signals.frame(seg))  # (2, 247)
  ref = scipy.signal.savgol_filter(np.asarray(s, np.float64), 51, 3)
  np.testing.assert_allclose(signals.savgol(s), ref, atol=1e-5)


def test_decimate_keeps_every_factor_th_sample():
  x = jnp.arange(247.0)
  d = signals.decimate(x, 4)
  assert d.shape == (61,)
  np.testing.assert_array_equal(d, np.arange(0, 244, 4))


def test_semg_features_shapes_and_chain():
  x = jax.random.normal(jax.random.key(1), (3, 2, 8000))
  feats = signals.semg_features(x)
  chex.assert_shape(feats, (3, 2, 61))
  chex.assert_tree_all_finite(feats)
  manual = signals.decimate(signals.savgol(signals.sampen(signals.frame(x), 2, 0.25)), 4)
  np.testing.assert_allclose(feats, manual, rtol=1e-6)
  np.testing.assert_allclose(jax.jit(signals.semg_features)(x), feats, rtol=1e-5, atol=1e-6)


def test_semg_features_survives_flat_channel():
  x = np.random.default_rng(0).standard_normal((2, 8000)).astype(np.float32)
  x[1] = 0.0  # a disconnected electrode: every frame constant
  feats = signals.semg_features(x)
  assert np.all(np.isfinite(feats))


@pytest.mark.parametrize(
  'bad,match',
  [
    (np.ones(8000, np.float32), 'at least 2 dimension'),
    (np.ones((2, 100), np.float32), 'shorter than'),
    (np.ones((2, 8000), np.int16), 'floating-point'),
    (np.full((2, 8000), np.nan, np.float32), 'NaN or inf'),
    (np.ones((2, 1500), np.float32), 'fewer than the Savitzky-Golay window'),
  ],
)
def test_semg_features_bad_input(bad, match):
  with pytest.raises(ValueError, match=match):
    signals.semg_features(bad)


def test_savgol_and_frame_option_errors():
  x = np.ones((2, 100), np.float32)
  with pytest.raises(ValueError, match='odd'):
    signals.savgol(x, 10, 3)
  with pytest.raises(ValueError, match='order must be less'):
    signals.savgol(x, 5, 5)
  with pytest.raises(ValueError, match='hop'):
    signals.frame(x, 10, 0)
  with pytest.raises(ValueError, match='factor'):
    signals.decimate(x, 0)
