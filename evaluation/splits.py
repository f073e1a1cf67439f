"""Subject-wise data splits as host index arrays, deterministic from a key.

* Leave-one-subject-out (LOSO) and nested LOSO with k participant-independent
  inner folds (harAGE paper, section 4.3).
* Per-class train/validation/test splits with fixed counts (the sEMG paper's
  Table III, whose counts live with the paper's protocol).

The training protocols that use these splits are in `fewshot.protocols`.

Every function returns `int64` index arrays into the caller's sample arrays
(sorted ascending), so the same split applies to features, labels and
subject ids alike. Folds are ordered by the sorted unique subject ids.

Randomness: the shuffled splits take a `jax.random` key (keyword-only); the
same key gives the same split.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from evaluation import checks
from evaluation.keys import as_key
from evaluation.keys import named_key


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
  checks.check_array('subjects', s, finite=True, nonempty=False)
  if s.dtype.kind == 'O':
    raise ValueError('subjects must be ints or strings, not mixed objects.')
  return s


def _permutation(key, n: int) -> np.ndarray:
  return np.asarray(jax.random.permutation(as_key(key), n))


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


def subject_folds(subjects, num_folds: int, *, key) -> list[Fold]:
  """Participant-independent k-fold split: each subject in one test fold.

  Subjects are shuffled with `key` and dealt into `num_folds` groups whose
  sizes differ by at most one subject.

  Args:
    subjects: [n] subject ids.
    num_folds: k >= 2, at most the number of subjects.
    key: `jax.random` key of the shuffle.

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
  groups = np.array_split(ids[_permutation(key, len(ids))], num_folds)
  folds = []
  for g in groups:
    test = np.isin(s, g)
    folds.append(Fold(np.flatnonzero(~test), np.flatnonzero(test)))
  return folds


def nested_loso_splits(subjects, inner_folds: int, *, key) -> list[NestedFold]:
  """Nested LOSO (harAGE paper, section 4.3).

  The outer loop leaves one subject out for testing; the remaining subjects
  are split into `inner_folds` participant-independent folds (used there to
  pick the number of training epochs by early stopping on each inner fold).
  No subject is ever on both sides of an outer or inner split, and the
  held-out subject never appears in an inner fold.

  Args:
    subjects: [n] subject ids.
    inner_folds: k inner folds (5 in the paper).
    key: `jax.random` key; outer fold f shuffles with `named_key(key, 'outer', f)`.

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
  key = as_key(key)
  nested = []
  for f, fold in enumerate(outer):
    inner = subject_folds(s[fold.train], inner_folds, key=named_key(key, 'outer', f))
    # Map inner indices (relative to the outer training set) back.
    inner = tuple(Fold(fold.train[f.train], fold.train[f.test]) for f in inner)
    nested.append(NestedFold(fold.train, fold.test, inner))
  return nested


def per_class_split(labels, counts, *, key) -> TrainValTest:
  """Random per-class train/validation/test split with fixed counts.

  With `fewshot.protocols.semg.SEMG_TABLE_III` as `counts` it reproduces the sEMG
  paper's Table III sizes (the paper redraws this split for each of its 10
  seeds). Within each class the samples are shuffled with `key` and the
  first n_train go to train, the next n_val to
  validation, the next n_test to test; any remainder is left unused.

  Args:
    labels: [n] int class labels in [0, len(counts)).
    counts: [C, 3] ints (n_train, n_val, n_test) per class.
    key: `jax.random` key of the shuffle.

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
  perm = _permutation(key, len(y))
  parts = ([], [], [])
  for cls, (n_tr, n_va, n_te) in enumerate(c.tolist()):
    # Shuffle by the global permutation so one key fixes all classes.
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
