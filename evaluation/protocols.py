"""Evaluation protocols as host index arrays, deterministic from a seed.

* Leave-one-subject-out (LOSO) and nested LOSO with k participant-independent
  inner folds (harAGE paper, section 4.3).
* sEMG paper (section III): class-disjoint task split (seen classes C1-C4 for
  training the embedding, unseen C5-C7 for few-shot tests) and the per-class
  train/validation/test counts of Table III.

Every function returns `int64` index arrays into the caller's sample arrays
(sorted ascending), so the same split applies to features, labels and
subject ids alike. Folds are ordered by the sorted unique subject ids.

Randomness: `seed` is either a Python int (a NumPy `default_rng(seed)` is
used) or a `jax.random` key; the same seed gives the same split.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import numpy as np

from evaluation import validation

# sEMG paper, Table III: (training, validation, test) samples per class C1-C7.
SEMG_TABLE_III = (
  (389, 111, 120),  # C1 60-degree adductor squeeze
  (487, 111, 120),  # C2 glute bridge
  (540, 153, 120),  # C3 single-leg elevated long-lever bridge
  (301, 76, 120),  # C4 isometric prone contraction
  (244, 62, 120),  # C5 elevated glute bridge
  (318, 65, 120),  # C6 single-leg prone curls
  (403, 93, 120),  # C7 running
)
# Task sets of the sEMG paper (0-based: C1 -> 0): C^1 = C1-C4, C^2 = C5-C7.
SEMG_SEEN_CLASSES = (0, 1, 2, 3)
SEMG_UNSEEN_CLASSES = (4, 5, 6)
# harAGE: 5 participant-independent inner folds.
HARAGE_INNER_FOLDS = 5


class Fold(NamedTuple):
  """One LOSO fold: [n_train] and [n_test] int64 sample indices."""

  train: np.ndarray
  test: np.ndarray


class NestedFold(NamedTuple):
  """An outer LOSO fold with its inner participant-independent folds.

  `inner` holds (train, validation) index pairs over the outer training
  samples, in the caller's indexing (not relative to `train`).
  """

  train: np.ndarray
  test: np.ndarray
  inner: tuple[Fold, ...]


class TaskSplit(NamedTuple):
  """Class-disjoint split of the sEMG paper.

  Indices select the samples of each task set; the labels are remapped to
  0..k-1 within each set (in the order the classes were given), as a model
  trained on one set expects.
  """

  seen: np.ndarray
  unseen: np.ndarray
  seen_labels: np.ndarray
  unseen_labels: np.ndarray


class TrainValTest(NamedTuple):
  train: np.ndarray
  val: np.ndarray
  test: np.ndarray


def _subjects(subjects) -> np.ndarray:
  s = np.asarray(subjects)
  if s.ndim != 1:
    raise ValueError(f'subjects must be 1-D [n], got shape {s.shape}.')
  if s.size == 0:
    raise ValueError('subjects is empty.')
  validation.check_array('subjects', s, finite=True, nonempty=False)
  if s.dtype.kind == 'O':
    raise ValueError('subjects must be ints or strings, not mixed objects.')
  return s


def _permutation(seed, n: int) -> np.ndarray:
  if isinstance(seed, jax.Array) and jax.dtypes.issubdtype(seed.dtype, jax.dtypes.prng_key):
    return np.asarray(jax.random.permutation(seed, n))
  if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
    raise ValueError(f'seed must be an int or a jax.random.key, got {type(seed).__name__}.')
  return np.random.default_rng(int(seed)).permutation(n)


def loso_splits(subjects) -> list[Fold]:
  """Leave-one-subject-out folds.

  Args:
    subjects: [n] subject id (int or str) of every sample.

  Returns:
    One Fold(train, test) per unique subject (sorted order): test holds all
    samples of that subject, train all others.

  Raises:
    ValueError: fewer than two subjects, empty or malformed ids.
  """
  s = _subjects(subjects)
  ids = np.unique(s)
  if len(ids) < 2:
    raise ValueError(f'LOSO needs at least 2 subjects, got {len(ids)}.')
  return [Fold(np.flatnonzero(s != i), np.flatnonzero(s == i)) for i in ids]


def loso_masks(subjects) -> np.ndarray:
  """LOSO as boolean test masks, for vmapping over folds.

  Args:
    subjects: [n] subject ids.

  Returns:
    [n_subjects, n] bool; row f marks the test samples of fold f (same order
    as `loso_splits`); the training mask is its negation.
  """
  s = _subjects(subjects)
  ids = np.unique(s)
  if len(ids) < 2:
    raise ValueError(f'LOSO needs at least 2 subjects, got {len(ids)}.')
  return s[None, :] == ids[:, None]


def subject_folds(subjects, num_folds: int, seed=0) -> list[Fold]:
  """Participant-independent k-fold split: each subject in one test fold.

  Subjects are shuffled with `seed` and dealt into `num_folds` groups whose
  sizes differ by at most one subject.

  Args:
    subjects: [n] subject ids.
    num_folds: k >= 2, at most the number of subjects.
    seed: int or jax.random key.

  Returns:
    k Folds(train, test).
  """
  s = _subjects(subjects)
  ids = np.unique(s)
  if not isinstance(num_folds, (int, np.integer)) or num_folds < 2:
    raise ValueError(f'num_folds must be an int >= 2, got {num_folds!r}.')
  if len(ids) < num_folds:
    raise ValueError(
      f'{num_folds} participant-independent folds need at least '
      f'{num_folds} subjects, got {len(ids)}.'
    )
  groups = np.array_split(ids[_permutation(seed, len(ids))], num_folds)
  folds = []
  for g in groups:
    test = np.isin(s, g)
    folds.append(Fold(np.flatnonzero(~test), np.flatnonzero(test)))
  return folds


def nested_loso_splits(subjects, inner_folds: int = HARAGE_INNER_FOLDS, seed=0) -> list[NestedFold]:
  """Nested LOSO (harAGE paper, section 4.3).

  The outer loop leaves one subject out for testing; the remaining subjects
  are split into `inner_folds` participant-independent folds (used there to
  pick the number of training epochs by early stopping on each inner fold).
  No subject is ever on both sides of an outer or inner split, and the
  held-out subject never appears in an inner fold.

  Args:
    subjects: [n] subject ids.
    inner_folds: k inner folds (5 in the paper).
    seed: int or jax.random key; outer fold f uses an independent stream.

  Returns:
    One NestedFold(train, test, inner) per subject (sorted order); inner
    indices refer to the caller's arrays.
  """
  s = _subjects(subjects)
  outer = loso_splits(s)
  if len(outer) - 1 < inner_folds:
    raise ValueError(
      f'nested LOSO with {inner_folds} inner folds needs at least '
      f'{inner_folds + 1} subjects, got {len(outer)}.'
    )
  keys = _fold_seeds(seed, len(outer))
  nested = []
  for fold, key in zip(outer, keys):
    inner = subject_folds(s[fold.train], inner_folds, key)
    # Map inner indices (relative to the outer training set) back.
    inner = tuple(Fold(fold.train[f.train], fold.train[f.test]) for f in inner)
    nested.append(NestedFold(fold.train, fold.test, inner))
  return nested


def _fold_seeds(seed, n: int):
  if isinstance(seed, jax.Array) and jax.dtypes.issubdtype(seed.dtype, jax.dtypes.prng_key):
    return [jax.random.fold_in(seed, i) for i in range(n)]
  _permutation(seed, 1)  # validates the seed
  return [int(x) for x in np.random.SeedSequence(int(seed)).generate_state(n)]


def class_disjoint_split(
  labels,
  seen_classes: Sequence[int] = SEMG_SEEN_CLASSES,
  unseen_classes: Sequence[int] = SEMG_UNSEEN_CLASSES,
) -> TaskSplit:
  """Class-disjoint task split (sEMG paper: C^1 = C1-C4, C^2 = C5-C7).

  Samples of other classes are in neither set.

  Args:
    labels: [n] int class labels.
    seen_classes: classes used to train the base model / embedding.
    unseen_classes: classes held out for the few-shot tests.

  Returns:
    TaskSplit with indices of both sets and labels remapped to 0..k-1.

  Raises:
    ValueError: overlapping class sets, repeated classes, or a class with no
      samples.
  """
  y = np.asarray(labels)
  if y.ndim != 1 or y.size == 0 or not np.issubdtype(y.dtype, np.integer):
    raise ValueError(
      f'labels must be a non-empty 1-D int array, got shape {y.shape}, dtype {y.dtype}.'
    )
  seen, unseen = list(seen_classes), list(unseen_classes)
  if not seen or not unseen:
    raise ValueError('both class sets must be non-empty.')
  if len(set(seen)) != len(seen) or len(set(unseen)) != len(unseen):
    raise ValueError('a class set lists the same class twice.')
  overlap = set(seen) & set(unseen)
  if overlap:
    raise ValueError(f'class sets overlap in {sorted(overlap)}.')
  missing = [c for c in seen + unseen if not np.any(y == c)]
  if missing:
    raise ValueError(f'classes {missing} have no samples.')

  def take(classes):
    idx = np.flatnonzero(np.isin(y, classes))
    remap = {c: i for i, c in enumerate(classes)}
    return idx, np.array([remap[c] for c in y[idx].tolist()], dtype=np.int32)

  seen_idx, seen_y = take(seen)
  unseen_idx, unseen_y = take(unseen)
  return TaskSplit(seen_idx, unseen_idx, seen_y, unseen_y)


def per_class_split(labels, counts=SEMG_TABLE_III, seed=0) -> TrainValTest:
  """Random per-class train/validation/test split with fixed counts.

  Reproduces the sEMG paper's Table III sizes by default (the paper redraws
  this split for each of its 10 seeds). Within each class the samples are
  shuffled with `seed` and the first n_train go to train, the next n_val to
  validation, the next n_test to test; any remainder is left unused.

  Args:
    labels: [n] int class labels in [0, len(counts)).
    counts: [C, 3] ints (n_train, n_val, n_test) per class.
    seed: int or jax.random key.

  Returns:
    TrainValTest(train, val, test) sorted index arrays.

  Raises:
    ValueError: a class has fewer samples than its counts ask for, negative
      counts, or labels outside [0, C).
  """
  y = np.asarray(labels)
  c = np.asarray(counts)
  if c.ndim != 2 or c.shape[1] != 3 or not np.issubdtype(c.dtype, np.integer):
    raise ValueError(
      f'counts must be [num_classes, 3] ints (train, val, test), got shape {c.shape}.'
    )
  if (c < 0).any():
    raise ValueError('counts must be non-negative.')
  if y.ndim != 1 or y.size == 0 or not np.issubdtype(y.dtype, np.integer):
    raise ValueError('labels must be a non-empty 1-D int array.')
  if (y < 0).any() or (y >= len(c)).any():
    raise ValueError(f'labels must lie in [0, {len(c)}) to match counts.')
  perm = _permutation(seed, len(y))
  parts = ([], [], [])
  for cls, (n_tr, n_va, n_te) in enumerate(c.tolist()):
    # Shuffle by the global permutation so one seed fixes all classes.
    idx = perm[y[perm] == cls]
    if len(idx) < n_tr + n_va + n_te:
      raise ValueError(
        f'class {cls} has {len(idx)} samples but counts ask for '
        f'{n_tr} + {n_va} + {n_te} = {n_tr + n_va + n_te}.'
      )
    bounds = np.cumsum([n_tr, n_va, n_te])
    for part, chunk in zip(parts, np.split(idx, bounds)[:3]):
      part.append(chunk)
  return TrainValTest(*(np.sort(np.concatenate(p)).astype(np.int64) for p in parts))
