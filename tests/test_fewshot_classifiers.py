"""fewshot.classifiers against naive NumPy loops (sEMG paper eqs. (14)-(22))."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fewshot import lp_classifier
from fewshot import make_siamese_classifier
from fewshot import matching_classifier
from fewshot import pairwise_scores
from fewshot import prototype_classifier
from fewshot import siamese_classifier

# ---------------------------------------------------------------- references
# Explicit loops over queries, classes and support samples, in float64.


def ref_lp(support, labels, query, n_way, p):
  support, query = np.float64(support), np.float64(query)
  out = []
  for q in query:
    means = []
    for c in range(n_way):
      dists = [np.sum(np.abs(s - q) ** p) ** (1.0 / p) for s, y in zip(support, labels) if y == c]
      means.append(np.mean(dists) if dists else np.inf)
    out.append(int(np.argmin(means)))
  return np.array(out)


def _cos(a, b):
  return np.dot(a, b) / (max(np.linalg.norm(a), 1e-8) * max(np.linalg.norm(b), 1e-8))


def ref_matching(support, labels, query, n_way):
  support, query = np.float64(support), np.float64(query)
  out = []
  for q in query:
    sims = []
    for c in range(n_way):
      cs = [_cos(s, q) for s, y in zip(support, labels) if y == c]
      sims.append(np.mean(cs) if cs else -np.inf)
    out.append(int(np.argmax(sims)))  # most similar class (intent of eq. 18)
  return np.array(out)


def ref_prototype(support, labels, query, n_way):
  support, query = np.float64(support), np.float64(query)
  out = []
  for q in query:
    dists = []
    for c in range(n_way):
      members = [s for s, y in zip(support, labels) if y == c]
      if not members:
        dists.append(np.inf)
        continue
      proto = np.sum(members, axis=0) / len(members)
      dists.append(np.sqrt(np.sum((proto - q) ** 2)))
    out.append(int(np.argmin(dists)))
  return np.array(out)


def ref_siamese(similarity, labels, n_way):
  out = []
  for row in np.float64(similarity):
    means = []
    for c in range(n_way):
      vals = [v for v, y in zip(row, labels) if y == c]
      means.append(np.mean(vals) if vals else -np.inf)
    out.append(int(np.argmax(means)))
  return np.array(out)


def episode(seed, n_way=4, k_shot=5, n_query=7, dim=16, pool=3, shuffle=False):
  """Random episode whose support repeats examples (drawn with replacement
  from `pool` distinct embeddings per class), like the paper's sampler."""
  rng = np.random.default_rng(seed)
  centers = rng.normal(size=(n_way, dim))
  pools = centers[:, None, :] + rng.normal(size=(n_way, pool, dim))
  picks = rng.integers(0, pool, size=(n_way, k_shot))
  support = pools[np.arange(n_way)[:, None], picks].reshape(-1, dim)
  labels = np.repeat(np.arange(n_way), k_shot)
  if shuffle:
    perm = rng.permutation(len(labels))
    support, labels = support[perm], labels[perm]
  query_labels = rng.integers(0, n_way, size=n_query)
  query = centers[query_labels] + 1.5 * rng.normal(size=(n_query, dim))
  return support.astype(np.float32), labels.astype(np.int32), query.astype(np.float32)


CLASSIFIERS = [
  ('CL1', functools.partial(lp_classifier, p=1), functools.partial(ref_lp, p=1)),
  ('CL2', functools.partial(lp_classifier, p=2), functools.partial(ref_lp, p=2)),
  ('CL20', functools.partial(lp_classifier, p=20), functools.partial(ref_lp, p=20)),
  ('CM', matching_classifier, ref_matching),
  ('CP', prototype_classifier, ref_prototype),
]


@pytest.mark.parametrize('name,fast,ref', CLASSIFIERS, ids=[c[0] for c in CLASSIFIERS])
@pytest.mark.parametrize('seed', range(4))
def test_classifier_matches_numpy_loop(name, fast, ref, seed):
  support, labels, query = episode(seed, shuffle=seed % 2 == 1)
  assert len(np.unique(support, axis=0)) < len(support)  # repeated supports present
  got = np.asarray(fast(support, labels, query, 4))
  assert got.dtype == np.int32 and got.shape == (7,)
  np.testing.assert_array_equal(got, ref(support, labels, query, 4))


@pytest.mark.parametrize('name,fast,ref', CLASSIFIERS, ids=[c[0] for c in CLASSIFIERS])
def test_repeated_support_counts_once_per_repetition(name, fast, ref):
  # Class 0's support list repeats A three times: [A, A, A, B] (eq. 13 is a
  # list). Class 1 sits between the list mean and the set mean of {A, B}, so
  # counting a repeated example once would flip the winner from 0 to 1.
  q = np.array([[1.0, 0.0]], np.float32)
  a, b = np.array([1.0, 1.0]), np.array([-6.0, 0.0])
  # Distances to q: A 1, B 7 -> list mean 2.5, set mean 4; c1 at 3.
  # Cosines with q: A .71, B -1 -> list mean .28, set mean -.15; c1 at .20.
  c1 = np.array([1.0, -5.0]) if name == 'CM' else np.array([1.0, -3.0])
  support = np.array([a, a, a, b, c1, c1], np.float32)
  labels = np.array([0, 0, 0, 0, 1, 1], np.int32)
  got = np.asarray(fast(support, labels, q, 2))
  np.testing.assert_array_equal(got, ref(support, labels, q, 2))
  assert got[0] == 0
  as_set = np.asarray(fast(np.array([a, b, c1], np.float32), np.array([0, 0, 1], np.int32), q, 2))
  assert as_set[0] == 1, 'the fixture must distinguish list means from set means'


@pytest.mark.parametrize('name,fast,ref', CLASSIFIERS, ids=[c[0] for c in CLASSIFIERS])
def test_ties_go_to_lowest_label(name, fast, ref):
  # Classes 1 and 2 have identical support lists: every query ties between
  # them, and the lower label must win, as np.argmin/argmax do.
  support, labels, query = episode(7, n_way=3, k_shot=4)
  support[labels == 2] = support[labels == 1]
  got = np.asarray(fast(support, labels, query, 3))
  assert not np.any(got == 2)
  np.testing.assert_array_equal(got, ref(support, labels, query, 3))


def test_matching_picks_most_similar_class():
  # Eq. (18) as printed (softmax of -similarity) would pick the least similar.
  support = np.eye(3, dtype=np.float32).repeat(2, axis=0)  # class c along e_c
  labels = np.repeat(np.arange(3), 2).astype(np.int32)
  query = np.eye(3, dtype=np.float32)[[2, 0, 1, 1]] * 5 + 0.1
  np.testing.assert_array_equal(matching_classifier(support, labels, query, 3), [2, 0, 1, 1])


def test_lp20_stable_for_large_embeddings():
  support, labels, query = episode(3)
  scale = np.float32(1e4)  # |d|^20 ~ 1e80 overflows float32 (max ~3e38)
  big_s, big_q = support * scale, query * scale
  with np.errstate(over='ignore'):
    naive = np.sum(np.abs(big_s[0] - big_q[0]) ** np.float32(20))
  assert not np.isfinite(naive)  # the naive float32 route would break
  got = np.asarray(lp_classifier(big_s, labels, big_q, 4, p=20))
  np.testing.assert_array_equal(got, ref_lp(big_s, labels, big_q, 4, p=20))
  np.testing.assert_array_equal(got, lp_classifier(support, labels, query, 4, p=20))
  tiny = np.asarray(lp_classifier(support * 1e-6, labels, query * 1e-6, 4, p=20))  # no underflow
  np.testing.assert_array_equal(tiny, got)


def test_lp_accepts_traced_p():
  support, labels, query = episode(5)
  for p in (1, 2, 20):
    got = jax.jit(lp_classifier, static_argnums=3)(support, labels, query, 4, jnp.float32(p))
    np.testing.assert_array_equal(got, ref_lp(support, labels, query, 4, p))


def test_class_without_support_is_never_predicted():
  support, labels, query = episode(2, n_way=3)
  keep = labels != 1
  for (
    fast,
    _,
  ) in [(c[1], c[2]) for c in CLASSIFIERS]:
    got = np.asarray(fast(support[keep], labels[keep], query, 3))
    assert not np.any(got == 1)


@pytest.mark.parametrize('seed', range(3))
def test_siamese_matches_numpy_loop(seed):
  rng = np.random.default_rng(seed)
  labels = np.repeat(np.arange(3), 4).astype(np.int32)
  similarity = rng.uniform(size=(9, 12)).astype(np.float32)
  similarity[:, labels == 2] = similarity[:, labels == 0]  # ties between 0 and 2
  got = np.asarray(siamese_classifier(similarity, labels, 3))
  np.testing.assert_array_equal(got, ref_siamese(similarity, labels, 3))
  assert not np.any(got == 2)


def _neg_l2(params, a, b):
  return -params['scale'] * jnp.sqrt(jnp.sum((a - b) ** 2))


def test_siamese_from_score_fn_plugs_in():
  # A "siamese head" scoring -scale * L2 distance must agree with CL^2.
  score_fn = pairwise_scores(_neg_l2)
  classify = make_siamese_classifier(score_fn, {'scale': jnp.float32(2.0)})
  for seed in range(3):
    support, labels, query = episode(seed)
    np.testing.assert_array_equal(
      classify(support, labels, query, 4), lp_classifier(support, labels, query, 4, p=2)
    )
  sims = score_fn({'scale': 1.0}, query, support)
  assert sims.shape == (7, 20)
  np.testing.assert_allclose(sims[2, 5], -np.linalg.norm(query[2] - support[5]), rtol=1e-5)


@pytest.mark.parametrize('name,fast,ref', CLASSIFIERS, ids=[c[0] for c in CLASSIFIERS])
def test_vmap_over_episodes_equals_single_calls(name, fast, ref):
  eps = [episode(s) for s in range(3)]
  stacked = [np.stack(x) for x in zip(*eps)]
  batched = jax.jit(jax.vmap(lambda s, y, q: fast(s, y, q, 4)))(*stacked)
  for i, (s, y, q) in enumerate(eps):
    np.testing.assert_array_equal(batched[i], ref(s, y, q, 4))


def test_shape_errors():
  support, labels, query = episode(0)
  with pytest.raises(ValueError, match='dim'):
    prototype_classifier(support, labels, query[:, :3], 4)
  with pytest.raises(ValueError, match='support_labels'):
    matching_classifier(support, labels[:-1], query, 4)
  with pytest.raises(ValueError, match='n_way'):
    lp_classifier(support, labels, query, 0, p=2)
  with pytest.raises(ValueError, match='p must be'):
    lp_classifier(support, labels, query, 4, p=0.5)
  with pytest.raises(ValueError, match='similarity'):
    siamese_classifier(np.zeros((3, 5)), labels, 4)


def test_nearest_neighbour_matches_sklearn_1nn():
  from sklearn.neighbors import KNeighborsClassifier

  from fewshot.classifiers import nearest_neighbour_classifier

  rng = np.random.default_rng(3)
  support = rng.normal(size=(12, 6)).astype(np.float32)
  labels = np.repeat(np.arange(3), 4)
  query = rng.normal(size=(40, 6)).astype(np.float32)
  want = KNeighborsClassifier(n_neighbors=1).fit(support, labels).predict(query)
  got = np.asarray(nearest_neighbour_classifier(support, labels, query, 3))
  np.testing.assert_array_equal(got, want)
  # Not the prototype rule: on these draws the two disagree somewhere.
  proto = np.asarray(prototype_classifier(support, labels, query, 3))
  assert (proto != got).any()
  with pytest.raises(ValueError, match='support_labels'):
    nearest_neighbour_classifier(support, labels[:5], query, 3)
