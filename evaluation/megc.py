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
* Table III: the paper's composite database has 442 clips of 68 subjects
  (SMIC 164 / CASME II 145 / SAMM 133; negative 250, positive 109, surprise
  83; `TABLE_III`). STSTNet's authors distributed its clip names
  (`video442Names.txt`, one `<subject>_<clip folder>` a line, e.g.
  'sub01_EP02_01f', 's01_s01_ne_01', '006_006_1_2'); `read_clip_list` reads
  such a file, `composite_database(..., clip_list=...)` keeps only the listed
  clips and `composite_check` names every difference from Table III
  (missing and extra clips, count deltas).
* Scores: TP/FP/FN pooled over all LOSO folds, then UF1 (eq. 3-4) and UAR
  (eq. 5). Because counts are additive, pooling is summing the per-fold
  confusion matrices. This is *not* the mean of per-fold scores (Forman &
  Scholz, the paper's footnote 2).
* Both UF1 and UAR average over the C classes of the task, as eq. 4 and 5
  write them (1/C sum over c). A class with no sample in the scored set
  contributes 0 to both: its F1 is 0 (no true positive; 0/0, when it is
  never predicted either, is defined as 0) and its recall TP_c / N_c = 0/0
  is defined as 0. Such a score is out of C and so lower than the mean over
  the classes present; the scores name those classes ('absent_classes') so
  a table can flag them. (STSTNet's released evaluation instead skips a
  class that is neither present nor predicted and gets NaN recall for one
  predicted but absent; `evaluation.uar`, the balanced accuracy used by the
  HAR paper, averages over present classes only.) With LOSO pooled over all
  folds every class of the composite and of each database is present, so
  the rule matters only for small or partial sets.
"""

from __future__ import annotations

import functools
import os
import re
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

# Table III of the paper: clips per database and class of the composite
# database (442 clips), and subjects per database (16 + 24 + 28 = 68). The
# SMIC row equals the class codes (ne / po / sur) of STSTNet's 442-clip list.
TABLE_III = {
  'SMIC': {'negative': 70, 'positive': 51, 'surprise': 43},
  'CASME II': {'negative': 88, 'positive': 32, 'surprise': 25},
  'SAMM': {'negative': 92, 'positive': 26, 'surprise': 15},
}
TABLE_III_SUBJECTS = {'SMIC': 16, 'CASME II': 24, 'SAMM': 28}

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


def clip_id(database: str, subject, name) -> str:
  """A clip's name in STSTNet's 442-clip list: '<subject>_<clip folder>'.

  SMIC's subject folders are 's1', 's2', ... and its clips 's1_ne_01'; the
  list writes them with two digits ('s01_s01_ne_01'), so SMIC's subject and
  the clip's leading subject are zero-padded. CASME II ('sub01_EP02_01f')
  and SAMM ('006_006_1_2') join subject and clip folder as they are.

  Args:
    database: 'SMIC', 'CASME II' or 'SAMM' (any alias `map_emotions` takes).
    subject: subject id within the database (its folder name).
    name: the clip's folder name.

  Returns:
    The list's name of the clip.
  """
  db = _database(database)
  subject, name = str(subject).strip(), str(name).strip()
  if db == 'SMIC':
    pad = lambda m: f's{int(m[1]):02d}'
    subject = re.sub(r'^s(\d+)$', pad, subject, flags=re.IGNORECASE)
    name = re.sub(r'^s(\d+)(?=_)', pad, name, flags=re.IGNORECASE)
  return f'{subject}_{name}'


def listed_database(name: str) -> str:
  """The database of a listed clip name by its pattern ('?' when none fits).

  'sub01_EP02_01f' is CASME II, 's01_s01_ne_01' SMIC, '006_006_1_2' SAMM:
  used to count listed clips that no loaded clip matches.
  """
  if re.fullmatch(r'sub\d+_.+', name):
    return 'CASME II'
  if re.fullmatch(r's\d+_s\d+_.+', name):
    return 'SMIC'
  if re.fullmatch(r'\d+_\d+_.+', name):
    return 'SAMM'
  return '?'


def read_clip_list(path) -> tuple[str, ...]:
  """Clip names of a list file as STSTNet's `video442Names.txt` holds them.

  One name a line; surrounding white space (the distributed file ends every
  line with a space) and blank lines are ignored, as are lines starting with
  '#'.

  Args:
    path: the text file.

  Returns:
    The names in file order.

  Raises:
    ValueError: the file does not exist, holds no name or holds a name twice
      (naming the repeated names).
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise ValueError(f'clip list {path} does not exist.')
  with open(path, encoding='utf-8') as f:
    names = [ln.strip() for ln in f]
  names = [n for n in names if n and not n.startswith('#')]
  if not names:
    raise ValueError(f'clip list {path} holds no clip name.')
  seen, twice = set(), []
  for n in names:
    if n in seen:
      twice.append(n)
    seen.add(n)
  if twice:
    raise ValueError(f'clip list {path} names clips more than once: {sorted(set(twice))}.')
  return tuple(names)


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
  clip_id: np.ndarray | None = None  # [n_kept] str list names (`clip_id`), when names were given


def _samples(databases, subjects, emotions, names):
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
  ids = None
  if names is not None:
    names = np.asarray(names).astype(str)
    if names.shape != dbs.shape:
      raise ValueError(f'names has shape {names.shape}, the samples {dbs.shape}.')
    ids = np.array([clip_id(d, s, n) for d, s, n in zip(canon, subj, names)])
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
      raise ValueError(f'clips with the same list name: {uniq[counts > 1].tolist()[:10]}.')
  return canon, subj, emo, labels, ids


def composite_database(
  databases: Sequence[str],
  subjects: Sequence,
  emotions: Sequence[str],
  *,
  names: Sequence[str] | None = None,
  clip_list: Sequence[str] | None = None,
) -> CompositeDatabase:
  """Builds the composite database and its LOSO folds (Composite Database Evaluation, CDE).

  Args:
    databases: [n] database of each sample ('SMIC', 'CASME II', 'SAMM').
    subjects: [n] subject id of each sample within its database.
    emotions: [n] original emotion name of each sample.
    names: [n] clip folder names (needed with `clip_list`); they give
      `clip_id`s.
    clip_list: clip names as in STSTNet's 442-clip list (`read_clip_list`):
      only the listed clips are kept. `composite_check` names the clips the
      list and the samples do not share.

  Returns:
    CompositeDatabase with omitted emotions (and unlisted clips) removed and
    one LOSO fold per (database, subject) pair.
  """
  if clip_list is not None and names is None:
    raise ValueError('a clip list needs the clip names (names=...) to match them.')
  canon, subj, _, labels, ids = _samples(databases, subjects, emotions, names)
  kept = labels != OMITTED
  if clip_list is not None:
    kept &= np.isin(ids, np.asarray(list(clip_list), dtype=str))
  keep = np.flatnonzero(kept)
  if keep.size == 0:
    raise ValueError(
      'every sample has an omitted emotion.'
      if clip_list is None
      else 'no sample with a kept emotion is in the clip list.'
    )
  qualified = np.char.add(np.char.add(canon[keep], '/'), subj[keep])
  return CompositeDatabase(
    keep, labels[keep], canon[keep], qualified, splits.loso_splits(qualified),
    None if ids is None else ids[keep],
  )  # fmt: skip


class CompositeCheck(NamedTuple):
  """The composite database as built, against the paper's Table III.

  Attributes:
    counts: {database: {class: clips}} of the built composite database.
    subjects: {database: subjects} of the built composite database.
    missing: listed clip names that no sample matches (with a clip list).
    extra: samples with a kept emotion that the list leaves out (so the
      composite database leaves them out too), by list name.
    unlabelled: (list name, emotion) of listed samples whose emotion the
      composite database omits (`map_emotions` maps it to OMITTED).
    differences: every difference, one readable line each (empty: the
      composite database matches Table III).
  """

  counts: dict
  subjects: dict
  missing: tuple
  extra: tuple
  unlabelled: tuple
  differences: tuple

  @property
  def matches_table_iii(self) -> bool:
    return not self.differences

  def message(self) -> str:
    """One line per difference from Table III, or a line saying there is none."""
    if self.matches_table_iii:
      return 'The composite database matches Table III (442 clips, 68 subjects).'
    head = f'The composite database differs from Table III ({len(self.differences)} differences):'
    return '\n'.join([head] + [f'- {d}' for d in self.differences])


def table_iii_markdown(records, check: CompositeCheck, columns: Sequence[str]) -> str:
  """Table III's counts ('III') and their difference from the paper ('III difference') as
  markdown, then `check.message()`.

  Args:
    records: a run's records holding tables 'III' and 'III difference'.
    check: the run's `CompositeCheck`.
    columns: the integer columns (the classes, 'clips', 'subjects').
  """
  from evaluation import reports

  layout = dict(row_header='Database', scale=1.0, digits=0, integer_columns=tuple(columns))
  text = reports.table_markdown(
    records, 'III', title='TABLE III layout: the composite database of this run', **layout
  )
  text += '\n' + reports.table_markdown(
    records, 'III difference', title='Difference from the paper (this run - Table III)', **layout
  )
  return text + '\n' + check.message() + '\n'


def _names_line(what: str, names, limit: int = 50) -> str:
  names = list(names)
  shown = ', '.join(names[:limit]) + (
    f', ... ({len(names) - limit} more)' if len(names) > limit else ''
  )
  return f'{len(names)} {what}: {shown}'


def composite_check(
  databases: Sequence[str],
  subjects: Sequence,
  emotions: Sequence[str],
  *,
  names: Sequence[str] | None = None,
  clip_list: Sequence[str] | None = None,
) -> CompositeCheck:
  """Counts of the composite database against Table III, naming every difference.

  Builds the composite database as `composite_database` does (same
  arguments) and compares clips per database and class, and subjects per
  database, with `TABLE_III` and `TABLE_III_SUBJECTS`; with a clip list,
  also names the listed clips that are missing from the samples, the
  samples that the list leaves out, and the listed clips whose emotion the
  composite database omits.

  Returns:
    CompositeCheck; its `differences` are empty only when every count equals
    Table III's and (with a list) every listed clip is there and labelled.
  """
  comp = composite_database(databases, subjects, emotions, names=names, clip_list=clip_list)
  counts = {
    db: {
      c: int(np.sum((comp.database == db) & (comp.labels == i))) for i, c in enumerate(MEGC_CLASSES)
    }
    for db in DATABASES
  }
  subjects_by_db = {db: len(set(comp.subject[comp.database == db])) for db in DATABASES}
  missing = extra = unlabelled = ()
  diffs = []
  if clip_list is not None:
    _, _, emo, labels, ids = _samples(databases, subjects, emotions, names)
    listed = list(dict.fromkeys(clip_list))
    listed_set, loaded = set(listed), set(ids.tolist())
    missing = tuple(n for n in listed if n not in loaded)
    extra = tuple(str(i) for i, lab in zip(ids, labels) if lab != OMITTED and i not in listed_set)
    unlabelled = tuple(
      (str(i), str(e)) for i, e, lab in zip(ids, emo, labels) if lab == OMITTED and i in listed_set
    )
    for db in (*DATABASES, '?'):
      miss = [n for n in missing if listed_database(n) == db]
      if miss:
        diffs.append(_names_line(f'listed {db} clips are missing from the data', miss))
    if extra:
      diffs.append(_names_line('clips with a kept emotion are not in the list (left out)', extra))
    if unlabelled:
      diffs.append(
        _names_line(
          'listed clips have an emotion the composite database omits (left out)',
          [f'{i} ({e})' for i, e in unlabelled],
        )
      )
  for db in DATABASES:
    for c in MEGC_CLASSES:
      ours, paper = counts[db][c], TABLE_III[db][c]
      if ours != paper:
        diffs.append(f'{db} {c}: {ours} clips here, {paper} in Table III ({ours - paper:+d})')
    ours, paper = subjects_by_db[db], TABLE_III_SUBJECTS[db]
    if ours != paper:
      diffs.append(f'{db} subjects: {ours} here, {paper} in Table III ({ours - paper:+d})')
  return CompositeCheck(counts, subjects_by_db, missing, extra, unlabelled, tuple(diffs))


def table_iii_totals(counts: dict, subjects: dict) -> dict:
  """{row: {column: count}} of Table III's layout: per database and 'Full', per class, clips, subjects.

  Args:
    counts: {database: {class: clips}} (`CompositeCheck.counts` or `TABLE_III`).
    subjects: {database: subjects}.
  """
  rows = {}
  for db in DATABASES:
    rows[db] = {**counts[db], 'clips': sum(counts[db].values()), 'subjects': subjects[db]}
  rows['Full'] = {
    col: sum(rows[db][col] for db in DATABASES) for col in (*MEGC_CLASSES, 'clips', 'subjects')
  }
  return rows


def _bucket(n: int) -> int:
  # Fold and database sizes vary; padding the pooled labels to a power of two
  # bounds the compilations to a handful of lengths.
  return max(64, 1 << (int(n) - 1).bit_length())


def _uar_over_classes(cm):
  # eq. 5 over all C classes: recall 0/0 of a class without samples is 0.
  return metrics._score(cm, 'recall', 'macro', 0.0)


def uar_over_classes(cm) -> jax.Array:
  """UAR of MEGC eq. 5 from a [C, C] confusion matrix: the mean over all C classes of TP_c / N_c.

  A class without samples (N_c = 0) has recall 0/0, defined as 0, so it
  lowers the mean (module doc). This equals scikit-learn's
  `recall_score(labels=range(C), average='macro', zero_division=0)`, and
  `balanced_accuracy_score` whenever every class has samples.
  """
  _checks.check_confusion(cm)
  return _uar_over_classes_jit(_checks.as_array(cm))


_uar_over_classes_jit = jax.jit(_uar_over_classes)


@functools.partial(jax.jit, static_argnames=('num_classes',))
def _pooled_scores(y_true, y_pred, num_classes):
  # Padding labels are -1: their one-hot rows are zero, so they count nowhere.
  cm = metrics._confusion(y_true, y_pred, num_classes)
  uf1 = metrics._score(cm, 'f1', 'macro', 0.0)  # eq. 4, over all C classes
  f1 = metrics._score(cm, 'f1', None, 0.0)
  return cm, uf1, _uar_over_classes(cm), f1


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
    dict with 'UF1', 'UAR' (floats; both the mean over all C classes, a
    class without samples contributing 0: module doc), 'confusion' ([C, C]
    int pooled matrix), per-class 'F1' (list) and 'absent_classes' (list of
    the classes without samples).
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
    'absent_classes': [int(c) for c in np.flatnonzero(np.asarray(cm).sum(axis=1) == 0)],
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
  and `uar_over_classes(pooled)` (both over all C classes).
  """
  fold_cms = _checks.as_array(fold_cms)
  shape = np.shape(fold_cms)
  if len(shape) != 3 or shape[1] != shape[2]:
    raise ValueError(f'expected [folds, C, C] matrices, got shape {shape}.')
  if shape[0] == 0:
    raise ValueError('no folds given.')
  return _sum_folds(fold_cms)
