"""The sEMG paper's experimental protocol (Ergeneci et al., Sec. III): Tables IV-IX.

`run(key, config, data)` computes every table of the paper and returns them
as records (`evaluation.records`), one per reported number, each saying what
it estimates and what data selected it; `experiments/semg_fewshot.py` only
loads data, calls it and writes the run folder.

A *stage* trains one model setting for many runs at once (the seeds of a
table, or seeds x samples per class) as one compiled, vmapped program built
by `fewshot.trainer.make_stage` (cached per model, setting and optimizer),
with Orbax checkpoints when `run` gets a `checkpoint_dir`, so that an
interrupted experiment resumes and a finished stage is skipped
(`run_stage`, `fewshot.checkpoint`). Settings that differ only in which
layers train share one stage (`_train_shared`: one program, one call, one
checkpoint folder), the trainable masks carried per run in the optimizer
state (`transfer.trainable_adam`): DL from scratch and TL in the budgets
('budget_dl_tl'), in Tables VII-VIII ('table7_dl_table8_tl_nu<nu>', one
call per nu, all calls of equal shapes, and 'table7_dl_table8_tl_oracle')
and Table VI's fine-tuning settings ('table6_fine_tuning');
every run keeps the keys of its former stage name, so the numbers are those
of separate stages.

Splits (Table III). Each seed redraws a per-class train / validation / test
split with the counts of Table III (`evaluation.per_class_split`); a data set
with fewer recordings per class (the synthetic default) gets each class's
Table III row scaled down to what it has (`table3_counts`), keeping the
paper's proportions. C1-C4 are the seen tasks C^1, C5-C7 the unseen C^2.

Randomness. One root key per experiment; every key below it is derived by
name (`evaluation.keys.named_key`): seed s's split from ('split', s), draw d
of its nu examples per class from ('shots', s, 'nu<nu>', 'draw<d>'), a
stage's run from (stage name, s[, 'nu<nu>', 'draw<d>']) and within it
('init') and ('train'), the episodes of seed s and k shots from ('episodes',
s, 'k<k>') (the same episodes for every FSL method). No key depends on how
many were drawn before.

Fair comparison on the unseen classes C5-C7 (the default, strict protocol):
- No method reads a labelled C5-C7 recording beyond its nu (= k) shots per
  class. DL and TL train for a number of epochs fixed before any C5-C7
  recording is read (`budgets`: pseudo-novel tasks of C1-C4); the few-shot
  methods' embeddings are trained and early-stopped on C1-C4 only.
- The same shots feed every method: per seed, `Config.draws` draws of nu
  training recordings per class (`shot_draws`); DL and TL train on each
  draw, and every FSL method takes it as its support.
- One primary estimator for every row (Tables VII, VIII, IX): the weighted
  F1 on the seed's whole C5-C7 test split (every FSL method classifies each
  test recording given the support), the mean over the seed's draws; the
  median and IQR over seeds. The paper's pooled-episode F1 is Table IX's
  second estimator ('IX_episodes', one query per episode as in the paper, or
  `n_query` per class with `Config.query='class'`).
- Standardisation: per-channel z-scores with the mean and std of the seed's
  C1-C4 training recordings only, applied to every recording
  (`standardize_per_seed`): no C5-C7 recording, labelled or not, enters it.
- Nothing is selected on a test split: the finding compares DL, TL and the
  FSL methods fixed in advance (`FINDING_FSL`: CP and the paper's CS^3_AB);
  the raw-feature baselines CP and 1-NN (`RAW_BASELINES`) show what the
  learned embedding adds.
- With `Config.oracle` the validation-assisted rows are computed too and
  named as such ('oracle' table): DL and TL stopping early on the seed's
  labelled C5-C7 validation split (the paper's "the validation set is used
  to prevent overfitting"), and every FSL method given the same recordings
  as extra support.

Other protocol choices the paper leaves open (all per seed): TL fine-tunes
with the first BiLSTM frozen (the best setting of Table VI); Table VI
fine-tunes on the full C5-C7 training split and stops early on its C5-C7
validation split (a transfer table, not a few-shot comparison); FSL episodes
are 3-way, support from the training split with replacement; every table
reports the median and IQR over seeds. Early stopping watches an exponential
moving average of the validation loss (`FitConfig.smoothing`) where the
config sets it.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import math
import os
import re
from typing import Callable
from typing import NamedTuple
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from evaluation import checks
from evaluation import f1_score
from evaluation import per_class_split
from evaluation import precision
from evaluation import recall
from evaluation import records as records_lib
from evaluation import reports
from evaluation.keys import named_key
from fewshot import checkpoint
from fewshot import classifiers
from fewshot import episodes
from fewshot import siamese as siamese_lib
from fewshot import timing
from fewshot import trainer
from fewshot import transfer
from fewshot.models import semg as models

# Table III: (training, validation, test) samples per class C1-C7.
SEMG_TABLE_III = (
  (389, 111, 120),  # C1 60-degree adductor squeeze
  (487, 111, 120),  # C2 glute bridge
  (540, 153, 120),  # C3 single-leg elevated long-lever bridge
  (301, 76, 120),  # C4 isometric prone contraction
  (244, 62, 120),  # C5 elevated glute bridge
  (318, 65, 120),  # C6 single-leg prone curls
  (403, 93, 120),  # C7 running
)
# The paper's task sets (0-based: C1 -> 0): C^1 = C1-C4 seen, C^2 = C5-C7 unseen.
SEMG_SEEN_CLASSES = (0, 1, 2, 3)
SEMG_UNSEEN_CLASSES = (4, 5, 6)
FSL_METHODS = ('CL^1', 'CL^2', 'CL^20', 'CM', 'CP', 'CS^2', 'CS^3', 'CS^3_AB')
# Siamese methods of Table IX: (loss, AdaBatch).
SIAMESE = {'CS^2': ('contrastive', False), 'CS^3': ('triplet', False), 'CS^3_AB': ('triplet', True)}
# Validation triplets of a siamese stage (drawn once, the same every epoch).
SIAMESE_VAL_TRIPLETS = 128
# Raw-feature baselines scored beside the FSL methods: the standardised [2, T]
# features flattened, no learned embedding (what the base model adds).
RAW_BASELINES = {
  'CP (raw features)': classifiers.METRIC_CLASSIFIERS['CP'],
  '1-NN (raw features)': classifiers.nearest_neighbour_classifier,
}
# The FSL methods of the finding, fixed before any score is seen: the paper's
# prototypes (CP) and its best method (CS^3_AB).
FINDING_FSL = ('CP', 'CS^3_AB')
# Table IX's episode queries: one per episode (the paper) or n_query per class.
QUERY_MODES = ('episode', 'class')
# Pseudo-novel tasks on the seen classes that fix the DL/TL epoch budgets
# (`budgets`): seed s's pseudo-base model learns PSEUDO_TASKS[s % 6][0] and its
# few-shot runs learn the two held-out classes PSEUDO_TASKS[s % 6][1]
# (0-based C1-C4). Every pair of C1-C4 is held out once in six seeds.
PSEUDO_TASKS = (
  ((0, 1), (2, 3)),
  ((2, 3), (0, 1)),
  ((0, 2), (1, 3)),
  ((1, 3), (0, 2)),
  ((0, 3), (1, 2)),
  ((1, 2), (0, 3)),
)


@dataclasses.dataclass(frozen=True)
class Config:
  """Everything that changes the numbers of a run.

  Attributes:
    seed: root seed (the script turns it into the key `run` takes).
    num_seeds: runs per table cell (paper: 10).
    subjects, recordings_per_class: size of the synthetic default data.
    shots: samples per class nu (Tables VII, VIII) and shots k (Table IX).
    hidden: LSTM units per direction of the base model (Table I).
    fc: widths of its fully connected layers; the last is the embedding.
    depths: BiLSTM depths compared in Table IV.
    base_fit: training of the base model (C1-C4, and all of C1-C7 for Table
      IV); steps per epoch: one pass over the training split. Early stopping
      watches the validation loss smoothed over epochs (smoothing 0.5: the
      last ~2 epochs weigh most), so one lucky epoch on a validation split
      of ~100 recordings neither ends training nor is kept as the best model.
    table4_epochs: epochs of the Table IV depth sweep (default: base_fit's).
    table6: Table VI columns: frozen-layer settings of
      `fewshot.transfer.FROZEN_SETTINGS`, and 'AdaBatch'.
    few_fit: DL from scratch and TL with nu samples per class (Tables VII,
      VIII, their budgets and oracle rows); every run takes the same steps
      per epoch: `few_fit.steps_per_epoch` full batches, or where that is
      None one pass over the largest nu's 3 * nu recordings.
    transfer_fit: fine-tuning / AdaBatch on the full C5-C7 training split (Table VI).
    siamese_fit: siamese training on C1-C4 (CS^2, CS^3, CS^3_AB); its
      steps_per_epoch must be set.
    tl_frozen: the frozen-layer setting used for TL in Table VIII and for the
      siamese twins of CS^2 / CS^3 (the paper's best, Table VI: first BiLSTM).
    draws: draws of nu shots per class per seed and nu; every draw feeds DL,
      TL and every FSL method alike, and a seed's score is the mean over its
      draws of the weighted F1 on its whole C5-C7 test split.
    oracle: also run the validation-assisted rows ('oracle' table): DL and TL
      with early stopping on the seed's labelled C5-C7 validation split, and
      every FSL method given those recordings as extra support.
    episodes: few-shot episodes per seed, method and k (Table IX's second
      estimator, the paper's pooled-episode F1).
    query: the episodes' queries: 'episode' (the paper: one query per
      episode, of a class drawn uniformly) or 'class' (`n_query` per class).
    n_query: queries per class and episode with query='class'.
    chunk_epochs: epochs between checkpoints.
    max_to_keep: checkpoints kept per stage.
  """

  seed: int = 0
  num_seeds: int = 10
  subjects: int = 15
  recordings_per_class: int = 10
  shots: tuple[int, ...] = (1, 5, 10, 20, 50)
  hidden: tuple[int, ...] = models.PAPER_HIDDEN
  fc: tuple[int, ...] = models.PAPER_FC
  depths: tuple[int, ...] = (1, 2, 3, 4)
  base_fit: trainer.FitConfig = trainer.FitConfig(
    num_epochs=100, batch_size=32, patience=10, smoothing=0.5
  )
  few_fit: trainer.FitConfig = trainer.FitConfig(num_epochs=100, batch_size=32, patience=10)
  transfer_fit: trainer.FitConfig = trainer.FitConfig(num_epochs=50, batch_size=32, patience=10)
  siamese_fit: trainer.FitConfig = trainer.FitConfig(
    num_epochs=50, steps_per_epoch=20, batch_size=32, patience=10
  )
  table4_epochs: int | None = None
  table6: tuple[str, ...] = ('1', '1-2', '1-2-3', 'AdaBatch')
  tl_frozen: str = '1'
  draws: int = 5
  oracle: bool = True
  episodes: int = 1000
  query: str = 'episode'
  n_query: int = 1
  chunk_epochs: int = 10
  max_to_keep: int = 2

  def __post_init__(self):
    for name in ('num_seeds', 'draws', 'episodes', 'n_query', 'chunk_epochs', 'max_to_keep'):
      checks.check_int(f'Config.{name}', getattr(self, name))
    checks.check_choice('Config.query', self.query, QUERY_MODES)
    for name in ('shots', 'hidden', 'fc', 'depths'):
      values = getattr(self, name)
      if not values:
        raise ValueError(f'Config.{name} must not be empty.')
      for v in values:
        checks.check_int(f'Config.{name} entries', v)
    if self.siamese_fit.steps_per_epoch is None:
      raise ValueError('Config.siamese_fit.steps_per_epoch must be set (triplets are sampled).')
    for setting in (*self.table6, self.tl_frozen):
      if setting == 'AdaBatch':
        continue
      if setting not in transfer.FROZEN_SETTINGS:
        raise ValueError(
          f'unknown frozen-layer setting {setting!r}; use one of '
          f'{list(transfer.FROZEN_SETTINGS)} or AdaBatch'
        )
      if len(transfer.FROZEN_SETTINGS[setting]) > len(self.hidden):
        raise ValueError(
          f'setting {setting!r} freezes more BiLSTM layers than the '
          f'{len(self.hidden)} of hidden={self.hidden}'
        )


def make_model(config: Config, name: str, *, num_classes: int | None = None):
  """A model of the paper, sized by `config` (`hidden`, `fc`).

  Args:
    config: the protocol's `Config`.
    name: 'bilstm' (Table I's classifier), 'bilstm_bn' (the same with
      BatchNorm, AdaBatch's base), 'bilstm_depth<d>' (Table IV: the first d
      layers of Table I, the last repeated), 'siamese' or 'siamese_bn'
      (Table II, on the plain or the BatchNorm embedder).
    num_classes: the classifier's outputs (4 for C^1, 3 for C^2, 7 for
      Table IV); unused by the siamese networks (one similarity logit).

  Returns:
    A `fewshot.models.SEMGClassifier` or `SiameseNet`.
  """
  if name in ('siamese', 'siamese_bn'):
    return models.SiameseNet(hidden=config.hidden, fc=config.fc, batch_norm=name == 'siamese_bn')
  depth = re.fullmatch(r'bilstm_depth(\d+)', name)
  if depth is None and name not in ('bilstm', 'bilstm_bn'):
    raise ValueError(
      f"unknown model {name!r}; use 'bilstm', 'bilstm_bn', 'bilstm_depth<d>', 'siamese' "
      "or 'siamese_bn'"
    )
  if num_classes is None:
    raise ValueError(f'the classifier {name!r} needs num_classes')
  hidden = config.hidden if depth is None else _depth_hidden(config.hidden, int(depth[1]))
  return models.SEMGClassifier(
    checks.check_int('num_classes', num_classes),
    hidden=hidden,
    fc=config.fc,
    batch_norm=name == 'bilstm_bn',
  )


def _depth_hidden(hidden, depth):
  """Table IV: the first `depth` layers of Table I, repeating the last one."""
  return tuple(hidden[:depth]) + (hidden[-1],) * max(0, depth - len(hidden))


# ---------------------------------------------------------------------------
# Data and splits.


def table3_counts(labels, num_classes: int, table=SEMG_TABLE_III) -> np.ndarray:
  """Per-class (train, val, test) counts: Table III, scaled down where needed.

  A class with fewer recordings than its Table III row gets the row scaled by
  (available / row total), floored, so the paper's proportions are kept.

  Args:
    labels: [n] int class labels.
    num_classes: number of classes; must equal the rows of `table`.
    table: [C, 3] counts (default Table III).

  Returns:
    [C, 3] int64 counts, each >= 1.
  """
  table = np.asarray(table, np.int64)
  if table.shape != (num_classes, 3):
    raise ValueError(
      f'the count table has {table.shape[0]} rows but the data has '
      f'{num_classes} classes; pass a [num_classes, 3] table'
    )
  have = np.bincount(np.asarray(labels), minlength=num_classes)
  scale = np.minimum(1.0, have / table.sum(axis=1))
  counts = np.floor(table * scale[:, None]).astype(np.int64)
  if (counts < 1).any():
    c = int(np.argwhere(counts < 1)[0, 0])
    raise ValueError(
      f'class {c} has {have[c]} recordings: too few for a train/val/test '
      'split (need at least about 6)'
    )
  return counts


def local_labels(labels, classes: Sequence[int]) -> np.ndarray:
  """Labels of a task set relabelled 0..len(classes)-1; -1 elsewhere. [n] int32."""
  labels = np.asarray(labels)
  remap = np.full(int(labels.max()) + 1, -1, np.int32)
  remap[np.asarray(classes)] = np.arange(len(classes), dtype=np.int32)
  return remap[labels]


def restrict(idx, labels_local) -> np.ndarray:
  """The indices of `idx` whose example belongs to the task set (label >= 0)."""
  idx = np.asarray(idx)
  return idx[np.asarray(labels_local)[idx] >= 0]


def draw_shots(key, idx, labels_local, nu: int) -> np.ndarray:
  """`nu` training examples per class of the task, without replacement.

  Args:
    key: PRNG key (one per seed and nu).
    idx: [m] candidate indices (a seed's training split).
    labels_local: [n] task labels (-1 outside the task).
    nu: samples per class (Table VII's nu).

  Returns:
    [num_task_classes * nu] int64 indices, class-major.
  """
  idx = restrict(idx, labels_local)
  labels_local = np.asarray(labels_local)
  out = []
  for c in range(int(labels_local.max()) + 1):
    pool = idx[labels_local[idx] == c]
    if len(pool) < nu:
      raise ValueError(
        f'nu={nu} samples per class requested but task class {c} has '
        f'only {len(pool)} training examples'
      )
    # `jax.random.choice(..., replace=False)`'s draw (its permutation's first nu),
    # sliced on the host: an eager slice would compile a program per (pool, nu).
    pick = np.asarray(jax.random.permutation(jax.random.fold_in(key, c), len(pool)))[:nu]
    out.append(pool[pick])
  return np.concatenate(out)


def standardize_per_seed(
  x, splits, labels, classes: Sequence[int] = SEMG_SEEN_CLASSES
) -> np.ndarray:
  """Each seed's copy of the data, z-scored with statistics of that seed's seen-class training recordings.

  Per channel, the mean and standard deviation over the seed's training
  recordings of `classes` (default C1-C4: no recording of the unseen classes,
  labelled or not, and no validation or test recording) and all time steps;
  applied to every recording.

  Args:
    x: [n, 2, T] features.
    splits: R per-seed `TrainValTest` splits.
    labels: [n] int labels.
    classes: the classes whose training recordings give the statistics.

  Returns:
    [R * n, 2, T] float32: rows s * n .. (s + 1) * n - 1 are seed s's copy.
  """
  x = np.asarray(x, np.float32)
  task = local_labels(labels, classes)
  out = []
  for split in splits:
    train = x[restrict(split.train, task)]
    mean = train.mean(axis=(0, 2), keepdims=True)
    std = train.std(axis=(0, 2), keepdims=True)
    out.append((x - mean) / np.where(std > 0, std, 1.0))
  return np.concatenate(out)


# ---------------------------------------------------------------------------
# Stages: one setting trained for many runs.


def classifier_loss(model):
  """`loss_fn` of supervised cross-entropy training (eq. (9), multi-class form) on {'x', 'y'}."""

  def loss_fn(params, batch_stats, key, batch):
    del key  # the sEMG models have no dropout
    # The mask keeps padded slots out of BatchNorm's statistics (batch_norm models).
    logits, batch_stats = trainer.apply_model(
      model, params, batch_stats, batch.data['x'], batch.mask, train=True
    )
    return trainer.cross_entropy_loss(logits, batch.data['y'], batch.mask), batch_stats

  return loss_fn


def classifier_eval(model):
  """`eval_fn`: the cross-entropy on the run's validation split, {'val_loss': []}."""

  def eval_fn(params, batch_stats, data, split):
    x, y = data['x'][split.val_idx], data['y'][split.val_idx]
    logits, _ = trainer.apply_model(model, params, batch_stats, x, train=False)
    return {'val_loss': trainer.cross_entropy_loss(logits, y, split.val_mask)}

  return eval_fn


@functools.lru_cache(maxsize=None)
def siamese_objective(kind: str) -> tuple[Callable, Callable]:
  """`(loss, evaluate)` factories of siamese training with loss `kind` ('contrastive', 'triplet').

  Module-level and cached per kind, so that `trainer.make_stage` (cached on
  its factories) builds each siamese stage once. The margins are
  `fewshot.siamese.make_siamese_fit`'s defaults (1.0 contrastive, 0.5 triplet).
  """
  checks.check_choice('siamese loss kind', kind, (siamese_lib.CONTRASTIVE, siamese_lib.TRIPLET))
  margin = 1.0 if kind == siamese_lib.CONTRASTIVE else 0.5

  def loss(model):
    return siamese_lib.siamese_loss_fn(model, kind, margin)

  def evaluate(model):
    # One fixed draw of validation triplet positions for every run and epoch
    # (positions into each run's own validation split), so that the stage is
    # built once; it is not a source of variation between seeds.
    return siamese_lib.siamese_eval_fn(
      model, kind, margin, SIAMESE_VAL_TRIPLETS, key=jax.random.key(0)
    )

  return loss, evaluate


def classifier_stage(
  model, fit: trainer.FitConfig, tx=None, validate: bool = True
) -> trainer.Stage:
  """A supervised cross-entropy stage (Tables IV, VI, VII, VIII, base models).

  With `validate` the best epoch by validation loss is kept (early
  stopping); without, no validation data is read and the model of the last
  epoch run is kept (a fixed budget: `run_stage`'s `max_epochs`).
  """
  return trainer.make_stage(
    model, fit, classifier_loss, classifier_eval if validate else None, tx=tx
  )


def siamese_stage(model, fit: trainer.FitConfig, kind: str, tx) -> trainer.Stage:
  """A siamese stage with contrastive (CS^2) or triplet (CS^3) loss on sampled triplets."""
  loss, evaluate = siamese_objective(kind)
  return trainer.make_stage(
    model, fit, loss, evaluate, tx=tx, batches_fn=siamese_lib.siamese_batches
  )


@functools.partial(jax.jit, static_argnums=(0, 1))
def _with_base(tx, mode, fs: trainer.FitState, base) -> trainer.FitState:
  """Each run's fresh state with the base model's embedder transferred (eq. (11))."""

  def one(fs, base):
    fresh = {'params': fs.train.params, 'batch_stats': fs.train.batch_stats}
    return trainer.init_fit_state(transfer.transfer_variables(fresh, base), tx, mode)

  return jax.vmap(one)(fs, base)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _with_base_masked(tx, mode, fs: trainer.FitState, base, transferred, trainable):
  """Each run's fresh state, the base embedder transferred where `transferred` [R],
  with its trainable mask `trainable` (a `transfer.trainable_adam` stage)."""

  def one(fs, base, moved, mask):
    fresh = {'params': fs.train.params, 'batch_stats': fs.train.batch_stats}
    given = transfer.transfer_variables(fresh, base)
    variables = jax.tree.map(lambda a, b: jnp.where(moved, a, b), given, fresh)
    new = trainer.init_fit_state(variables, tx, mode)
    opt_state = transfer.with_trainable(new.train.opt_state, mask)
    return new._replace(train=new.train._replace(opt_state=opt_state))

  return jax.vmap(one)(fs, base, transferred, trainable)


def init_runs(
  stage: trainer.Stage, fit: trainer.FitConfig, keys, example, base_variables=None
) -> trainer.FitState:
  """Initial `FitState` of every run (`stage.init`, vmapped over `keys` [R]).

  Args:
    stage: the stage (`classifier_stage` / `siamese_stage`).
    fit: its `FitConfig`.
    keys: [R] PRNG keys, one per run.
    example: the arguments the model is initialised on, e.g. `(x[:2],)`.
    base_variables: optional `{'params', 'batch_stats'}` with a leading [R]
      axis; their `embedder` is transferred into each run (eq. (11)).
  """
  fs = stage.init(keys, *example)
  if base_variables is None:
    return fs
  return _with_base(stage.tx, fit.mode, fs, base_variables)


def run_stage(
  stage: trainer.Stage,
  fit: trainer.FitConfig,
  directory: str | None,
  init,
  keys,
  data,
  split: trainer.Split,
  *,
  chunk_epochs: int | None = None,
  max_to_keep: int = 2,
  progress: Callable[[int], None] | None = None,
  max_epochs=None,
):
  """Trains all runs of a stage, with checkpoints when `directory` is given; resumes or skips.

  Args:
    stage: the stage (`trainer.make_stage`).
    fit: its `FitConfig`.
    directory: the stage's checkpoint folder, or None to train without checkpoints.
    init: a function returning the initial batched `FitState` (`init_runs`);
      called only if the stage has no checkpoint yet.
    keys: [R] training keys.
    data: `{'x': [n, 2, T], 'y': [n]}` shared by all runs.
    split: batched `Split`.
    chunk_epochs: at most this many epochs between checkpoints (the largest
      divisor of num_epochs not above it; default: all in one chunk).
    max_to_keep: Orbax `max_to_keep`.
    progress: called with the number of epochs of each chunk that ran.
    max_epochs: None, or [R] ints: the epoch at which each run ends (a fixed
      budget per run, `trainer.fit_runs`).

  Returns:
    `(fit_state, chunks_run)`; `chunks_run == 0` means the stage was restored.
  """
  epochs = fit.num_epochs
  chunk = epochs if chunk_epochs is None else max(1, min(chunk_epochs, epochs))
  while epochs % chunk:  # equal chunks: one compiled program per stage
    chunk -= 1
  trainer.validate_split(split, int(data['x'].shape[0]))

  def run_chunk(fs, c):
    fs, _ = trainer.fit_runs(
      stage.fit, fs, keys, data, split, num_epochs=chunk, max_epochs=max_epochs
    )
    trainer.check_finite(fs, directory or 'stage')
    return fs

  on_chunk = None if progress is None else (lambda c: progress(chunk))
  if directory is None:
    fs = init()
    for c in range(epochs // chunk):
      fs = run_chunk(fs, c)
      if on_chunk is not None:
        on_chunk(c)
    return fs, epochs // chunk
  return checkpoint.run_stage(
    directory, init, run_chunk, epochs // chunk, max_to_keep=max_to_keep, on_chunk=on_chunk
  )


# ---------------------------------------------------------------------------
# Scoring of trained runs (jitted, vmapped over runs).


@functools.partial(jax.jit, static_argnames=('model', 'num_classes', 'average', 'per_class'))
def _scores(model, num_classes, average, per_class, params, batch_stats, x, labels, test_idx):
  def one(p, b, idx):
    xt, y = x[idx], labels[idx]
    pred = jnp.argmax(trainer.apply_model(model, p, b, xt, train=False)[0], axis=-1)
    if per_class:
      return (
        precision(y, pred, num_classes),
        recall(y, pred, num_classes),
        f1_score(y, pred, num_classes),
      )
    return f1_score(y, pred, num_classes, average=average)

  return jax.vmap(one)(params, batch_stats, test_idx)


# Floats of the BiLSTM's gate buffers one scoring call may hold (runs x test
# recordings x time steps x 8 x units, about 1 GiB): the full setting's oracle
# scores 250 runs of the Table I model (its estimate ran out of 24 GB there).
SCORE_FLOATS = 2**28


def _in_run_chunks(fn, model, tree, per_run: int):
  """`fn(tree_chunk)` over equal chunks of the run axis of `tree` (host arrays),
  each of at most `SCORE_FLOATS / (per_run x 8 x the model's widest layer)` runs (the
  last chunk padded with run 0): one program, bounded memory. Returns the chunks'
  outputs as host arrays, cut back to the runs."""
  tree = jax.tree.map(np.asarray, tree)
  runs = jax.tree.leaves(tree)[0].shape[0]
  width = 8 * max((*getattr(model, 'hidden', ()), 1))
  size = max(1, SCORE_FLOATS // max(1, per_run * width))
  outs = []
  for rows in trainer.row_chunks(np.arange(runs), size):
    outs.append(jax.tree.map(np.asarray, fn(jax.tree.map(lambda a: a[rows], tree))))
  return jax.tree.map(lambda *a: np.concatenate(a)[:runs], *outs)


def _test_inputs(fs, x, labels_local, test_idx):
  """(x, labels, [R, n_test] indices): the test rows are gathered inside `_scores`,
  so the host path compiles nothing."""
  test_idx = np.asarray(test_idx)
  runs = jax.tree.leaves(fs.best_params)[0].shape[0]
  if test_idx.ndim == 1:
    test_idx = np.broadcast_to(test_idx, (runs, test_idx.shape[0]))
  return checks.as_array(x), np.asarray(labels_local), test_idx


def test_f1(
  model,
  fs: trainer.FitState,
  x,
  labels_local,
  test_idx,
  num_classes: int,
  average: str = 'weighted',
) -> np.ndarray:
  """Test F1 of every run's best model: [R] float.

  Args:
    model: the classifier.
    fs: batched `FitState` (best validation epoch is used).
    x: [n, 2, T] examples; labels_local: [n] task labels.
    test_idx: [R, n_test] or [n_test] test indices.
    num_classes: classes of the task.
    average: 'weighted' (the paper's F1, Fig. 3) or 'macro'.
  """
  x, y, idx = _test_inputs(fs, x, labels_local, test_idx)
  score = lambda t: _scores(model, num_classes, average, False, t[0], t[1], x, y, t[2])
  per_run = idx.shape[1] * x.shape[-1]
  with timing.phase('predict'):
    return _in_run_chunks(score, model, (fs.best_params, fs.best_batch_stats, idx), per_run)


def per_class_scores(model, fs, x, labels_local, test_idx, num_classes: int):
  """Per-class precision, recall and F1 of every run (Table V): 3 x [R, C]."""
  x, y, idx = _test_inputs(fs, x, labels_local, test_idx)
  score = lambda t: _scores(model, num_classes, None, True, t[0], t[1], x, y, t[2])
  per_run = idx.shape[1] * x.shape[-1]
  with timing.phase('predict'):
    out = _in_run_chunks(score, model, (fs.best_params, fs.best_batch_stats, idx), per_run)
    return tuple(out)


@functools.partial(jax.jit, static_argnames=('model',))
def _embed_runs(model, params, batch_stats, x_runs):
  one = lambda p, b, x: trainer.apply_model(model, p, b, x, train=False, method='embed')[0]
  return jax.vmap(one)(params, batch_stats, x_runs)


def embeddings(model, fs: trainer.FitState, x_runs) -> np.ndarray:
  """Embeddings under every run's best model of that run's examples: [R, n, 2, T] -> [R, n, D]."""
  x_runs = np.asarray(x_runs)
  embed = lambda t: _embed_runs(model, *t)
  per_run = x_runs.shape[1] * x_runs.shape[-1]
  with timing.phase('predict'):
    return _in_run_chunks(embed, model, (fs.best_params, fs.best_batch_stats, x_runs), per_run)


# ---------------------------------------------------------------------------
# The tables.


class Context(NamedTuple):
  """What every table of one experiment shares (`prepare`).

  x: [R * n, 2, T] one standardised copy of the n examples per seed
  (`standardize_per_seed`; seed s's copy is rows s * n .. (s + 1) * n - 1);
  example: [2, 2, T] host copy of its first two rows (what models are
  initialised on); n: examples per copy; y_all / y_seen / y_unseen: [R * n]
  labels of the 7-class task, of C^1 and of C^2 (-1 outside the task), tiled
  like x; splits: the per-seed Table III splits (indices 0..n-1; `rows` moves
  them into a seed's copy); root_key: the experiment's root key; ckpt: checkpoint
  folder or None; progress: progress callback or None.
  """

  cfg: Config
  x: jax.Array
  example: np.ndarray
  n: int
  y_all: np.ndarray
  y_seen: np.ndarray
  y_unseen: np.ndarray
  splits: list
  root_key: jax.Array
  ckpt: str | None
  progress: Callable[[int], None] | None


def prepare(key, config: Config, x, labels, *, checkpoint_dir=None, progress=None) -> Context:
  """Validates the data, draws the per-seed Table III splits and standardises each seed's copy.

  Args:
    key: the experiment's root key; seed s's split comes from ('split', s).
    config: the protocol's `Config`.
    x: [n, 2, T] float features (`signals.semg_features`).
    labels: [n] int labels 0..6 (C1-C4 seen, C5-C7 unseen).
    checkpoint_dir: folder of the stages' checkpoints, or None.
    progress: called with units of work done (`total_work`), or None.
  """
  x = checks.check_array('features', x, ndim=3, kind='float')
  present = np.unique(checks.check_labels('labels', labels, n=x.shape[0]))
  if present.tolist() != list(range(7)):
    raise ValueError(
      'the paper protocol needs 7 classes (C1-C4 seen, C5-C7 unseen) labelled 0..6; '
      f'the data has classes {present.tolist()}'
    )
  labels = np.asarray(labels, np.int32)
  counts = table3_counts(labels, 7)
  splits = [
    per_class_split(labels, counts, key=named_key(key, 'split', s)) for s in range(config.num_seeds)
  ]
  x_std = standardize_per_seed(x, splits, labels)
  tile = lambda y: np.tile(y, config.num_seeds)
  return Context(
    config,
    jnp.asarray(x_std),
    x_std[:2],
    int(x.shape[0]),
    tile(labels),
    tile(local_labels(labels, SEMG_SEEN_CLASSES)),
    tile(local_labels(labels, SEMG_UNSEEN_CLASSES)),
    splits,
    key,
    checkpoint_dir,
    progress,
  )


def total_work(cfg: Config) -> int:
  """Units `run` reports to `progress`: the epochs of all stages (an upper bound), the
  FSL test-split cells (method x seed, per shot count) and the episode cells (seed x method x k)."""
  # DL and TL (one stage): strict (a call per nu), oracle, budget runs
  few = len(cfg.shots) + (1 if cfg.oracle else 0) + 1
  table6 = ('AdaBatch' in cfg.table6) + any(s != 'AdaBatch' for s in cfg.table6)
  epochs = (
    len(cfg.depths) * (cfg.table4_epochs or cfg.base_fit.num_epochs)
    + 3 * cfg.base_fit.num_epochs
    + few * cfg.few_fit.num_epochs
    + table6 * cfg.transfer_fit.num_epochs
    + len(SIAMESE) * cfg.siamese_fit.num_epochs
  )
  fsl = (len(FSL_METHODS) + len(RAW_BASELINES)) * cfg.num_seeds * len(cfg.shots)
  return epochs + fsl * (2 if cfg.oracle else 1) + len(FSL_METHODS) * len(cfg.shots) * cfg.num_seeds


def one_pass(fit: trainer.FitConfig, n: int) -> trainer.FitConfig:
  """`fit` with the steps per epoch of one pass over `n` examples (the largest run's),
  full batches read cyclically."""
  return dataclasses.replace(fit, steps_per_epoch=max(1, math.ceil(n / fit.batch_size)))


def rows(ctx: Context, seed_index: int, idx) -> np.ndarray:
  """Indices 0..n-1 of a seed's split moved into that seed's standardised copy of the data."""
  return np.asarray(idx) + seed_index * ctx.n


def seed_split(ctx: Context, task_labels) -> trainer.Split:
  """[R] each seed's training and validation split of the task (`task_labels` [R * n],
  -1 outside it), in the seed's own copy of the data."""
  return trainer.make_split(
    [rows(ctx, i, restrict(s.train, task_labels)) for i, s in enumerate(ctx.splits)],
    [rows(ctx, i, restrict(s.val, task_labels)) for i, s in enumerate(ctx.splits)],
  )


def _seed_test(ctx: Context, task_labels) -> np.ndarray:
  """[R, n_test] each seed's test indices of the task, in its own copy."""
  return np.stack([rows(ctx, i, restrict(s.test, task_labels)) for i, s in enumerate(ctx.splits)])


def seed_runs(ctx: Context) -> list[tuple]:
  """The run names `(seed,)` of a stage with one run per seed (`train_runs`' `runs`)."""
  return [(s,) for s in range(ctx.cfg.num_seeds)]


def train_runs(
  ctx: Context, name, stage, fit, labels, split, runs, base=None, pairs=False, max_epochs=None
):
  """Initialises and trains every run of stage `name` (resuming from its checkpoints).

  Returns the batched `FitState` [R]. `stage` and `fit`: `classifier_stage` /
  `siamese_stage` and its `FitConfig`; `labels` [R * n]; `split` [R] (e.g.
  `seed_split`); `base`: variables [R] whose embedder is transferred, or None;
  `pairs`: the model takes two inputs (siamese). `runs` names each run below
  the stage (e.g. `(seed,)` or `(seed, 'nu5', 'draw0')`); run r's keys are
  `named_key(key, name, *runs[r], 'init' | 'train')`. `max_epochs`: None or
  [R] fixed epochs per run (`run_stage`).
  """
  example = (ctx.example, ctx.example) if pairs else (ctx.example,)
  init = lambda keys: init_runs(stage, fit, keys, example, base)
  named = [(name, *r) for r in runs]
  return _fit_named(ctx, name, stage, fit, labels, split, named, init, max_epochs)


def _fit_named(ctx: Context, folder, stage, fit, labels, split, named, init, max_epochs=None):
  """Trains the runs `named` (each run's full key path below the root key) of one stage,
  checkpointed in `folder`; `init(init_keys [R]) -> FitState [R]`."""
  run_keys = [named_key(ctx.root_key, *r) for r in named]
  init_keys = jnp.stack([named_key(k, 'init') for k in run_keys])
  train_keys = jnp.stack([named_key(k, 'train') for k in run_keys])
  fs, chunks = run_stage(
    stage,
    fit,
    None if ctx.ckpt is None else os.path.join(ctx.ckpt, folder),
    lambda: init(init_keys),
    train_keys,
    {'x': ctx.x, 'y': jnp.asarray(labels)},
    split,
    chunk_epochs=ctx.cfg.chunk_epochs,
    max_to_keep=ctx.cfg.max_to_keep,
    progress=ctx.progress,
    max_epochs=max_epochs,
  )
  if chunks == 0 and ctx.progress is not None:
    ctx.progress(fit.num_epochs)
  return fs


class Group(NamedTuple):
  """Runs of one former stage inside a shared masked stage (`_train_shared`).

  name: the stage name the runs' keys derive from (`named_key(key, name, *run,
  'init' | 'train')`, as if trained alone); runs: their names below it;
  base: `{'params', 'batch_stats'}` [len(runs)] whose embedder is transferred,
  or None (from scratch); frozen: the layers kept frozen (() trains all).
  """

  name: str
  runs: list
  base: dict | None = None
  frozen: tuple[str, ...] = ()


def _train_shared(ctx: Context, folder, model, fit, labels, split, groups, *, validate=True,
                  max_epochs=None) -> list[trainer.FitState]:  # fmt: skip
  """Trains the runs of several groups (DL from scratch, fine-tuning with different frozen
  layers) as ONE stage: one compiled program, one call, one checkpoint folder.

  Their trainable masks are data in the optimizer state (`transfer.trainable_adam`), so
  the groups share the program; each run's keys, initial state and updates are those
  it would have had in its own stage (the masked update equals `multi_transform`'s bit
  for bit). With `validate` the stage keeps each run's best epoch by validation loss;
  without, its last (the strict DL/TL runs, whose budgets are fixed). `split` and
  `max_epochs` hold the groups' runs in order.

  Returns:
    One batched `FitState` per group.
  """
  stage = classifier_stage(model, fit, transfer.trainable_adam(fit.learning_rate), validate)
  named = [(g.name, *r) for g in groups for r in g.runs]
  template = next((g.base for g in groups if g.base is not None), None)

  def init(keys):
    # The groups' bases, transfer flags and masks are put together on the host
    # (numpy), so that only `stage.init` and `_with_base_masked` compile.
    fs = stage.init(keys, ctx.example)
    fresh = {'params': fs.train.params, 'batch_stats': fs.train.batch_stats}
    like = template if template is not None else fresh
    bases, moved, masks = [], [], []
    for g in groups:
      n = len(g.runs)
      zeros = lambda a, n=n: np.zeros((n, *a.shape[1:]), a.dtype)
      bases.append(jax.tree.map(np.asarray if g.base is not None else zeros, g.base or like))
      moved.append(np.full(n, g.base is not None))
      labels = transfer.fine_tune_labels(fs.train.params, g.frozen)
      masks.append(jax.tree.map(lambda label, n=n: np.full(n, label == transfer.TRAINABLE), labels))
    cat = lambda *a: np.concatenate(a)
    return _with_base_masked(
      stage.tx,
      fit.mode,
      fs,
      jax.tree.map(cat, *bases),
      np.concatenate(moved),
      jax.tree.map(cat, *masks),
    )

  fs = _fit_named(ctx, folder, stage, fit, labels, split, named, init, max_epochs)
  return _split_runs(fs, tuple(len(g.runs) for g in groups))


def _split_runs(tree, sizes: tuple[int, ...]) -> list:
  """A batched pytree cut along its run axis into consecutive parts of `sizes` runs
  (host copies: slicing on the device would compile a program per leaf shape)."""
  ends = np.cumsum(sizes).tolist()
  return [jax.tree.map(lambda a: np.asarray(a)[i:j], tree) for i, j in zip([0, *ends], ends)]


def _tile_split(split: trainer.Split, times: int) -> trainer.Split:
  """`split`'s runs repeated `times` times along the run axis (on the host: nothing compiles)."""
  return jax.tree.map(lambda a: np.concatenate([np.asarray(a)] * times), split)


def table4(ctx: Context, depths: Sequence[int] | None = None) -> dict:
  """Table IV: test F1 of the base DL model on all seven classes vs BiLSTM depth, [R] per
  depth (`depths`, default the config's; each depth's runs are keyed by its name alone)."""
  cfg = ctx.cfg
  split = seed_split(ctx, ctx.y_all)
  fit = one_pass(cfg.base_fit, split.train_idx.shape[1])
  if cfg.table4_epochs is not None:
    fit = dataclasses.replace(fit, num_epochs=cfg.table4_epochs)
  test = _seed_test(ctx, ctx.y_all)
  out = {}
  for depth in cfg.depths if depths is None else depths:
    model = make_model(cfg, f'bilstm_depth{depth}', num_classes=7)
    stage = classifier_stage(model, fit)
    fs = train_runs(ctx, f'table4_depth{depth}', stage, fit, ctx.y_all, split, seed_runs(ctx))
    out[f'{depth} Layer'] = test_f1(model, fs, ctx.x, ctx.y_all, test, 7)
  return {'F1 Score': out}


def base_models(ctx: Context) -> dict:
  """The base models on C^1 (Sec. II-C): {False: plain, True: with BatchNorm for AdaBatch}.

  Returns:
    {batch_norm: (model, FitState)}.
  """
  cfg = ctx.cfg
  split = seed_split(ctx, ctx.y_seen)
  fit = one_pass(cfg.base_fit, split.train_idx.shape[1])
  out = {}
  for bn in (False, True):
    model = make_model(cfg, 'bilstm_bn' if bn else 'bilstm', num_classes=4)
    name = 'base_c1_bn' if bn else 'base_c1'
    stage = classifier_stage(model, fit)
    out[bn] = (model, train_runs(ctx, name, stage, fit, ctx.y_seen, split, seed_runs(ctx)))
  return out


def table5(ctx: Context, base) -> tuple[dict, np.ndarray]:
  """Table V: per-class precision / recall / F1 of the plain base model on C1-C4, and its weighted F1."""
  model, fs = base[False]
  test = _seed_test(ctx, ctx.y_seen)
  p, r, f = per_class_scores(model, fs, ctx.x, ctx.y_seen, test, 4)
  table = {
    f'C{c + 1}': {'Precision': p[:, i], 'Recall': r[:, i], 'F1': f[:, i]}
    for i, c in enumerate(SEMG_SEEN_CLASSES)
  }
  # Its own program: the weighted F1 computed beside the per-class scores
  # rounds differently (1 ulp on one seed of the quick run).
  return table, test_f1(model, fs, ctx.x, ctx.y_seen, test, 4)


def _seed_labels(ctx: Context, classes_of_seed: Callable[[int], Sequence[int]]) -> np.ndarray:
  """[R * n] labels of a task that differs per seed: seed s's copy labelled by
  `local_labels(..., classes_of_seed(s))` (-1 outside its task)."""
  n = ctx.n
  return np.concatenate([
    local_labels(ctx.y_all[s * n : (s + 1) * n], classes_of_seed(s))
    for s in range(ctx.cfg.num_seeds)
  ])  # fmt: skip


def pseudo_tasks(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
  """([R * n] pseudo-base labels, [R * n] pseudo-novel labels) of each seed (`PSEUDO_TASKS`).

  Both tasks hold only seen classes (C1-C4): seed s's pseudo-base task is
  two of them, its pseudo-novel task the other two.
  """
  task = lambda s: PSEUDO_TASKS[s % len(PSEUDO_TASKS)]
  base = lambda s: tuple(SEMG_SEEN_CLASSES[c] for c in task(s)[0])
  novel = lambda s: tuple(SEMG_SEEN_CLASSES[c] for c in task(s)[1])
  return _seed_labels(ctx, base), _seed_labels(ctx, novel)


def _few_fit(cfg: Config) -> trainer.FitConfig:
  """DL / TL with nu samples per class: every run takes the steps of one pass over the
  largest nu's 3 * nu, or `few_fit.steps_per_epoch` where the config sets it."""
  if cfg.few_fit.steps_per_epoch is not None:
    return cfg.few_fit
  return one_pass(cfg.few_fit, 3 * max(cfg.shots))


def _budget_epochs(best_epoch) -> int:
  """The fixed budget from the pseudo-task runs' best epochs: the median, rounded up, at least 1."""
  return max(1, int(math.ceil(float(np.median(np.asarray(best_epoch))))))


def budgets(ctx: Context) -> tuple[dict, dict]:
  """The epochs DL and TL train for on C5-C7, fixed on pseudo-novel tasks of C1-C4 only.

  For every seed: a pseudo-base model learns two seen classes (`base_fit`,
  early stopping on their validation split); then, for every nu, DL from
  scratch and TL from the pseudo-base model (`tl_frozen` frozen) learn nu
  samples per class of the other two seen classes with early stopping on
  their validation split, with the same optimizer steps per epoch as the
  C5-C7 runs. The budget of (method, nu) is the median over seeds of the
  best epoch, rounded up (`_budget_epochs`). No C5-C7 recording is read.

  Returns:
    ({'DL': {nu: epochs}, 'TL': {...}}, raw {'DL': {'ν=<nu>': [R] best epochs}, 'TL': ...}).
  """
  cfg = ctx.cfg
  R = cfg.num_seeds
  y_base, y_novel = pseudo_tasks(ctx)
  split = seed_split(ctx, y_base)
  fit = one_pass(cfg.base_fit, split.train_idx.shape[1])
  model = make_model(cfg, 'bilstm', num_classes=2)
  base = train_runs(
    ctx, 'budget_base', classifier_stage(model, fit), fit, y_base, split, seed_runs(ctx)
  )

  n = ctx.n
  pairs = [(s, nu) for nu in cfg.shots for s in range(R)]
  runs = [(s, f'nu{nu}') for s, nu in pairs]
  local = lambda s: y_novel[s * n : (s + 1) * n]
  shots = [
    rows(ctx, s, draw_shots(named_key(ctx.root_key, 'budget_shots', *r), ctx.splits[s].train,
                            local(s), nu))
    for (s, nu), r in zip(pairs, runs)
  ]  # fmt: skip
  val = [rows(ctx, s, restrict(ctx.splits[s].val, local(s))) for s, _ in pairs]
  split = trainer.make_split(shots, val)
  fit = _few_fit(cfg)
  base_vars = jax.tree.map(
    lambda a: np.concatenate([np.asarray(a)] * len(cfg.shots)), trainer.best_variables(base)
  )
  # DL and TL: one stage, one program (trainable masks as data, `_train_shared`).
  groups = [
    Group('budget_dl', runs),
    Group('budget_tl', runs, base_vars, transfer.FROZEN_SETTINGS[cfg.tl_frozen]),
  ]
  both = _train_shared(ctx, 'budget_dl_tl', model, fit, y_novel, _tile_split(split, 2), groups)
  chosen, raw = {}, {}
  for method, fs in zip(('DL', 'TL'), both):
    best = np.asarray(fs.best_epoch)
    raw[method] = {f'ν={nu}': best[i * R : (i + 1) * R].tolist() for i, nu in enumerate(cfg.shots)}
    chosen[method] = {nu: _budget_epochs(raw[method][f'ν={nu}']) for nu in cfg.shots}
  return chosen, raw


def shot_draws(ctx: Context) -> dict:
  """The nu-shot draws every C5-C7 method uses: {(seed, nu, draw): [3 * nu] indices 0..n-1}.

  Draw d of seed s and nu comes from key ('shots', s, 'nu<nu>', 'draw<d>'):
  nu training recordings per class of C5-C7, without replacement, from the
  seed's training split. DL, TL and every FSL method get exactly these.
  """
  cfg = ctx.cfg
  local = ctx.y_unseen[: ctx.n]
  return {
    (s, nu, d): draw_shots(
      named_key(ctx.root_key, 'shots', s, f'nu{nu}', f'draw{d}'), ctx.splits[s].train, local, nu
    )
    for nu in cfg.shots
    for d in range(cfg.draws)
    for s in range(cfg.num_seeds)
  }


def _per_seed(cfg: Config, scores, order) -> tuple[dict, dict]:
  """Per-run scores [len(order)] -> ({'ν=<nu>': [R] mean over draws}, {'ν=<nu>': [R][D]})."""
  by = {}
  for (s, nu, d), v in zip(order, np.asarray(scores).tolist()):
    by.setdefault(nu, np.zeros((cfg.num_seeds, cfg.draws)))[s, d] = v
  means = {f'ν={nu}': by[nu].mean(axis=1).tolist() for nu in cfg.shots}
  return means, {f'ν={nu}': by[nu].tolist() for nu in cfg.shots}


def dl_tl(ctx: Context, base, draws: dict, epochs: dict, *, oracle: bool) -> dict:
  """Tables VII (DL from scratch) and VIII (TL, `cfg.tl_frozen` frozen) on the shot draws.

  Every (seed, nu, draw) is one run, trained as one program per method. Strict
  (`oracle=False`, the default protocol): each run trains for the fixed
  budget `epochs[method][nu]` (`budgets`) and reads no C5-C7 recording beyond
  its 3 * nu shots. Oracle: each run stops early on the seed's whole labelled
  C5-C7 validation split (the best epoch is kept), the paper's "validation
  set is used to prevent overfitting".

  Returns:
    {method: (per-seed means {'ν=<nu>': [R]}, per draw {'ν=<nu>': [R][D]})}.
  """
  cfg = ctx.cfg
  order = list(draws)
  runs = [(s, f'nu{nu}', f'draw{d}') for s, nu, d in order]
  shots = [rows(ctx, s, draws[(s, nu, d)]) for s, nu, d in order]
  # Strict: no validation split at all, and a program that does not validate (a
  # shared validating program would evaluate padded rows every epoch, which cost
  # more than its compile saved: 100 s against 75 s in the quick run).
  val = [rows(ctx, s, restrict(ctx.splits[s].val, ctx.y_unseen)) for s, _, _ in order]
  split = jax.tree.map(np.asarray, trainer.make_split(shots, val if oracle else None))
  test = np.stack([rows(ctx, s, restrict(ctx.splits[s].test, ctx.y_unseen)) for s, _, _ in order])
  fit = _few_fit(cfg)
  model = make_model(cfg, 'bilstm', num_classes=3)
  seeds = np.asarray([s for s, _, _ in order])
  # On the host: an eager gather would compile a program per leaf shape.
  base_vars = jax.tree.map(lambda a: np.asarray(a)[seeds], trainer.best_variables(base[False][1]))
  suffix = '_oracle' if oracle else ''
  # DL and TL: one stage, one program (trainable masks as data, `_train_shared`).
  # Strict: one call per nu, all of equal shapes (the split is padded to the
  # largest nu), so each call ends at its own budgets; a vmapped epoch loop runs
  # until its last run stops, so one call trained every run for the largest
  # budget (quick run: 78 -> 34 s). The oracle's runs stop early, at epochs no
  # one knows beforehand: one call (per-nu calls measured slower).
  order_nu = np.asarray([nu for _, nu, _ in order])
  parts = [('', np.arange(len(order)))]
  if not oracle:
    parts = [(f'_nu{nu}', np.flatnonzero(order_nu == nu)) for nu in cfg.shots]
  fs = {'DL': [], 'TL': []}
  for tag, part in parts:
    pick = lambda tree, part=part: jax.tree.map(lambda a: np.asarray(a)[part], tree)
    names = [runs[i] for i in part]
    groups = [
      Group('table7_dl' + suffix, names),
      Group('table8_tl' + suffix, names, pick(base_vars), transfer.FROZEN_SETTINGS[cfg.tl_frozen]),
    ]
    limit = None
    if not oracle:
      limit = np.int32([epochs[m][nu] for m in ('DL', 'TL') for nu in order_nu[part]])
    both = _train_shared(
      ctx, f'table7_dl_table8_tl{suffix}{tag}', model, fit, ctx.y_unseen,
      _tile_split(pick(split), 2), groups, validate=oracle, max_epochs=limit,
    )  # fmt: skip
    for method, f in zip(('DL', 'TL'), both):
      fs[method].append(f)
  back = np.argsort(np.concatenate([part for _, part in parts]))  # the runs back in `order`
  out = {}
  for method, states in fs.items():
    f = jax.tree.map(lambda *a: np.concatenate(a)[back], *states)
    out[method] = _per_seed(cfg, test_f1(model, f, ctx.x, ctx.y_unseen, test, 3), order)
  return out


def table6(ctx: Context, base) -> dict:
  """Table VI: fine-tuning with frozen layers, and AdaBatch, on the full C^2 training split."""
  cfg = ctx.cfg
  split = seed_split(ctx, ctx.y_unseen)
  fit = one_pass(cfg.transfer_fit, split.train_idx.shape[1])
  test = _seed_test(ctx, ctx.y_unseen)
  out = {}
  tuned = [setting for setting in cfg.table6 if setting != 'AdaBatch']
  col = lambda setting: 'AdaBatch' if setting == 'AdaBatch' else f'{setting} Layer'
  name = lambda setting: f'table6_{col(setting).replace(" ", "_").lower()}'
  if tuned:
    # The fine-tuning settings on the plain model: one stage, one program
    # (trainable masks as data, `_train_shared`).
    model = make_model(cfg, 'bilstm', num_classes=3)
    base_vars = trainer.best_variables(base[False][1])
    groups = [
      Group(name(setting), seed_runs(ctx), base_vars, transfer.FROZEN_SETTINGS[setting])
      for setting in tuned
    ]
    split_all = _tile_split(split, len(tuned))
    fss = _train_shared(ctx, 'table6_fine_tuning', model, fit, ctx.y_unseen, split_all, groups)
    for setting, fs in zip(tuned, fss):
      out[col(setting)] = test_f1(model, fs, ctx.x, ctx.y_unseen, test, 3)
  if 'AdaBatch' in cfg.table6:
    # AdaBatch trains the BatchNorm model: a stage of its own.
    model = make_model(cfg, 'bilstm_bn', num_classes=3)
    stage = classifier_stage(model, fit, transfer.adabatch_tx(fit.learning_rate))
    base_vars = trainer.best_variables(base[True][1])
    fs = train_runs(
      ctx, name('AdaBatch'), stage, fit, ctx.y_unseen, split, seed_runs(ctx), base_vars
    )
    out['AdaBatch'] = test_f1(model, fs, ctx.x, ctx.y_unseen, test, 3)
  return {'Median F1 Score': {col(setting): out[col(setting)] for setting in cfg.table6}}


def siamese_models(ctx: Context, base) -> dict:
  """The siamese networks of Table IX trained on C^1: {method: (model, FitState)}.

  CS^2 (contrastive) and CS^3 (triplet) fine-tune the plain base model's
  embedder with `cfg.tl_frozen` frozen; CS^3_AB trains the BatchNorm base
  model's BN layers only (AdaBatch).
  """
  cfg = ctx.cfg
  split = seed_split(ctx, ctx.y_seen)
  fit = cfg.siamese_fit
  out = {}
  for method, (kind, bn) in SIAMESE.items():
    model = make_model(cfg, 'siamese_bn' if bn else 'siamese')
    tx = (
      transfer.adabatch_tx(fit.learning_rate)
      if bn
      else transfer.fine_tune_tx(transfer.FROZEN_SETTINGS[cfg.tl_frozen], fit.learning_rate)
    )
    name = 'siamese_' + method.replace('^', '').lower()
    base_vars = trainer.best_variables(base[bn][1])
    stage = siamese_stage(model, fit, kind, tx)
    fs = train_runs(ctx, name, stage, fit, ctx.y_seen, split, seed_runs(ctx), base_vars, pairs=True)
    out[method] = (model, fs)
  return out


def pooled_f1(res: episodes.EpisodeEvaluation, num_classes: int, pick=None) -> float:
  """Weighted F1 over the queries of all episodes pooled (the paper's estimator of Table IX).

  Predictions and truths are mapped from episode-local to global class ids
  first, so one confusion matrix counts every query once.

  Args:
    res: the scored episodes.
    num_classes: classes of the task.
    pick: None (every query), or [E] int: the one query of each episode that
      counts (the paper's one query per episode, `episode_queries`).
  """
  classes = np.asarray(res.episodes.classes)
  pred = np.take_along_axis(classes, np.asarray(res.predictions), axis=1)
  true = np.take_along_axis(classes, np.asarray(res.episodes.query_labels), axis=1)
  if pick is not None:
    pick = np.asarray(pick)[:, None]
    pred, true = np.take_along_axis(pred, pick, axis=1), np.take_along_axis(true, pick, axis=1)
  return float(f1_score(true.ravel(), pred.ravel(), num_classes, average='weighted'))


def episode_queries(key, num_episodes: int, n_way: int) -> np.ndarray:
  """[E] the query each episode keeps under the paper's one query per episode.

  Episodes are drawn with one query per class; episode e keeps the query of
  a class drawn uniformly (key: `fold_in(key, e)`'s draw), so its query's
  class is uniform over the episode's classes, as one query drawn from the
  episode's classes would be.
  """
  return np.asarray(jax.random.randint(key, (num_episodes,), 0, n_way))


def fsl_embeddings(ctx: Context, base, siamese) -> dict:
  """Every seed's copy of the data embedded once: {'base' or siamese method: [R, n, D]}.

  'base' is the plain base model's embedder (the metric methods); each
  siamese method's entry is its twin's embedder.
  """
  x_runs = np.asarray(ctx.x).reshape(ctx.cfg.num_seeds, ctx.n, *ctx.x.shape[1:])  # seed s's copy
  out = {'base': embeddings(*base[False], x_runs)}
  out.update({m: embeddings(model, fs, x_runs) for m, (model, fs) in siamese.items()})
  return out


def _fsl_classifier(ctx, s, method, emb, siamese):
  """(embeddings [n, D] of seed s's copy, classifier) of one FSL method or raw baseline."""
  if method in RAW_BASELINES:
    n = ctx.n
    # Sliced on the host: an eager slice and reshape would each compile a program.
    return np.asarray(ctx.x)[s * n : (s + 1) * n].reshape(n, -1), RAW_BASELINES[method]
  if method not in siamese:
    return emb['base'][s], classifiers.METRIC_CLASSIFIERS[method]
  head = siamese_lib.head_params(
    jax.tree.map(lambda a: np.asarray(a)[s], siamese[method][1].best_params)
  )
  return emb[method][s], classifiers.make_siamese_classifier(siamese_lib.head_scores, head)


@functools.partial(jax.jit, static_argnames=('n_way',))
def _draw_f1(classifier, emb, support_idx, support_labels, query_idx, query_labels, n_way):
  """[D] weighted F1 on one query set of D supports: support_idx [D, S], query_idx [Q] into emb."""
  query = emb[query_idx]

  def one(idx, labels):
    pred = classifier(emb[idx], labels, query, n_way)
    return f1_score(query_labels, pred, n_way, average='weighted')

  return jax.vmap(one)(support_idx, support_labels)


def _fsl_methods() -> tuple[str, ...]:
  return (*FSL_METHODS, *RAW_BASELINES)


def fsl_test(ctx: Context, emb: dict, siamese, draws: dict, *, oracle: bool, methods=None) -> dict:
  """Table IX's primary estimator: every FSL method classifies the seed's whole C5-C7 test split.

  For every (seed, nu, draw) the support is that draw's nu shots per class
  (`shot_draws`, the shots DL and TL train on); with `oracle` the seed's
  labelled C5-C7 validation recordings are added to it. Each test recording
  is classified given the support; a draw's score is the weighted F1 over the
  whole test split, a seed's the mean over its draws. Methods: the eight of
  Table IX and the raw-feature baselines (`RAW_BASELINES`).

  `methods` (default: all of them) names the methods to score.

  Returns:
    {method: (per-seed means {'k=<nu>': [R]}, per draw {'k=<nu>': [R][D]})}.
  """
  cfg = ctx.cfg
  y = ctx.y_unseen[: ctx.n]
  rename = lambda cells: {c.replace('ν=', 'k='): v for c, v in cells.items()}
  out = {}
  for method in _fsl_methods() if methods is None else methods:
    scores, order = [], []
    for s in range(cfg.num_seeds):
      e, clf = _fsl_classifier(ctx, s, method, emb, siamese)
      if not isinstance(clf, jax.tree_util.Partial):
        clf = jax.tree_util.Partial(clf)
      test = restrict(ctx.splits[s].test, y)
      extra = restrict(ctx.splits[s].val, y) if oracle else np.zeros(0, np.int64)
      for nu in cfg.shots:
        support = np.stack([
          np.concatenate([draws[(s, nu, d)], extra]) for d in range(cfg.draws)
        ])  # fmt: skip
        f1 = _draw_f1(clf, e, support, y[support], test, y[test], n_way=3)
        scores += np.asarray(f1).tolist()
        order += [(s, nu, d) for d in range(cfg.draws)]
      if ctx.progress is not None:
        ctx.progress(len(cfg.shots))
    means, per_draw = _per_seed(cfg, scores, order)
    out[method] = (rename(means), rename(per_draw))
  return out


def table9_episodes(ctx: Context, emb: dict, siamese) -> tuple[dict, dict, int]:
  """Table IX's second estimator, the paper's: F1 over 3-way k-shot episodes of C5-C7.

  Support from each seed's training split (with replacement, eq. (13)),
  queries from its test split: one per episode (`cfg.query == 'episode'`,
  the paper, `episode_queries`) or `cfg.n_query` per class; every method
  sees the same episodes (key ('episodes', seed, 'k<k>')). A seed's score
  under the two estimators: 'IX_episodes', the weighted F1 of all
  `cfg.episodes` episodes' queries pooled (`pooled_f1`, the paper's), and
  'IX_episode_mean', the mean of per-episode F1 (with one query per episode:
  the accuracy).

  Returns:
    ({method: {'k=1': [R], ...}} pooled, the same for episode_mean, queries
    per class drawn per episode).
  """
  cfg = ctx.cfg
  sup_idx = [restrict(s.train, ctx.y_unseen) for s in ctx.splits]
  test_idx = [restrict(s.test, ctx.y_unseen) for s in ctx.splits]
  per_class = cfg.n_query if cfg.query == 'class' else 1
  n_query = max(1, int(min(np.bincount(ctx.y_unseen[test_idx[0]]).min(), per_class)))
  table = {m: {f'k={k}': [] for k in cfg.shots} for m in FSL_METHODS}
  table_mean = {m: {f'k={k}': [] for k in cfg.shots} for m in FSL_METHODS}
  for s in range(cfg.num_seeds):
    for method in FSL_METHODS:
      e, clf = _fsl_classifier(ctx, s, method, emb, siamese)
      for k in cfg.shots:
        res = episodes.evaluate_episodes(
          named_key(ctx.root_key, 'episodes', s, f'k{k}'),
          e[sup_idx[s]],
          ctx.y_unseen[sup_idx[s]],
          e[test_idx[s]],
          ctx.y_unseen[test_idx[s]],
          classifier=clf,
          n_way=3,
          k_shot=k,
          n_query=n_query,
          num_episodes=cfg.episodes,
          average='weighted',
        )
        if cfg.query == 'episode':
          pick = episode_queries(named_key(ctx.root_key, 'episode_query', s, f'k{k}'),
                                 cfg.episodes, 3)  # fmt: skip
          table[method][f'k={k}'].append(pooled_f1(res, 3, pick))
          correct = np.take_along_axis(
            np.asarray(res.predictions) == np.asarray(res.episodes.query_labels),
            pick[:, None],
            axis=1,
          )
          table_mean[method][f'k={k}'].append(float(np.mean(correct)))
        else:
          table[method][f'k={k}'].append(pooled_f1(res, 3))
          table_mean[method][f'k={k}'].append(float(np.mean(res.f1)))
        if ctx.progress is not None:
          ctx.progress(1)
  return table, table_mean, n_query


# ---------------------------------------------------------------------------
# Records: every reported number with what it estimates and what selected it.


def oracle_rows(n_val: int) -> dict:
  """{source row: row name in the 'oracle' table}, naming the labelled C5-C7 recordings used."""
  rec = f'{n_val} labelled C5-C7 recordings'
  out = {m: f'{m}, early stopping on {rec}' for m in ('DL', 'TL')}
  out.update({m: f'{m}, {rec} as extra support' for m in _fsl_methods()})
  return out


def _wording(cfg: Config, n_query: int, n_val: int) -> dict:
  """{table: (estimator, selection)} of every table `run` computes; a selection is a str, or
  `selection(row, column) -> str` where rows were selected differently."""
  over = f'median and IQR over {cfg.num_seeds} seeds'
  f1 = lambda task: f"weighted F1 ({task}) of each seed's model on that seed's test split; {over}"
  stop = lambda task: f"epochs: early stopping on the seed's labelled {task} validation split"
  base = "; the base model's epochs: early stopping on its C1-C4 validation split"
  draws = (
    f"weighted F1 on the seed's whole C5-C7 test split, mean over {cfg.draws} draws of ν "
    f'training recordings per class (the same draws for DL, TL and every FSL method); {over}'
  )
  budget = (
    'epochs: a fixed budget per ν, the median over seeds of the best epoch on pseudo-novel '
    'tasks of C1-C4 (two seen classes held out, early stopping on their validation split), '
    'rounded up; no C5-C7 recording beyond the ν per class trained on was read'
  )
  embed = (
    "the embedding's epochs (base model, and the siamese training of CS^*): early stopping "
    "on the seed's C1-C4 validation split"
  )
  fsl = f'no labelled C5-C7 recording beyond the ν per class of the support; {embed}'
  if cfg.query == 'episode':
    queries = 'one query per episode, of a class drawn uniformly, from its C5-C7 test split'
  else:
    queries = f'{n_query} queries per class from its C5-C7 test split'
  episodes_of = (
    f"{cfg.episodes} 3-way episodes per seed (support of k per class from the seed's C5-C7 "
    f'training split, with replacement; {queries})'
  )
  given = f"the seed's {n_val} labelled C5-C7 validation recordings"
  oracle = (
    f'{given}: DL and TL stop early on them (best epoch kept); the FSL methods get them as '
    'extra support; ' + embed
  )
  # The raw-feature baselines train nothing, so nothing chose their epochs.
  raw = (
    'no labelled C5-C7 recording beyond the support; nothing is trained (the standardised '
    'features themselves), so nothing was selected'
  )
  raw_oracle = {oracle_rows(n_val)[m] for m in RAW_BASELINES}
  return {
    'IV': (f1('C1-C7'), stop('C1-C7')),
    'V': (
      f"precision, recall and F1 of each class, of each seed's base model on that seed's "
      f'C1-C4 test split; {over}',
      stop('C1-C4'),
    ),
    'VI': (f1('C5-C7'), stop('C5-C7') + ' (the full training split is used)' + base),
    'budget': (
      f"best epoch (early stopping) of each seed's runs on its pseudo-novel task; {over}; "
      'the budget used is the median rounded up',
      "early stopping on the pseudo-novel classes' C1-C4 validation split; pseudo-base model: "
      "early stopping on its two classes' C1-C4 validation split",
    ),
    'VII': (draws, budget),
    'VIII': (draws, budget + base + f'; frozen layers: {cfg.tl_frozen} (fixed)'),
    'IX': (draws, lambda row, col: raw if row in RAW_BASELINES else fsl),
    'oracle': (
      draws,
      lambda row, col: (
        f'{given} as extra support; nothing is trained' if row in raw_oracle else oracle
      ),
    ),
    'IX_episodes': (f"weighted F1 of all queries of a seed's {episodes_of}, pooled; {over}", fsl),
    'IX_episode_mean': (
      f"mean over a seed's {episodes_of} of each episode's weighted F1; {over}",
      fsl,
    ),
  }


def _finding(cfg: Config, summary: dict, wording: dict) -> list[records_lib.Record]:
  """The paper's claim at 1 and 5 shots (FSL > TL > DL), as records of medians and IQRs.

  DL, TL and the FSL methods `FINDING_FSL` (fixed before any score is seen),
  all strict and under the primary estimator.
  """
  cols = [nu for nu in (1, 5) if nu in cfg.shots]
  out = []
  sources = [('DL', 'VII', 'DL', 'ν'), ('TL', 'VIII', 'TL', 'ν')]
  sources += [(m, 'IX', m, 'k') for m in FINDING_FSL]
  for row, table, src, prefix in sources:
    cells = {str(nu): summary[table][src][f'{prefix}={nu}'] for nu in cols}
    estimator, selection = wording[table]
    selection = selection(src, None) if callable(selection) else selection
    selection = f'methods fixed in advance (DL, TL, {", ".join(FINDING_FSL)}); {selection}'
    out += records_lib.from_summary(
      'finding', {row: cells}, estimator=estimator, selection=selection
    )
  return out


def table_records(cfg: Config, raw: dict, n_query: int, n_val: int) -> list[records_lib.Record]:
  """Records of every table (median, IQR, Q1, Q3 of each cell) and of the 1/5-shot finding.

  Args:
    cfg: the run's `Config`.
    raw: per-seed scores {table: {row: {column: [R]}}} (`Results.raw`);
      'oracle' may be absent (`Config.oracle` False).
    n_query: queries per class drawn per episode in Table IX's episodes.
    n_val: labelled C5-C7 validation recordings per seed (the oracle's).
  """
  wording = _wording(cfg, n_query, n_val)
  summary = {t: reports.summarize(raw[t]) for t in wording if t in raw}
  out = []
  for table, (estimator, selection) in wording.items():
    if table in summary:
      out += records_lib.from_summary(
        table, summary[table], estimator=estimator, selection=selection
      )
  return out + _finding(cfg, summary, wording)


class Results(NamedTuple):
  """What `run` returns.

  Attributes:
    records: one `Record` per reported number: Tables IV-IX, 'budget' (the
      DL/TL epochs fixed on C1-C4), 'oracle' (validation-assisted rows),
      Table IX's episode estimators 'IX_episodes' and 'IX_episode_mean', and
      the 1/5-shot 'finding'.
    timings: the times of each stage group ('table_iv', 'base', ...):
      `fewshot.timing.stage` dicts.
    raw: per-seed scores behind the records: {table: {row: {column: [R]}}},
      'V_base_weighted_f1': [R] the base model's weighted F1 on C1-C4, and
      'per_draw': {table: {row: {column: [R][D]}}} the scores of every draw.
    n_query: queries per class drawn per episode of Table IX's episodes.
    n_val: labelled C5-C7 validation recordings per seed (the oracle rows').
  """

  records: list
  timings: dict
  raw: dict
  n_query: int
  n_val: int


def run(
  key, config: Config, data, *, progress=None, checkpoint_dir=None, threads: int = 2
) -> Results:
  """Every table of the paper's protocol.

  Args:
    key: the experiment's root `jax.random` key (module docstring: Randomness).
    config: the protocol's `Config`.
    data: `(x, labels)`: [n, 2, T] preprocessed features
      (`signals.semg_features`) and [n] int labels 0..6 (C1-C4 seen, C5-C7 unseen).
    progress: called with units of work done (`total_work(config)` in all),
      or None.
    checkpoint_dir: a folder for Orbax checkpoints of every stage (one
      subfolder each): a run started again with the same folder resumes an
      interrupted stage and skips finished ones. None trains without checkpoints.
    threads: 2 runs the stages that do not need each other's results two at
      a time, one in a worker thread (Table IV but its first depth, the
      budgets and the DL/TL stages there; the base models, Table VI, the
      siamese networks, the FSL tables and Table IV's first depth here), so that one compiles while the other trains; 1 runs them
      one after another. The results are the same (every stage's keys and
      programs are), only the wall time differs; `--estimate` runs use 1 (the
      probes time each stage alone).

  Returns:
    `Results`, `timings` in the order of the stages below; stages of the two
    threads overlap in time.
  """
  threads = timing.threads(threads)
  x, labels = data
  ctx = prepare(key, config, x, labels, checkpoint_dir=checkpoint_dir, progress=progress)
  timings = {}
  order = ['table_iv', 'base', 'budgets', 'tables_vii_viii', 'table_vi', 'siamese', 'table_ix']
  order += ['oracle_dl_tl', 'oracle_fsl'] if config.oracle else []
  order += ['table_ix_episodes']
  if threads == 2 and len(config.depths) > 1:
    order.insert(1, f'table_iv_depth{config.depths[0]}')

  def timed(name, fn, *args, **kwargs):
    with timing.stage(name) as timings[name]:
      return fn(*args, **kwargs)

  with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
    # Stages handed to the worker run there one after another, in the order given.
    def aside(name, fn, *args, **kwargs):
      if threads == 1:
        done = concurrent.futures.Future()
        done.set_result(timed(name, fn, *args, **kwargs))
        return done
      return pool.submit(timing.carried(timed), name, fn, *args, **kwargs)

    # The first depth of Table IV closes the main thread, which has less work.
    first = 1 if threads == 2 and len(config.depths) > 1 else 0
    iv = aside('table_iv', table4, ctx, config.depths[first:])
    budget = aside('budgets', budgets, ctx)
    base = timed('base', base_models, ctx)
    draws = shot_draws(ctx)
    strict = aside(
      'tables_vii_viii',
      lambda: dl_tl(ctx, base, draws, budget.result()[0], oracle=False),
    )
    if config.oracle:
      oracle = aside('oracle_dl_tl', dl_tl, ctx, base, draws, None, oracle=True)
    v, v_weighted = table5(ctx, base)
    vi = timed('table_vi', table6, ctx, base)
    sia = timed('siamese', siamese_models, ctx, base)
    emb = fsl_embeddings(ctx, base, sia)
    fsl = timed('table_ix', fsl_test, ctx, emb, sia, draws, oracle=False)
    if config.oracle:
      oracle_fsl = timed('oracle_fsl', fsl_test, ctx, emb, sia, draws, oracle=True)
    episodes_ = timed('table_ix_episodes', table9_episodes, ctx, emb, sia)
    depth = {'F1 Score': {}}
    if first:
      depth = timed(f'table_iv_depth{config.depths[0]}', table4, ctx, config.depths[:1])

  cells = {**depth['F1 Score'], **iv.result()['F1 Score']}
  raw = {'IV': {'F1 Score': {f'{d} Layer': cells[f'{d} Layer'] for d in config.depths}}}
  raw['V'], raw['V_base_weighted_f1'] = v, v_weighted
  raw['budget'] = budget.result()[1]
  per_draw = {}

  def keep(table, out):
    raw[table] = {m: means for m, (means, _) in out.items()}
    per_draw[table] = {m: each for m, (_, each) in out.items()}

  strict = strict.result()
  keep('VII', {'DL': strict['DL']})
  keep('VIII', {'TL': strict['TL']})
  raw['VI'] = vi
  keep('IX', fsl)
  n_val = len(restrict(ctx.splits[0].val, ctx.y_unseen))
  if config.oracle:
    rows_ = oracle_rows(n_val)
    both = {**oracle.result(), **oracle_fsl}
    rename = lambda cells: {c.replace('k=', 'ν='): v for c, v in cells.items()}
    keep('oracle', {rows_[m]: tuple(map(rename, v)) for m, v in both.items()})
  raw['IX_episodes'], raw['IX_episode_mean'], n_query = episodes_
  raw['per_draw'] = per_draw
  timings = {name: timings[name] for name in order}
  return Results(table_records(config, raw, n_query, n_val), timings, raw, n_query, n_val)
