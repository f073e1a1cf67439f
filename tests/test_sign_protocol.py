"""Lexicon tasks, model inputs, few-shot episodes and the hand-presence analysis (section 5)."""

import dataclasses

import jax
import numpy as np
import pytest
from scipy import stats

import vision
from evaluation import plots
from fewshot import trainer
from fewshot.protocols import sign as protocol


@pytest.fixture(scope='module')
def lexicon():
  return vision.load_fingerspelling_lexicon(max_frames=8)


def test_language_task_holds_out_whole_letters(lexicon):
  task = protocol.language_task(lexicon, num_folds=3, key=jax.random.key(0))
  assert len(task.class_names) == 19 and task.labels.max() == 18
  np.testing.assert_array_equal(np.array(task.class_names)[task.labels], lexicon.language)
  tested = np.concatenate([f.test for f in task.folds])
  np.testing.assert_array_equal(np.sort(tested), np.arange(600))  # every clip tested once
  for f in task.folds:
    assert not set(lexicon.letter[f.train]) & set(lexicon.letter[f.test])  # unseen letters


def test_letter_task_splits_common_letters(lexicon):
  base, novel = protocol.letter_task(lexicon, min_languages=14, num_base=13)
  assert base.class_names == tuple('ABCDEFGHIJKLM') and novel.class_names == tuple('NOPQRSTUVWXYZ')
  counts = np.bincount(novel.labels[novel.labels >= 0])
  assert counts.min() == 14 and counts.max() == 16
  assert not ((base.labels >= 0) & (novel.labels >= 0)).any()
  with pytest.raises(ValueError, match='letters are signed'):
    protocol.letter_task(lexicon, min_languages=17)


def test_pose_batch_data_features_flip_and_feature_sets(lexicon):
  poses = vision.PoseBatch(*(np.asarray(a)[:4] for a in lexicon.poses))
  data = vision.pose_batch_data(poses, np.arange(4))
  assert data['x'].shape == poses.points.shape[:2] + (379,)
  np.testing.assert_array_equal(np.asarray(data['mask']).sum(1), poses.lengths)
  flipped = vision.flip_horizontal(poses.points, poses.mask, poses.width)
  np.testing.assert_allclose(data['x_flip'], vision.pose_features(*flipped), atol=1e-6)
  limbs = protocol._select(data, vision.feature_columns('limbs'))
  np.testing.assert_array_equal(np.asarray(limbs['x'])[..., :225], 0)
  np.testing.assert_array_equal(np.asarray(limbs['x'])[..., 225:], np.asarray(data['x'])[..., 225:])
  mean = np.asarray(protocol.mean_features(data))
  for i, n in enumerate(poses.lengths):
    np.testing.assert_allclose(mean[i], np.asarray(data['x'])[i, :n].mean(0), rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match='labels'):
    vision.pose_batch_data(poses, np.arange(3))


def test_few_shot_episodes_separate_clean_embeddings():
  rng = np.random.default_rng(0)
  labels = np.repeat(np.arange(8), 12)
  clean = np.eye(8)[labels] + 0.01 * rng.normal(size=(96, 8))
  acc, f1 = protocol.few_shot_letters(
    jax.random.key(0),
    clean.astype(np.float32),
    labels,
    n_way=5,
    k_shot=1,
    n_query=3,
    num_episodes=300,
  )
  assert acc.shape == (300,) and np.all(acc == 1) and np.all(f1 == 1)
  noise = rng.normal(size=(96, 8)).astype(np.float32)
  acc, _ = protocol.few_shot_letters(
    jax.random.key(1), noise, labels, n_way=5, k_shot=1, n_query=3, num_episodes=300
  )
  assert 0.12 < acc.mean() < 0.28  # chance is 1/5


def _presence_reference(points, mask, lengths):
  """Dominant hand (higher mean body wrist) and its share of frames, by plain loops."""
  out = []
  for p, m, n in zip(points, mask, lengths):
    means = []
    for wrist in (15, 16):
      seen = m[:n, wrist]
      means.append(p[:n, wrist, 1][seen].mean() if seen.any() else np.inf)
    hand = 0 if means[0] < means[1] else 1
    cols = slice(33, 54) if hand == 0 else slice(54, 75)
    out.append(m[:n, cols].any(1).mean())
  return np.array(out)


def test_hand_presence_analysis_against_scipy(lexicon, tmp_path):
  poses = lexicon.poses
  correct = np.random.default_rng(1).random(len(poses.lengths)) < 0.7
  presence = vision.dominant_hand_presence(poses.points, poses.mask, poses.lengths)
  res = protocol.hand_presence_analysis(presence, correct)
  expected = _presence_reference(poses.points, poses.mask, poses.lengths)
  np.testing.assert_allclose(res['presence'], expected, rtol=1e-6)
  assert 0.1 < expected.min() < expected.mean() < 1  # real clips: hands are sometimes lost
  np.testing.assert_allclose(res['mean_correct'], expected[correct].mean(), rtol=1e-6)
  z, p = stats.ranksums(expected[correct], expected[~correct])
  np.testing.assert_allclose(
    [res['ranksum']['statistic'], res['ranksum']['pvalue']], [z, p], rtol=1e-6
  )
  one_group = protocol.hand_presence_analysis(presence, np.ones(len(correct), bool))
  with pytest.raises(ValueError, match='correct must be'):
    protocol.hand_presence_analysis(presence, correct[:-1])
  assert one_group['ranksum'] is None and one_group['mean_incorrect'] is None
  png = plots.plot_histograms(
    {'correct': res['correct'], 'incorrect': res['incorrect']},
    tmp_path / 'f6.png',
    value_range=(0, 1),
  )
  assert png.stat().st_size > 5000
  with pytest.raises(ValueError, match='group'):
    plots.plot_histograms({'correct': []}, tmp_path / 'x.png')


def test_timeline_plot(tmp_path):
  t = np.arange(50)
  png = plots.plot_timeline(
    {'a': t % 7 < 3, 'b': np.sin(t)}, tmp_path / 't.png', shade=t > 20, shade_label='s'
  )
  assert png.stat().st_size > 5000
  with pytest.raises(ValueError, match='same length'):
    plots.plot_timeline({'a': np.zeros(3), 'b': np.zeros(4)}, tmp_path / 'u.png')


def test_run_accuracies_score_each_run_on_its_own_rows():
  labels = np.array([0, 1, 2, 0, 1, 2])
  rows = [np.array([0, 3]), np.array([1, 2, 4, 5])]
  # run 0 predicted (rows 0, 3 | rows 1, 2, 4, 5): only its first two entries count for it
  pred = np.array([[0, 1, 9, 9, 9, 9], [9, 9, 1, 2, 0, 2]])
  accs, hits = protocol.run_accuracies(pred, labels, rows)
  assert accs == [0.5, 0.75]
  np.testing.assert_array_equal(hits, [True, True, True, False, False, True])


def test_make_model_builds_both_teams():
  cfg = protocol.Config()
  bilstm = protocol.make_model(cfg, 'bilstm', num_classes=7)
  assert (bilstm.hidden, tuple(bilstm.lstm), bilstm.dropout) == cfg.bilstm
  small = protocol.Config(transformer=(32, 4, 3, 64, 0.0))
  assert protocol.make_model(small, 'transformer', num_classes=7).layers == 3
  assert protocol.kind_of(bilstm) == 'bilstm'
  with pytest.raises(ValueError, match='name'):
    protocol.make_model(cfg, 'cnn', num_classes=7)
  assert protocol.FEATURE_SETS == vision.FEATURE_SETS  # the protocol cannot import vision


def test_stages_take_the_configured_learning_rate():
  cfg = protocol.Config(learning_rate=3e-4, epochs=2, ctc_epochs=3, patience=1)
  fit = protocol.fit_config(cfg, 'transformer', validate=False)
  assert (fit.learning_rate, fit.num_epochs, fit.patience) == (3e-4, 3, 3)
  assert protocol.fit_config(cfg, 'bilstm', validate=True).patience == 1


def test_runs_do_not_depend_on_how_many_train_together(lexicon):
  """Run r's keys are named by r: training runs 0-1 gives run 0 the model it gets alone."""
  cfg = protocol.Config(bilstm=(8, (4,), 0.2))
  poses = vision.PoseBatch(*(np.asarray(a)[:24] for a in lexicon.poses))
  data = vision.pose_batch_data(poses, np.arange(24) % 3)
  model = protocol.make_model(cfg, 'bilstm', num_classes=3)
  fit = protocol.fit_config(dataclasses.replace(cfg, epochs=2, batch_size=8), 'bilstm', False)
  rows = [np.arange(12), np.arange(12, 24)]
  key = jax.random.key(5)
  both, _ = protocol.train_runs(key, model, data, trainer.make_split(rows, rows), config=fit)
  alone, _ = protocol.train_runs(
    key, model, data, trainer.make_split(rows[:1], rows[:1]), config=fit
  )
  jax.tree.map(
    lambda a, b: np.testing.assert_allclose(a[0], b[0], rtol=1e-5, atol=1e-6),
    both.best_params,
    alone.best_params,
  )
