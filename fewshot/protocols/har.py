"""harAGE training (paper 4.3) and nested LOSO with folds as a vmapped axis.

Training: cross-entropy, Adam at 1e-3, batches of 64, at most 150 epochs,
early stopping after 20 epochs without improvement of the validation error
1 - UAR. Nested LOSO: for each held-out participant, the other participants
are split into 5 participant-independent inner folds; each inner fold trains
with early stopping; the median of the inner folds' epoch counts is the
number of epochs for training on all outer-training participants, and that
model is tested on the held-out participant.

Epoch count of an inner fold: the paper says "the training epochs processed
in each fold"; we read it as the epoch with the best validation UAR (the
epoch that early stopping would restore). `TrainConfig.epoch_rule =
'processed'` uses the epochs actually run (best + patience) instead.

One program per level: all inner folds of all outer folds train together as
one `jax.vmap`-ed, jitted program, then all outer folds (each with its own
epoch count) as a second one. Folds differ in their number of windows, so
each fold holds padded index arrays with a mask: a batch is the next 64
entries of the fold's shuffled order, padded entries are masked out of the
loss and of batch-norm statistics, and a batch with no real entry leaves the
state (parameters, optimizer, batch statistics) unchanged, so a fold trains
exactly as it would alone. The shuffling draws one uniform number per
example index from `fold_in(key, index)`, so it does not depend on how far
the fold was padded. Keys are threefry keys: 'rbg' keys compile about twice
as fast on XLA:CPU but draw different bits under vmap, which would break the
equality of vmapped and fold-by-fold training. Early stopping is a `lax.while_loop`, which under vmap
runs until the last fold stops and freezes the finished ones.

Vmapped and fold-by-fold training run the same arithmetic but XLA may sum
in a different order in batched matmuls, so they agree to float32 rounding
(tests: identical epoch counts and UARs at tiny sizes). Over many epochs such
differences can flip a borderline prediction, hence an inner fold's best
epoch and the outer epoch count: `experiments/bench_har_folds.py` reports the
largest fold-UAR difference between the two modes.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

import evaluation


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Paper 4.3 settings; the defaults are the paper's."""

  batch_size: int = 64
  learning_rate: float = 1e-3
  max_epochs: int = 150
  patience: int = 20
  inner_folds: int = 5
  epoch_rule: str = 'best'  # 'best' or 'processed', see module doc
  eval_chunk: int = 256  # windows per forward pass when predicting


class FoldSpec(NamedTuple):
  """Padded index arrays of folds; leading axis F folds (or none for one fold).

  train_idx: [F, n_train] int32 window indices (padding points at window 0).
  train_mask: [F, n_train] bool, real entries.
  eval_idx: [F, n_eval] int32 windows to validate / test on.
  eval_mask: [F, n_eval] bool.
  """

  train_idx: np.ndarray
  train_mask: np.ndarray
  eval_idx: np.ndarray
  eval_mask: np.ndarray


class FoldResult(NamedTuple):
  """Per fold: best_epoch [F], epochs_run [F], best_uar [F], predictions [F, n_eval].

  finite [F] is False when a training loss became NaN or inf (the fold stops
  there; `nested_loso` raises).
  """

  best_epoch: jax.Array
  epochs_run: jax.Array
  best_uar: jax.Array
  predictions: jax.Array
  finite: jax.Array


class NestedResult(NamedTuple):
  """Outcome of nested LOSO.

  fold_uar: [n_outer] UAR on each held-out participant.
  epochs: [n_outer] epochs used for the outer training (inner median).
  inner_epochs: [n_outer, k] epoch count of each inner fold.
  y_true, y_pred: test windows of all outer folds, concatenated.
  test_subjects: [n_outer] held-out subject id of each outer fold.
  """

  fold_uar: np.ndarray
  epochs: np.ndarray
  inner_epochs: np.ndarray
  y_true: np.ndarray
  y_pred: np.ndarray
  test_subjects: np.ndarray


def _pad(rows, length=None):
  length = max(max((len(r) for r in rows), default=0), 1) if length is None else length
  idx = np.zeros((len(rows), length), np.int32)
  mask = np.zeros((len(rows), length), bool)
  for f, r in enumerate(rows):
    idx[f, : len(r)] = r
    mask[f, : len(r)] = True
  return idx, mask


def pad_folds(train_rows, eval_rows) -> FoldSpec:
  """Pad lists of per-fold index arrays to common shapes with masks."""
  if len(train_rows) != len(eval_rows) or not train_rows:
    raise ValueError('need the same non-zero number of training and evaluation index sets.')
  if any(len(r) == 0 for r in train_rows):
    raise ValueError('a fold has no training window.')
  ti, tm = _pad(train_rows)
  ei, em = _pad(eval_rows)
  return FoldSpec(ti, tm, ei, em)


# --------------------------------------------------------------- one fold


class TrainState(NamedTuple):
  params: dict
  batch_stats: dict
  opt_state: optax.OptState


def _gather(inputs, idx):
  return {m: x[idx] for m, x in inputs.items()}


def _init_state(model, tx, inputs, key) -> TrainState:
  dummy = {m: jnp.zeros((1,) + x.shape[1:], x.dtype) for m, x in inputs.items()}
  variables = model.init({'params': key}, dummy, jnp.ones((1,), bool), train=False)
  params = variables['params']
  return TrainState(params, variables.get('batch_stats', {}), tx.init(params))


def _train_step(model, tx, state: TrainState, inputs, labels, mask, key):
  def loss_fn(params):
    logits, updates = model.apply(
      {'params': params, 'batch_stats': state.batch_stats},
      inputs,
      mask,
      train=True,
      rngs={'dropout': key},
      mutable=['batch_stats'],
    )
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    w = mask.astype(ce.dtype)
    return jnp.sum(ce * w) / jnp.maximum(w.sum(), 1.0), updates

  (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  upd, opt_state = tx.update(grads, state.opt_state, state.params)
  new = TrainState(
    optax.apply_updates(state.params, upd), updates.get('batch_stats', {}), opt_state
  )
  # An all-padding batch must be a no-op (Adam would still move on momentum).
  keep = jnp.any(mask)
  new = jax.tree.map(lambda n, o: jnp.where(keep, n, o), new, state)
  return new, loss


def _predict(model, state: TrainState, inputs, idx, chunk: int):
  n = idx.shape[0]
  pad = (-n) % chunk
  idx_c = jnp.pad(idx, (0, pad)).reshape(-1, chunk)

  def one(ix):
    logits = model.apply(
      {'params': state.params, 'batch_stats': state.batch_stats},
      _gather(inputs, ix),
      jnp.ones(ix.shape, bool),
      train=False,
    )
    return jnp.argmax(logits, axis=-1)

  return jax.lax.map(one, idx_c).reshape(-1)[:n]


def _masked_uar(y_true, y_pred, mask, num_classes):
  # Padded entries get label -1, which evaluation's one-hot counting ignores.
  return evaluation.uar(jnp.where(mask, y_true, -1), y_pred, num_classes)


def _shuffled_order(key, mask):
  # One uniform per index from fold_in(key, i): independent of padded length.
  u = jax.vmap(lambda i: jax.random.uniform(jax.random.fold_in(key, i)))(jnp.arange(mask.shape[0]))
  return jnp.argsort(jnp.where(mask, u, 2.0))  # real entries first, shuffled


def train_fold(
  model,
  cfg: TrainConfig,
  num_classes: int,
  use_eval: bool,
  inputs,
  labels,
  train_idx,
  train_mask,
  eval_idx,
  eval_mask,
  key,
  max_epochs,
  patience,
) -> FoldResult:
  """Train one fold (pure, traceable; vmap it over folds).

  Args:
    model: a HARFusionModel.
    cfg: TrainConfig (batch size, learning rate, eval chunk).
    num_classes: static number of classes.
    use_eval: static; True validates on eval_idx every epoch for early
      stopping (inner folds), False trains exactly max_epochs epochs.
    inputs: modality -> [N, time, channels] all windows (shared by folds).
    labels: [N] int32.
    train_idx, train_mask: [n_train] padded training windows of this fold.
    eval_idx, eval_mask: [n_eval] padded validation / test windows.
    key: this fold's key (initialisation, shuffling, dropout).
    max_epochs: int32 scalar, epoch cap.
    patience: int32 scalar, early-stopping patience (ignored without eval).

  Returns:
    FoldResult with scalars and [n_eval] predictions of the final model.
  """
  tx = optax.adam(cfg.learning_rate)
  k_init, k_train = jax.random.split(key)
  state = _init_state(model, tx, inputs, k_init)
  bs = cfg.batch_size
  n_batches = -(-train_idx.shape[0] // bs)
  pad = n_batches * bs - train_idx.shape[0]
  t_idx = jnp.pad(train_idx, (0, pad))
  t_mask = jnp.pad(train_mask, (0, pad))

  def epoch(state, e):
    k_epoch = jax.random.fold_in(k_train, e)
    order = _shuffled_order(jax.random.fold_in(k_epoch, 0), t_mask).reshape(n_batches, bs)

    def batch(state, b):
      sel = order[b]
      ix, m = t_idx[sel], t_mask[sel]
      state, loss = _train_step(
        model, tx, state, _gather(inputs, ix), labels[ix], m, jax.random.fold_in(k_epoch, b + 1)
      )
      return state, loss

    state, losses = jax.lax.scan(batch, state, jnp.arange(n_batches))
    return state, jnp.all(jnp.isfinite(losses))

  def evaluate(state):
    pred = _predict(model, state, inputs, eval_idx, cfg.eval_chunk)
    return _masked_uar(labels[eval_idx], pred, eval_mask, num_classes), pred

  def cond(c):
    e, _, _, _, since, finite = c
    go = (e < max_epochs) & finite  # fail fast on NaN / inf
    return go & (since < patience) if use_eval else go

  def body(c):
    e, state, best_uar, best_epoch, since, _ = c
    state, finite = epoch(state, e)
    if use_eval:
      uar, _ = evaluate(state)
      improved = uar > best_uar  # 1 - UAR decreases
      best_uar = jnp.where(improved, uar, best_uar)
      best_epoch = jnp.where(improved, e + 1, best_epoch)
      since = jnp.where(improved, 0, since + 1)
    return e + 1, state, best_uar, best_epoch, since, finite

  init = (jnp.int32(0), state, jnp.float32(-1.0), jnp.int32(0), jnp.int32(0), jnp.bool_(True))
  e, state, best_uar, best_epoch, _, finite = jax.lax.while_loop(cond, body, init)
  # Inner folds only need their epoch counts: skipping a second copy of the
  # prediction graph there shortens compilation.
  pred = jnp.zeros_like(eval_idx) if use_eval else evaluate(state)[1]
  return FoldResult(best_epoch, e, best_uar, pred, finite)


@functools.lru_cache(maxsize=64)
def _compiled(model, cfg: TrainConfig, num_classes: int, use_eval: bool, vmapped: bool):
  fn = functools.partial(train_fold, model, cfg, num_classes, use_eval)
  if vmapped:
    fn = jax.vmap(fn, in_axes=(None, None, 0, 0, 0, 0, 0, 0, 0))
  return jax.jit(fn)


def train_folds(
  model,
  cfg: TrainConfig,
  num_classes: int,
  inputs,
  labels,
  folds: FoldSpec,
  keys,
  max_epochs,
  patience=None,
  use_eval: bool = True,
  vmapped: bool = True,
) -> FoldResult:
  """Train F folds: one vmapped program, or the same folds one after another.

  Args:
    model: HARFusionModel.
    cfg: TrainConfig.
    num_classes: number of classes.
    inputs: modality -> [N, time, channels] float32 (device or host).
    labels: [N] int32 in [0, num_classes).
    folds: FoldSpec with leading axis F.
    keys: [F] jax.random keys.
    max_epochs: int or [F] ints.
    patience: int or [F] ints (default cfg.patience).
    use_eval: early stopping on the eval windows (inner folds) or not.
    vmapped: one program over all folds (True) or a Python loop of the
      single-fold program over the same padded shapes (False).

  Returns:
    FoldResult with a leading [F] axis.
  """
  n_folds = folds.train_idx.shape[0]
  max_epochs = jnp.broadcast_to(jnp.asarray(max_epochs, jnp.int32), (n_folds,))
  patience = jnp.broadcast_to(
    jnp.asarray(cfg.patience if patience is None else patience, jnp.int32), (n_folds,)
  )
  arrays = (
    jnp.asarray(folds.train_idx),
    jnp.asarray(folds.train_mask),
    jnp.asarray(folds.eval_idx),
    jnp.asarray(folds.eval_mask),
    keys,
    max_epochs,
    patience,
  )
  inputs = {m: jnp.asarray(x) for m, x in inputs.items()}
  labels = jnp.asarray(labels, jnp.int32)
  fn = _compiled(model, cfg, num_classes, use_eval, vmapped)
  if vmapped:
    return fn(inputs, labels, *arrays)
  outs = [fn(inputs, labels, *(a[f] for a in arrays)) for f in range(n_folds)]
  return jax.tree.map(lambda *xs: jnp.stack(xs), *outs)


# ------------------------------------------------------------- nested LOSO


def nested_fold_indices(subjects, train_window, test_window, inner_folds: int, seed=0):
  """Window indices of every inner and outer fold (no padding).

  Training sets use the 50%-overlap windows of their participants, validation
  and test sets the non-overlapping windows (paper 4.1).

  Returns:
    (outer, inner): outer is a list over held-out subjects of (train, test,
    subject); inner a list over outer folds of lists of (train, val).
  """
  subjects = np.asarray(subjects)
  train_window = np.asarray(train_window, bool)
  test_window = np.asarray(test_window, bool)
  n_sub = len(np.unique(subjects))
  k = min(inner_folds, n_sub - 1)
  if k < 2:
    raise ValueError(f'nested LOSO needs at least 3 participants, got {n_sub}.')
  nested = evaluation.nested_loso_splits(subjects, inner_folds=k, seed=seed)
  outer, inner = [], []
  for f in nested:
    tr = f.train[train_window[f.train]]
    te = f.test[test_window[f.test]]
    held_out = subjects[f.test[0]]
    if te.size == 0:
      raise ValueError(f'participant {held_out} has no test (non-overlapping) window.')
    outer.append((tr, te, held_out))
    folds = [(a.train[train_window[a.train]], a.test[test_window[a.test]]) for a in f.inner]
    if any(v.size == 0 for _, v in folds):
      raise ValueError(f'an inner fold of outer fold {held_out} has no validation window.')
    inner.append(folds)
  return outer, inner


def _check_data(inputs, labels, subjects, num_classes):
  labels = np.asarray(labels)
  if not inputs:
    raise ValueError('no input modality.')
  n = labels.shape[0]
  for m, x in inputs.items():
    if x.shape[0] != n:
      raise ValueError(f'{m} has {x.shape[0]} windows but there are {n} labels.')
    if not np.all(np.isfinite(x)):
      raise ValueError(f'{m} contains NaN or inf.')
  if np.asarray(subjects).shape != (n,):
    raise ValueError('subjects must be [n] like labels.')
  if labels.min() < 0 or labels.max() >= num_classes:
    raise ValueError(f'labels must lie in [0, {num_classes}).')


def _check_finite(res: FoldResult, level: str):
  bad = np.flatnonzero(~np.asarray(res.finite))
  if bad.size:
    raise FloatingPointError(f'training loss became NaN or inf in {level} folds {bad.tolist()}.')


def nested_loso(
  model, cfg: TrainConfig, data, key, vmapped: bool = True, seed: int = 0
) -> NestedResult:
  """Nested leave-one-subject-out evaluation of one model (paper 4.3).

  Args:
    model: HARFusionModel (its num_classes is the task's).
    cfg: TrainConfig.
    data: HARWindows (inputs restricted to the model's modalities or more).
    key: jax.random key of this run.
    vmapped: each level as one vmapped program (True) or fold after fold.
    seed: seed of the inner participant-independent split.

  Returns:
    NestedResult.
  """
  num_classes = model.num_classes
  inputs = {m: data.inputs[m] for m in model.modalities}
  _check_data(inputs, data.labels, data.subjects, num_classes)
  outer, inner = nested_fold_indices(
    data.subjects, data.train_window, data.test_window, cfg.inner_folds, seed
  )
  k_inner, k_outer = jax.random.split(key)
  # Level 1: every inner fold of every outer fold in one program.
  flat = [f for folds in inner for f in folds]
  spec = pad_folds([a for a, _ in flat], [b for _, b in flat])
  keys = jax.random.split(k_inner, len(flat))
  res = train_folds(
    model,
    cfg,
    num_classes,
    inputs,
    data.labels,
    spec,
    keys,
    cfg.max_epochs,
    use_eval=True,
    vmapped=vmapped,
  )
  _check_finite(res, 'inner')
  counts = np.asarray(res.best_epoch if cfg.epoch_rule == 'best' else res.epochs_run)
  counts = np.maximum(counts, 1).reshape(len(inner), -1)  # (n_outer, k)
  # Median of the inner folds' epochs; half-integers round up.
  epochs = np.floor(np.median(counts, axis=1) + 0.5).astype(np.int32)
  # Level 2: every outer fold with its own epoch count, in one program.
  spec = pad_folds([tr for tr, _, _ in outer], [te for _, te, _ in outer])
  keys = jax.random.split(k_outer, len(outer))
  res = train_folds(
    model,
    cfg,
    num_classes,
    inputs,
    data.labels,
    spec,
    keys,
    epochs,
    use_eval=False,
    vmapped=vmapped,
  )
  _check_finite(res, 'outer')
  preds = np.asarray(res.predictions)
  labels = np.asarray(data.labels)
  fold_uar, y_true, y_pred = [], [], []
  for f, (_, te, _) in enumerate(outer):
    p = preds[f, : len(te)]
    fold_uar.append(float(evaluation.uar(labels[te], p, num_classes)))
    y_true.append(labels[te])
    y_pred.append(p)
  return NestedResult(
    np.asarray(fold_uar),
    epochs,
    counts,
    np.concatenate(y_true),
    np.concatenate(y_pred),
    np.asarray([s for _, _, s in outer]),
  )
