"""Metric-based few-shot classifiers of the sEMG paper (semg_fewshot.txt, II-E).

Every classifier is a pure function of one episode:

    classifier(support [S, D], support_labels [S], query [Q, D], n_way) -> [Q] int32

with episode-local labels 0..n_way-1 and S = n_way * k_shot in the usual
layout (any layout works: classes are found from `support_labels`). The
support of a class is a *list* (eq. (13), drawn with replacement), so an
example repeated in the support counts once per repetition in the class means
of eqs. (14), (17), (19) and (22). A class with no support example can never
be predicted. Ties go to the lowest local label (argmin/argmax convention).

All functions are jit- and vmap-compatible; n_way must be static. Called
directly, each validates shapes on the host and runs one module-level jitted
program, compiled once per shapes and static settings (n_way, a Python p). The
softmaxes of eqs. (18) and (20) are monotone, so they do not change the argmax
and are not computed.
"""

from __future__ import annotations

import functools
import numbers
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from evaluation import checks

__all__ = [
  'METRIC_CLASSIFIERS',
  'lp_classifier',
  'matching_classifier',
  'nearest_neighbour_classifier',
  'prototype_classifier',
  'siamese_classifier',
  'make_siamese_classifier',
  'pairwise_scores',
]

# Cosine similarity guard for all-zero embeddings (as torch.nn.functional.cosine_similarity).
_COSINE_EPS = 1e-8


def _episode_inputs(support, support_labels, query, n_way):
  """Arrays and static n_way of one episode, after shape-only checks (valid under jit and vmap)."""
  support, support_labels, query = (
    checks.as_array(support),
    checks.as_array(support_labels),
    checks.as_array(query),
  )
  n_way = checks.check_int('n_way', n_way)
  if support.ndim != 2 or query.ndim != 2:
    raise ValueError(
      f'support and query must be [S, D] and [Q, D], got {support.shape} and {query.shape}.'
    )
  if support.shape[1] != query.shape[1]:
    raise ValueError(f'support dim {support.shape[1]} != query dim {query.shape[1]}.')
  if support_labels.shape != (support.shape[0],):
    raise ValueError(
      f'support_labels must be [S]=[{support.shape[0]}], got shape {support_labels.shape}.'
    )
  if support.shape[0] == 0:
    raise ValueError('support is empty.')
  return support, support_labels, query, n_way


def _class_mean(
  pairwise: jax.Array, support_labels: jax.Array, n_way: int, empty: float
) -> jax.Array:
  """Mean of pairwise [Q, S] scores over each class's support list -> [Q, n_way].

  Repeated support examples count once per repetition (eq. (13) is a list).
  Elementwise products and a reduction rather than a matmul, so that
  accelerators' reduced-precision matmuls cannot perturb ties.
  """
  one_hot = jax.nn.one_hot(support_labels, n_way, dtype=pairwise.dtype)  # (S, n_way)
  sums = jnp.sum(pairwise[:, :, None] * one_hot[None, :, :], axis=1)  # (Q, n_way)
  counts = jnp.sum(one_hot, axis=0)  # (n_way,)
  return jnp.where(counts > 0, sums / jnp.where(counts > 0, counts, 1.0), empty)


def _lp_distance(x: jax.Array, y: jax.Array, p) -> jax.Array:
  """||x - y||_p (eq. (15)) for x, y: [D] -> [] without overflow for large p.

  |d|^20 overflows float32 once |d| > ~85, so the differences are scaled by
  their largest magnitude m: ||d||_p = m * (sum (|d|/m)^p)^(1/p), where each
  term is <= 1 and the sum is >= 1. A static p of 1 or inf takes the exact
  closed forms; a static integer p uses repeated multiplication.
  """
  d = jnp.abs(x - y)
  if isinstance(p, (int, float)) and p == 1:
    return jnp.sum(d)  # exact, no scaling needed
  m = jnp.max(d)
  if isinstance(p, (int, float)) and p == float('inf'):
    return m
  scale = jnp.where(m > 0, m, 1.0)
  return m * jnp.sum((d / scale) ** p) ** (1.0 / p)


def _pairwise_lp(query, support, p):
  """[Q, D] x [S, D] -> [Q, S] L^p distances."""
  return jax.vmap(jax.vmap(_lp_distance, (None, 0, None)), (0, None, None))(query, support, p)


def _lp_predict(support, support_labels, query, p, n_way):
  # (Q, S): one distance per (query, support) pair, eq. (14)'s summand.
  distances = _pairwise_lp(query, support, p)
  return jnp.argmin(_class_mean(distances, support_labels, n_way, jnp.inf), axis=1).astype(
    jnp.int32
  )


# Two compiled forms: p static when it is a Python number (exact p = 1 and
# p = inf, integer powers), p traced otherwise (a jax.tree_util.Partial's p
# inside evaluate_episodes), so sweeping a traced p never recompiles.
_lp_static_p = jax.jit(_lp_predict, static_argnames=('p', 'n_way'))
_lp_traced_p = jax.jit(_lp_predict, static_argnames=('n_way',))


def _static_p(p):
  """A Python-number p in one canonical form (2.0 -> 2), so that equal
  values share one compiled program and one numerical path."""
  p = float(p)
  return int(p) if p.is_integer() else p


def lp_classifier(support, support_labels, query, n_way: int, p=2) -> jax.Array:
  """CL^p, eqs. (14)-(15): argmin over classes of the mean L^p distance to its support.

  Args:
    support: [S, D] float, support embeddings f_bar(x_i).
    support_labels: [S] int, episode-local labels 0..n_way-1.
    query: [Q, D] float, query embeddings f_bar(x~).
    n_way: number of classes N (static).
    p: norm order, p >= 1 (the paper uses 1, 2 and 20; inf is the max norm).
      A Python number is static (one compile per value); an array or a
      traced scalar (e.g. inside a `jax.tree_util.Partial`) is traced.

  Returns:
    [Q] int32 predicted episode-local labels.
  """
  static = isinstance(p, numbers.Real) and not isinstance(p, (bool, np.bool_))
  if static and not p >= 1:
    raise ValueError(f'p must be >= 1 for an L^p norm, got {p}.')
  support, support_labels, query, n_way = _episode_inputs(support, support_labels, query, n_way)
  if static:
    return _lp_static_p(support, support_labels, query, p=_static_p(p), n_way=n_way)
  return _lp_traced_p(support, support_labels, query, p, n_way=n_way)


def _unit(x: jax.Array) -> jax.Array:
  return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), _COSINE_EPS)


@functools.partial(jax.jit, static_argnames=('n_way',))
def _matching_predict(support, support_labels, query, n_way):
  cosine = jnp.einsum(
    'qd,sd->qs', _unit(query), _unit(support), precision=jax.lax.Precision.HIGHEST
  )
  return jnp.argmax(_class_mean(cosine, support_labels, n_way, -jnp.inf), axis=1).astype(jnp.int32)


def matching_classifier(support, support_labels, query, n_way: int) -> jax.Array:
  """CM, eqs. (16)-(18): matching network with fixed attention (cosine similarity).

  x_hat_c (eq. (17)) is the mean cosine similarity (eq. (16)) between the
  query and the support list of class c, and the most similar class wins.

  Eq. (18) as printed takes argmax of softmax(-x_hat_c), i.e. it would pick
  the LEAST similar class (x_hat_c is a similarity, not a distance). We
  implement the evident intent, argmax of softmax(+x_hat_c) = argmax x_hat_c.

  Args:
    support: [S, D] float support embeddings.
    support_labels: [S] int, episode-local labels 0..n_way-1.
    query: [Q, D] float query embeddings.
    n_way: number of classes N (static).

  Returns:
    [Q] int32 predicted episode-local labels.
  """
  support, support_labels, query, n_way = _episode_inputs(support, support_labels, query, n_way)
  return _matching_predict(support, support_labels, query, n_way=n_way)


@functools.partial(jax.jit, static_argnames=('n_way',))
def _nearest_predict(support, support_labels, query, n_way):
  del n_way  # the label of the nearest support example needs no class table
  distances = _pairwise_lp(query, support, 2)  # (Q, S)
  return support_labels[jnp.argmin(distances, axis=1)].astype(jnp.int32)


def nearest_neighbour_classifier(support, support_labels, query, n_way: int) -> jax.Array:
  """1-NN: the label of the support example nearest in L2 (not one of the paper's methods).

  The baseline of no learned metric: on raw features it shows what an
  embedding adds. Ties go to the first support example (argmin convention),
  as `sklearn.neighbors.KNeighborsClassifier(n_neighbors=1)` on distinct
  distances.

  Args:
    support: [S, D] float support embeddings.
    support_labels: [S] int, episode-local labels 0..n_way-1.
    query: [Q, D] float query embeddings.
    n_way: number of classes N (static).

  Returns:
    [Q] int32 predicted episode-local labels.
  """
  support, support_labels, query, n_way = _episode_inputs(support, support_labels, query, n_way)
  return _nearest_predict(support, support_labels, query, n_way=n_way)


@functools.partial(jax.jit, static_argnames=('n_way',))
def _prototype_predict(support, support_labels, query, n_way):
  one_hot = jax.nn.one_hot(support_labels, n_way, dtype=support.dtype)  # (S, n_way)
  counts = jnp.sum(one_hot, axis=0)  # (n_way,)
  sums = jnp.sum(one_hot[:, :, None] * support[:, None, :], axis=0)  # (n_way, D)
  prototypes = sums / jnp.where(counts > 0, counts, 1.0)[:, None]  # eq. (19)
  distances = _pairwise_lp(query, prototypes, 2)
  distances = jnp.where(counts[None, :] > 0, distances, jnp.inf)  # (Q, n_way)
  return jnp.argmin(distances, axis=1).astype(jnp.int32)


def prototype_classifier(support, support_labels, query, n_way: int) -> jax.Array:
  """CP, eqs. (19)-(20): prototype network with the L2 norm.

  The prototype x_hat_c (eq. (19)) is the mean support embedding of class c
  (a repeated support example weighs once per repetition); the query goes to
  the class whose prototype is nearest in L2, which is eq. (20)'s argmax of
  sigma(-distance).

  Args:
    support: [S, D] float support embeddings.
    support_labels: [S] int, episode-local labels 0..n_way-1.
    query: [Q, D] float query embeddings.
    n_way: number of classes N (static).

  Returns:
    [Q] int32 predicted episode-local labels.
  """
  support, support_labels, query, n_way = _episode_inputs(support, support_labels, query, n_way)
  return _prototype_predict(support, support_labels, query, n_way=n_way)


def _siamese_predict(similarity, support_labels, n_way):
  return jnp.argmax(_class_mean(similarity, support_labels, n_way, -jnp.inf), axis=1).astype(
    jnp.int32
  )


_siamese_predict_jit = jax.jit(_siamese_predict, static_argnames=('n_way',))


def siamese_classifier(similarity, support_labels, n_way: int) -> jax.Array:
  """CS^p, eq. (22): mean siamese similarity per class, most similar class wins.

  Args:
    similarity: [Q, S] float, SL(query_q, support_s) from the siamese
      network (Table II: sigmoid output in [0, 1], 1 = same class).
    support_labels: [S] int, episode-local labels 0..n_way-1.
    n_way: number of classes N (static).

  Returns:
    [Q] int32 predicted episode-local labels.
  """
  n_way = checks.check_int('n_way', n_way)
  similarity = checks.as_array(similarity)
  support_labels = checks.as_array(support_labels)
  if similarity.ndim != 2 or support_labels.shape != (similarity.shape[1],):
    raise ValueError(
      f'similarity must be [Q, S] and support_labels [S], got {similarity.shape} and '
      f'{support_labels.shape}.'
    )
  return _siamese_predict_jit(similarity, support_labels, n_way=n_way)


def pairwise_scores(pair_fn: Callable) -> Callable:
  """Lifts pair_fn(params, query [D], support [D]) -> [] to score_fn(params, query [Q, D], support [S, D]) -> [Q, S].

  For a siamese head that scores one pair of embeddings (Table II: |e_a -
  e_b| -> FC 32 -> FC 16 -> sigmoid), e.g.
  `pairwise_scores(lambda params, a, b: head.apply(params, a, b))`.
  """
  return jax.vmap(jax.vmap(pair_fn, (None, None, 0)), (None, 0, None))


@functools.partial(jax.jit, static_argnames=('score_fn', 'n_way'))
def _siamese_scores_predict(score_fn, params, support, support_labels, query, n_way):
  similarity = score_fn(params, query, support)  # (Q, S)
  return _siamese_predict(similarity, support_labels, n_way)


def _siamese_from_score_fn(score_fn, params, support, support_labels, query, n_way):
  support, support_labels, query, n_way = _episode_inputs(support, support_labels, query, n_way)
  return _siamese_scores_predict(score_fn, params, support, support_labels, query, n_way=n_way)


@functools.lru_cache(maxsize=None)
def _siamese_function(score_fn):
  # One function object per score_fn, so that evaluate_episodes' compile
  # cache (keyed on the function) is hit for every new set of parameters.
  return functools.partial(_siamese_from_score_fn, score_fn)


def make_siamese_classifier(score_fn: Callable, params=None) -> jax.tree_util.Partial:
  """A classifier `(support, support_labels, query, n_way) -> [Q]` from a siamese score function.

  Args:
    score_fn: score_fn(params, query [Q, D], support [S, D]) -> [Q, S]
      similarities, computed on embeddings (embed the pools once with the
      twin network f_bar; only the head runs per episode). Build it from a
      per-pair function with `pairwise_scores`. Define it once (module level
      or once per experiment): a new function object means a new compile.
    params: pytree of arrays for score_fn (e.g. the head's Flax params).
      They are traced inputs of `evaluate_episodes` and of the direct call,
      so new parameters reuse the compiled program.

  Returns:
    A `jax.tree_util.Partial` usable as `evaluate_episodes(classifier=...)`
    or called directly on one episode (compiled once per score_fn, shapes
    and n_way).
  """
  if not callable(score_fn):
    raise ValueError(f'score_fn must be callable, got {score_fn!r}.')
  return jax.tree_util.Partial(_siamese_function(score_fn), params)


# The metric classifiers of Table IX by their paper names, ready to pass to
# `evaluate_episodes` (Partial keeps p as data, so switching p does not retrace).
METRIC_CLASSIFIERS = {
  'CL^1': jax.tree_util.Partial(lp_classifier, p=1),
  'CL^2': jax.tree_util.Partial(lp_classifier, p=2),
  'CL^20': jax.tree_util.Partial(lp_classifier, p=20),
  'CM': matching_classifier,
  'CP': prototype_classifier,
}
