"""harAGE bad input: every case that used to give a silent wrong answer or an
obscure error (NaN windows, KeyError, ZeroDivisionError, einsum errors, labels
ignored under jit) now raises a ValueError that names the argument."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fewshot import trainer
from fewshot.models import har as hm
from fewshot.protocols import har as ht
from signals.har import data as hd
from signals.har import transforms as har
from signals.har.synthetic import synthetic_harage

CFG = ht.train_config(batch_size=8, max_epochs=1, patience=1, inner_folds=2, eval_chunk=16)


def test_nan_in_accelerometer_is_named_not_spread_into_every_window():
  acc = np.random.default_rng(0).normal(size=(500, 3))
  acc[10, 0] = np.nan
  # The per-axis median of a stream with one NaN is NaN, which made every
  # window of the participant NaN, even those of clean blocks.
  with pytest.raises(ValueError, match='acc_segments\\[1\\].*NaN'):
    har.accelerometer_median([np.zeros((50, 3)), acc])
  with pytest.raises(ValueError, match='median.*NaN'):
    har.preprocess_accelerometer(np.zeros((50, 3)), np.array([0.0, np.nan, 0.0]))


def test_nan_in_a_participants_accelerometer_names_the_participant():
  p = synthetic_harage(jax.random.key(0), 1, 40.0, 30.0)[0]
  b = p.blocks[5]
  vals = b.streams['acc'].values.copy()
  vals[3, 1] = np.nan
  streams = dict(b.streams, acc=hd.Stream(b.streams['acc'].t, vals))
  blocks = p.blocks[:5] + (hd.Block(b.activity, b.intensity, streams),) + p.blocks[6:]
  with pytest.raises(ValueError, match='participant S00.*NaN'):
    hd.windows_from_participants([hd.Participant(p.pid, blocks)])


def test_millisecond_timestamps_are_rejected_not_windowless():
  t_ms = np.arange(100.0) * 1000.0  # 1 Hz stream stamped in milliseconds
  with pytest.raises(ValueError, match='milliseconds'):
    har.trim_segments(t_ms, 1.0)
  with pytest.raises(ValueError, match='hr timestamps.*milliseconds'):
    har.window_starts({'hr': t_ms, 'steps': t_ms}, har.RATES, 10.0)
  # Real gaps (lost messages) between runs of normal spacing stay gaps.
  t = np.concatenate([np.arange(30.0), 100.0 + np.arange(30.0)])
  assert har.trim_segments(t, 1.0) == [(0, 30), (30, 60)]


@pytest.mark.parametrize('rate', [0.0, -1.0, float('nan'), 'fast'])
def test_sampling_rate_must_be_positive(rate):
  with pytest.raises(ValueError, match='rate'):
    har.trim_segments(np.arange(100.0), rate)
  with pytest.raises(ValueError, match='rate'):
    har.continuous_runs(np.arange(100.0), rate)
  with pytest.raises(ValueError, match="rates\\['hr'\\]"):
    har.window_starts({'hr': np.arange(100.0)}, {'hr': rate}, 10.0)


def test_unknown_modality_names_it_and_the_known_ones():
  with pytest.raises(ValueError, match="'gyro'.*rates"):
    har.window_starts({'gyro': np.arange(100.0)}, har.RATES, 10.0)
  model = ht.make_model(ht.Config(), 'cnn:steps+hr', num_classes=2)
  x = {'steps': jnp.zeros((2, 20, 2))}
  with pytest.raises(ValueError, match="'hr'.*missing"):
    model.init(jax.random.key(0), x, jnp.ones(2, bool), train=False)


def test_baseline_must_be_a_scalar():
  hr = 60.0 + np.arange(30.0)
  with pytest.raises(ValueError, match=r'baseline must be a scalar.*shape \(30,\)'):
    har.preprocess_heart_rate(hr, hr)
  # A 0-d array or a NumPy float is a scalar and is accepted.
  a = har.preprocess_heart_rate(hr, np.asarray(60.0))
  np.testing.assert_allclose(a, har.preprocess_heart_rate(hr, np.float32(60.0)))


def test_shape_mismatches_name_the_inputs():
  with pytest.raises(ValueError, match=r'features\[1\].*\(2, 4\).*\(3, 4\)'):
    hm.outer_fusion([jnp.zeros((3, 4)), jnp.zeros((2, 4))])
  with pytest.raises(ValueError, match=r'features\[1\].*\(2, 4\).*\(3, 4\)'):
    hm.concat_fusion([jnp.zeros((3, 4)), jnp.zeros((2, 4))])
  with pytest.raises(ValueError, match=r'acc_segments\[1\].*\[time, 3\]'):
    har.accelerometer_median([np.zeros((50, 3)), np.zeros((50, 2))])


def test_zero_windows_after_trimming_says_why():
  parts = synthetic_harage(jax.random.key(0), 2, 40.0, 30.0)
  with pytest.raises(ValueError, match='window_seconds=100.*longest continuous'):
    hd.windows_from_participants(parts, window_seconds=100.0)


def _windows():
  return hd.windows_from_participants(synthetic_harage(jax.random.key(0), 3, 40.0, 30.0))[0]


def test_float_and_out_of_range_labels_are_rejected_on_the_host():
  w = _windows()
  with pytest.raises(ValueError, match='labels must hold integer'):
    hd.select_task(w._replace(labels=w.labels.astype(np.float32)), 2)
  with pytest.raises(ValueError, match=r'labels must lie in \[0, 10\)'):
    hd.select_task(w._replace(labels=w.labels + 5), 2)
  # train_folds is public and jitted: out-of-range labels used to train with a
  # zero loss term and to be left out of the UAR without a word.
  t = hd.select_task(w, 2)
  model = ht.make_model(ht.Config(), 'cnn:hr', num_classes=2)
  idx = np.flatnonzero(t.train_window)
  split = trainer.make_split([idx], [np.flatnonzero(t.test_window)])
  keys = jax.random.split(jax.random.key(0), 1)
  for y, msg in ((t.labels + 2, r"data\['y'\] must lie in \[0, 2\)"), (t.labels * 1.0, 'integer')):
    with pytest.raises(ValueError, match=msg):
      ht.train_folds(keys, model, CFG, {'inputs': {'hr': t.inputs['hr']}, 'y': y}, split, 1)
  bad = trainer.make_split([np.append(idx, t.labels.size)], [np.flatnonzero(t.test_window)])
  with pytest.raises(ValueError, match='split.train_idx.*outside'):
    ht.train_folds(keys, model, CFG, {'inputs': {'hr': t.inputs['hr']}, 'y': t.labels}, bad, 1)
