"""N-way K-shot episodes on device, and their evaluation as one compiled program.

The sEMG paper (semg_fewshot.txt, section II-E) builds each episode from N
distinct classes of the unseen task set C^2. For each class c it draws the
support list S_c^sup of K pairs *with replacement* from D^train (eq. (13)), and
the queries from D^test. The paper's episode holds one query; here every class
contributes `n_query` queries, so one episode scores `n_way * n_query` queries
against the same support set.

Layout of an episode (class-major, episode-local labels 0..n_way-1):

    support:        [n_way * k_shot]  indices into the support pool
    support_labels: [n_way * k_shot]  = [0]*k_shot + [1]*k_shot + ...
    query:          [n_way * n_query] indices into the query pool
    query_labels:   [n_way * n_query] = [0]*n_query + [1]*n_query + ...
    classes:        [n_way]           global class id of each local label

Episode `i` is drawn from `jax.random.fold_in(key, i)`, so the first 100
episodes of a 10,000-episode draw are the 100 episodes of a 100-episode draw,
and `evaluate_episodes` scores exactly the episodes `sample_episodes` returns
for the same key.

Sampling choices (documented because they change the numbers):
  * classes: `n_way` distinct classes, uniform over the eligible classes.
  * support: with replacement by default (paper, eq. (13)); a K-shot support
    may hold the same example more than once, and then it counts more than once
    in every class mean of eqs. (14), (17), (19), (22).
    `support_replace=False` draws K distinct examples instead.
  * queries: always without replacement within a class (a uniformly random
    n_query-subset of that class, by Floyd's algorithm: O(n_query^2) work per
    class, independent of the class size). The order of the queries inside a
    class is not uniformly random; no classifier here depends on it.
  * one pool (`query_labels=None`): queries are drawn first, and the support is
    drawn from the *remaining* examples of the class, so support and queries of
    an episode never share an example.
"""

from __future__ import annotations

import functools
from typing import Callable
from typing import NamedTuple
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from evaluation import f1_score
from evaluation import validation
from fewshot import sharding

__all__ = ['Episodes', 'EpisodeEvaluation', 'sample_episodes', 'evaluate_episodes']


class Episodes(NamedTuple):
  """Index arrays of a batch of episodes (E = num_episodes).

  Attributes:
    support: [E, n_way * k_shot] int32, indices into the support pool.
    support_labels: [E, n_way * k_shot] int32, episode-local labels 0..n_way-1.
    query: [E, n_way * n_query] int32, indices into the query pool.
    query_labels: [E, n_way * n_query] int32, episode-local labels.
    classes: [E, n_way] int32, global class id of each episode-local label.
  """

  support: jax.Array
  support_labels: jax.Array
  query: jax.Array
  query_labels: jax.Array
  classes: jax.Array


class EpisodeEvaluation(NamedTuple):
  """What `evaluate_episodes` returns (E = num_episodes).

  Attributes:
    f1: [E] float32, F1 score of each episode over its n_way * n_query queries.
    predictions: [E, n_way * n_query] int32, episode-local predicted labels.
    episodes: the `Episodes` that were scored (same as `sample_episodes`
      with the same key and arguments).
  """

  f1: jax.Array
  predictions: jax.Array
  episodes: Episodes


# ----------------------------------------------------------------------------
# Host-side validation (before anything is traced).


def _validate_pools(
  support_labels,
  query_labels,
  *,
  n_way: int,
  k_shot: int,
  n_query: int,
  classes: Sequence[int] | None,
  num_classes: int | None,
  support_replace: bool,
) -> tuple[int, np.ndarray]:
  """Checks a concrete request on the host; returns (num_classes, class_mask [num_classes])."""
  s = validation.check_labels('labels', support_labels, whole_floats=True)
  same_pool = query_labels is None
  q = s if same_pool else validation.check_labels('query_labels', query_labels, whole_floats=True)
  largest = int(max(s.max(), q.max()))
  if num_classes is None:
    num_classes = largest + 1
  elif largest >= num_classes:
    raise ValueError(
      f'Unknown label {largest}: num_classes={num_classes} allows class ids 0..{num_classes - 1}.'
    )
  s_counts = np.bincount(s, minlength=num_classes)
  q_counts = s_counts if same_pool else np.bincount(q, minlength=num_classes)

  if classes is None:
    candidates = np.flatnonzero(s_counts > 0)
  else:
    candidates = np.asarray(classes)
    if candidates.ndim != 1 or candidates.size == 0:
      raise ValueError(f'classes must be a non-empty 1-D list of class ids, got {classes!r}.')
    if not np.issubdtype(candidates.dtype, np.integer):
      raise ValueError(f'classes must hold integer class ids, got {classes!r}.')
    if len(np.unique(candidates)) != candidates.size:
      raise ValueError(f'classes holds duplicates: {classes!r}.')
    unknown = [int(c) for c in candidates if c < 0 or c >= num_classes or s_counts[c] == 0]
    if unknown:
      raise ValueError(f'classes {unknown} have no examples in the support labels.')
  if n_way > candidates.size:
    raise ValueError(
      f'n_way={n_way} is larger than the number of classes available ({candidates.size}: '
      f'{candidates.tolist()}).'
    )

  # What one class must hold: queries are drawn without replacement; the
  # support needs 1 example with replacement, k_shot without; on one pool the
  # support comes from what the queries left.
  need_support = 1 if support_replace else k_shot
  for c in candidates.tolist():
    if same_pool:
      need = n_query + need_support
      if s_counts[c] < need:
        raise ValueError(
          f'Class {c} has {s_counts[c]} examples; one episode needs {need} of them '
          f'(n_query={n_query} distinct queries plus '
          f'{"1 support example, drawn with replacement" if support_replace else f"k_shot={k_shot} distinct support examples"}'
          f', disjoint from the queries). Lower n_query/k_shot or exclude it with classes=.'
        )
    else:
      if s_counts[c] < need_support:
        raise ValueError(
          f'Class {c} has {s_counts[c]} support examples, fewer than k_shot={k_shot} '
          "distinct ones (support_replace=False). Use support_replace=True (the paper's "
          'choice) or exclude it with classes=.'
        )
      if q_counts[c] < n_query:
        raise ValueError(
          f'Class {c} has {q_counts[c]} examples in the query pool, fewer than '
          f'n_query={n_query} (queries are drawn without replacement). Lower n_query or '
          'exclude it with classes=.'
        )
  mask = np.zeros(num_classes, dtype=bool)
  mask[candidates] = True
  return int(num_classes), mask


# ----------------------------------------------------------------------------
# Traced core: one episode from one key.


class _ClassTable(NamedTuple):
  """Examples grouped by class: order[starts[c] + j] is the j-th example of class c."""

  order: jax.Array  # [num_examples] int32
  starts: jax.Array  # [num_classes] int32
  counts: jax.Array  # [num_classes] int32


def _class_table(labels: jax.Array, num_classes: int) -> _ClassTable:
  labels = labels.astype(jnp.int32)
  counts = jnp.bincount(labels, length=num_classes).astype(jnp.int32)
  starts = (jnp.cumsum(counts) - counts).astype(jnp.int32)
  order = jnp.argsort(labels, stable=True).astype(jnp.int32)
  return _ClassTable(order, starts, counts)


def _distinct_positions(u: jax.Array, m: jax.Array) -> jax.Array:
  """A uniformly random k-subset of {0, ..., m-1} (Floyd's algorithm); needs m >= k.

  Args:
    u: [k] float in [0, 1), i.i.d. uniform draws (k = subset size, static).
    m: [] int, size of the set.

  Returns [k] int32. Work is O(k^2), independent of m, so drawing a few
  queries from a large test split costs no more than from a small one.
  """
  k = u.shape[0]

  def step(i, chosen):
    j = m - k + i  # candidate range grows by one each step: 0..j
    t = _uniform_int(u[i], j + 1)
    t = jnp.where(jnp.any(chosen == t), j, t)
    return chosen.at[i].set(t)

  return jax.lax.fori_loop(0, k, step, jnp.full((k,), -1, jnp.int32))


def _uniform_int(u: jax.Array, n: jax.Array) -> jax.Array:
  """floor(u * n) for u uniform in [0, 1): uniform on {0..n-1} up to float32 resolution.

  u takes 2**23 equally spaced values, so the relative bias between two
  outcomes is at most n / 2**23 (1e-4 for a class of 1,000 examples).

  One uniform draw per episode is cut into all of its random numbers rather
  than calling the PRNG once per use: each call is a separate threefry
  computation, and those dominated the compile time.
  """
  return jnp.minimum(jnp.floor(u * n).astype(jnp.int32), n - 1)


def _skip_taken(r: jax.Array, taken: jax.Array) -> jax.Array:
  """Maps r in [0, m - len(taken)) to the r-th position of {0..m-1} not in `taken`."""
  for s in jnp.sort(taken):  # taken is tiny (n_query); ascending order makes one pass exact
    r = r + (r >= s)
  return r


def _sample_one(
  key: jax.Array,
  support_table: _ClassTable,
  query_table: _ClassTable,
  eligible: jax.Array,
  *,
  n_way: int,
  k_shot: int,
  n_query: int,
  support_replace: bool,
  same_pool: bool,
) -> Episodes:
  """One episode (no leading episode axis); see `Episodes` for shapes."""
  num_classes = eligible.shape[0]
  u = jax.random.uniform(key, (num_classes + n_way * (n_query + k_shot),))
  u_classes = u[:num_classes]
  u_query = u[num_classes : num_classes + n_way * n_query].reshape(n_way, n_query)
  u_support = u[num_classes + n_way * n_query :].reshape(n_way, k_shot)

  # n_way distinct classes, uniform over eligible ones: the top n_way of
  # i.i.d. uniform scores is a uniformly random ordered subset.
  _, classes = jax.lax.top_k(jnp.where(eligible, u_classes, -1.0), n_way)  # (n_way,)
  classes = classes.astype(jnp.int32)

  def per_class(c, uq, us):
    query_pos = _distinct_positions(uq, query_table.counts[c])  # (n_query,)
    m_support = support_table.counts[c] - (n_query if same_pool else 0)
    if support_replace:
      support_pos = _uniform_int(us, m_support)  # (k_shot,), with replacement (eq. 13)
    else:
      support_pos = _distinct_positions(us, m_support)
    if same_pool:
      support_pos = _skip_taken(support_pos, query_pos)  # keep support and queries disjoint
    query_idx = query_table.order[query_table.starts[c] + query_pos]
    support_idx = support_table.order[support_table.starts[c] + support_pos]
    return support_idx, query_idx

  support, query = jax.vmap(per_class)(
    classes, u_query, u_support
  )  # (n_way, k_shot), (n_way, n_query)
  ways = jnp.arange(n_way, dtype=jnp.int32)
  return Episodes(
    support=support.reshape(-1),
    support_labels=jnp.repeat(ways, k_shot),
    query=query.reshape(-1),
    query_labels=jnp.repeat(ways, n_query),
    classes=classes,
  )


def _tables_and_eligible(
  support_labels,
  query_labels,
  class_mask,
  *,
  num_classes,
  k_shot,
  n_query,
  support_replace,
  same_pool,
):
  support_table = _class_table(support_labels, num_classes)
  query_table = support_table if same_pool else _class_table(query_labels, num_classes)
  need_support = 1 if support_replace else k_shot
  if same_pool:
    enough = support_table.counts >= n_query + need_support
  else:
    enough = (support_table.counts >= need_support) & (query_table.counts >= n_query)
  return support_table, query_table, class_mask & enough


@functools.partial(
  jax.jit,
  static_argnames=(
    'n_way',
    'k_shot',
    'n_query',
    'num_episodes',
    'num_classes',
    'support_replace',
    'same_pool',
  ),
)
def _sample_episodes(
  key,
  support_labels,
  query_labels,
  class_mask,
  *,
  n_way,
  k_shot,
  n_query,
  num_episodes,
  num_classes,
  support_replace,
  same_pool,
):
  support_table, query_table, eligible = _tables_and_eligible(
    support_labels,
    query_labels,
    class_mask,
    num_classes=num_classes,
    k_shot=k_shot,
    n_query=n_query,
    support_replace=support_replace,
    same_pool=same_pool,
  )
  sample = functools.partial(
    _sample_one,
    support_table=support_table,
    query_table=query_table,
    eligible=eligible,
    n_way=n_way,
    k_shot=k_shot,
    n_query=n_query,
    support_replace=support_replace,
    same_pool=same_pool,
  )
  ids = jnp.arange(num_episodes, dtype=jnp.uint32)
  return jax.vmap(lambda i: sample(jax.random.fold_in(key, i)))(ids)


def sample_episodes(
  key: jax.Array,
  labels,
  n_way: int,
  k_shot: int,
  n_query: int,
  num_episodes: int,
  *,
  query_labels=None,
  classes: Sequence[int] | None = None,
  num_classes: int | None = None,
  support_replace: bool = True,
) -> Episodes:
  """Draws N-way K-shot episodes as index arrays (paper II-E, eq. (13)).

  Args:
    key: a `jax.random.key` (or legacy uint32 key). Episode i uses
      `fold_in(key, i)`.
    labels: [num_support_examples] int, class ids of the support pool
      (D^train in the paper).
    n_way: number of distinct classes per episode (N).
    k_shot: support examples per class (K).
    n_query: query examples per class, drawn without replacement.
    num_episodes: number of episodes E.
    query_labels: [num_query_examples] int, class ids of the query pool
      (D^test in the paper). None: queries come from `labels` too, disjoint
      from each episode's support.
    classes: class ids the episodes may use (e.g. the unseen set C^2).
      Default: every class present in `labels`.
    num_classes: number of class ids (labels lie in 0..num_classes-1).
      Inferred from concrete labels; required when the labels are traced.
    support_replace: draw the K support examples with replacement (True,
      the paper's choice) or K distinct ones.

  Returns:
    `Episodes` with support [E, n_way*k_shot], support_labels
    [E, n_way*k_shot], query [E, n_way*n_query], query_labels
    [E, n_way*n_query] and classes [E, n_way], all int32.

  Raises:
    ValueError: on empty, non-integer or negative labels, labels beyond
      num_classes, n_way above the number of usable classes, or a class with
      too few examples for the request. Checked on the host when the labels
      are concrete; with traced labels (inside your own jit) nothing can be
      checked and an impossible request returns meaningless indices.

  Works under `jax.jit` (the key may be traced; pass the labels as concrete
  arrays, or pass num_classes) and `jax.vmap` over keys.
  """
  n_way = validation.check_int('n_way', n_way)
  k_shot = validation.check_int('k_shot', k_shot)
  n_query = validation.check_int('n_query', n_query)
  num_episodes = validation.check_int('num_episodes', num_episodes)
  same_pool = query_labels is None
  if validation.is_concrete(labels) and (same_pool or validation.is_concrete(query_labels)):
    num_classes, class_mask = _validate_pools(
      labels,
      query_labels,
      n_way=n_way,
      k_shot=k_shot,
      n_query=n_query,
      classes=classes,
      num_classes=num_classes,
      support_replace=support_replace,
    )
    labels = np.asarray(labels).astype(np.int32)
    query_labels = None if same_pool else np.asarray(query_labels).astype(np.int32)
  else:
    if num_classes is None:
      raise ValueError('num_classes is required when labels are traced (inside jit/vmap).')
    num_classes = validation.check_int('num_classes', num_classes)
    class_mask = np.ones(num_classes, dtype=bool)
    if classes is not None:
      class_mask[:] = False
      class_mask[np.asarray(classes)] = True
  return _sample_episodes(
    key,
    labels,
    labels if same_pool else query_labels,
    class_mask,
    n_way=n_way,
    k_shot=k_shot,
    n_query=n_query,
    num_episodes=num_episodes,
    num_classes=num_classes,
    support_replace=bool(support_replace),
    same_pool=same_pool,
  )


# ----------------------------------------------------------------------------
# Evaluation: embed once, score every episode in one compiled program.


_AVERAGES = ('macro', 'weighted')


@functools.partial(
  jax.jit,
  static_argnames=(
    'n_way',
    'k_shot',
    'n_query',
    'num_episodes',
    'num_classes',
    'support_replace',
    'same_pool',
    'average',
    'chunk_size',
    'mesh',
  ),
)
def _evaluate(
  key,
  support_embeddings,
  support_labels,
  query_embeddings,
  query_labels,
  class_mask,
  classifier,
  *,
  n_way,
  k_shot,
  n_query,
  num_episodes,
  num_classes,
  support_replace,
  same_pool,
  average,
  chunk_size,
  mesh=None,
):
  size = sharding.padded_size(num_episodes, mesh)
  ids = jnp.arange(size, dtype=jnp.uint32)
  score = functools.partial(
    _score_episodes,
    n_way=n_way,
    k_shot=k_shot,
    n_query=n_query,
    num_classes=num_classes,
    support_replace=support_replace,
    same_pool=same_pool,
    average=average,
    chunk_size=chunk_size,
  )
  if mesh is not None:
    # Episode i depends only on (key, i): each device scores its block of ids.
    items, shared = sharding.P(sharding.AXIS), sharding.P()
    score = jax.shard_map(
      score, mesh=mesh, in_specs=(items,) + (shared,) * 7, out_specs=items, check_vma=False
    )
  # With a mesh the result keeps its padding; evaluate_episodes cuts it
  # (sharding.take_items), after gathering it to every process.
  return score(
    ids, key, support_embeddings, support_labels, query_embeddings, query_labels, class_mask,
    classifier,
  )  # fmt: skip


def _score_episodes(
  ids,
  key,
  support_embeddings,
  support_labels,
  query_embeddings,
  query_labels,
  class_mask,
  classifier,
  *,
  n_way,
  k_shot,
  n_query,
  num_classes,
  support_replace,
  same_pool,
  average,
  chunk_size,
):
  """Scores episodes `ids` [E] (all of them, or one device's block)."""
  support_table, query_table, eligible = _tables_and_eligible(
    support_labels,
    query_labels,
    class_mask,
    num_classes=num_classes,
    k_shot=k_shot,
    n_query=n_query,
    support_replace=support_replace,
    same_pool=same_pool,
  )

  def one_episode(i):
    episode = _sample_one(
      jax.random.fold_in(key, i),
      support_table,
      query_table,
      eligible,
      n_way=n_way,
      k_shot=k_shot,
      n_query=n_query,
      support_replace=support_replace,
      same_pool=same_pool,
    )
    predictions = classifier(
      support_embeddings[episode.support],
      episode.support_labels,
      query_embeddings[episode.query],
      n_way,
    ).astype(jnp.int32)
    f1 = f1_score(episode.query_labels, predictions, n_way, average=average)
    return f1, predictions, episode

  # lax.map with batch_size: vmapped over chunk_size episodes at a time and
  # scanned over chunks, so memory stays bounded and it is still one program.
  f1, predictions, episodes = jax.lax.map(
    one_episode, ids, batch_size=min(chunk_size, ids.shape[0])
  )
  return EpisodeEvaluation(f1, predictions, episodes)


def _host_embeddings(name: str, embeddings, num_labels: int) -> None:
  shape = np.shape(embeddings)
  if len(shape) != 2:
    raise ValueError(f'{name} must be [num_examples, embedding_dim], got shape {shape}.')
  if shape[0] != num_labels:
    raise ValueError(f'{name} has {shape[0]} rows but its labels have {num_labels} entries.')
  if shape[1] == 0:
    raise ValueError(f'{name} has embedding_dim 0.')
  validation.check_array(
    name, embeddings, hint='Check the embedding model and its inputs.', nonempty=False
  )


def _on_device(x) -> jax.Array:
  # jax >= 0.10: jnp.asarray of a NumPy array compiles a copy program per shape.
  return x if isinstance(x, jax.Array) else jax.device_put(np.asarray(x))


def evaluate_episodes(
  key: jax.Array,
  support_embeddings,
  support_labels,
  query_embeddings=None,
  query_labels=None,
  *,
  classifier: Callable,
  n_way: int,
  k_shot: int,
  n_query: int,
  num_episodes: int,
  classes: Sequence[int] | None = None,
  support_replace: bool = True,
  average: str = 'macro',
  chunk_size: int = 2048,
) -> EpisodeEvaluation:
  """Scores many few-shot episodes of pre-computed embeddings in one compiled call.

  Embed each pool ONCE with the feature extractor f_bar (paper eq. (10)),
  then pass the embeddings here: every episode only gathers rows, so
  thousands of episodes cost one vmapped computation instead of thousands of
  model calls::

      emb = jax.jit(embed)            # x: [n, 2, 61] -> [n, 32]
      result = evaluate_episodes(
          key, emb(x_train), y_train, emb(x_test), y_test,
          classifier=fewshot.prototype_classifier, n_way=3, k_shot=5,
          n_query=5, num_episodes=10_000, classes=[4, 5, 6])
      np.median(result.f1)

  Episodes are exactly those of `sample_episodes(key, support_labels, n_way,
  k_shot, n_query, num_episodes, query_labels=..., classes=...,
  support_replace=...)`.

  Args:
    key: `jax.random.key`; episode i uses `fold_in(key, i)`.
    support_embeddings: [num_support, dim] float, the support pool (D^train).
    support_labels: [num_support] int class ids.
    query_embeddings: [num_query, dim] float, the query pool (D^test); None
      to draw queries from the support pool (disjoint from each support).
    query_labels: [num_query] int class ids; None together with
      query_embeddings.
    classifier: `classifier(support [S, dim], support_labels [S], query
      [Q, dim], n_way) -> [Q] int` with episode-local labels, e.g.
      `prototype_classifier`, `matching_classifier`,
      `jax.tree_util.Partial(lp_classifier, p=20)` or
      `make_siamese_classifier(score_fn, params)`. It is traced once per
      distinct function; the arrays held by a `jax.tree_util.Partial` are
      traced inputs, so new siamese parameters (or a new p) do not recompile.
      A fresh `functools.partial` or lambda each call does recompile.
    n_way, k_shot, n_query, num_episodes: as in `sample_episodes`.
    classes: class ids the episodes may use (e.g. the unseen tasks C^2).
    support_replace: support with replacement (paper) or without.
    average: "macro" or "weighted" F1 over the episode's n_way classes. The
      paper reports F1 (weighted F1 in its Fig. 3); every episode holds
      n_query queries of each class, so both averages are equal here.
    chunk_size: episodes vmapped at once; chunks run in a compiled loop.
      Lower it if memory is short (distances are [chunk, Q, S, dim] for L^p).

  With several devices the episodes are split over all of them
  (`fewshot.sharding`; episode i depends only on `fold_in(key, i)`, so the
  result equals the one-device result) and the arrays returned are spread
  over the devices; with several processes every process gets all of them.

  Returns:
    `EpisodeEvaluation` with f1 [num_episodes] float32, predictions
    [num_episodes, n_way*n_query] int32 and the `Episodes` scored.
  """
  n_way = validation.check_int('n_way', n_way)
  k_shot = validation.check_int('k_shot', k_shot)
  n_query = validation.check_int('n_query', n_query)
  num_episodes = validation.check_int('num_episodes', num_episodes)
  chunk_size = validation.check_int('chunk_size', chunk_size)
  if average not in _AVERAGES:
    raise ValueError(f'average must be one of {_AVERAGES}, got {average!r}.')
  if not callable(classifier):
    raise ValueError(f'classifier must be callable, got {classifier!r}.')
  if (query_embeddings is None) != (query_labels is None):
    raise ValueError('Pass query_embeddings and query_labels together, or neither (one pool).')
  same_pool = query_labels is None
  num_classes, class_mask = _validate_pools(
    support_labels,
    query_labels,
    n_way=n_way,
    k_shot=k_shot,
    n_query=n_query,
    classes=classes,
    num_classes=None,
    support_replace=support_replace,
  )
  _host_embeddings('support_embeddings', support_embeddings, np.shape(support_labels)[0])
  if not same_pool:
    _host_embeddings('query_embeddings', query_embeddings, np.shape(query_labels)[0])
    if np.shape(query_embeddings)[1] != np.shape(support_embeddings)[1]:
      raise ValueError(
        f'query_embeddings dim {np.shape(query_embeddings)[1]} != support_embeddings dim '
        f'{np.shape(support_embeddings)[1]}.'
      )
  if not isinstance(classifier, jax.tree_util.Partial):
    # A Partial is a pytree: its function is static, its arrays are traced.
    classifier = jax.tree_util.Partial(classifier)
  support_labels = np.asarray(support_labels).astype(np.int32)
  query_labels = support_labels if same_pool else np.asarray(query_labels).astype(np.int32)
  support_embeddings = _on_device(support_embeddings)
  query_embeddings = support_embeddings if same_pool else _on_device(query_embeddings)
  inputs = (
    key, support_embeddings, support_labels, query_embeddings, query_labels, class_mask,
    classifier,
  )  # fmt: skip
  mesh = sharding.device_mesh() if validation.is_concrete(*jax.tree.leaves(inputs)) else None
  if mesh is not None:
    inputs = sharding.replicate(inputs, mesh)
  out = _evaluate(
    *inputs,
    n_way=n_way,
    k_shot=k_shot,
    n_query=n_query,
    num_episodes=num_episodes,
    num_classes=num_classes,
    support_replace=bool(support_replace),
    same_pool=same_pool,
    average=average,
    chunk_size=chunk_size,
    mesh=mesh,
  )
  return out if mesh is None else sharding.take_items(out, num_episodes)
