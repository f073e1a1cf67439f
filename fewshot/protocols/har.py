"""harAGE multimodal fusion (paper 4.3, Tables 2-4): the grid of models under nested LOSO.

`run(key, config, data)` is the experiment: every cell of the grid (task x
extractor x modalities x fusion) trains under nested leave-one-subject-out
and the result holds the records of Tables 2-4 (mean and standard deviation
over the outer folds and seeds of each held-out participant's UAR), the
pooled UAR of each cell, every model's training UAR and loss beside a
logistic-regression baseline, as records of their own, and the confusion
counts of the figures.
A cell is named '<extractor>:<modalities>' with '+' for concatenation and '*'
for the outer product ('cnn:steps*hr*acc'); `make_model` builds it.

Training: cross-entropy, Adam at 1e-3, batches of 64, at most 150 epochs,
early stopping after 20 epochs without improvement of the validation error
1 - UAR (`FitConfig(monitor='val_uar', mode='max')`). Nested LOSO: for each
held-out participant, the other participants are split into 5
participant-independent inner folds; each inner fold trains with early
stopping; the median of the inner folds' epoch counts is the number of epochs
for training on all outer-training participants, and that model is tested on
the held-out participant. Only the outer fold's (labelled) training
participants choose its epochs; the held-out participant chooses nothing.

Fixed budget (`epoch_rule='fixed'`, the quick setting): no inner fold
trains; every outer model trains exactly `fit.num_epochs` epochs of
`fit.steps_per_epoch` full batches (`budget_steps`), a number written in the
config before any outer fold is scored. With a few dozen training windows per
fold, early stopping on inner folds of one or two participants picks a few
epochs of two Adam steps each and measures how fast a model starts learning,
not what it learns (docs/har_fusion.md).

Seeds: `Config.seeds` trainings of every fold, seed r with the key
`named_key(cell key, 'seed', r)`; the tables' μ and σ run over outer folds x
seeds. Every outer model also reports its training UAR and training
cross-entropy (the final model, dropout off, on its fold's training windows)
to show whether it converged, and each task gets a logistic-regression
baseline on the per-window means and standard deviations of every channel
(`logistic_regression_baseline`), scored on the same outer folds.

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
of these per-fold values (here over folds x seeds). `NestedResult.pooled_uar`
is the UAR of all outer folds' (and seeds') test windows pooled: every class weighs the same across participants,
so it is lower than the fold mean when a model fails a class in the folds
where that class is rare.

Randomness: the run's key gives each cell its key by name
(`named_key(key, cell.id)`), each training seed r its key below it
(`'seed', r`), and each fold's key comes from the seed key and the held-out
participant's index (`'outer', s` and `'inner', s, j`); the assignment of
participants to inner folds comes from `named_key(key, 'inner folds')`,
shared by every cell and seed so that all models see the same folds.

One program per level: all inner folds of all outer folds and seeds train
together as one `jax.vmap`-ed, jitted program (`fewshot.trainer.fit_runs`),
then all outer folds and seeds (each with its own epoch count) as a second
one. Folds differ in their number of windows, so each fold is a padded
`trainer.Split` with masks: padded entries are masked out of the loss and of
batch-norm statistics, and a batch with no real entry leaves the state
unchanged, so a fold trains exactly as it would alone. Keys are threefry keys: 'rbg' keys compile about twice as
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
import itertools
import time
import warnings
from collections.abc import Callable
from collections.abc import Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import evaluation
from evaluation import checks
from evaluation import records as records_lib
from evaluation import reports
from evaluation.keys import named_key
from fewshot import timing
from fewshot import trainer
from fewshot.models.har import EXTRACTORS
from fewshot.models.har import HARFusionModel

EPOCH_RULES = ('best', 'processed', 'fixed')
HARAGE_MODALITIES = ('steps', 'hr', 'acc')
BASICMOTIONS_MODALITIES = ('acc', 'gyro')
# The paper's table of each harAGE task (Section 5); other tasks use their own name.
PAPER_TABLES = {'2 classes': 'Table 2', '7 classes': 'Table 3', '10 classes': 'Table 4'}
FIGURE_TABLE = 'Figures 3-5: figure model'
# The model of each task's confusion-matrix figure, fixed before any score is
# seen: the paper's Figures 3-5 (Section 5; Figure 3 is the 2-class CNN
# f_steps⊕hr⊕xyz of the text, whose caption says RNN). A task without a paper
# figure (BasicMotions, other data) shows the last cell of its grid (config order).
FIGURE_MODELS = {
  '2 classes': 'cnn:steps+hr+acc',
  '7 classes': 'cnn:steps*hr*acc',
  '10 classes': 'cnn:steps*hr*acc',
}
# Cell names: '+' joins concatenated modalities, '*' outer-product-fused ones.
FUSION_OF = {'+': 'concat', '*': 'outer'}
# The paper's notation of the modalities (f_steps⊗hr⊗xyz).
SYMBOL = {'steps': 'steps', 'hr': 'hr', 'acc': 'xyz', 'gyro': 'gyro'}


@dataclasses.dataclass(frozen=True)
class NestedLOSOConfig:
  """Paper 4.3 settings; the defaults are the paper's.

  Attributes:
    fit: batches of 64, at most 150 epochs, patience 20 on the validation
      UAR, Adam at 1e-3 (`FitConfig.learning_rate`).
    inner_folds: participant-independent inner folds per outer fold.
    epoch_rule: 'best' or 'processed' (epochs chosen on the inner folds), or
      'fixed': every outer model trains exactly `fit.num_epochs` epochs and
      no inner fold trains (module docstring; `budget_steps`).
    eval_chunk: at most this many windows per forward pass when predicting
      (`trainer.row_chunks`: as few, as equal chunks as that allows).
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
  steps_per_epoch: int | None = None,
) -> NestedLOSOConfig:
  """A `NestedLOSOConfig` from flat keywords (`max_epochs`: `fit.num_epochs`)."""
  fit = trainer.FitConfig(
    num_epochs=max_epochs,
    batch_size=batch_size,
    steps_per_epoch=steps_per_epoch,
    patience=patience,
    monitor='val_uar',
    mode='max',
    learning_rate=learning_rate,
  )
  return NestedLOSOConfig(fit, inner_folds, epoch_rule, eval_chunk)


def budget_steps(cfg: NestedLOSOConfig, max_train: int | None = None) -> int | None:
  """Adam steps of every outer model under a fixed budget (`epoch_rule='fixed'`).

  Args:
    cfg: `NestedLOSOConfig`.
    max_train: training windows of the largest fold trained beside it; only
      needed without `fit.steps_per_epoch` (an epoch is then one pass,
      ceil(max_train / batch_size) batches, and smaller folds skip their
      all-padding batches, so they take fewer steps).

  Returns:
    `fit.num_epochs * fit.steps_per_epoch` (exact for every fold), or None when
    the epochs are chosen on inner folds (`epoch_rule` 'best' or 'processed').
  """
  if cfg.epoch_rule != 'fixed':
    return None
  if cfg.fit.steps_per_epoch is None and max_train is None:
    raise ValueError('without fit.steps_per_epoch the steps depend on max_train; pass it.')
  return cfg.fit.num_epochs * cfg.fit.steps(max_train or 0)


@dataclasses.dataclass(frozen=True)
class Config:
  """Everything that changes the numbers of a run (`experiments/configs/har_fusion.py`).

  Attributes:
    seed: root seed; the script turns it into the run's key.
    participants, block_seconds, rest_seconds, gaps_per_minute: synthetic data.
    tasks: harAGE tasks (number of classes, Section 5).
    extractors: 'rnn' and/or 'cnn' (4.2.1).
    combos: the harAGE grid's models without extractor ('steps', 'steps+hr',
      'steps*hr*acc'; module docstring), or None for every combination
      (each modality alone, concatenation and outer product of every subset).
    basicmotions_combos: the same for BasicMotions ('acc', 'gyro').
    basicmotions_groups: pseudo-participants of BasicMotions.
    vmap_folds: train the folds of a level as one vmapped program (True) or
      one after another (False; faster for the CNN on a small CPU, see
      experiments/bench/har_folds.py).
    dropout, hidden: the classifier's dropout rate and width (4.2.3).
    seeds: trainings of every fold, each from its own key (module docstring).
    baseline_c: inverse L2 strength C of the logistic-regression baseline
      (scikit-learn's default 1.0; not tuned).
    train: NestedLOSOConfig (4.3).
  """

  seed: int = 0
  participants: int = 8
  block_seconds: float = 120.0
  rest_seconds: float = 120.0
  gaps_per_minute: float = 0.5
  tasks: tuple = (2, 7, 10)
  extractors: tuple = ('rnn', 'cnn')
  combos: tuple | None = None
  basicmotions_combos: tuple | None = None
  basicmotions_groups: int = 10
  vmap_folds: bool = True
  dropout: float = 0.3
  hidden: int = 16
  seeds: int = 1
  baseline_c: float = 1.0
  train: NestedLOSOConfig = NestedLOSOConfig()

  def __post_init__(self):
    for e in self.extractors:
      checks.check_choice('extractors', e, EXTRACTORS)
    for combos in (self.combos, self.basicmotions_combos):
      for combo in combos or ():
        parse_name(f'cnn:{combo}')
    checks.check_int('hidden', self.hidden)
    checks.check_int('seeds', self.seeds)
    checks.check_positive_float('baseline_c', self.baseline_c)


def all_combos(modalities) -> tuple[str, ...]:
  """Every unimodal model and both fusions of every multimodal subset (Tables 2-4)."""
  out = []
  for r in range(1, len(modalities) + 1):
    for sub in itertools.combinations(modalities, r):
      out += [sub[0]] if r == 1 else ['+'.join(sub), '*'.join(sub)]
  return tuple(out)


# ------------------------------------------------------------------ models


def parse_name(name: str) -> tuple[str, tuple[str, ...], str]:
  """(extractor, modalities, fusion) of a cell name such as 'cnn:steps*hr*acc'.

  Raises:
    ValueError: an unknown extractor, both '+' and '*', an empty or repeated
      modality.
  """
  if not isinstance(name, str) or name.count(':') != 1:
    raise ValueError(f"a model name is '<extractor>:<modalities>', got {name!r}")
  extractor, combo = name.split(':')
  checks.check_choice('extractor', extractor, EXTRACTORS)
  signs = {s for s in FUSION_OF if s in combo}
  if len(signs) > 1:
    raise ValueError(f"{name!r} mixes '+' and '*'; one fusion per model")
  sign = signs.pop() if signs else '+'
  modalities = tuple(combo.split(sign))
  if not all(modalities) or len(set(modalities)) != len(modalities):
    raise ValueError(f'{name!r}: modalities must be non-empty and distinct, got {modalities}')
  return extractor, modalities, FUSION_OF[sign]


def make_model(config: Config, name: str, *, num_classes: int) -> HARFusionModel:
  """The model of grid cell `name` ('cnn:steps*hr*acc'; module docstring), 4.2.

  Args:
    config: `Config` (its dropout rate and classifier width).
    name: '<extractor>:<modalities>', modalities joined by '+' (concatenation)
      or '*' (outer product); one modality is a unimodal model.
    num_classes: the task's classes (>= 2).
  """
  extractor, modalities, fusion = parse_name(name)
  checks.check_int('num_classes', num_classes, low=2)
  return HARFusionModel(
    modalities, extractor, fusion, int(num_classes), config.dropout, config.hidden
  )


def paper_name(name: str) -> tuple[str, str]:
  """(column, row) of a cell in the paper's tables: ('CNN', 'f_steps⊗hr⊗xyz')."""
  extractor, modalities, fusion = parse_name(name)
  sep = '⊕' if fusion == 'concat' else '⊗'
  return extractor.upper(), 'f_' + sep.join(SYMBOL.get(m, m) for m in modalities)


# ------------------------------------------------------------- training


class FoldResult(NamedTuple):
  """Per fold: best_epoch [F], epochs_run [F], best_uar [F], predictions [F, n_eval].

  train_uar [F] and train_loss [F] are the final model's UAR and mean
  cross-entropy on its own training windows (dropout off), for outer folds;
  NaN for inner folds. steps [F]: the Adam steps each fold took. finite [F]
  is False when a training loss became NaN or inf (the fold stops there;
  `nested_loso` raises).
  """

  best_epoch: jax.Array
  epochs_run: jax.Array
  best_uar: jax.Array
  predictions: jax.Array
  finite: jax.Array
  train_uar: jax.Array
  train_loss: jax.Array
  steps: jax.Array


class NestedResult(NamedTuple):
  """Outcome of nested LOSO of one model, S seeds x F outer folds.

  fold_uar: [S, F] UAR on each held-out participant.
  epochs: [S, F] epochs of each outer training (inner median, or the fixed
    budget's `fit.num_epochs`).
  inner_epochs: [S, F, k] epoch count of each inner fold (k = 0 under a
    fixed budget: no inner fold trains).
  train_uar, train_loss: [S, F] the outer model's UAR and cross-entropy on its
    own training windows (dropout off).
  steps: [S, F] Adam steps of each outer model.
  y_true: [n_test] test windows of all outer folds, concatenated.
  y_pred: [S, n_test] each seed's predictions of them.
  test_subjects: [F] held-out subject id of each outer fold.
  pooled_uar: UAR of the test windows of all outer folds and seeds pooled
    (see the module docstring for how it differs from the mean of fold_uar).
  """

  fold_uar: np.ndarray
  epochs: np.ndarray
  inner_epochs: np.ndarray
  train_uar: np.ndarray
  train_loss: np.ndarray
  steps: np.ndarray
  y_true: np.ndarray
  y_pred: np.ndarray
  test_subjects: np.ndarray
  pooled_uar: float


def _logits(model, params, batch_stats, inputs, idx, chunk: int):
  """Logits [n, C] of the windows `inputs[idx]`, at most `chunk` windows per forward pass."""
  n = idx.shape[0]
  chunks = trainer.row_chunks(idx, chunk)

  def one(ix):
    x = {m: a[ix] for m, a in inputs.items()}
    logits, _ = trainer.apply_model(
      model, params, batch_stats, x, jnp.ones(ix.shape, bool), train=False
    )
    return logits

  return jax.lax.map(one, chunks).reshape(-1, model.num_classes)[:n]


def _predict(model, params, batch_stats, inputs, idx, chunk: int):
  """Class predictions [n] of the windows `inputs[idx]`, at most `chunk` windows per forward pass."""
  return jnp.argmax(_logits(model, params, batch_stats, inputs, idx, chunk), axis=-1)


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


@functools.lru_cache(maxsize=8)
def _evaluate(chunk: int):
  # One factory object per chunk size: make_stage caches on it.
  return functools.partial(eval_fn, chunk=chunk)


def _init_variables(model, key, inputs):
  """The model's variables, initialised on one window of each modality of `inputs`."""
  dummy = {m: jnp.zeros((1,) + x.shape[1:], x.dtype) for m, x in inputs.items()}
  return model.init({'params': key}, dummy, jnp.ones((1,), bool), train=False)


def _stage(model, cfg: NestedLOSOConfig, use_eval: bool) -> trainer.Stage:
  evaluate = _evaluate(cfg.eval_chunk) if use_eval else None
  return trainer.make_stage(model, cfg.fit, loss_fn, evaluate, variables=_init_variables)


@functools.lru_cache(maxsize=64)
def _predictor(model, chunk: int):
  """Jitted outcome of F trained folds, one compile per model.

  Returns `f(fs, data, split) -> (test predictions [F, n_val], training UAR
  [F], training cross-entropy [F])`: the final model (dropout off) on the
  fold's validation (test) windows and on its own training windows.
  """

  def outcome(fs, data, split):
    params, stats, inputs = fs.train.params, fs.train.batch_stats, data['inputs']
    pred = _predict(model, params, stats, inputs, split.val_idx, chunk)
    logits = _logits(model, params, stats, inputs, split.train_idx, chunk)
    y = data['y'][split.train_idx]
    train_uar = evaluation.uar(
      jnp.where(split.train_mask, y, -1), jnp.argmax(logits, -1), model.num_classes
    )
    return pred, train_uar, trainer.cross_entropy_loss(logits, y, split.train_mask)

  return jax.jit(jax.vmap(outcome, in_axes=(0, None, 0)))


def train_folds(
  keys,
  model,
  cfg: NestedLOSOConfig,
  data,
  split: trainer.Split,
  max_epochs,
  *,
  use_eval: bool = True,
  vmapped: bool = True,
) -> FoldResult:
  """Train F folds: one vmapped program, or the same folds one after another.

  Args:
    keys: [F] jax.random keys, one per fold.
    model: a `HARFusionModel`.
    cfg: `NestedLOSOConfig`.
    data: {'inputs': {modality: [N, time, channels] float32}, 'y': [N] int32}.
    split: `trainer.Split` with leading axis F; the validation entries are
      the windows to validate on (inner folds) or to test (outer folds).
    max_epochs: int or [F] ints.
    use_eval: early stopping on the validation windows (inner folds), or
      exactly `max_epochs` epochs (outer folds).
    vmapped: one program over all folds (True) or a Python loop of the
      single-fold program over the same padded shapes (False).

  Returns:
    FoldResult with a leading [F] axis; predictions, training UAR and loss
    only for outer folds (zeros and NaN for inner folds, which need only
    their epoch counts).

  Raises:
    ValueError: on labels that are not integers in [0, model.num_classes),
      inputs of another length, or split indices outside the data: under jit
      an out-of-range label adds a zero loss term and counts in no UAR
      class, and an out-of-range index is clamped, all without a word.
  """
  _check_fold_data(model, data, split)
  stage = _stage(model, cfg, use_eval)
  k_init = jax.vmap(lambda k: named_key(k, 'init'))(keys)
  k_train = jax.vmap(lambda k: named_key(k, 'train'))(keys)
  fs = stage.init(k_init, data['inputs'])
  fs, _ = trainer.fit_runs(
    stage.fit,
    fs,
    k_train,
    data,
    split,
    num_epochs=cfg.fit.num_epochs,
    max_epochs=max_epochs,
    runs_as='vmap' if vmapped else 'loop',
  )
  if use_eval:
    pred = jnp.zeros_like(split.val_idx)
    train_uar = train_loss = jnp.full(split.val_idx.shape[:1], jnp.nan)
  else:
    with timing.phase('predict'):
      pred, train_uar, train_loss = jax.block_until_ready(
        _predictor(model, cfg.eval_chunk)(fs, data, split)
      )
  return FoldResult(
    fs.best_epoch,
    fs.epoch,
    fs.best_metric,
    pred,
    ~fs.nonfinite,
    train_uar,
    train_loss,
    fs.train.step,
  )


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


def nested_fold_indices(key, subjects, train_window, test_window, inner_folds: int):
  """Window indices of every inner and outer fold (no padding).

  Training sets use the 50%-overlap windows of their participants, validation
  and test sets the non-overlapping windows (paper 4.1).

  Args:
    key: jax.random key of the assignment of participants to inner folds.
    subjects: [n] participant of each window.
    train_window, test_window: [n] bool, windows of the training / test grid.
    inner_folds: inner folds per outer fold (cut to n_participants - 1, with
      a warning).

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
  # Outer fold f shuffles its participants with named_key(key, 'outer', f).
  nested = evaluation.nested_loso_splits(subjects, inner_folds=k, key=key)
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


def _fold_keys(key, outer, inner, seeds: int):
  """Inner [S * n_inner] and outer [S * F] fold keys, seed-major.

  Seed r's keys live under `named_key(key, 'seed', r)`, named by held-out
  participant (and inner fold).
  """
  k_inner, k_outer = [], []
  for r in range(seeds):
    k = named_key(key, 'seed', r)
    k_inner += [
      named_key(k, 'inner', int(s), j)
      for (_, _, s), folds in zip(outer, inner)
      for j in range(len(folds))
    ]
    k_outer += [named_key(k, 'outer', int(s)) for _, _, s in outer]
  return (jnp.stack(k_inner) if k_inner else None), jnp.stack(k_outer)


def fold_indices(key, data, config: NestedLOSOConfig):
  """`nested_fold_indices` of `data` for `config`; no inner folds under a fixed budget.

  Args:
    key: the key of the assignment of participants to inner folds.
    data: HARWindows.
    config: `NestedLOSOConfig` (its inner folds and epoch rule).

  Returns:
    (outer, inner) as `nested_fold_indices`; inner holds empty lists when
    `config.epoch_rule == 'fixed'` (nothing to choose, so no warning about
    cutting the inner folds either).
  """
  k = config.inner_folds
  if config.epoch_rule == 'fixed':
    k = min(k, len(np.unique(np.asarray(data.subjects))) - 1)
  outer, inner = nested_fold_indices(key, data.subjects, data.train_window, data.test_window, k)
  if config.epoch_rule == 'fixed':
    inner = [[] for _ in outer]
  return outer, inner


def _select_epochs(key, model, config, arrays, outer, inner, seeds, vmapped):
  """[S, F] outer epochs and [S, F, k] inner counts (k = 0 under a fixed budget)."""
  n_outer = len(outer)
  if config.epoch_rule == 'fixed':
    full = np.full((seeds, n_outer), config.fit.num_epochs, np.int32)
    return full, np.zeros((seeds, n_outer, 0), np.int32)
  k_inner, _ = _fold_keys(key, outer, inner, seeds)
  # Level 1: every inner fold of every outer fold and seed in one program.
  flat = [f for fs in inner for f in fs] * seeds
  split = trainer.make_split([a for a, _ in flat], [b for _, b in flat])
  res = train_folds(
    k_inner, model, config, arrays, split, config.fit.num_epochs, use_eval=True, vmapped=vmapped
  )
  _check_finite(res, 'inner')
  counts = np.asarray(res.best_epoch if config.epoch_rule == 'best' else res.epochs_run)
  counts = np.maximum(counts, 1).reshape(seeds, n_outer, -1)
  # Median of the inner folds' epochs; half-integers round up.
  return np.floor(np.median(counts, axis=2) + 0.5).astype(np.int32), counts


def nested_loso(
  key,
  model,
  config: NestedLOSOConfig,
  data,
  *,
  folds=None,
  vmapped: bool = True,
  seeds: int = 1,
) -> NestedResult:
  """Nested leave-one-subject-out evaluation of one model (paper 4.3).

  Args:
    key: jax.random key of this model's run (seed and fold keys are named below it).
    model: HARFusionModel (its num_classes is the task's).
    config: `NestedLOSOConfig`; `epoch_rule='fixed'` trains no inner fold.
    data: HARWindows (inputs restricted to the model's modalities or more).
    folds: `fold_indices(...)` of `data`, to share one assignment of
      participants to inner folds between models; None draws it from
      `named_key(key, 'inner folds')`.
    vmapped: each level as one vmapped program (True) or fold after fold.
    seeds: trainings of every fold (seed r: `named_key(key, 'seed', r)`).

  Returns:
    NestedResult.
  """
  num_classes = model.num_classes
  seeds = checks.check_int('seeds', seeds)
  inputs = {m: data.inputs[m] for m in model.modalities}
  labels = _check_data(inputs, data.labels, data.subjects, num_classes)
  if folds is None:
    folds = fold_indices(named_key(key, 'inner folds'), data, config)
  outer, inner = folds
  arrays = {'inputs': {m: jnp.asarray(x) for m, x in inputs.items()}, 'y': jnp.asarray(labels)}
  epochs, counts = _select_epochs(key, model, config, arrays, outer, inner, seeds, vmapped)
  # Level 2: every outer fold and seed with its own epoch count, in one program.
  _, k_outer = _fold_keys(key, outer, [[] for _ in outer], seeds)
  split = trainer.make_split([tr for tr, _, _ in outer] * seeds, [te for _, te, _ in outer] * seeds)
  res = train_folds(
    k_outer, model, config, arrays, split, epochs.reshape(-1), use_eval=False, vmapped=vmapped
  )
  _check_finite(res, 'outer')
  n_outer = len(outer)
  preds = np.asarray(res.predictions).reshape(seeds, n_outer, -1)
  fold_uar = np.asarray(
    [
      [
        float(evaluation.uar(labels[te], preds[r, f, : len(te)], num_classes))
        for f, (_, te, _) in enumerate(outer)
      ]
      for r in range(seeds)
    ]
  )
  y_true = np.concatenate([labels[te] for _, te, _ in outer])
  y_pred = np.stack(
    [
      np.concatenate([preds[r, f, : len(te)] for f, (_, te, _) in enumerate(outer)])
      for r in range(seeds)
    ]
  )
  return NestedResult(
    fold_uar,
    epochs,
    counts,
    np.asarray(res.train_uar, np.float64).reshape(seeds, n_outer),
    np.asarray(res.train_loss, np.float64).reshape(seeds, n_outer),
    np.asarray(res.steps).reshape(seeds, n_outer),
    y_true,
    y_pred,
    np.asarray([s for _, _, s in outer]),
    float(evaluation.uar(np.tile(y_true, seeds), y_pred.reshape(-1), num_classes)),
  )


# ------------------------------------------------------------- baseline


def mean_std_features(inputs: Mapping, modalities) -> np.ndarray:
  """Per-window mean and standard deviation over time of every channel.

  Args:
    inputs: {modality: [n, time, channels]}.
    modalities: the modalities to use, in order.

  Returns:
    [n, 2 * sum(channels)] float64: for each modality in turn, its channels'
    means, then their standard deviations (ddof 0).
  """
  out = []
  for m in modalities:
    x = np.asarray(inputs[m], np.float64)
    out += [x.mean(axis=1), x.std(axis=1)]
  return np.concatenate(out, axis=1)


class BaselineResult(NamedTuple):
  """Logistic regression over F outer folds.

  fold_uar, train_uar, train_loss: [F] test UAR on the held-out participant,
    UAR and log-loss (nats) on the fold's training windows.
  y_pred: [n_test] predictions of the test windows of all outer folds, concatenated.
  """

  fold_uar: np.ndarray
  train_uar: np.ndarray
  train_loss: np.ndarray
  y_pred: np.ndarray


def logistic_regression_baseline(data, outer, num_classes: int, *, c: float = 1.0):
  """A linear baseline on the outer folds: logistic regression on window statistics.

  Features: `mean_std_features` of every modality of `data`; standardised
  with the mean and standard deviation of each outer fold's training windows;
  multinomial logistic regression with an L2 penalty (inverse strength `c`,
  scikit-learn's lbfgs solver, deterministic) fitted on those windows and
  scored on the held-out participant's test windows. Nothing is tuned.

  Args:
    data: HARWindows.
    outer: the outer folds of `fold_indices` / `nested_fold_indices`: a list
      of (train indices, test indices, held-out subject).
    num_classes: the task's classes.
    c: inverse L2 strength (`LogisticRegression(C=c)`).

  Returns:
    BaselineResult.
  """
  from sklearn.linear_model import LogisticRegression
  from sklearn.metrics import log_loss
  from sklearn.pipeline import make_pipeline
  from sklearn.preprocessing import StandardScaler

  x = mean_std_features(data.inputs, tuple(data.inputs))
  y = checks.check_labels('labels', data.labels, num_classes)
  fold_uar, train_uar, train_loss, y_pred = [], [], [], []
  for tr, te, _ in outer:
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
    clf.fit(x[tr], y[tr])
    p = clf.predict(x[te])
    fold_uar.append(float(evaluation.uar(y[te], p, num_classes)))
    train_uar.append(float(evaluation.uar(y[tr], clf.predict(x[tr]), num_classes)))
    train_loss.append(float(log_loss(y[tr], clf.predict_proba(x[tr]), labels=clf.classes_)))
    y_pred.append(p)
  return BaselineResult(
    np.asarray(fold_uar), np.asarray(train_uar), np.asarray(train_loss), np.concatenate(y_pred)
  )


# ------------------------------------------------------------- the grid


class Cell(NamedTuple):
  """One grid cell: a task (a key of `run`'s data) and a model name ('cnn:steps*hr*acc')."""

  task: str
  name: str

  @property
  def id(self) -> str:
    """The cell's name: its key is `named_key(key, cell.id)`; resumed runs match on it."""
    return f'{self.task}/{self.name}'


class Results(NamedTuple):
  """What `run` returns.

  Attributes:
    records: for each task, table '<Table n> (<task>)' (harAGE tasks) or
      '<task>': mean and std of the per-participant UAR over outer folds x
      seeds, rows the models in the paper's notation, columns the
      extractors; '<table>, pooled': the pooled UAR of the same cells;
      '<table>, convergence and baseline': every cell's test and training
      UAR beside the logistic-regression baseline's; '<table>, training
      loss': their training cross-entropy; `FIGURE_TABLE`: each task's
      figure model (`FIGURE_MODELS`, fixed in advance).
    timings: the times of each cell ('<task>/<name>') and of each task's
      baseline ('<task>/baseline'): `fewshot.timing.stage` dicts (wall,
      compile, train, predict, other seconds; a cell resumed from an older
      run's file: its wall seconds), and the wall seconds of this call
      ('total (this call)').
    cells: {cell id: outcome}, JSON-able: fold_uar, epochs, train_uar,
      train_loss, steps (Adam steps) [S][n_outer], inner_epochs [S][n_outer][k], pooled_uar,
      test_subjects [n_outer], confusion [C][C] counts of the pooled test
      windows summed over the S seeds, class_names, seconds, times (the
      cell's `fewshot.timing.stage` dict).
    confusion: {task: {'cell', 'title', 'counts' [C][C], 'class_names'}}: the
      figure of each task's figure model (`FIGURE_MODELS`).
    baselines: {task: outcome} of the logistic regression: fold_uar,
      train_uar, train_loss [n_outer], pooled_uar, confusion, seconds.
  """

  records: list
  timings: dict
  cells: dict
  confusion: dict
  baselines: dict


def _modalities(data: Mapping) -> tuple:
  return tuple(next(iter(data.values())).inputs)


def grid(config: Config, data: Mapping) -> list[Cell]:
  """Every cell: task (data's order) x extractor x model (Tables 2-4's rows).

  The harAGE grid (`config.combos`) applies to data with the harAGE
  modalities, `config.basicmotions_combos` to any other; None is every
  combination (`all_combos`).
  """
  _check_tasks(data)
  modalities = _modalities(data)
  harage = set(modalities) == set(HARAGE_MODALITIES)
  combos = config.combos if harage else config.basicmotions_combos
  if combos is None:
    combos = all_combos(HARAGE_MODALITIES if harage else modalities)
  cells = [Cell(t, f'{e}:{c}') for t in data for e in config.extractors for c in combos]
  for cell in cells:
    missing = set(parse_name(cell.name)[1]) - set(data[cell.task].inputs)
    if missing:
      raise ValueError(f'{cell.id}: data[{cell.task!r}] has no modality {sorted(missing)}')
  return cells


def _check_tasks(data) -> None:
  if not isinstance(data, Mapping) or not data:
    raise ValueError('data must be a non-empty dict {task name: HARWindows}')
  for task, windows in data.items():
    if not hasattr(windows, 'inputs') or not hasattr(windows, 'class_names'):
      raise ValueError(f'data[{task!r}] must be HARWindows, got {type(windows).__name__}')


def _run_cell(key, config: Config, cell: Cell, windows, folds) -> dict:
  num_classes = len(windows.class_names)
  model = make_model(config, cell.name, num_classes=num_classes)
  with timing.stage(cell.id) as times:
    res = nested_loso(
      key, model, config.train, windows, folds=folds, vmapped=config.vmap_folds, seeds=config.seeds
    )
  y_true = np.tile(res.y_true, config.seeds)
  cm = evaluation.confusion_matrix(y_true, res.y_pred.reshape(-1), num_classes)
  return dict(
    fold_uar=res.fold_uar.tolist(),
    pooled_uar=res.pooled_uar,
    epochs=res.epochs.tolist(),
    inner_epochs=res.inner_epochs.tolist(),
    train_uar=res.train_uar.tolist(),
    train_loss=res.train_loss.tolist(),
    steps=res.steps.tolist(),
    test_subjects=[str(windows.subject_names[s]) for s in res.test_subjects],
    confusion=np.asarray(cm).tolist(),
    class_names=list(windows.class_names),
    seconds=times['wall_s'],
    times=times,
  )


def _run_baseline(config: Config, windows, folds) -> dict:
  num_classes = len(windows.class_names)
  outer = folds[0]
  with timing.stage('baseline') as times:
    res = logistic_regression_baseline(windows, outer, num_classes, c=config.baseline_c)
  y_true = np.concatenate([windows.labels[te] for _, te, _ in outer])
  cm = evaluation.confusion_matrix(y_true, res.y_pred, num_classes)
  return dict(
    fold_uar=res.fold_uar.tolist(),
    pooled_uar=float(evaluation.uar(y_true, res.y_pred, num_classes)),
    train_uar=res.train_uar.tolist(),
    train_loss=res.train_loss.tolist(),
    confusion=np.asarray(cm).tolist(),
    class_names=list(windows.class_names),
    seconds=times['wall_s'],
    times=times,
  )


# ------------------------------------------------------------- the tables

ESTIMATOR = (
  'μ, σ: mean and standard deviation (ddof 1) over the outer LOSO folds x training seeds of '
  "each held-out participant's test UAR, recall averaged over the classes present in that "
  "participant's test windows (the paper's estimator, n = folds x seeds)"
)
ESTIMATOR_POOLED = (
  "UAR of all outer LOSO folds' test windows pooled (each predicted by its fold's model) over "
  'folds and training seeds, every class weighted equally'
)
ESTIMATOR_FIT = (
  "test UAR: each held-out participant's test UAR (as the paper's table); training UAR: the "
  "final model's UAR (dropout off) on its outer fold's training windows (the 50%-overlap "
  'windows of the training participants), recall averaged over the classes present; μ ± σ '
  '(ddof 1) over outer folds x seeds (networks) or outer folds (logistic regression: '
  'deterministic)'
)
ESTIMATOR_LOSS = (
  "mean cross-entropy (nats) of the final model (dropout off) on its outer fold's training "
  'windows (networks: softmax over all classes; logistic regression: its log-loss); μ ± σ '
  '(ddof 1) over outer folds x seeds (networks) or outer folds (logistic regression)'
)
BASELINE_ROW = 'logistic regression (window means, stds)'


def _selection(cfg: NestedLOSOConfig, inner_folds: int) -> str:
  if cfg.epoch_rule == 'fixed':
    fit = cfg.fit
    steps = (
      f'{fit.steps_per_epoch} batches of {fit.batch_size} each = {budget_steps(cfg)} Adam steps'
      if fit.steps_per_epoch is not None
      else f'one pass in batches of {fit.batch_size} each'
    )
    return (
      f'epochs: none selected: a fixed budget written in the config before any outer fold was '
      f'scored, {fit.num_epochs} epochs of {steps} (learning rate {fit.learning_rate:g}), no '
      'early stopping, no inner folds; the held-out participant chooses nothing'
    )
  counted = (
    'epoch of best validation UAR'
    if cfg.epoch_rule == 'best'
    else 'number of epochs run (best epoch + patience)'
  )
  return (
    f'epochs: per outer fold and seed, the median over its {inner_folds} inner folds '
    "(participant-independent splits of that fold's labelled training participants; the "
    f"held-out participant is never used) of each inner fold's {counted} under early stopping "
    f'(patience {cfg.fit.patience}, at most {cfg.fit.num_epochs} epochs); the outer model then '
    'trains on all its training participants for that many epochs'
  )


def _baseline_selection(config: Config) -> str:
  return (
    f'none: C = {config.baseline_c:g} (L2, not tuned), features standardised on each outer '
    "fold's training windows; the held-out participant chooses nothing"
  )


def table_name(task: str) -> str:
  """The paper's table of a task ('Table 3 (7 classes)'); other tasks by their name."""
  return f'{PAPER_TABLES[task]} ({task})' if task in PAPER_TABLES else task


def _with_caveat(text: str, caveat: str) -> str:
  return f'{text}. Data: {caveat}' if caveat else text


def _flat(values) -> list:
  return np.asarray(values, np.float64).ravel().tolist()


def _fit_records(config, task, names, outcomes, baseline, epochs, caveat) -> list:
  """'<table>, convergence and baseline' and '<table>, training loss' of one task."""
  fit, loss = {}, {}
  for (row, col), cell in names.items():
    out = outcomes[cell.id]
    label = f'{col} {row}'
    fit[label] = {'test UAR': _flat(out['fold_uar']), 'training UAR': _flat(out['train_uar'])}
    loss[label] = {'training loss': _flat(out['train_loss'])}
  fit[BASELINE_ROW] = {'test UAR': baseline['fold_uar'], 'training UAR': baseline['train_uar']}
  loss[BASELINE_ROW] = {'training loss': baseline['train_loss']}
  networks = f'{epochs}. Model, fusion, extractor: none (every cell reported)'
  select = lambda row, col: _baseline_selection(config) if row == BASELINE_ROW else networks
  table = table_name(task)
  return records_lib.from_summary(
    f'{table}, convergence and baseline',
    reports.summarize(fit, 'mean_std'),
    estimator=_with_caveat(ESTIMATOR_FIT, caveat),
    selection=select,
  ) + records_lib.from_summary(
    f'{table}, training loss',
    reports.summarize(loss, 'mean_std'),
    estimator=_with_caveat(ESTIMATOR_LOSS, caveat),
    selection=select,
  )


def _records(
  config: Config, cells: list[Cell], outcomes: Mapping, baselines: Mapping, caveats: Mapping
) -> tuple[list, dict]:
  """Per task: its table (μ, σ), pooled UARs, convergence and baseline, training loss; figure models."""
  per_task = {}
  for cell in cells:
    col, row = paper_name(cell.name)
    folds, pooled, names = per_task.setdefault(cell.task, ({}, {}, {}))
    folds.setdefault(row, {})[col] = _flat(outcomes[cell.id]['fold_uar'])
    pooled.setdefault(row, {})[col] = outcomes[cell.id]['pooled_uar']
    names[row, col] = cell
  records, best_records, confusion = [], [], {}
  for task, (folds, pooled, names) in per_task.items():
    k = np.shape(outcomes[next(iter(names.values())).id]['inner_epochs'])[-1]
    epochs = _selection(config.train, k)
    selection = f'{epochs}. Model, fusion, extractor: none (every cell reported)'
    summary = reports.summarize(folds, 'mean_std')
    table = table_name(task)
    caveat = caveats.get(task, '')
    records += records_lib.from_summary(
      table, summary, estimator=_with_caveat(ESTIMATOR, caveat), selection=selection
    )
    records += records_lib.from_summary(
      f'{table}, pooled',
      pooled,
      estimator=_with_caveat(ESTIMATOR_POOLED, caveat),
      selection=selection,
    )
    records += _fit_records(config, task, names, outcomes, baselines[task], epochs, caveat)
    cell, paper = figure_model(task, names)
    col, row = paper_name(cell.name)
    best_records += records_lib.from_summary(
      FIGURE_TABLE,
      {f'{task}: {col} {row}': {'UAR': summary[row][col]}},
      estimator=_with_caveat(ESTIMATOR, caveat),
      selection=(
        "model: fixed in advance, the paper's figure model for this task"
        if paper
        else "model: fixed in advance, the last cell of the grid (config order; the paper's "
        'figure model of this task, if any, was not run)'
      )
      + f'; no score chose it; {epochs}',
    )
    out = outcomes[cell.id]
    seeds = np.shape(out['fold_uar'])[0]
    confusion[task] = {
      'cell': cell.id,
      'title': f"{task}: {col} {row} ({'the paper' if paper else 'grid'}'s figure model; "
      f'{seeds} seed(s) summed)',
      'counts': out['confusion'],
      'class_names': out['class_names'],
    }
  return records + best_records, confusion


def figure_model(task: str, names: Mapping) -> tuple[Cell, bool]:
  """The cell whose confusion matrix a task's figure shows, fixed in advance (`FIGURE_MODELS`).

  Args:
    task: the task's name ('7 classes', ...).
    names: {(row, column): Cell} of the task's cells, in grid order.

  Returns:
    (cell, paper): the paper's figure model of the task when the grid has it
    (paper True), otherwise the grid's last cell (config order; paper False).
  """
  for cell in names.values():
    if cell.name == FIGURE_MODELS.get(task):
      return cell, True
  return list(names.values())[-1], False


def run(
  key,
  config: Config,
  data: Mapping,
  *,
  progress: Callable | None = None,
  done: Mapping | None = None,
  on_cell: Callable | None = None,
) -> Results:
  """Tables 2-4: every grid cell under nested LOSO, the baseline, and the records of the tables.

  Args:
    key: the run's jax.random key; cell `c` trains with `named_key(key, c.id)`
      and every cell shares the inner folds of `named_key(key, 'inner folds')`.
    config: `Config`.
    data: {task name: HARWindows}, e.g. {'2 classes': ..., '7 classes': ...};
      harAGE task names give the paper's table names (`PAPER_TABLES`).
    progress: called with 1 after each cell (e.g. a tqdm bar's `update`).
    done: {cell id: outcome} of cells already finished (`Results.cells` of an
      interrupted run with the same key, config and data); they are not rerun.
    on_cell: called as `on_cell(cell_id, outcome)` after each cell that ran
      (e.g. to append it to a file for resuming).

  Returns:
    `Results`.
  """
  t0 = time.perf_counter()
  cells = grid(config, data)
  done = dict(done or {})
  fold_key = named_key(key, 'inner folds')
  folds = {task: fold_indices(fold_key, windows, config.train) for task, windows in data.items()}
  outcomes, timings, baselines = {}, {}, {}
  for task, windows in data.items():
    baselines[task] = _run_baseline(config, windows, folds[task])
    timings[f'{task}/baseline'] = baselines[task]['times']
  for cell in cells:
    if cell.id in done:
      outcomes[cell.id] = dict(done[cell.id])
    else:
      outcomes[cell.id] = _run_cell(
        named_key(key, cell.id), config, cell, data[cell.task], folds[cell.task]
      )
      if on_cell is not None:
        on_cell(cell.id, outcomes[cell.id])
    # a cell resumed from an older run's file has its wall seconds only
    timings[cell.id] = outcomes[cell.id].get('times', outcomes[cell.id]['seconds'])
    if progress is not None:
      progress(1)
  caveats = {task: getattr(windows, 'caveat', '') for task, windows in data.items()}
  records, confusion = _records(config, cells, outcomes, baselines, caveats)
  timings['total (this call)'] = time.perf_counter() - t0
  return Results(records, timings, outcomes, confusion, baselines)
