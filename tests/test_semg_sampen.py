"""signals.sampen against antropy, nolds, EntropyHub, neurokit2 and a naive loop."""

import warnings

import antropy
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import signals
from signals.semg.real_data import emgflow_recordings
from signals.semg.real_data import finite_segments
from signals.semg.real_data import openhdemg_recording

try:
  from jax import enable_x64
except ImportError:  # jax < 0.8
  from jax.experimental import enable_x64


def naive_sampen_counts(x, m, tol, strict=True, templates='n-m'):
  """Unordered matching template pairs (A, B), written as plain loops."""
  n = len(x)
  t_b = n - m + (1 if templates == 'n-m+1' else 0)
  t_a = n - m
  close = (lambda d: d < tol) if strict else (lambda d: d <= tol)
  a = b = 0
  for i in range(t_b):
    for j in range(i + 1, t_b):
      if close(np.max(np.abs(x[i : i + m] - x[j : j + m]))):
        b += 1
        if i < t_a and j < t_a and close(np.max(np.abs(x[i : i + m + 1] - x[j : j + m + 1]))):
          a += 1
  return a, b


def assert_same_entropy(ours, ref, atol):
  ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
  np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
  np.testing.assert_array_equal(np.isposinf(ours), np.isposinf(ref))
  ok = np.isfinite(ref)
  np.testing.assert_allclose(ours[ok], ref[ok], rtol=0, atol=atol)


def np_frames(x, size=128, hop=32):
  """[channels, time] float64 -> [frames, size], framed in NumPy (keeps float64)."""
  return np.lib.stride_tricks.sliding_window_view(x, size, axis=-1)[:, ::hop].reshape(-1, size)


def real_emg_frames(max_frames=600):
  """float64 frames of 128 samples from the emgflow and openhdemg recordings."""
  frames = []
  for rec in emgflow_recordings():
    for seg in finite_segments(rec, 4000):
      frames.append(np_frames(seg[:, :4000]))
  hd, _ = openhdemg_recording()
  frames.append(np_frames(hd[:8, 20000:24000]))
  frames = np.concatenate(frames)
  return frames[np.random.default_rng(0).permutation(len(frames))[:max_frames]]


@pytest.fixture(scope='module')
def emg_frames():
  return real_emg_frames()


@pytest.mark.parametrize('length', [40, 128, 131, 200])
def test_equals_antropy_on_random_signals_float64(length):
  x = np.random.default_rng(length).standard_normal((24, length))
  with enable_x64():
    ours = signals.sampen(jnp.asarray(x), 2, 0.2, relative=False, undefined='library')
    ours_rel = signals.sampen(jnp.asarray(x), 2, 0.2, undefined='library')
  ref = [antropy.sample_entropy(row, 2, tolerance=0.2) for row in x]
  ref_rel = [antropy.sample_entropy(row, 2) for row in x]  # 0.2 std, ddof 0
  assert_same_entropy(ours, ref, 1e-6)
  assert_same_entropy(ours_rel, ref_rel, 1e-6)


def test_equals_antropy_on_real_emg(emg_frames):
  tol = 0.25 * emg_frames.std(axis=1)
  ref = [antropy.sample_entropy(f, 2, tolerance=float(t)) for f, t in zip(emg_frames, tol)]
  with enable_x64():
    ours64 = signals.sampen(jnp.asarray(emg_frames), 2, 0.25, undefined='library')
  assert_same_entropy(ours64, ref, 1e-6)
  # The float32 path (the default dtype) agrees too on these frames.
  ours32 = signals.sampen(jnp.asarray(emg_frames, jnp.float32), 2, 0.25, undefined='library')
  assert_same_entropy(ours32, ref, 1e-5)


@pytest.mark.parametrize('m', [1, 3])
def test_equals_antropy_other_orders(m, emg_frames):
  frames = emg_frames[:40]
  ref = [antropy.sample_entropy(f, m, tolerance=float(0.2 * np.std(f))) for f in frames]
  with enable_x64():
    ours = signals.sampen(jnp.asarray(frames), m, 0.2, undefined='library')
  assert_same_entropy(ours, ref, 1e-6)


@pytest.mark.parametrize(
  'm,strict,templates,length',
  [
    (1, True, 'n-m', 33),
    (2, True, 'n-m+1', 64),
    (2, False, 'n-m', 70),
    (3, False, 'n-m+1', 97),
    (2, True, 'n-m', 128),
  ],
)
def test_counts_equal_naive_loop(m, strict, templates, length):
  rng = np.random.default_rng(length)
  # Quantized values make exact ties with the tolerance, where < and <= differ.
  x = np.round(rng.standard_normal((3, length)) * 4) / 4
  tol = np.full(3, 0.5)
  with enable_x64():
    a, b = signals.semg.sampen_counts(jnp.asarray(x), jnp.asarray(tol), m, strict, templates)
  for row, ai, bi in zip(x, np.asarray(a), np.asarray(b)):
    assert (ai, bi) == naive_sampen_counts(row, m, 0.5, strict, templates)


def test_settings_reproduce_nolds_entropyhub_neurokit2():
  pytest.importorskip('nolds')
  EH = pytest.importorskip('EntropyHub')
  nk = pytest.importorskip('neurokit2')
  import nolds

  rng = np.random.default_rng(7)
  # Quantized like ADC samples, so ties at the tolerance occur and strict matters.
  x = np.round(rng.standard_normal((4, 150)) * 8) / 8
  tol = 0.25
  with enable_x64(), warnings.catch_warnings():
    warnings.simplefilter('ignore')
    xs = jnp.asarray(x)
    strict = signals.sampen(xs, 2, tol, relative=False, undefined='library')
    closed = signals.sampen(xs, 2, tol, relative=False, strict=False, undefined='library')
    nk_default = signals.sampen(xs, 2, 0.2, ddof=1, strict=False, undefined='library')
    assert_same_entropy(strict, [nolds.sampen(r, 2, tolerance=tol) for r in x], 1e-6)
    assert_same_entropy(closed, [EH.SampEn(r, m=2, r=tol)[0][-1] for r in x], 1e-6)
    assert_same_entropy(closed, [nk.entropy_sample(r, tolerance=tol)[0] for r in x], 1e-6)
    assert_same_entropy(nk_default, [nk.entropy_sample(r)[0] for r in x], 1e-6)
  # The conventions really differ on this data.
  assert not np.allclose(strict, closed)


def test_undefined_policies_for_constant_and_unmatched_frames():
  flat = jnp.zeros((2, 128))
  n_pairs = 126 * 125 / 2
  np.testing.assert_allclose(signals.sampen(flat), np.log(n_pairs), rtol=1e-6)
  assert np.all(np.isnan(signals.sampen(flat, undefined='nan')))
  assert np.all(np.isnan(signals.sampen(flat, undefined='library')))
  assert np.isnan(antropy.sample_entropy(np.zeros(128), 2))
  # A = 0 < B: the 2-templates (0, 0) at 0 and 3 match, their 3-templates do not.
  ramp = jnp.asarray([[0, 0, 5, 0, 0, 9, 20, 30, 40, 50]], jnp.float32)
  a, b = signals.semg.sampen_counts(ramp, jnp.asarray([0.5]), 2)
  assert (int(a[0]), int(b[0])) == (0, 1) == naive_sampen_counts(np.asarray(ramp[0]), 2, 0.5)
  assert np.isposinf(signals.sampen(ramp, 2, 0.5, relative=False, undefined='library'))[0]
  assert np.isfinite(signals.sampen(ramp, 2, 0.5, relative=False))[0]


def test_batched_jit_and_vmap_agree():
  x = jax.random.normal(jax.random.key(0), (3, 2, 5, 128))
  batched = signals.sampen(x)
  assert batched.shape == (3, 2, 5)
  jitted = jax.jit(signals.sampen)(x)
  vmapped = jax.vmap(jax.vmap(signals.sampen))(x)
  np.testing.assert_allclose(jitted, batched, rtol=1e-6)
  np.testing.assert_allclose(vmapped, batched, rtol=1e-6)
  single = signals.sampen(x[1, 0, 2])
  np.testing.assert_allclose(single, batched[1, 0, 2], rtol=1e-6)


@pytest.mark.parametrize(
  'bad,match',
  [
    (np.ones((4, 128), np.int32), 'floating-point'),
    (np.ones((4, 3), np.float32), 'shorter than'),
    (np.float32(1.0), 'at least 1 dimension'),
  ],
)
def test_bad_input_errors(bad, match):
  with pytest.raises(ValueError, match=match):
    signals.sampen(bad)


def test_nan_and_option_errors():
  x = np.random.default_rng(0).standard_normal((2, 128))
  x[1, 5] = np.nan
  with pytest.raises(ValueError, match='NaN or inf'):
    signals.sampen(x)
  x[1, 5] = np.inf
  with pytest.raises(ValueError, match='NaN or inf'):
    signals.sampen(x)
  good = np.ones((2, 128), np.float32)
  with pytest.raises(ValueError, match='templates'):
    signals.sampen(good, templates='all')
  with pytest.raises(ValueError, match='undefined'):
    signals.sampen(good, undefined='zero')
  with pytest.raises(ValueError, match='m must be'):
    signals.sampen(good, m=0)
  with pytest.raises(ValueError, match='absolute tolerance'):
    signals.sampen(good, r=-1.0, relative=False)
