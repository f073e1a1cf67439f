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
(`run_stage`, `fewshot.checkpoint`).

Splits (Table III). Each seed redraws a per-class train / validation / test
split with the counts of Table III (`evaluation.per_class_split`); a data set
with fewer recordings per class (the synthetic default) gets each class's
Table III row scaled down to what it has (`table3_counts`), keeping the
paper's proportions. C1-C4 are the seen tasks C^1, C5-C7 the unseen C^2.

Randomness. One root key per experiment; every key below it is derived by
name (`evaluation.keys.named_key`): seed s's split from ('split', s), its nu
examples per class from ('shots', s, 'nu<nu>'), a stage's run from
(stage name, s[, 'nu<nu>']) and within it ('init') and ('train'), the
episodes of seed s and k shots from ('episodes', s, 'k<k>') (the same
episodes for every FSL method). No key depends on how many were drawn before.

Protocol choices the paper leaves open (all per seed): DL and TL with nu
samples per class stop early on the full C5-C7 validation split (Sec. III:
"the validation set is used to prevent overfitting"); TL fine-tunes with the
first BiLSTM frozen (the best setting of Table VI); Table VI fine-tunes on the
full C5-C7 training split; FSL episodes are 3-way, support from the training
split with replacement, one query per class from the test split, and a seed's
FSL score is the F1 of all its episodes' queries pooled (the paper's reading
of Table IX; the mean of per-episode F1 is reported beside it); every table
reports the median and IQR over seeds. Standardisation: per-channel z-scores
with the mean and std of the seed's training split only (all seven classes),
applied to its validation and test recordings (`standardize_per_seed`).
Early stopping watches an exponential moving average of the validation loss
(`FitConfig.smoothing`) where the config sets it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import time
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
      VIII); every run takes the steps of the largest nu.
    transfer_fit: fine-tuning / AdaBatch on the full C5-C7 training split (Table VI).
    siamese_fit: siamese training on C1-C4 (CS^2, CS^3, CS^3_AB); its
      steps_per_epoch must be set.
    tl_frozen: the frozen-layer setting used for TL in Table VIII and for the
      siamese twins of CS^2 / CS^3 (the paper's best, Table VI: first BiLSTM).
    episodes: few-shot episodes per seed, method and k.
    n_query: queries per class and episode (the paper: one; Table IX's
      pooled F1 then counts every query of every episode once).
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
  episodes: int = 1000
  n_query: int = 1
  chunk_epochs: int = 10
  max_to_keep: int = 2

  def __post_init__(self):
    for name in ('num_seeds', 'episodes', 'n_query', 'chunk_epochs', 'max_to_keep'):
      checks.check_int(f'Config.{name}', getattr(self, name))
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
    pick = jax.random.choice(jax.random.fold_in(key, c), len(pool), (nu,), replace=False)
    out.append(pool[np.asarray(pick)])
  return np.concatenate(out)


def standardize_per_seed(x, splits) -> np.ndarray:
  """Each seed's copy of the data, z-scored with statistics of that seed's training split.

  Per channel, the mean and standard deviation over the seed's training
  recordings (all seven classes; no validation or test recording) and all
  time steps; applied to every recording.

  Args:
    x: [n, 2, T] features.
    splits: R per-seed `TrainValTest` splits.

  Returns:
    [R * n, 2, T] float32: rows s * n .. (s + 1) * n - 1 are seed s's copy.
  """
  x = np.asarray(x, np.float32)
  out = []
  for split in splits:
    train = x[np.asarray(split.train)]
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


def classifier_stage(model, fit: trainer.FitConfig, tx=None) -> trainer.Stage:
  """A supervised cross-entropy stage (Tables IV, VI, VII, VIII, base models)."""
  return trainer.make_stage(model, fit, classifier_loss, classifier_eval, tx=tx)


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

  Returns:
    `(fit_state, chunks_run)`; `chunks_run == 0` means the stage was restored.
  """
  epochs = fit.num_epochs
  chunk = epochs if chunk_epochs is None else max(1, min(chunk_epochs, epochs))
  while epochs % chunk:  # equal chunks: one compiled program per stage
    chunk -= 1
  trainer.validate_split(split, int(data['x'].shape[0]))

  def run_chunk(fs, c):
    fs, _ = trainer.fit_runs(stage.fit, fs, keys, data, split, num_epochs=chunk)
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
  return np.asarray(
    _scores(model, num_classes, average, False, fs.best_params, fs.best_batch_stats, x, y, idx)
  )


def per_class_scores(model, fs, x, labels_local, test_idx, num_classes: int):
  """Per-class precision, recall and F1 of every run (Table V): 3 x [R, C]."""
  x, y, idx = _test_inputs(fs, x, labels_local, test_idx)
  out = _scores(model, num_classes, None, True, fs.best_params, fs.best_batch_stats, x, y, idx)
  return tuple(np.asarray(a) for a in out)


@functools.partial(jax.jit, static_argnames=('model',))
def _embed_runs(model, params, batch_stats, x_runs):
  one = lambda p, b, x: trainer.apply_model(model, p, b, x, train=False, method='embed')[0]
  return jax.vmap(one)(params, batch_stats, x_runs)


def embeddings(model, fs: trainer.FitState, x_runs) -> np.ndarray:
  """Embeddings under every run's best model of that run's examples: [R, n, 2, T] -> [R, n, D]."""
  return np.asarray(_embed_runs(model, fs.best_params, fs.best_batch_stats, jnp.asarray(x_runs)))


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
  x_std = standardize_per_seed(x, splits)
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
  """Units `run` reports to `progress`: the epochs of all stages (an upper bound) and the
  Table IX cells (seed x method x k)."""
  epochs = (
    len(cfg.depths) * (cfg.table4_epochs or cfg.base_fit.num_epochs)
    + 2 * cfg.base_fit.num_epochs
    + 2 * cfg.few_fit.num_epochs
    + len(cfg.table6) * cfg.transfer_fit.num_epochs
    + len(SIAMESE) * cfg.siamese_fit.num_epochs
  )
  return epochs + len(FSL_METHODS) * len(cfg.shots) * cfg.num_seeds


def _one_pass(fit: trainer.FitConfig, n: int) -> trainer.FitConfig:
  # Full batches read cyclically: one pass over the largest run's n examples.
  return dataclasses.replace(fit, steps_per_epoch=max(1, math.ceil(n / fit.batch_size)))


def rows(ctx: Context, seed_index: int, idx) -> np.ndarray:
  """Indices 0..n-1 of a seed's split moved into that seed's standardised copy of the data."""
  return np.asarray(idx) + seed_index * ctx.n


def _seed_split(ctx: Context, task_labels) -> trainer.Split:
  return trainer.make_split(
    [rows(ctx, i, restrict(s.train, task_labels)) for i, s in enumerate(ctx.splits)],
    [rows(ctx, i, restrict(s.val, task_labels)) for i, s in enumerate(ctx.splits)],
  )


def _seed_test(ctx: Context, task_labels) -> np.ndarray:
  """[R, n_test] each seed's test indices of the task, in its own copy."""
  return np.stack([rows(ctx, i, restrict(s.test, task_labels)) for i, s in enumerate(ctx.splits)])


def _seeds(ctx: Context) -> list[tuple]:
  return [(s,) for s in range(ctx.cfg.num_seeds)]


def _train(ctx: Context, name, stage, fit, labels, split, runs, base=None, pairs=False):
  """Initialises and trains every run of stage `name` (resuming from its checkpoints).

  `runs` names each run below the stage (e.g. `(seed,)` or `(seed, 'nu5')`);
  run r's keys are `named_key(key, name, *runs[r], 'init' | 'train')`.
  """
  run_keys = [named_key(ctx.root_key, name, *r) for r in runs]
  init_keys = jnp.stack([named_key(k, 'init') for k in run_keys])
  train_keys = jnp.stack([named_key(k, 'train') for k in run_keys])
  example = (ctx.example, ctx.example) if pairs else (ctx.example,)
  fs, chunks = run_stage(
    stage,
    fit,
    None if ctx.ckpt is None else os.path.join(ctx.ckpt, name),
    lambda: init_runs(stage, fit, init_keys, example, base),
    train_keys,
    {'x': ctx.x, 'y': jnp.asarray(labels)},
    split,
    chunk_epochs=ctx.cfg.chunk_epochs,
    max_to_keep=ctx.cfg.max_to_keep,
    progress=ctx.progress,
  )
  if chunks == 0 and ctx.progress is not None:
    ctx.progress(fit.num_epochs)
  return fs


def table4(ctx: Context) -> dict:
  """Table IV: test F1 of the base DL model on all seven classes vs BiLSTM depth, [R] per depth."""
  cfg = ctx.cfg
  split = _seed_split(ctx, ctx.y_all)
  fit = _one_pass(cfg.base_fit, split.train_idx.shape[1])
  if cfg.table4_epochs is not None:
    fit = dataclasses.replace(fit, num_epochs=cfg.table4_epochs)
  test = _seed_test(ctx, ctx.y_all)
  out = {}
  for depth in cfg.depths:
    model = make_model(cfg, f'bilstm_depth{depth}', num_classes=7)
    stage = classifier_stage(model, fit)
    fs = _train(ctx, f'table4_depth{depth}', stage, fit, ctx.y_all, split, _seeds(ctx))
    out[f'{depth} Layer'] = test_f1(model, fs, ctx.x, ctx.y_all, test, 7)
  return {'F1 Score': out}


def base_models(ctx: Context) -> dict:
  """The base models on C^1 (Sec. II-C): {False: plain, True: with BatchNorm for AdaBatch}.

  Returns:
    {batch_norm: (model, FitState)}.
  """
  cfg = ctx.cfg
  split = _seed_split(ctx, ctx.y_seen)
  fit = _one_pass(cfg.base_fit, split.train_idx.shape[1])
  out = {}
  for bn in (False, True):
    model = make_model(cfg, 'bilstm_bn' if bn else 'bilstm', num_classes=4)
    name = 'base_c1_bn' if bn else 'base_c1'
    stage = classifier_stage(model, fit)
    out[bn] = (model, _train(ctx, name, stage, fit, ctx.y_seen, split, _seeds(ctx)))
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
  return table, test_f1(model, fs, ctx.x, ctx.y_seen, test, 4)


def tables7_8(ctx: Context, base) -> tuple[dict, dict]:
  """Tables VII (DL from scratch) and VIII (TL, `cfg.tl_frozen` frozen) vs nu samples per class.

  Runs are seeds x nu (run i * R + s: nu = shots[i], seed s), trained as one
  program per table; each draws its nu examples per class of C^2 from the
  seed's training split and stops early on the seed's full C^2 validation split.

  Returns:
    ({'DL': {'ν=1': [R], ...}}, {'TL': {...}}).
  """
  cfg = ctx.cfg
  R = cfg.num_seeds
  pairs = [(s, nu) for nu in cfg.shots for s in range(R)]
  runs = [(s, f'nu{nu}') for s, nu in pairs]  # key names: seed, then nu
  splits = ctx.splits
  shots = [
    rows(
      ctx, s, draw_shots(named_key(ctx.root_key, 'shots', *r), splits[s].train, ctx.y_unseen, nu)
    )
    for (s, nu), r in zip(pairs, runs)
  ]
  val = [rows(ctx, i, restrict(s.val, ctx.y_unseen)) for i, s in enumerate(ctx.splits)]
  split = trainer.make_split(shots, val * len(cfg.shots))
  test = np.concatenate([_seed_test(ctx, ctx.y_unseen)] * len(cfg.shots))
  fit = _one_pass(cfg.few_fit, 3 * max(cfg.shots))
  model = make_model(cfg, 'bilstm', num_classes=3)
  by_shot = lambda f1: {f'ν={nu}': f1[i * R : (i + 1) * R] for i, nu in enumerate(cfg.shots)}

  fs = _train(ctx, 'table7_dl', classifier_stage(model, fit), fit, ctx.y_unseen, split, runs)
  dl = {'DL': by_shot(test_f1(model, fs, ctx.x, ctx.y_unseen, test, 3))}

  tx = transfer.fine_tune_tx(transfer.FROZEN_SETTINGS[cfg.tl_frozen], fit.learning_rate)
  base_vars = jax.tree.map(
    lambda a: jnp.concatenate([a] * len(cfg.shots)), trainer.best_variables(base[False][1])
  )
  stage = classifier_stage(model, fit, tx)
  fs = _train(ctx, 'table8_tl', stage, fit, ctx.y_unseen, split, runs, base_vars)
  return dl, {'TL': by_shot(test_f1(model, fs, ctx.x, ctx.y_unseen, test, 3))}


def table6(ctx: Context, base) -> dict:
  """Table VI: fine-tuning with frozen layers, and AdaBatch, on the full C^2 training split."""
  cfg = ctx.cfg
  split = _seed_split(ctx, ctx.y_unseen)
  fit = _one_pass(cfg.transfer_fit, split.train_idx.shape[1])
  test = _seed_test(ctx, ctx.y_unseen)
  out = {}
  for setting in cfg.table6:
    bn = setting == 'AdaBatch'
    if bn:
      col, tx = 'AdaBatch', transfer.adabatch_tx(fit.learning_rate)
    else:
      col = f'{setting} Layer'
      tx = transfer.fine_tune_tx(transfer.FROZEN_SETTINGS[setting], fit.learning_rate)
    model = make_model(cfg, 'bilstm_bn' if bn else 'bilstm', num_classes=3)
    name = f'table6_{col.replace(" ", "_").lower()}'
    base_vars = trainer.best_variables(base[bn][1])
    stage = classifier_stage(model, fit, tx)
    fs = _train(ctx, name, stage, fit, ctx.y_unseen, split, _seeds(ctx), base_vars)
    out[col] = test_f1(model, fs, ctx.x, ctx.y_unseen, test, 3)
  return {'Median F1 Score': out}


def siamese_models(ctx: Context, base) -> dict:
  """The siamese networks of Table IX trained on C^1: {method: (model, FitState)}.

  CS^2 (contrastive) and CS^3 (triplet) fine-tune the plain base model's
  embedder with `cfg.tl_frozen` frozen; CS^3_AB trains the BatchNorm base
  model's BN layers only (AdaBatch).
  """
  cfg = ctx.cfg
  split = _seed_split(ctx, ctx.y_seen)
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
    fs = _train(ctx, name, stage, fit, ctx.y_seen, split, _seeds(ctx), base_vars, pairs=True)
    out[method] = (model, fs)
  return out


def pooled_f1(res: episodes.EpisodeEvaluation, num_classes: int) -> float:
  """Weighted F1 over the queries of all episodes pooled (the paper's reading of Table IX).

  Predictions and truths are mapped from episode-local to global class ids
  first, so one confusion matrix counts every query once.
  """
  classes = np.asarray(res.episodes.classes)
  pred = np.take_along_axis(classes, np.asarray(res.predictions), axis=1).ravel()
  true = np.take_along_axis(classes, np.asarray(res.episodes.query_labels), axis=1).ravel()
  return float(f1_score(true, pred, num_classes, average='weighted'))


def _fsl_classifier(ctx, s, method, emb_base, emb_sia, siamese):
  """(embeddings [n, D] of seed s's copy, classifier) of one FSL method."""
  if method not in siamese:
    return emb_base[s], classifiers.METRIC_CLASSIFIERS[method]
  head = siamese_lib.head_params(jax.tree.map(lambda a: a[s], siamese[method][1].best_params))
  return emb_sia[method][s], classifiers.make_siamese_classifier(siamese_lib.head_scores, head)


def table9(ctx: Context, base, siamese) -> tuple[dict, dict, int]:
  """Table IX: F1 of the eight FSL methods on 3-way k-shot episodes of C^2.

  Support from each seed's training split (with replacement, eq. (13)),
  `cfg.n_query` queries per class from its test split (the paper: one); every
  method sees the same episodes (key ('episodes', seed, 'k<k>')). A seed's
  score under the two estimators: 'pooled' (table 'IX'), the weighted F1 of
  all `cfg.episodes` episodes' queries pooled (`pooled_f1`, the paper's
  reading), and 'episode_mean' ('IX_episode_mean'), the mean of per-episode F1. With one
  query per class an episode has three queries, so its own F1 is coarse (0,
  1/3, 1/2, 1, ...) and the two estimators differ.

  Returns:
    ({method: {'k=1': [R], ...}} pooled, the same for episode_mean, queries
    per class used).
  """
  cfg = ctx.cfg
  x_runs = ctx.x.reshape(cfg.num_seeds, ctx.n, *ctx.x.shape[1:])  # seed s's copy
  emb_base = embeddings(*base[False], x_runs)  # (R, n, D)
  emb_sia = {m: embeddings(model, fs, x_runs) for m, (model, fs) in siamese.items()}
  sup_idx = [restrict(s.train, ctx.y_unseen) for s in ctx.splits]
  test_idx = [restrict(s.test, ctx.y_unseen) for s in ctx.splits]
  n_query = max(1, int(min(np.bincount(ctx.y_unseen[test_idx[0]]).min(), cfg.n_query)))
  table = {m: {f'k={k}': [] for k in cfg.shots} for m in FSL_METHODS}
  table_mean = {m: {f'k={k}': [] for k in cfg.shots} for m in FSL_METHODS}
  for s in range(cfg.num_seeds):
    for method in FSL_METHODS:
      emb, clf = _fsl_classifier(ctx, s, method, emb_base, emb_sia, siamese)
      for k in cfg.shots:
        res = episodes.evaluate_episodes(
          named_key(ctx.root_key, 'episodes', s, f'k{k}'),
          emb[sup_idx[s]],
          ctx.y_unseen[sup_idx[s]],
          emb[test_idx[s]],
          ctx.y_unseen[test_idx[s]],
          classifier=clf,
          n_way=3,
          k_shot=k,
          n_query=n_query,
          num_episodes=cfg.episodes,
          average='weighted',
        )
        table[method][f'k={k}'].append(pooled_f1(res, 3))
        table_mean[method][f'k={k}'].append(float(np.mean(res.f1)))
        if ctx.progress is not None:
          ctx.progress(1)
  return table, table_mean, n_query


# ---------------------------------------------------------------------------
# Records: every reported number with what it estimates and what selected it.

FINDING_ROWS = {'DL': ('VII', 'DL', 'ν'), 'TL': ('VIII', 'TL', 'ν'), 'best FSL': ('IX', None, 'k')}


def _wording(cfg: Config, n_query: int) -> dict:
  """{table: (estimator, selection)} of Tables IV-IX as computed by `run`."""
  over = f'median and IQR over {cfg.num_seeds} seeds'
  f1 = lambda task: f"weighted F1 ({task}) of each seed's model on that seed's test split; {over}"
  stop = lambda task: f"epochs: early stopping on the seed's labelled {task} validation split"
  base = "; the base model's epochs: early stopping on its C1-C4 validation split"
  fsl = (
    "no labelled C5-C7 data chose anything; the embedding's epochs (base model, and the "
    "siamese training of CS^*): early stopping on the seed's C1-C4 validation split"
  )
  episodes_of = (
    f"{cfg.episodes} 3-way episodes per seed (support from the seed's C5-C7 training split, "
    f'{n_query} query per class from its C5-C7 test split)'
  )
  return {
    'IV': (f1('C1-C7'), stop('C1-C7')),
    'V': (
      f"precision, recall and F1 of each class, of each seed's base model on that seed's "
      f'C1-C4 test split; {over}',
      stop('C1-C4'),
    ),
    'VI': (f1('C5-C7'), stop('C5-C7') + base),
    'VII': (f1('C5-C7'), stop('C5-C7') + ' (all of it, not only the ν per class trained on)'),
    'VIII': (
      f1('C5-C7'),
      stop('C5-C7') + f' (all of it, not only the ν per class trained on){base}; frozen layers: '
      f'{cfg.tl_frozen} (fixed)',
    ),
    'IX': (f"weighted F1 of all queries of a seed's {episodes_of}, pooled; {over}", fsl),
    'IX_episode_mean': (
      f"mean over a seed's {episodes_of} of each episode's weighted F1; {over}",
      fsl,
    ),
  }


def _finding(cfg: Config, summary: dict, wording: dict) -> list[records_lib.Record]:
  """The paper's claim at 1 and 5 shots (best FSL > TL > DL), as records of medians and IQRs.

  The best FSL method is the one with the highest median of Table IX on the
  test split it reports: a selection on the test split, and said so.
  """
  cols = [nu for nu in (1, 5) if nu in cfg.shots]
  if not cols:
    return []
  best = {}
  for nu in cols:
    medians = {m: cells[f'k={nu}']['median'] for m, cells in summary['IX'].items()}
    best[nu] = max(medians, key=medians.get)
  picked = ', '.join(f'k={nu}: {best[nu]}' for nu in cols)
  out = []
  for row, (table, method, prefix) in FINDING_ROWS.items():
    cells = {}
    for nu in cols:
      src = summary[table][best[nu] if method is None else method]
      cells[str(nu)] = src[f'{prefix}={nu}']
    estimator, selection = wording[table]
    if method is None:
      selection = (
        f'method: the FSL method with the highest median F1 on the test split ({picked}): '
        f'selected on the test split; {selection}'
      )
    out += records_lib.from_summary(
      'finding', {row: cells}, estimator=estimator, selection=selection
    )
  return out


def table_records(cfg: Config, raw: dict, n_query: int) -> list[records_lib.Record]:
  """Records of Tables IV-IX (median, IQR, Q1, Q3 of each cell) and of the 1/5-shot finding.

  Args:
    cfg: the run's `Config`.
    raw: per-seed scores {table: {row: {column: [R]}}} (`Results.raw`).
    n_query: queries per class and episode that Table IX used.
  """
  wording = _wording(cfg, n_query)
  summary = {t: reports.summarize(raw[t]) for t in wording}
  out = []
  for table, (estimator, selection) in wording.items():
    out += records_lib.from_summary(table, summary[table], estimator=estimator, selection=selection)
  return out + _finding(cfg, summary, wording)


class Results(NamedTuple):
  """What `run` returns.

  Attributes:
    records: one `Record` per reported number (Tables IV-IX, Table IX's
      second estimator 'IX_episode_mean', and the 1/5-shot 'finding').
    timings: wall seconds per stage group ('table_iv_s', 'base_s', ...).
    raw: per-seed scores behind the records: {table: {row: {column: [R]}}}
      for 'IV', 'V', 'VI', 'VII', 'VIII', 'IX', 'IX_episode_mean', and
      'V_base_weighted_f1': [R] the base model's weighted F1 on C1-C4.
    n_query: queries per class and episode of Table IX.
  """

  records: list
  timings: dict
  raw: dict
  n_query: int


def run(key, config: Config, data, *, progress=None, checkpoint_dir=None) -> Results:
  """Every table of the paper's protocol, in order.

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

  Returns:
    `Results`.
  """
  x, labels = data
  ctx = prepare(key, config, x, labels, checkpoint_dir=checkpoint_dir, progress=progress)
  timings = {}

  def timed(name, fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    timings[f'{name}_s'] = time.perf_counter() - t
    return out

  raw = {'IV': timed('table_iv', table4, ctx)}
  base = timed('base', base_models, ctx)
  raw['V'], raw['V_base_weighted_f1'] = table5(ctx, base)
  raw['VII'], raw['VIII'] = timed('tables_vii_viii', tables7_8, ctx, base)
  raw['VI'] = timed('table_vi', table6, ctx, base)
  sia = timed('siamese', siamese_models, ctx, base)
  raw['IX'], raw['IX_episode_mean'], n_query = timed('table_ix', table9, ctx, base, sia)
  return Results(table_records(config, raw, n_query), timings, raw, n_query)
