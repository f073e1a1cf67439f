"""harAGE training (paper 4.3): nested leave-one-subject-out on the library's trainer.

Training: cross-entropy, Adam at 1e-3, batches of 64, at most 150 epochs,
early stopping after 20 epochs without improvement of the validation error
1 - UAR (`FitConfig(monitor='val_uar', mode='max')`). Nested LOSO: for each
held-out participant, the other participants are split into 5
participant-independent inner folds; each inner fold trains with early
stopping; the median of the inner folds' epoch counts is the number of epochs
for training on all outer-training participants, and that model is tested on
the held-out participant.

Epoch count of an inner fold: the paper says "the training epochs processed
in each fold"; we read it as the epoch with the best validation UAR (the
epoch that early stopping would restore). `NestedLOSOConfig.epoch_rule =
'processed'` uses the epochs actually run (best + patience) instead.

Inner folds: with n participants an outer fold has n - 1 training
participants, so at most n - 1 participant-independent inner folds exist.
When `inner_folds` > n - 1 the protocol uses n - 1 inner folds and warns
(`warnings.warn` naming both numbers) rather than failing, so small data sets
still run; fewer than 2 inner folds (n < 3) is an error.

UAR estimators: `NestedResult.fold_uar` is the UAR of each held-out
participant, a mean recall over the classes present in that participant's
test windows only (a class the participant never performed does not count
as 0 recall), and the paper's tables report the mean and standard deviation
of these per-fold values. `NestedResult.pooled_uar` is the UAR of all outer
folds' test windows pooled: every class weighs the same across participants,
so it is lower than the fold mean when a model fails a class in the folds
where that class is rare.

One program per level: all inner folds of all outer folds train together as
one `jax.vmap`-ed, jitted program (`fewshot.trainer.fit_runs`), then all
outer folds (each with its own epoch count) as a second one. Folds differ in
their number of windows, so each fold is a padded `trainer.Split` with masks:
padded entries are masked out of the loss and of batch-norm statistics, and a
batch with no real entry leaves the state unchanged, so a fold trains exactly
as it would alone. Keys are threefry keys: 'rbg' keys compile about twice as
fast on XLA:CPU but draw different bits under vmap, which would break the
equality of vmapped and fold-by-fold training.

Vmapped and fold-by-fold training run the same arithmetic but XLA may sum in
a different order in batched matmuls, so they agree to float32 rounding
(tests: identical epoch counts and UARs at tiny sizes). Over many epochs such
differences can flip a borderline prediction, hence an inner fold's best
epoch and the outer epoch count: `experiments/bench/har_folds.py` reports the
largest fold-UAR difference between the two modes.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

import evaluation
from evaluation import checks
from fewshot import trainer

EPOCH_RULES = ('best', 'processed')
# How reports name the two UAR estimators of `NestedResult` (module docstring).
ESTIMATORS = (
  'μ, σ: mean and standard deviation over the outer LOSO folds of each held-out '
  "participant's UAR, averaged over the classes present in that participant's test "
  "windows (the paper's estimator). pooled: UAR of all outer folds' test windows "
  'together, every class weighted equally.'
)


@dataclasses.dataclass(frozen=True)
class NestedLOSOConfig:
  """Paper 4.3 settings; the defaults are the paper's.

  Attributes:
    fit: batches of 64, at most 150 epochs, patience 20 on the validation
      UAR, Adam at 1e-3 (`FitConfig.learning_rate`).
    inner_folds: participant-independent inner folds per outer fold.
    epoch_rule: 'best' or 'processed' (module docstring).
    eval_chunk: windows per forward pass when predicting.
  """

  fit: trainer.FitConfig = trainer.FitConfig(
    num_epochs=150, batch_size=64, patience=20, monitor='val_uar', mode='max', learning_rate=1e-3
  )
  inner_folds: int = 5
  epoch_rule: str = 'best'
  eval_chunk: int = 256

  def __post_init__(self):
    checks.check_int('inner_folds', self.inner_folds, low=2)
    checks.check_choice('epoch_rule', self.epoch_rule, EPOCH_RULES)
    checks.check_int('eval_chunk', self.eval_chunk)
    if (self.fit.monitor, self.fit.mode) != ('val_uar', 'max'):
      raise ValueError(
        'the harAGE protocol stops early on the validation UAR: '
        "use FitConfig(monitor='val_uar', mode='max')."
      )


def train_config(
  batch_size: int = 64,
  learning_rate: float = 1e-3,
  max_epochs: int = 150,
  patience: int = 20,
  inner_folds: int = 5,
  epoch_rule: str = 'best',
  eval_chunk: int = 256,
) -> NestedLOSOConfig:
  """A `NestedLOSOConfig` from the flat keywords of the former `signals.TrainConfig`."""
  fit = trainer.FitConfig(
    num_epochs=max_epochs,
    batch_size=batch_size,
    patience=patience,
    monitor='val_uar',
    mode='max',
    learning_rate=learning_rate,
  )
  return NestedLOSOConfig(fit, inner_folds, epoch_rule, eval_chunk)


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
  pooled_uar: UAR of y_true, y_pred (all outer folds' test windows pooled;
    see the module docstring for how it differs from the mean of fold_uar).
  """

  fold_uar: np.ndarray
  epochs: np.ndarray
  inner_epochs: np.ndarray
  y_true: np.ndarray
  y_pred: np.ndarray
  test_subjects: np.ndarray
  pooled_uar: float


# ------------------------------------------------------------- training


def _predict(model, params, batch_stats, inputs, idx, chunk: int):
  """Class predictions [n] of the windows `inputs[idx]`, `chunk` windows per forward pass."""
  n = idx.shape[0]
  chunks = jnp.pad(idx, (0, (-n) % chunk)).reshape(-1, chunk)

  def one(ix):
    x = {m: a[ix] for m, a in inputs.items()}
    logits, _ = trainer.apply_model(
      model, params, batch_stats, x, jnp.ones(ix.shape, bool), train=False
    )
    return jnp.argmax(logits, axis=-1)

  return jax.lax.map(one, chunks).reshape(-1)[:n]


def loss_fn(model):
  """Masked cross-entropy of a batch of windows; dropout from the step key."""

  def loss(params, batch_stats, key, batch):
    logits, batch_stats = trainer.apply_model(
      model,
      params,
      batch_stats,
      batch.data['inputs'],
      batch.mask,
      train=True,
      rngs={'dropout': key},
    )
    return trainer.cross_entropy_loss(logits, batch.data['y'], batch.mask), batch_stats

  return loss


def eval_fn(model, chunk: int):
  """{'val_uar'}: UAR of the run's validation windows (padding excluded)."""

  def evaluate(params, batch_stats, data, split):
    pred = _predict(model, params, batch_stats, data['inputs'], split.val_idx, chunk)
    y = jnp.where(split.val_mask, data['y'][split.val_idx], -1)  # -1 counts nowhere
    return {'val_uar': evaluation.uar(y, pred, model.num_classes)}

  return evaluate


@functools.lru_cache(maxsize=64)
def _stage(model, cfg: NestedLOSOConfig, use_eval: bool):
  """(tx, fit, init, predict) of one level, built once per model and setting (compile cache)."""
  tx = optax.adam(cfg.fit.learning_rate)
  fit = trainer.make_fit(
    loss_fn(model), tx, cfg.fit, eval_fn(model, cfg.eval_chunk) if use_eval else None
  )

  def init(key, inputs):
    dummy = {m: jnp.zeros((1,) + x.shape[1:], x.dtype) for m, x in inputs.items()}
    variables = model.init({'params': key}, dummy, jnp.ones((1,), bool), train=False)
    return trainer.init_fit_state(variables, tx, cfg.fit.mode)

  def predict(fs, inputs, idx):
    return _predict(model, fs.train.params, fs.train.batch_stats, inputs, idx, cfg.eval_chunk)

  init = jax.jit(jax.vmap(init, in_axes=(0, None)))
  predict = jax.jit(jax.vmap(predict, in_axes=(0, None, 0)))
  return fit, init, predict


def train_folds(
  model,
  cfg: NestedLOSOConfig,
  data,
  split: trainer.Split,
  keys,
  max_epochs,
  use_eval: bool = True,
  vmapped: bool = True,
) -> FoldResult:
  """Train F folds: one vmapped program, or the same folds one after another.

  Args:
    model: a `HARFusionModel`.
    cfg: `NestedLOSOConfig`.
    data: {'inputs': {modality: [N, time, channels] float32}, 'y': [N] int32}.
    split: `trainer.Split` with leading axis F; the validation entries are
      the windows to validate on (inner folds) or to test (outer folds).
    keys: [F] jax.random keys.
    max_epochs: int or [F] ints.
    use_eval: early stopping on the validation windows (inner folds), or
      exactly `max_epochs` epochs (outer folds).
    vmapped: one program over all folds (True) or a Python loop of the
      single-fold program over the same padded shapes (False).

  Returns:
    FoldResult with a leading [F] axis; predictions only for outer folds
    (zeros for inner folds, which need only their epoch counts).

  Raises:
    ValueError: on labels that are not integers in [0, model.num_classes),
      inputs of another length, or split indices outside the data: under jit
      an out-of-range label adds a zero loss term and counts in no UAR
      class, and an out-of-range index is clamped, all without a word.
  """
  _check_fold_data(model, data, split)
  fit, init, predict = _stage(model, cfg, use_eval)
  k_init, k_train = jax.vmap(jax.random.split, out_axes=1)(keys)
  fs = init(k_init, data['inputs'])
  fs, _ = trainer.fit_runs(
    fit,
    fs,
    k_train,
    data,
    split,
    num_epochs=cfg.fit.num_epochs,
    max_epochs=max_epochs,
    vmapped=vmapped,
  )
  pred = jnp.zeros_like(split.val_idx) if use_eval else predict(fs, data['inputs'], split.val_idx)
  return FoldResult(fs.best_epoch, fs.epoch, fs.best_metric, pred, ~fs.nonfinite)


def _check_fold_data(model, data, split: trainer.Split) -> None:
  y = data['y']
  if not checks.is_concrete(y, split.train_idx, split.val_idx):
    return
  labels = checks.check_labels("data['y']", y, model.num_classes)
  n = labels.shape[0]
  for m in model.modalities:
    if m not in data['inputs']:
      raise ValueError(f"data['inputs'] has no {m!r}; the model fuses {model.modalities}.")
    checks.check_array(f"data['inputs'][{m!r}]", data['inputs'][m], ndim=3, kind='float')
    if data['inputs'][m].shape[0] != n:
      raise ValueError(
        f"data['inputs'][{m!r}] has {data['inputs'][m].shape[0]} windows but data['y'] has {n}."
      )
  for what in ('train', 'val'):
    idx = np.asarray(getattr(split, f'{what}_idx'))
    mask = np.asarray(getattr(split, f'{what}_mask'), bool)
    bad = mask & ((idx < 0) | (idx >= n))
    if bad.any():
      raise ValueError(
        f'split.{what}_idx has indices outside [0, {n}) (the windows of data): '
        f'{sorted(set(idx[bad].tolist()))[:10]}.'
      )


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
  if k < inner_folds:
    warnings.warn(
      f'inner_folds={inner_folds} needs at least {inner_folds + 1} participants; with '
      f'{n_sub} participants each outer fold has {n_sub - 1} training participants, so '
      f'nested LOSO uses {k} inner folds.',
      stacklevel=2,
    )
  nested = evaluation.nested_loso_splits(subjects, inner_folds=k, key=jax.random.key(seed))
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
  if not inputs:
    raise ValueError('no input modality.')
  labels = checks.check_labels('labels', labels, num_classes)
  for m, x in inputs.items():
    checks.check_array(f'inputs[{m!r}]', x, ndim=3, kind='float')
    if x.shape[0] != labels.shape[0]:
      raise ValueError(f'{m} has {x.shape[0]} windows but there are {labels.shape[0]} labels.')
  if np.asarray(subjects).shape != labels.shape:
    raise ValueError('subjects must be [n] like labels.')
  return labels


def _check_finite(res: FoldResult, level: str):
  bad = np.flatnonzero(~np.asarray(res.finite))
  if bad.size:
    raise FloatingPointError(f'training loss became NaN or inf in {level} folds {bad.tolist()}.')


def nested_loso(
  model, cfg: NestedLOSOConfig, data, key, vmapped: bool = True, seed: int = 0
) -> NestedResult:
  """Nested leave-one-subject-out evaluation of one model (paper 4.3).

  Args:
    model: HARFusionModel (its num_classes is the task's).
    cfg: `NestedLOSOConfig`.
    data: HARWindows (inputs restricted to the model's modalities or more).
    key: jax.random key of this run.
    vmapped: each level as one vmapped program (True) or fold after fold.
    seed: seed of the inner participant-independent split.

  Returns:
    NestedResult.
  """
  num_classes = model.num_classes
  inputs = {m: data.inputs[m] for m in model.modalities}
  labels = _check_data(inputs, data.labels, data.subjects, num_classes)
  outer, inner = nested_fold_indices(
    data.subjects, data.train_window, data.test_window, cfg.inner_folds, seed
  )
  arrays = {'inputs': {m: jnp.asarray(x) for m, x in inputs.items()}, 'y': jnp.asarray(labels)}
  k_inner, k_outer = jax.random.split(key)
  # Level 1: every inner fold of every outer fold in one program.
  flat = [f for folds in inner for f in folds]
  split = trainer.make_split([a for a, _ in flat], [b for _, b in flat])
  keys = jax.random.split(k_inner, len(flat))
  res = train_folds(model, cfg, arrays, split, keys, cfg.fit.num_epochs, True, vmapped)
  _check_finite(res, 'inner')
  counts = np.asarray(res.best_epoch if cfg.epoch_rule == 'best' else res.epochs_run)
  counts = np.maximum(counts, 1).reshape(len(inner), -1)  # (n_outer, k)
  # Median of the inner folds' epochs; half-integers round up.
  epochs = np.floor(np.median(counts, axis=1) + 0.5).astype(np.int32)
  # Level 2: every outer fold with its own epoch count, in one program.
  split = trainer.make_split([tr for tr, _, _ in outer], [te for _, te, _ in outer])
  keys = jax.random.split(k_outer, len(outer))
  res = train_folds(model, cfg, arrays, split, keys, epochs, False, vmapped)
  _check_finite(res, 'outer')
  preds = np.asarray(res.predictions)
  fold_uar, y_true, y_pred = [], [], []
  for f, (_, te, _) in enumerate(outer):
    p = preds[f, : len(te)]
    fold_uar.append(float(evaluation.uar(labels[te], p, num_classes)))
    y_true.append(labels[te])
    y_pred.append(p)
  y_true, y_pred = np.concatenate(y_true), np.concatenate(y_pred)
  return NestedResult(
    np.asarray(fold_uar),
    epochs,
    counts,
    y_true,
    y_pred,
    np.asarray([s for _, _, s in outer]),
    float(evaluation.uar(y_true, y_pred, num_classes)),
  )
