"""harAGE preprocessing (paper 4.1) against scipy / numpy and hand-computed cases."""

import numpy as np
import pytest
import scipy.ndimage

from signals.har import transforms as har


@pytest.mark.parametrize('n', [1, 3, 4, 9, 37, 500])
@pytest.mark.parametrize('sigma', [1.0, 2.5])
def test_gaussian_filter_matches_scipy_reflect(n, sigma):
  x = np.random.default_rng(n).normal(size=(n, 3)).astype(np.float64)
  ours = np.asarray(har.gaussian_filter1d(x, sigma))
  ref = scipy.ndimage.gaussian_filter1d(x, sigma, axis=0, mode='reflect', truncate=4.0)
  np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_gaussian_filter_1d_input_and_not_constant_mode():
  x = np.arange(10.0)
  ours = np.asarray(har.gaussian_filter1d(x))
  np.testing.assert_allclose(ours, scipy.ndimage.gaussian_filter1d(x, 1.0), atol=1e-5)
  # 'constant' (zero) padding would pull the edges down: the mode matters.
  assert np.abs(ours - scipy.ndimage.gaussian_filter1d(x, 1.0, mode='constant')).max() > 0.1


def test_gaussian_filter_rejects_bad_input():
  with pytest.raises(ValueError, match='sigma'):
    har.gaussian_filter1d(np.ones(5), sigma=0.0)
  with pytest.raises(ValueError, match='shape'):
    har.gaussian_filter1d(np.ones((0, 3)))


def test_derivatives_match_numpy_diff_with_prepend():
  x = np.random.default_rng(0).normal(size=(50, 3))
  d1, d2 = har.derivatives(x)
  np.testing.assert_allclose(d1, np.diff(x, axis=0, prepend=x[:1]))
  np.testing.assert_allclose(d2, np.diff(d1, axis=0, prepend=d1[:1]))
  j1, j2 = har.derivatives(__import__('jax').numpy.asarray(x, 'float32'))
  np.testing.assert_allclose(np.asarray(j2), d2, atol=1e-5)


def test_steps_features_hand_computed():
  steps = np.array([100, 100, 102, 105, 105], dtype=float)
  out = har.preprocess_steps(steps)
  np.testing.assert_allclose(out[:, 0], [0, 0, 2, 3, 0])
  np.testing.assert_allclose(out[:, 1], [0, 0, 2, 1, -3])


def test_steps_large_counts_keep_unit_differences():
  steps = 86_000.0 + np.arange(6.0)  # float32 has ~0.008 resolution here
  np.testing.assert_array_equal(har.preprocess_steps(steps)[1:, 0], 1.0)


def test_heart_rate_features_hand_computed():
  hr = np.array([70.0, 72.0, 80.0])
  out = har.preprocess_heart_rate(hr, baseline=70.0)
  np.testing.assert_allclose(out[:, 0], [0, 2 / 220, 10 / 220], rtol=1e-6)
  np.testing.assert_allclose(out[:, 1], [0, 2, 8])
  np.testing.assert_allclose(out[:, 2], [0, 2, 6])


def test_resting_baseline_is_median_and_missing_rest_raises():
  assert har.resting_baseline([60, 200, 61, 62]) == 61.5
  with pytest.raises(ValueError, match='no resting'):
    har.resting_baseline([])


def test_accelerometer_features_against_scipy_pipeline():
  rng = np.random.default_rng(1)
  acc = rng.normal(size=(120, 3)) + [0.0, 9.8, 1.0]
  med = har.accelerometer_median([acc[:60], acc[60:]])
  np.testing.assert_allclose(med, np.median(acc, axis=0))
  out = har.preprocess_accelerometer(acc, med)
  smooth = scipy.ndimage.gaussian_filter1d(acc - med, 1.0, axis=0)
  d1 = np.diff(smooth, axis=0, prepend=smooth[:1])
  d2 = np.diff(d1, axis=0, prepend=d1[:1])
  np.testing.assert_allclose(out, np.concatenate([smooth, d1, d2], axis=1), atol=1e-5)


def test_accelerometer_rejects_nan_and_bad_median():
  with pytest.raises(ValueError, match='NaN'):
    har.preprocess_accelerometer(np.full((5, 3), np.nan), np.zeros(3))
  with pytest.raises(ValueError, match='median shape'):
    har.preprocess_accelerometer(np.ones((5, 3)), np.zeros(2))


def test_heartpy_ppg_gives_plausible_heart_rate_features():
  from signals.har import data as har_data

  t, hr = har_data.heartpy_heart_rate(1)
  assert np.all(np.diff(t) == 1.0) and t.size > 60
  assert 40 < np.median(hr) < 120
  base = har.resting_baseline(hr[:30])  # the first 30 s as the resting phase
  out = har.preprocess_heart_rate(hr, base)
  np.testing.assert_allclose(out[:, 0], (hr - np.median(hr[:30])) / 220.0, atol=1e-6)
  np.testing.assert_allclose(out[:, 1], np.diff(hr, prepend=hr[:1]), atol=1e-4)
  windows, excluded = har.window_starts({'hr': t}, {'hr': 1.0}, 20.0)
  assert excluded == 0 and len(windows) == t.size // 20


# ------------------------------------------------------ trimming, windows


def test_timestamps_unsorted_or_duplicated_raise():
  with pytest.raises(ValueError, match='duplicated at index 2'):
    har.check_timestamps([0.0, 1.0, 1.0, 2.0])
  with pytest.raises(ValueError, match='not sorted'):
    har.check_timestamps([0.0, 2.0, 1.0])


def test_trim_segments_hand_computed():
  # 25 s, a 3 s gap, 19 s (too short), a 2 s gap, 20 s exactly.
  t = np.concatenate([np.arange(25.0), 28 + np.arange(19.0), 49 + np.arange(20.0)])
  assert har.continuous_runs(t, 1.0) == [(0, 25), (25, 44), (44, 64)]
  assert har.trim_segments(t, 1.0) == [(0, 25), (44, 64)]


def test_windows_overlap_and_counts_hand_computed():
  # 60 s of 1 Hz and 25 Hz samples: with hop 10 s the windows start at
  # 0, 10, 20, 30, 40 (5 windows); with hop 20 s at 0, 20, 40 (3 windows).
  streams = {'hr': np.arange(60.0), 'acc': np.arange(60 * 25) / 25.0}
  rates = {'hr': 1.0, 'acc': 25.0}
  train, ex = har.window_starts(streams, rates, 10.0)
  assert [w.start for w in train] == [0, 10, 20, 30, 40] and ex == 0
  test, _ = har.window_starts(streams, rates, 20.0)
  assert [w.start for w in test] == [0, 20, 40]
  assert train[1].slices == {'hr': (0, 10), 'acc': (0, 250)}


def test_windows_skip_a_gap_in_one_modality():
  # The accelerometer loses 12.0 s to 14.0 s: no window may cover the gap, and
  # windows restart after it on the common continuous part.
  hr_t = np.arange(70.0)
  acc_t = np.arange(70 * 25) / 25.0
  acc_t = acc_t[(acc_t < 12.0) | (acc_t >= 14.0)]
  wins, _ = har.window_starts({'hr': hr_t, 'acc': acc_t}, {'hr': 1.0, 'acc': 25.0}, 10.0)
  assert [w.start for w in wins] == [14, 24, 34, 44]
  for w in wins:
    run, i = w.slices['acc']
    a, b = har.trim_segments(acc_t, 25.0)[run]
    seg = acc_t[a + i : a + i + 500]
    assert seg[0] == w.start and np.allclose(np.diff(seg), 0.04)


def test_windows_missing_modality_gives_no_window():
  wins, ex = har.window_starts(
    {'hr': np.arange(60.0), 'acc': np.arange(10 * 25) / 25.0}, {'hr': 1.0, 'acc': 25.0}, 10.0
  )
  assert wins == []
