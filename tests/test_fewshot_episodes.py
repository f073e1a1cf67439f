"""fewshot.episodes: sampler statistics and errors, and evaluate_episodes vs a per-episode loop."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import f1_score as sk_f1

from fewshot import evaluate_episodes
from fewshot import lp_classifier
from fewshot import make_siamese_classifier
from fewshot import matching_classifier
from fewshot import pairwise_scores
from fewshot import prototype_classifier
from fewshot import sample_episodes

# Support pool (train) with unequal classes, one of them tiny; query pool (test).
TRAIN = np.repeat(np.arange(6), [12, 3, 7, 20, 9, 2]).astype(np.int32)
TEST = np.repeat(np.arange(6), [8, 6, 10, 5, 7, 6]).astype(np.int32)
np.random.default_rng(0).shuffle(TRAIN)
np.random.default_rng(1).shuffle(TEST)


def draw(num_episodes=400, n_way=3, k_shot=5, n_query=4, seed=0, **kw):
  kw.setdefault('query_labels', TEST)
  return jax.device_get(
    sample_episodes(jax.random.key(seed), TRAIN, n_way, k_shot, n_query, num_episodes, **kw)
  )


@pytest.fixture(scope='module')
def big():
  """3000 3-way 5-shot 4-query episodes: one compile shared by the statistics tests."""
  return draw(num_episodes=3000)


def test_shapes_and_local_labels(big):
  chex.assert_shape([big.support, big.support_labels], (3000, 15))
  chex.assert_shape([big.query, big.query_labels], (3000, 12))
  chex.assert_shape(big.classes, (3000, 3))
  np.testing.assert_array_equal(big.support_labels[3], np.repeat(np.arange(3), 5))
  np.testing.assert_array_equal(big.query_labels[3], np.repeat(np.arange(3), 4))
  assert all(a.dtype == np.int32 for a in big)


def test_indices_belong_to_their_class_and_classes_are_distinct(big):
  classes = np.sort(big.classes, axis=1)
  assert (np.diff(classes, axis=1) > 0).all()
  np.testing.assert_array_equal(
    TRAIN[big.support], np.take_along_axis(big.classes, big.support_labels, axis=1)
  )
  np.testing.assert_array_equal(
    TEST[big.query], np.take_along_axis(big.classes, big.query_labels, axis=1)
  )
  assert (np.diff(np.sort(big.query, axis=1), axis=1) > 0).all()  # queries without replacement


def test_class_frequency_is_uniform(big):
  counts = np.bincount(big.classes.ravel(), minlength=6)
  # Each class is in an episode with probability 3/6: Binomial(3000, .5), sd 27.
  np.testing.assert_allclose(counts, 1500, atol=6 * 27)
  # The local position of a class is uniform too (top-k of uniform scores).
  first = np.bincount(big.classes[:, 0], minlength=6)
  np.testing.assert_allclose(first, 500, atol=6 * 20)


def test_queries_are_a_uniform_subset(big):
  # Class 1 has 6 test examples and 4 are drawn: each is chosen w.p. 2/3.
  rows, cols = np.nonzero(big.classes == 1)
  picked = big.query.reshape(3000, 3, 4)[rows, cols].ravel()
  freq = np.bincount(picked, minlength=len(TEST))[TEST == 1] / len(rows)
  np.testing.assert_allclose(freq, 4 / 6, atol=0.06)


def test_support_with_replacement_repeats(big):
  sup = big.support.reshape(3000, 3, 5)
  repeats = (np.diff(np.sort(sup, axis=2), axis=2) == 0).any(axis=2)
  # Class 1 has 3 training examples < k_shot: every support of it repeats.
  assert repeats[big.classes == 1].all()
  # Class 3 has 20: P(repeat) = 1 - 20*19*18*17*16 / 20**5 = 0.4186.
  np.testing.assert_allclose(repeats[big.classes == 3].mean(), 0.4186, atol=0.05)
  # Each of the 20 examples equally likely.
  freq = np.bincount(sup[big.classes == 3].ravel(), minlength=len(TRAIN))[TRAIN == 3]
  np.testing.assert_allclose(freq / freq.sum(), 1 / 20, atol=0.01)


def test_support_without_replacement_never_repeats():
  e = draw(num_episodes=300, k_shot=2, support_replace=False)
  sup = e.support.reshape(300, 3, 2)
  assert (sup[..., 0] != sup[..., 1]).all()


def test_one_pool_keeps_support_and_queries_disjoint():
  e = draw(num_episodes=500, k_shot=6, n_query=2, query_labels=None, classes=[0, 2, 3, 4])
  assert set(np.unique(e.classes)) == {0, 2, 3, 4}  # classes= restricts the episodes
  for ep in range(500):
    assert not set(e.support[ep]) & set(e.query[ep])
    np.testing.assert_array_equal(TRAIN[e.query[ep]], e.classes[ep][e.query_labels[ep]])
    np.testing.assert_array_equal(TRAIN[e.support[ep]], e.classes[ep][e.support_labels[ep]])
  # Class 2 has 7 examples, 2 go to the queries: the support uses the other 5 evenly.
  sup = e.support.reshape(500, 3, 6)[e.classes == 2].ravel()
  freq = np.bincount(sup, minlength=len(TRAIN))[TRAIN == 2]
  assert (freq > 0).all()
  np.testing.assert_allclose(freq / freq.sum(), 1 / 7, atol=0.03)


def test_prefix_stable_and_vmap_and_jit(big):
  few = draw(num_episodes=5)
  for a, b in zip(big, few):
    np.testing.assert_array_equal(a[:5], b)
  keys = jax.random.split(jax.random.key(3), 4)
  batched = jax.vmap(lambda k: sample_episodes(k, TRAIN, 3, 5, 4, 6, query_labels=TEST))(keys)
  chex.assert_shape(batched.support, (4, 6, 15))
  single = sample_episodes(keys[2], TRAIN, 3, 5, 4, 6, query_labels=TEST)
  np.testing.assert_array_equal(batched.support[2], single.support)
  traced = jax.jit(
    lambda k, s, q: sample_episodes(k, s, 3, 5, 4, 6, query_labels=q, num_classes=6)
  )(keys[2], TRAIN, TEST)
  for a, b in zip(traced, single):
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
  'kwargs,match',
  [
    (dict(n_query=6, classes=[0, 2, 3]), 'Class 3 has 5 examples in the query pool'),
    (dict(n_way=7), 'n_way=7 is larger'),
    (dict(k_shot=3, support_replace=False), 'Class 5 has 2 support examples'),
    (dict(query_labels=None, n_query=3), 'Class 1 has 3 examples; one episode needs 4'),
    (dict(classes=[0, 9]), r'classes \[9\]'),
    (dict(k_shot=0), 'k_shot must be >= 1'),
    (dict(num_episodes=2.0), 'num_episodes must be a positive'),
  ],
)
def test_errors(kwargs, match):
  with pytest.raises(ValueError, match=match):
    draw(**kwargs)


def test_label_errors():
  key = jax.random.key(0)
  with pytest.raises(ValueError, match='empty'):
    sample_episodes(key, np.array([], np.int32), 2, 1, 1, 3)
  with pytest.raises(ValueError, match='negative'):
    sample_episodes(key, np.array([0, 1, -1, 1]), 2, 1, 1, 3)
  with pytest.raises(ValueError, match='integer'):
    sample_episodes(key, np.array([0.5, 1.0]), 2, 1, 1, 3)
  with pytest.raises(ValueError, match='Unknown label 6'):
    sample_episodes(key, TRAIN, 2, 1, 1, 3, num_classes=6, query_labels=np.append(TEST, 6))
  with pytest.raises(ValueError, match='num_classes is required'):
    jax.jit(lambda y: sample_episodes(key, y, 2, 1, 1, 3))(TRAIN)


# ---------------------------------------------------------------- evaluate_episodes

RNG = np.random.default_rng(2)
CENTERS = RNG.normal(size=(6, 8))
TRAIN_EMB = (CENTERS[TRAIN] + 1.2 * RNG.normal(size=(len(TRAIN), 8))).astype(np.float32)
TEST_EMB = (CENTERS[TEST] + 1.2 * RNG.normal(size=(len(TEST), 8))).astype(np.float32)


def _neg_l1(params, a, b):
  return -params['w'] * jnp.sum(jnp.abs(a - b))


NEG_L1 = pairwise_scores(_neg_l1)
CLASSIFIERS = {
  'CL1': jax.tree_util.Partial(lp_classifier, p=1),
  'CL20': jax.tree_util.Partial(lp_classifier, p=20),
  'CM': matching_classifier,
  'CP': prototype_classifier,
  'CS': make_siamese_classifier(NEG_L1, {'w': jnp.float32(0.5)}),
}


@pytest.mark.parametrize('name', CLASSIFIERS)
def test_evaluate_equals_python_loop(name):
  classifier = CLASSIFIERS[name]
  kw = dict(n_way=3, k_shot=5, n_query=4, num_episodes=60)
  result = evaluate_episodes(
    jax.random.key(5), TRAIN_EMB, TRAIN, TEST_EMB, TEST, classifier=classifier, chunk_size=16, **kw
  )
  chex.assert_shape(result.f1, (60,))
  chex.assert_shape(result.predictions, (60, 12))
  eps = jax.device_get(
    sample_episodes(
      jax.random.key(5),
      TRAIN,
      kw['n_way'],
      kw['k_shot'],
      kw['n_query'],
      kw['num_episodes'],
      query_labels=TEST,
    )
  )
  for a, b in zip(result.episodes, eps):
    np.testing.assert_array_equal(a, b)
  classify = jax.jit(classifier, static_argnums=3)
  for i in range(60):  # the way per-episode libraries evaluate
    pred = np.asarray(
      classify(TRAIN_EMB[eps.support[i]], eps.support_labels[i], TEST_EMB[eps.query[i]], 3)
    )
    np.testing.assert_array_equal(result.predictions[i], pred)
    want = sk_f1(eps.query_labels[i], pred, labels=range(3), average='macro', zero_division=0)
    np.testing.assert_allclose(result.f1[i], want, rtol=1e-6)
  assert 0.4 < float(np.mean(result.f1)) < 1.0  # separable clusters: well above chance


def test_evaluate_one_pool_chunks_and_weighted():
  kw = dict(
    classifier=prototype_classifier,
    n_way=3,
    k_shot=2,
    n_query=2,
    num_episodes=50,
    classes=[0, 2, 3, 4],
  )
  a = jax.device_get(evaluate_episodes(jax.random.key(1), TRAIN_EMB, TRAIN, chunk_size=7, **kw))
  # One chunk instead of 8 (the last one partial), and weighted F1, which
  # equals macro F1 because every class has n_query queries.
  b = evaluate_episodes(
    jax.random.key(1), TRAIN_EMB, TRAIN, chunk_size=64, average='weighted', **kw
  )
  np.testing.assert_array_equal(a.predictions, b.predictions)
  np.testing.assert_allclose(a.f1, b.f1, rtol=1e-6)
  assert np.ptp(a.f1) > 0
  for ep in range(50):
    assert not set(a.episodes.support[ep]) & set(a.episodes.query[ep])


def test_evaluate_does_not_retrace():
  traced = chex.assert_max_traces(n=1)(
    lambda p, q, s: -p['w'] * jnp.sum((q[:, None] - s[None]) ** 2, -1)
  )
  kw = dict(n_way=3, k_shot=5, n_query=4, num_episodes=20)
  for seed, w in [(0, 1.0), (1, 2.0), (2, 3.0)]:  # new key and new params: same program
    classifier = make_siamese_classifier(traced, {'w': jnp.float32(w)})
    evaluate_episodes(
      jax.random.key(seed), TRAIN_EMB, TRAIN, TEST_EMB, TEST, classifier=classifier, **kw
    )


def test_evaluate_errors():
  kw = dict(classifier=prototype_classifier, n_way=3, k_shot=5, n_query=4, num_episodes=5)
  key = jax.random.key(0)
  with pytest.raises(ValueError, match='rows'):
    evaluate_episodes(key, TRAIN_EMB[:-1], TRAIN, TEST_EMB, TEST, **kw)
  bad = TEST_EMB.copy()
  bad[3, 2] = np.nan
  with pytest.raises(ValueError, match='NaN'):
    evaluate_episodes(key, TRAIN_EMB, TRAIN, bad, TEST, **kw)
  with pytest.raises(ValueError, match='together'):
    evaluate_episodes(key, TRAIN_EMB, TRAIN, TEST_EMB, **kw)
  with pytest.raises(ValueError, match='dim'):
    evaluate_episodes(key, TRAIN_EMB, TRAIN, TEST_EMB[:, :4], TEST, **kw)
  with pytest.raises(ValueError, match='average'):
    evaluate_episodes(key, TRAIN_EMB, TRAIN, TEST_EMB, TEST, average='micro', **kw)
  with pytest.raises(ValueError, match='n_query=9'):
    evaluate_episodes(key, TRAIN_EMB, TRAIN, TEST_EMB, TEST, **{**kw, 'n_query': 9})
