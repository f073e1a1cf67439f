"""MEGC 2019 composite-database evaluation: labels, LOSO folds and scores (section III).

* Label mapping: the emotions of SMIC, CASME II and SAMM are mapped to three
  classes, negative / positive / surprise. Following Table III and its
  footnotes, CASME II's negative class is Disgust and Repression only, and
  SAMM's is Anger, Contempt, Disgust, Fear and Sadness. Other emotions
  ('Others' of CASME II, the remaining CASME II / SAMM emotions) are omitted
  from the composite database, by design, not by accident: an emotion this
  module does not know raises instead of being dropped.
* Composite Database Evaluation (CDE): the three databases form one set; LOSO
  over all subjects (68 in the paper: 16 SMIC + 24 CASME II + 28 SAMM). A
  subject id is qualified by its database, so 's01' of two databases are two
  subjects.
* Scores: TP/FP/FN pooled over all LOSO folds, then UF1 (eq. 3-4) and UAR
  (eq. 5). Because counts are additive, pooling is summing the per-fold
  confusion matrices. This is *not* the mean of per-fold scores (Forman &
  Scholz, the paper's footnote 2).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evaluation import checks as _checks
from evaluation import metrics
from evaluation import splits

MEGC_CLASSES = ('negative', 'positive', 'surprise')
NEGATIVE, POSITIVE, SURPRISE = 0, 1, 2
OMITTED = -1  # label of a sample that the composite database leaves out
DATABASES = ('SMIC', 'CASME II', 'SAMM')

# Section III and Table III footnotes; keys are lower-case emotion names.
_MAPPING = {
  'SMIC': {'negative': NEGATIVE, 'positive': POSITIVE, 'surprise': SURPRISE},
  'CASME II': {
    'disgust': NEGATIVE,
    'repression': NEGATIVE,
    'happiness': POSITIVE,
    'surprise': SURPRISE,
    # Omitted: the mixed 'Others' class, and the few fear/sadness clips
    # that Table III's CASME II negative class (Disgust, Repression)
    # does not include.
    'others': OMITTED,
    'fear': OMITTED,
    'sadness': OMITTED,
  },
  'SAMM': {
    'anger': NEGATIVE,
    'contempt': NEGATIVE,
    'disgust': NEGATIVE,
    'fear': NEGATIVE,
    'sadness': NEGATIVE,
    'happiness': POSITIVE,
    'surprise': SURPRISE,
    'other': OMITTED,
    'others': OMITTED,
  },
}
_DB_ALIASES = {
  'smic': 'SMIC',
  'casme ii': 'CASME II',
  'casme2': 'CASME II',
  'casmeii': 'CASME II',
  'casme_ii': 'CASME II',
  'samm': 'SAMM',
}


def _database(name) -> str:
  key = str(name).strip().lower()
  if key not in _DB_ALIASES:
    raise ValueError(f'unknown database {name!r}; expected one of {DATABASES}.')
  return _DB_ALIASES[key]


def map_emotions(emotions: Sequence[str], database: str) -> np.ndarray:
  """Maps one database's emotion names to MEGC classes.

  Args:
    emotions: [n] emotion names as the database spells them
      (case-insensitive).
    database: 'SMIC', 'CASME II' (or 'CASME2') or 'SAMM'.

  Returns:
    [n] int32 labels: 0 negative, 1 positive, 2 surprise, or OMITTED (-1)
    for emotions the composite database leaves out.

  Raises:
    ValueError: an emotion the database does not have, or unknown database.
  """
  db = _database(database)
  table = _MAPPING[db]
  names = [str(e).strip().lower() for e in np.asarray(emotions).ravel()]
  unknown = sorted({e for e in names if e not in table})
  if unknown:
    raise ValueError(f'{db} has no emotion(s) {unknown}; known: {sorted(table)}.')
  return np.array([table[e] for e in names], dtype=np.int32)


class CompositeDatabase(NamedTuple):
  """The CDE composite database and its LOSO folds.

  `index` selects the kept samples from the caller's arrays; all other fields
  are aligned with `index` (length n_kept), and fold indices refer to
  positions in the kept set.
  """

  index: np.ndarray  # [n_kept] int64 into the caller's sample arrays
  labels: np.ndarray  # [n_kept] int32 MEGC class
  database: np.ndarray  # [n_kept] str database name
  subject: np.ndarray  # [n_kept] str 'DATABASE/subject'
  folds: list  # one splits.Fold per composite subject


def composite_database(
  databases: Sequence[str], subjects: Sequence, emotions: Sequence[str]
) -> CompositeDatabase:
  """Builds the composite database and its LOSO folds (Composite Database Evaluation, CDE).

  Args:
    databases: [n] database of each sample ('SMIC', 'CASME II', 'SAMM').
    subjects: [n] subject id of each sample within its database.
    emotions: [n] original emotion name of each sample.

  Returns:
    CompositeDatabase with omitted emotions removed and one LOSO fold per
    (database, subject) pair.
  """
  dbs = np.asarray(databases).astype(str)
  subj = np.asarray(subjects).astype(str)
  emo = np.asarray(emotions).astype(str)
  if not (dbs.ndim == subj.ndim == emo.ndim == 1):
    raise ValueError('databases, subjects and emotions must be 1-D.')
  if not len(dbs) == len(subj) == len(emo):
    raise ValueError(
      f'databases, subjects and emotions differ in length: {len(dbs)}, {len(subj)}, {len(emo)}.'
    )
  if len(dbs) == 0:
    raise ValueError('no samples given.')
  canon = np.array([_database(d) for d in dbs])
  labels = np.full(len(dbs), OMITTED, dtype=np.int32)
  for db in np.unique(canon):
    sel = canon == db
    labels[sel] = map_emotions(emo[sel], db)
  keep = np.flatnonzero(labels != OMITTED)
  if keep.size == 0:
    raise ValueError('every sample has an omitted emotion.')
  qualified = np.char.add(np.char.add(canon[keep], '/'), subj[keep])
  return CompositeDatabase(
    keep, labels[keep], canon[keep], qualified, splits.loso_splits(qualified)
  )


def _bucket(n: int) -> int:
  # Fold and database sizes vary; padding the pooled labels to a power of two
  # bounds the compilations to a handful of lengths.
  return max(64, 1 << (int(n) - 1).bit_length())


@functools.partial(jax.jit, static_argnames=('num_classes',))
def _pooled_scores(y_true, y_pred, num_classes):
  # Padding labels are -1: their one-hot rows are zero, so they count nowhere.
  cm = metrics._confusion(y_true, y_pred, num_classes)
  uf1 = metrics._score(cm, 'f1', 'macro', 0.0)
  f1 = metrics._score(cm, 'f1', None, 0.0)
  return cm, uf1, metrics._uar(cm), f1


def composite_scores(
  fold_true: Sequence, fold_pred: Sequence, num_classes: int = len(MEGC_CLASSES)
) -> dict:
  """UF1 and UAR with TP/FP/FN pooled over all LOSO folds (eq. 3-5).

  Pooling sums the folds' confusion matrices, which is the confusion matrix
  of all held-out predictions together; it is computed that way, in one
  jitted program per (bucketed) total length.

  Args:
    fold_true: per fold, [n_f] int true labels of the held-out subject.
    fold_pred: per fold, [n_f] int predicted labels.
    num_classes: 3 for MEGC.

  Returns:
    dict with 'UF1', 'UAR' (floats), 'confusion' ([C, C] int pooled matrix),
    and per-class 'F1' (list).
  """
  if len(fold_true) != len(fold_pred):
    raise ValueError(f'{len(fold_true)} folds of true labels but {len(fold_pred)} of predictions.')
  if len(fold_true) == 0:
    raise ValueError('no folds given.')
  num_classes = _checks.check_int('num_classes', num_classes)
  for t, p in zip(fold_true, fold_pred):
    _checks.check_label_pair(_checks.as_array(t), _checks.as_array(p), num_classes)
  y_true = np.concatenate([np.asarray(t) for t in fold_true]).astype(np.int32)
  y_pred = np.concatenate([np.asarray(p) for p in fold_pred]).astype(np.int32)
  pad = _bucket(len(y_true)) - len(y_true)
  y_true, y_pred = (np.pad(y, (0, pad), constant_values=-1) for y in (y_true, y_pred))
  cm, uf1, uar, f1 = jax.device_get(_pooled_scores(y_true, y_pred, num_classes=num_classes))
  return {
    'UF1': float(uf1),
    'UAR': float(uar),
    'F1': f1.tolist(),
    'confusion': cm.tolist(),
  }


def scores_by_database(y_true, y_pred, database, num_classes: int = len(MEGC_CLASSES)) -> dict:
  """Table IV layout: UF1/UAR on the full composite and on each database.

  Pass the held-out predictions of all LOSO folds concatenated; pooling
  over folds equals scoring the concatenation.

  Args:
    y_true: [n] int true MEGC labels.
    y_pred: [n] int predictions.
    database: [n] database name of each sample.
    num_classes: 3 for MEGC.

  Returns:
    {'Full': {...}, 'SMIC': {...}, 'CASME II': {...}, 'SAMM': {...}} with
    the dicts of `composite_scores`; databases without samples are left out.
  """
  y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
  db = np.array([_database(d) for d in np.asarray(database).ravel()])
  if len(db) != len(y_true):
    raise ValueError(f'database has {len(db)} entries but there are {len(y_true)} labels.')
  out = {'Full': composite_scores([y_true], [y_pred], num_classes)}
  for name in DATABASES:
    sel = db == name
    if sel.any():
      out[name] = composite_scores([y_true[sel]], [y_pred[sel]], num_classes)
  return out


@jax.jit
def _sum_folds(fold_cms):
  return jnp.sum(fold_cms, axis=0)


def pooled_confusion(fold_cms) -> jax.Array:
  """Sums stacked per-fold confusion matrices: [folds, C, C] -> [C, C].

  E.g. the stack from `jax.vmap(confusion_matrix)` over seeds x folds of
  equal size; pooled UF1/UAR are then `f1_from_confusion(pooled, 'macro')`
  and `uar_from_confusion(pooled)`.
  """
  fold_cms = _checks.as_array(fold_cms)
  shape = np.shape(fold_cms)
  if len(shape) != 3 or shape[1] != shape[2]:
    raise ValueError(f'expected [folds, C, C] matrices, got shape {shape}.')
  if shape[0] == 0:
    raise ValueError('no folds given.')
  return _sum_folds(fold_cms)
