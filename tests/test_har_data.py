"""harAGE data: JSON loader, synthetic generator, windowing, tasks, BasicMotions."""

import json

import jax
import numpy as np
import pytest

from signals.har import data as hd
from signals.har.synthetic import synthetic_harage


@pytest.fixture(scope='module')
def tiny():
  return synthetic_harage(
    jax.random.key(0), n_participants=2, block_seconds=40.0, rest_seconds=20.0, gaps_per_minute=0.0
  )


def test_synthetic_is_deterministic_and_follows_protocol(tiny):
  again = synthetic_harage(
    jax.random.key(0), n_participants=2, block_seconds=40.0, rest_seconds=20.0, gaps_per_minute=0.0
  )
  np.testing.assert_array_equal(
    tiny[1].blocks[5].streams['acc'].values, again[1].blocks[5].streams['acc'].values
  )
  other = synthetic_harage(
    jax.random.key(1), n_participants=2, block_seconds=40.0, rest_seconds=20.0, gaps_per_minute=0.0
  )
  assert not np.array_equal(
    tiny[0].blocks[5].streams['hr'].values, other[0].blocks[5].streams['hr'].values
  )
  acts = {b.activity for b in tiny[0].blocks}
  assert acts == set(hd.ACTIVITIES) | {hd.RESTING}
  acc = tiny[0].blocks[0].streams['acc']
  assert acc.values.shape == (20 * 25, 3) and np.allclose(np.diff(acc.t), 0.04)


def test_synthetic_gaps_are_dropped_samples():
  p = synthetic_harage(
    jax.random.key(2), n_participants=1, block_seconds=60.0, rest_seconds=20.0, gaps_per_minute=3.0
  )[0]
  lost = sum(60 * 25 - b.streams['acc'].t.size for b in p.blocks[1:])
  assert lost > 0


def test_windows_shapes_overlap_and_tasks(tiny):
  data, stats = hd.windows_from_participants(tiny)
  n = data.labels.shape[0]
  assert data.inputs['steps'].shape == (n, 20, 2)
  assert data.inputs['hr'].shape == (n, 20, 3)
  assert data.inputs['acc'].shape == (n, 500, 9)
  # A gap-free 40 s block gives 3 training windows (0, 10, 20) and 2 test
  # windows (0, 20); 18 non-resting blocks per participant.
  assert stats.n_train_windows == 2 * 18 * 3 and stats.n_test_windows == 2 * 18 * 2
  assert np.all(data.train_window | data.test_window)
  t2 = hd.select_task(data, 2)
  assert set(np.unique(t2.labels)) == {0, 1}
  # washing hands and the two workouts dropped: 3 blocks x 3 windows x 2.
  assert t2.labels.size == n - 3 * 3 * 2
  t7 = hd.select_task(data, 7)
  assert t7.class_names[6] == 'cycling' and t7.labels.max() == 6
  with pytest.raises(ValueError, match='task'):
    hd.select_task(data, 3)


def test_json_roundtrip_and_loader_errors(tiny, tmp_path):
  for p in tiny:
    (tmp_path / f'{p.pid}.json').write_text(json.dumps(hd.participant_to_json(p)))
  loaded = hd.load_participants(tmp_path)
  assert [p.pid for p in loaded] == ['S00', 'S01']
  a, _ = hd.windows_from_participants(tiny)
  b, _ = hd.windows_from_participants(loaded)
  np.testing.assert_allclose(a.inputs['acc'], b.inputs['acc'], atol=1e-6)
  with pytest.raises(ValueError, match='does not exist'):
    hd.load_participants(tmp_path / 'nope')
  doc = hd.participant_to_json(tiny[0])
  doc['messages'][2]['hr']['timestamps'][5] = doc['messages'][2]['hr']['timestamps'][4]
  with pytest.raises(ValueError, match='duplicated'):
    hd.participant_from_json(doc)
  doc = hd.participant_to_json(tiny[0])
  doc['messages'][1]['activity'] = 'dancing'
  with pytest.raises(ValueError, match='unknown activity'):
    hd.participant_from_json(doc)


def test_split_messages_are_joined(tiny):
  doc = hd.participant_to_json(tiny[0])
  msg = doc['messages'][1]
  half = {
    k: (v if not isinstance(v, dict) else {kk: vv[:10] for kk, vv in v.items()})
    for k, v in msg.items()
  }
  rest = {
    k: (v if not isinstance(v, dict) else {kk: vv[10:] for kk, vv in v.items()})
    for k, v in msg.items()
  }
  doc['messages'][1:2] = [half, rest]
  p = hd.participant_from_json(doc)
  assert len(p.blocks) == len(tiny[0].blocks)
  np.testing.assert_array_equal(p.blocks[1].streams['hr'].t, tiny[0].blocks[1].streams['hr'].t)


def test_missing_rest_raises_or_excludes(tiny):
  no_rest = hd.Participant('X', tuple(b for b in tiny[0].blocks if b.activity != hd.RESTING))
  with pytest.raises(ValueError, match='participant X: no resting'):
    hd.windows_from_participants([no_rest, tiny[1]])
  data, stats = hd.windows_from_participants([no_rest, tiny[1]], missing_rest='exclude')
  assert stats.excluded_participants == ['X'] and data.subject_names == ('S01',)


def test_block_without_a_modality_is_excluded(tiny):
  b = tiny[0].blocks[3]
  blocks = list(tiny[0].blocks)
  blocks[3] = hd.Block(b.activity, b.intensity, {m: s for m, s in b.streams.items() if m != 'acc'})
  data, stats = hd.windows_from_participants([hd.Participant('Y', tuple(blocks))])
  full, _ = hd.windows_from_participants([tiny[0]])
  assert data.labels.size == full.labels.size - 3 and stats.n_excluded_windows == 1
  assert hd.ACTIVITIES.index(b.activity) not in data.labels


def test_basicmotions_loads_offline_with_pseudo_participants():
  data = hd.load_basicmotions(n_groups=10)
  assert data.inputs['acc'].shape == (80, 100, 9) and data.inputs['gyro'].shape == (80, 100, 9)
  assert set(data.class_names) == {'standing', 'running', 'walking', 'badminton'}
  # Every pseudo-participant holds 2 recordings of each activity.
  for g in range(10):
    assert np.bincount(data.labels[data.subjects == g], minlength=4).tolist() == [2, 2, 2, 2]
  assert np.all(np.isfinite(data.inputs['gyro']))


# ------------------------------------------- physiology of the generator


@pytest.fixture(scope='module')
def four():
  return synthetic_harage(jax.random.key(3), 4, 60.0, 60.0, gaps_per_minute=0.0)


def _blocks(parts, activity):
  return [(p, b) for p in parts for b in p.blocks if b.activity == activity]


def _cadence(b):
  s = b.streams['steps']
  return 60.0 * (s.values[-1] - s.values[0]) / (s.t[-1] - s.t[0])  # steps/min


def test_cadence_per_activity_and_intensity(four):
  for activity, lo, hi in (('walking', 70, 140), ('running', 115, 195), ('stairs', 60, 130)):
    for p, b in _blocks(four, activity):
      assert lo <= _cadence(b) <= hi, (p.pid, activity, b.intensity, _cadence(b))
  for p in four:  # a faster intensity is a faster cadence, for every participant
    walk = [_cadence(b) for _, b in _blocks([p], 'walking')]
    assert walk == sorted(walk), walk
  for activity in ('lying', 'sitting', 'flexibility_workout', 'cycling'):
    assert all(_cadence(b) < 8 for _, b in _blocks(four, activity))
  # Participants differ (personal cadence and reading of 'moderate').
  moderate = [_cadence(b) for _, b in _blocks(four, 'walking') if b.intensity == 'moderate']
  assert np.std(moderate) > 2.0


def test_heart_rate_rises_with_a_lag_and_recovers(four):
  rest = [np.median(b.streams['hr'].values) for _, b in _blocks(four, hd.RESTING)]
  assert 50 <= min(rest) and max(rest) <= 95 and np.std(rest) > 2.0  # personal baselines
  for p in four:
    hr = {(b.activity, b.intensity): b.streams['hr'].values for b in p.blocks}
    run = hr[('running', 'high')]
    # Steady state grows with the effort: running > walking > sitting.
    ends = [
      hr[k][-10:].mean() for k in (('sitting', None), ('walking', 'high'), ('running', 'high'))
    ]
    assert ends == sorted(ends) and ends[2] - ends[0] > 30, ends
    # On-kinetics: the first seconds of running are still near the previous level.
    assert run[-10:].mean() - run[:5].mean() > 8
    # Recovery lag: the slow stairs after high running start above where they end.
    stairs = hr[('stairs', 'low')]
    assert stairs[:5].mean() > stairs[-10:].mean() + 5
    assert np.all((hr[('running', 'high')] > 60) & (hr[('running', 'high')] < 215))


def test_accelerometer_magnitude_and_spectrum(four):
  def mag_sd(activity):
    return np.median(
      [
        np.linalg.norm(b.streams['acc'].values, axis=1).std() / 9.81
        for _, b in _blocks(four, activity)
      ]
    )

  for _, b in _blocks(four, 'sitting'):  # a still wrist reads 1 g
    assert abs(np.linalg.norm(b.streams['acc'].values, axis=1).mean() / 9.81 - 1.0) < 0.05
  assert mag_sd('sitting') < 0.05 < mag_sd('walking') < mag_sd('running')
  assert mag_sd('cycling') < mag_sd('walking')  # hands rest on the handlebar
  # Arm swing: the swing axis oscillates at the stride frequency, half the
  # step frequency (the pedometer counts 85-93% of the steps).
  for activity in ('walking', 'running'):
    for _, b in _blocks(four, activity):
      z = b.streams['acc'].values[:, 2]
      f = np.fft.rfftfreq(z.size, 1 / 25.0)
      power = np.abs(np.fft.rfft(z - z.mean())) ** 2
      band = (f > 0.3) & (f < 4.0)
      peak = f[band][power[band].argmax()]
      assert 0.45 <= peak / (_cadence(b) / 60.0) <= 0.7


def test_classes_are_additive_in_the_modalities_not_products():
  # The issue suspected the classes were defined by products of modalities
  # (outer-product fusion won by tens of points). A linear model on
  # per-modality window summaries (means and stds, concatenated: no product
  # term) separates the 7 classes well, and better than any modality alone.
  from sklearn.linear_model import LogisticRegression
  from sklearn.pipeline import make_pipeline
  from sklearn.preprocessing import StandardScaler

  parts = synthetic_harage(jax.random.key(0), 3, 40.0, 30.0, gaps_per_minute=0.0)
  t = hd.select_task(hd.windows_from_participants(parts)[0], 7)
  feats = {m: np.concatenate([x.mean(1), x.std(1)], -1) for m, x in t.inputs.items()}
  feats['all'] = np.concatenate(list(feats.values()), -1)
  uar = {}
  for name, x in feats.items():
    recalls = []
    for s in range(3):
      tr, te = (t.subjects != s) & t.train_window, (t.subjects == s) & t.test_window
      clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
      pred = clf.fit(x[tr], t.labels[tr]).predict(x[te])
      recalls.append(np.mean([np.mean(pred[t.labels[te] == c] == c) for c in range(7)]))
    uar[name] = np.mean(recalls)
  assert uar['all'] > 0.75 and uar['all'] > max(uar[m] for m in t.inputs) + 0.05, uar
