"""Siamese training (Sec. II-E.4): pair and triplet sampling, losses, similarity.

The siamese model (`fewshot.models.SiameseNet`, Table II) outputs a logit s for
a pair; sigmoid(s) is the same-class probability of the paper's SL map, and we
use d = 1 - sigmoid(s) as the pair's distance. The paper names the losses but
prints no formula; we use the standard forms on d:

* contrastive loss L^2 (Hadsell et al. 2006) on pairs (a, b, y), y = 1 for
  the same class: `y d^2 + (1 - y) max(0, m - d)^2`. With the default margin
  m = 1 the negative term is sigmoid(s)^2.
* triplet loss L^3 (Schroff et al. 2015) on triplets (anchor, negative,
  positive) in the paper's order: `max(0, d(a, p) - d(a, n) + m)`.

Batches come from the seen classes C^1 only (Sec. II-E.4: "any pair in the
training batch is randomly selected from the samples of the tasks in C^1") and
are drawn on device with `jax.random`: anchors uniformly from the run's valid
training indices, a positive uniformly among the other examples of the
anchor's class, a negative uniformly among examples of the other classes. Both
losses use such triplets: a contrastive batch of B triplets gives the 2B pairs
`(x_i, x^+, 1)`, `(x_i, x^-, 0)` of the paper. The 3B examples are embedded
once per step and the head scores the 2B pairs.

Masks. A batch's `mask` [B] marks its real triplets. It reaches every
BatchNorm call of the twin network (the anchors', positives' and negatives'
slots of the one 3B pass) and the losses average over real triplets only, so
masked slots change neither the gradients nor the batch statistics: a padded
or ragged run trains exactly as it would alone (tests/test_semg_batch_norm.py).
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from evaluation import checks
from fewshot import trainer
from fewshot.models import SiameseNet

CONTRASTIVE, TRIPLET = 'contrastive', 'triplet'


def pair_distance(logits):
  """d = 1 - sigmoid(s): [...] logits -> [...] distances in [0, 1]."""
  return 1.0 - jax.nn.sigmoid(logits)


def contrastive_loss(logits, same, margin: float = 1.0, mask=None):
  """Mean contrastive loss L^2 over the real pairs.

  Args:
    logits: [pairs] float32 siamese logits.
    same: [pairs] 1 for same-class pairs, 0 otherwise.
    margin: m; negatives farther than m cost nothing.
    mask: optional [pairs] bool, the real pairs (None: all).

  Returns:
    [] float32.
  """
  d = pair_distance(logits)
  same = same.astype(d.dtype)
  loss = same * d**2 + (1.0 - same) * jnp.maximum(margin - d, 0.0) ** 2
  return trainer.masked_mean(loss, mask)


def triplet_loss(logits_anchor_positive, logits_anchor_negative, margin: float = 0.5, mask=None):
  """Mean triplet loss L^3: max(0, d(a, p) - d(a, n) + margin), over the real triplets.

  Args:
    logits_anchor_positive: [triplets] float32 siamese logits of (a, p).
    logits_anchor_negative: [triplets] float32 siamese logits of (a, n).
    margin: required gap between the two distances.
    mask: optional [triplets] bool, the real triplets (None: all).

  Returns:
    [] float32.
  """
  d_ap = pair_distance(logits_anchor_positive)
  d_an = pair_distance(logits_anchor_negative)
  return trainer.masked_mean(jnp.maximum(d_ap - d_an + margin, 0.0), mask)


def _pick(key, mask):
  """A uniformly random True position of `mask` [m] (Gumbel-max; 0 if none)."""
  g = jax.random.gumbel(key, mask.shape)
  return jnp.argmax(jnp.where(mask, g, -jnp.inf))


def sample_triplets(key, labels, idx, n_valid, batch_size: int):
  """Anchor, positive and negative example indices, drawn on device.

  Args:
    key: PRNG key.
    labels: [num_examples] int32 labels of the shared example array.
    idx: [m] int32 candidate example indices; the first `n_valid` are used.
    n_valid: [] int32.
    batch_size: number of triplets.

  Returns:
    `(anchor, positive, negative)`, each [batch_size] int32 example indices
    (the order `triplet_loss` takes its distances in).
    The positive differs from the anchor whenever its class has another example.
  """
  m = idx.shape[0]
  valid = jnp.arange(m) < n_valid
  cls = labels[idx]  # (m,)
  k_anchor, k_rest = jax.random.split(key)
  anchor_pos = jax.random.randint(k_anchor, (batch_size,), 0, jnp.maximum(n_valid, 1))

  def one(key, a):
    k_pos, k_neg = jax.random.split(key)
    same = valid & (cls == cls[a])
    others = same & (jnp.arange(m) != a)
    pos = _pick(k_pos, jnp.where(jnp.any(others), others, same))
    neg = _pick(k_neg, valid & (cls != cls[a]))
    return pos, neg

  pos, neg = jax.vmap(one)(jax.random.split(k_rest, batch_size), anchor_pos)
  return idx[anchor_pos], idx[pos], idx[neg]


def _triplet_logits(model, params, batch_stats, triplet, train, mask=None):
  """Logits of (anchor, positive) and (anchor, negative): 2 x [B], and new BN stats.

  Args:
    triplet: {'anchor', 'positive', 'negative'}: [B, 2, T] examples each.
    mask: [B] bool real triplets (None: all).

  The 3B examples are embedded in one pass (one BatchNorm batch, and each
  example once rather than once per pair it appears in); the mask of each
  real triplet covers its three slots.
  """
  n = triplet['anchor'].shape[0]
  x = jnp.concatenate([triplet['anchor'], triplet['positive'], triplet['negative']])
  mask3 = None if mask is None else jnp.concatenate([mask, mask, mask])  # (3B,)
  emb, batch_stats = trainer.apply_model(
    model, params, batch_stats, x, mask3, train=train, method='embed'
  )  # (3B, D)
  ea, ep, en = emb[:n], emb[n : 2 * n], emb[2 * n :]
  logits, _ = trainer.apply_model(
    model,
    params,
    batch_stats,
    jnp.concatenate([ea, ea]),
    jnp.concatenate([ep, en]),
    train=False,
    method='compare',
  )
  return logits[:n], logits[n:], batch_stats


def _triplet_loss(model, kind, margin, params, batch_stats, triplet, train, mask=None):
  s_ap, s_an, batch_stats = _triplet_logits(model, params, batch_stats, triplet, train, mask)
  if kind == CONTRASTIVE:
    # The paper's contrastive batch: (x_i, x^+, 1) and (x_i, x^-, 0).
    logits = jnp.concatenate([s_ap, s_an])
    same = jnp.concatenate([jnp.ones_like(s_ap), jnp.zeros_like(s_an)])
    pairs = None if mask is None else jnp.concatenate([mask, mask])
    return contrastive_loss(logits, same, margin, pairs), batch_stats
  return triplet_loss(s_ap, s_an, margin, mask), batch_stats


def _gather_triplet(x, triplet):
  anchor, pos, neg = triplet
  return {'anchor': x[anchor], 'positive': x[pos], 'negative': x[neg]}


def _check_kind(kind):
  checks.check_choice('siamese loss kind', kind, (CONTRASTIVE, TRIPLET))


def siamese_batches(key, data, split, config):
  """`batches_fn` for `trainer.make_fit`: one epoch of triplets sampled from the
  run's training examples (`config.batch_size` anchors per step), gathered
  from `data = {'x', 'y'}`."""
  n_valid = jnp.sum(split.train_mask)
  keys = jax.random.split(key, config.steps_per_epoch)
  draw = lambda k: sample_triplets(k, data['y'], split.train_idx, n_valid, config.batch_size)
  triplets = jax.vmap(draw)(keys)  # 3 x (steps, B)
  batch = jax.vmap(_gather_triplet, in_axes=(None, 0))(data['x'], triplets)
  return trainer.Batch(batch, jnp.ones(triplets[0].shape, bool))


def siamese_loss_fn(model, kind: str, margin: float):
  """`loss_fn` for `trainer.make_fit` on batches of `siamese_batches`."""
  _check_kind(kind)

  def loss_fn(params, batch_stats, key, batch):
    del key  # no dropout
    return _triplet_loss(model, kind, margin, params, batch_stats, batch.data, True, batch.mask)

  return loss_fn


def siamese_eval_fn(model, kind: str, margin: float, num_val: int, *, key):
  """`eval_fn`: {'val_loss'}, the loss on `num_val` triplets of the validation
  examples, drawn with the fixed `key` so that every epoch sees the same set."""
  _check_kind(kind)

  def eval_fn(params, batch_stats, data, split):
    n_val = jnp.sum(split.val_mask)
    triplet = sample_triplets(key, data['y'], split.val_idx, n_val, num_val)
    batch = _gather_triplet(data['x'], triplet)
    loss, _ = _triplet_loss(model, kind, margin, params, batch_stats, batch, False)
    return {'val_loss': loss}

  return eval_fn


def make_siamese_fit(
  model,
  kind: str,
  tx,
  config: trainer.FitConfig,
  margin: float | None = None,
  num_val: int = 256,
  *,
  key,
):
  """The trainer's epoch loop (`trainer.make_fit`) for siamese training on `data = {'x', 'y'}`.

  Args:
    model: a `SiameseNet`.
    kind: 'contrastive' (CS^2) or 'triplet' (CS^3).
    tx: the optimizer.
    config: its `FitConfig`; `steps_per_epoch` must be set (triplets are sampled).
    margin: the loss margin (default 1.0 contrastive, 0.5 triplet).
    num_val: validation triplets.
    key: `jax.random` key of the validation triplets (the same in every epoch).
  """
  _check_kind(kind)
  if config.steps_per_epoch is None:
    raise ValueError('siamese training samples its triplets: set FitConfig.steps_per_epoch.')
  if margin is None:
    margin = 1.0 if kind == CONTRASTIVE else 0.5
  return trainer.make_fit(
    siamese_loss_fn(model, kind, margin),
    tx,
    config,
    eval_fn=siamese_eval_fn(model, kind, margin, num_val, key=key),
    batches_fn=siamese_batches,
  )


def validate_siamese_labels(labels, idx, n_valid=None) -> None:
  """Host-side: the examples must span >= 2 classes, each with >= 2 examples
  (a positive other than the anchor and a negative must exist)."""
  labels = np.asarray(labels)
  idx = np.asarray(idx)
  for row, n in zip(
    idx.reshape(-1, idx.shape[-1]),
    np.broadcast_to(
      np.asarray(idx.shape[-1] if n_valid is None else n_valid), idx.shape[:-1]
    ).reshape(-1),
  ):
    cls, counts = np.unique(labels[row[: int(n)]], return_counts=True)
    if len(cls) < 2:
      raise ValueError(f'siamese training needs >= 2 classes, got {cls.tolist()}')
    if counts.min() < 2:
      raise ValueError(
        'siamese training needs >= 2 examples per class; class '
        f'{cls[counts.argmin()]} has {counts.min()}'
      )


@functools.partial(jax.jit, static_argnames=('model',))
def _similarity(model, params, batch_stats, ea, eb):
  ea, eb = jnp.broadcast_arrays(ea, eb)
  shape = ea.shape[:-1]
  flat_a = ea.reshape(-1, ea.shape[-1])
  flat_b = eb.reshape(-1, eb.shape[-1])
  logits, _ = trainer.apply_model(
    model, params, batch_stats, flat_a, flat_b, train=False, method='compare'
  )
  return jax.nn.sigmoid(logits).reshape(shape)


def similarity_fn(model, params, batch_stats) -> Callable:
  """`f(ea, eb) -> [...]` same-class probabilities of embedding pairs.

  Args:
    model: a `SiameseNet`.
    params, batch_stats: its trained variables (one run).

  Returns:
    A function of embeddings `ea: [..., 32]`, `eb: [..., 32]` (broadcast) that
    applies the Table II head (|ea - eb|, FC 32, FC 16, sigmoid). Embed once with
    `model.apply(..., method='embed')` and score all pairs with this. Every
    returned function runs one module-level jitted program (the model static,
    the variables traced), compiled once per model and shapes.
  """
  return functools.partial(_similarity, model, params, batch_stats)


@functools.partial(jax.jit, static_argnames=('model',))
def siamese_scores(model, params, batch_stats, query_x, support_x):
  """Same-class probabilities of every (query, support) pair: [n_query, n_support].

  Args:
    model: a `SiameseNet`; params, batch_stats: its variables.
    query_x: [n_query, 2, T] float32.
    support_x: [n_support, 2, T] float32.
  """
  eq = trainer.apply_model(model, params, batch_stats, query_x, train=False, method='embed')[0]
  es = trainer.apply_model(model, params, batch_stats, support_x, train=False, method='embed')[0]
  return similarity_fn(model, params, batch_stats)(eq[:, None, :], es[None, :, :])


# `compare` only touches the Table II head layers (sim_fc_1, sim_fc_2,
# sim_out), whose sizes do not depend on the embedder, so one module-level
# score function serves every trained siamese model and
# `fewshot.evaluate_episodes` compiles it once.


def head_params(params) -> dict:
  """The Table II head's parameters (sim_fc_*, sim_out) of a `SiameseNet`."""
  return {k: v for k, v in params.items() if k.startswith(('sim_fc_', 'sim_out'))}


@jax.jit
def head_scores(params, query, support):
  """Same-class probabilities of embeddings: [Q, D] x [S, D] -> [Q, S].

  The `score_fn` for `fewshot.make_siamese_classifier`: embed the pools once
  with the twin network, then only this head runs per episode.

  Args:
    params: `head_params(...)` of a trained default-head `SiameseNet`.
    query: [Q, D] float32 query embeddings.
    support: [S, D] float32 support embeddings.
  """
  q, s = query.shape[0], support.shape[0]
  a = jnp.broadcast_to(query[:, None, :], (q, s, query.shape[1])).reshape(q * s, -1)
  b = jnp.broadcast_to(support[None, :, :], (q, s, support.shape[1])).reshape(q * s, -1)
  logits = SiameseNet().apply({'params': params}, a, b, method='compare')
  return jax.nn.sigmoid(logits).reshape(q, s)
