"""The sEMG paper's experimental protocol (Sec. III) as reusable stage functions.

A *stage* trains one model setting for many runs at once (the 10 seeds of a
table, or seeds x samples-per-class), as one compiled, vmapped program, with
Orbax checkpoints so that an interrupted experiment resumes and a finished
stage is skipped (`fewshot.checkpoint`). The experiment script
(`experiments/semg_fewshot.py`) only strings stages together and writes tables.

Splits (Sec. III, Table III). Each seed redraws a per-class train / validation
/ test split with the counts of Table III (`evaluation.per_class_split`); a
data set with fewer recordings per class (the synthetic default) gets each
class's Table III row scaled down to what it has (`table3_counts`), keeping
the paper's proportions. C1-C4 are the seen tasks C^1, C5-C7 the unseen C^2.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Callable
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from evaluation import f1_score
from evaluation import precision
from evaluation import recall
from evaluation.protocols import SEMG_TABLE_III
from fewshot import checkpoint
from fewshot import siamese as siamese_lib
from fewshot import trainer as train_lib
from fewshot import transfer


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


def draw_shots(rng: np.random.Generator, idx, labels_local, nu: int) -> np.ndarray:
  """`nu` training examples per class of the task, without replacement.

  Args:
    rng: NumPy generator (one per seed and nu).
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
    out.append(rng.choice(pool, nu, replace=False))
  return np.concatenate(out)


def pad_rows(rows: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
  """Stacks index arrays of different lengths: ([R, max_len] int32, [R] int32 lengths).

  Padding repeats each row's first entry, so every index is valid.
  """
  rows = [np.asarray(r) for r in rows]
  if not rows or min(len(r) for r in rows) == 0:
    raise ValueError('every run needs at least one training example')
  width = max(len(r) for r in rows)
  out = np.stack([np.concatenate([r, np.full(width - len(r), r[0])]) for r in rows])
  return out.astype(np.int32), np.array([len(r) for r in rows], np.int32)


def stack_split(train_rows, val_rows) -> train_lib.Split:
  """A batched `Split` from per-run train and validation index arrays."""
  train_idx, n_train = pad_rows(train_rows)
  val = [np.asarray(v) for v in val_rows]
  if len({len(v) for v in val}) != 1:
    raise ValueError(
      'all runs of a stage need equally many validation examples, got '
      f'{sorted({len(v) for v in val})}'
    )
  return train_lib.Split(
    jnp.asarray(train_idx), jnp.asarray(n_train), jnp.asarray(np.stack(val).astype(np.int32))
  )


@dataclasses.dataclass(frozen=True)
class Stage:
  """One trained setting for many runs.

  Attributes:
    name: checkpoint folder name.
    model: the Flax model (a `SEMGClassifier` or `SiameseNet`).
    tx: its optimizer (Adam, or a masked Adam for transfer).
    fit: an unvmapped `make_fit`-style loop.
    fit_config: its `FitConfig`.
  """

  name: str
  model: object
  tx: optax.GradientTransformation
  fit: Callable
  fit_config: train_lib.FitConfig


def classifier_stage(name, model, tx, fit_config) -> Stage:
  """A supervised cross-entropy stage (Tables IV, VI, VII, VIII, base model)."""
  fit = train_lib.make_fit(
    train_lib.classifier_loss_fn(model),
    train_lib.classifier_val_fn(model),
    train_lib.supervised_batches,
    tx,
    fit_config,
  )
  return Stage(name, model, tx, fit, fit_config)


def siamese_stage(name, model, tx, fit_config, kind: str, num_val: int = 128) -> Stage:
  """A siamese stage with contrastive (CS^2) or triplet (CS^3) loss."""
  fit = siamese_lib.make_siamese_fit(model, kind, tx, fit_config, num_val=num_val)
  return Stage(name, model, tx, fit, fit_config)


def _example_inputs(model, x):
  ex = x[:2]
  return (ex, ex) if hasattr(model, 'compare') else (ex,)


def init_runs(stage: Stage, keys, x, base_variables=None) -> train_lib.FitState:
  """Initial `FitState` of every run (vmapped over `keys` [R]).

  Args:
    stage: the stage.
    keys: [R] PRNG keys, one per run.
    x: [n, 2, T] examples (only the shape of two is used).
    base_variables: optional `{'params', 'batch_stats'}` with a leading [R]
      axis; their `embedder` is transferred into each run (eq. (11)).
  """
  ex = _example_inputs(stage.model, x)

  def one(key, base):
    variables = stage.model.init(key, *ex)
    if base is not None:
      variables = transfer.transfer_variables(variables, base)
    return train_lib.init_fit_state(train_lib.init_train_state(variables, stage.tx))

  if base_variables is None:
    return jax.jit(jax.vmap(lambda k: one(k, None)))(keys)
  return jax.jit(jax.vmap(one))(keys, base_variables)


def best_variables(fs: train_lib.FitState) -> dict:
  """`{'params', 'batch_stats'}` of the best validation epoch (batched over runs)."""
  return {'params': fs.best_params, 'batch_stats': fs.best_batch_stats}


def run_stage(
  stage: Stage,
  directory: str,
  init,
  keys,
  data,
  split: train_lib.Split,
  chunk_epochs: int | None = None,
  max_to_keep: int = 2,
  progress: Callable[[int], None] | None = None,
):
  """Trains all runs of a stage with checkpoints; resumes or skips as needed.

  Args:
    stage: the stage.
    directory: checkpoint root; the stage uses `directory/stage.name`.
    init: initial batched `FitState` (`init_runs`), or a function returning
      it (called only if the stage has no checkpoint yet).
    keys: [R] training keys.
    data: `(x [n, 2, T], labels [n])` shared by all runs.
    split: batched `Split`.
    chunk_epochs: at most this many epochs between checkpoints (the largest
      divisor of num_epochs not above it; default: all in one chunk).
    max_to_keep: Orbax `max_to_keep`.
    progress: called with the number of epochs just finished.

  Returns:
    `(fit_state, chunks_run)`; `chunks_run == 0` means the stage was restored.
  """
  cfg = stage.fit_config
  chunk = cfg.num_epochs if chunk_epochs is None else max(1, min(chunk_epochs, cfg.num_epochs))
  while cfg.num_epochs % chunk:  # equal chunks: one compiled program per stage
    chunk -= 1
  train_lib.validate_split(split, int(data[0].shape[0]))
  vfit = train_lib.vmap_fit(stage.fit)

  def run_chunk(fs, c):
    fs, _ = vfit(fs, keys, data, split, c * chunk, chunk)
    train_lib.check_finite(fs, stage.name)
    return fs

  return checkpoint.run_stage(
    os.path.join(directory, stage.name),
    init,
    run_chunk,
    cfg.num_epochs // chunk,
    max_to_keep=max_to_keep,
    on_chunk=None if progress is None else (lambda c: progress(chunk)),
  )


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _f1_runs(model, num_classes, average, params, batch_stats, xt, y):
  def one(p, b, xt, y):
    pred = train_lib.predict(model, p, b, xt)
    return f1_score(y, pred, num_classes, average=average)

  return jax.vmap(one)(params, batch_stats, xt, y)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _per_class_runs(model, num_classes, params, batch_stats, xt, y):
  def one(p, b, xt, y):
    pred = train_lib.predict(model, p, b, xt)
    return (
      precision(y, pred, num_classes),
      recall(y, pred, num_classes),
      f1_score(y, pred, num_classes),
    )

  return jax.vmap(one)(params, batch_stats, xt, y)


def test_f1(
  model,
  fs: train_lib.FitState,
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
  test_idx = np.asarray(test_idx)
  params, batch_stats = fs.best_params, fs.best_batch_stats
  runs = jax.tree.leaves(params)[0].shape[0]
  if test_idx.ndim == 1:
    test_idx = np.broadcast_to(test_idx, (runs, test_idx.shape[0]))
  y = jnp.asarray(np.asarray(labels_local)[test_idx])
  return np.asarray(
    _f1_runs(model, num_classes, average, params, batch_stats, jnp.asarray(x)[test_idx], y)
  )


def per_class_scores(model, fs, x, labels_local, test_idx, num_classes: int):
  """Per-class precision, recall and F1 of every run (Table V): 3 x [R, C]."""
  test_idx = np.asarray(test_idx)
  y = jnp.asarray(np.asarray(labels_local)[test_idx])
  out = _per_class_runs(
    model, num_classes, fs.best_params, fs.best_batch_stats, jnp.asarray(x)[test_idx], y
  )
  return tuple(np.asarray(a) for a in out)


def embeddings(model, fs: train_lib.FitState, x) -> np.ndarray:
  """Embeddings of all examples under every run's best model: [R, n, 32]."""
  return np.asarray(
    train_lib.embed_many(model, fs.best_params, fs.best_batch_stats, jnp.asarray(x))
  )
