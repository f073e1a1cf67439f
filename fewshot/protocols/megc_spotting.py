"""MEGC 2019 spotting (section II, Table II): spotted intervals scored against the micro-expressions.

The baseline of Table II is Moilanen et al.'s LBP-chi^2 feature difference
(`vision.megc.spotting`): a contrasted feature-difference curve per video
(preprocessing: the experiment script computes it with `vision`), a
threshold T = C_mean + p (C_max - C_mean), peak picking and intervals of
+-k frames around the peaks. The script passes the spotted intervals of each
video at every threshold fraction p (`Database.spotted`); `run` scores them:
a spotted interval is a true positive when it matches a ground-truth
micro-expression one-to-one at IoU >= 0.5 (eq. 1-2), TP / FP / FN are summed
over a database's videos, and precision, recall and F1 follow from the
pooled counts (`evaluation.spotting_scores`). It also counts the false
positives that fall on a distractor (a macro-expression or a blink), the
paper's explanation of the baseline's many false positives.

The LBP-chi^2 spotter learns nothing and draws no randomness; a learned
spotter (an SVM on the same curves) will train here, from `key`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

import evaluation
from evaluation import checks
from evaluation import records as records_lib

COLUMNS = ('TP', 'FP', 'FN', 'Precision', 'Recall', 'F1', 'FP on macro/blinks')
COUNT_COLUMNS = ('TP', 'FP', 'FN', 'FP on macro/blinks')
DEFAULT_P = 0.1  # vision.megc.spotting's default threshold fraction


@dataclasses.dataclass(frozen=True)
class Config:
  """Everything that changes the numbers of a spotting run.

  Attributes:
    seed: seed of the synthetic videos (the spotter has no randomness).
    databases: ((name, videos, seconds), ...) of `vision.synthetic_long_videos`.
    ps: threshold fractions p, one row of Table II each.
    figure_p: p of the figure's threshold line and spotted intervals.
    size: frame side of the videos (faces are about 0.56 of it).
  """

  seed: int = 0
  databases: tuple = (('CAS(ME)^2', 8, 20.0), ('SAMM', 6, 10.0))
  ps: tuple = (0.05, 0.1, 0.2, 0.3, 0.5)
  figure_p: float = 0.1
  size: int = 288

  def __post_init__(self):
    for p in self.ps + (self.figure_p,):
      if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f'threshold fractions p must lie in [0, 1], got {p}.')


class Database(NamedTuple):
  """One database's videos: ground truth, distractors and the spotter's output.

  Attributes:
    micro: per video, [m, 2] int inclusive (onset, offset) micro-expressions.
    distractors: per video, [d, 2] int macro-expression and blink intervals.
    spotted: {p: per video, [s, 2] int spotted intervals at threshold fraction p}.
  """

  micro: list
  distractors: list
  spotted: Mapping


class Results(NamedTuple):
  """What `run` returns.

  Attributes:
    records: Table II: per database and p, the `COLUMNS`.
    timings: wall seconds of scoring each database.
    counts: {database: {'videos': n, 'micro': m}}.
  """

  records: list
  timings: dict
  counts: dict


def table_name(database: str) -> str:
  """Table II's name for one database's block of rows."""
  return f'II {database}'


def row_name(p: float) -> str:
  return f'LBP-χ² p={p:g}'


def on_distractors(spotted, micro, distractors) -> int:
  """False positives of one video that overlap a distractor (macro-expression or blink)."""
  spotted = np.asarray(spotted).reshape(-1, 2)
  distractors = np.asarray(distractors).reshape(-1, 2)
  if not len(spotted) or not len(distractors):
    return 0
  matched = {int(s) for s, _ in evaluation.match_intervals(spotted=spotted, ground_truth=micro)}
  free = [iv for i, iv in enumerate(spotted) if i not in matched]
  return int(sum((evaluation.interval_iou([iv], distractors) > 0).any() for iv in free))


def score_database(db: Database, ps) -> dict:
  """{p: {column: value}} of one database (Table II's cells)."""
  out = {}
  for p in ps:
    spotted = db.spotted[p]
    if len(spotted) != len(db.micro):
      raise ValueError(f'p={p}: {len(spotted)} spotted videos but {len(db.micro)} with truth.')
    s = evaluation.spotting_scores(spotted=spotted, ground_truth=db.micro)
    out[p] = {
      'TP': s['tp'],
      'FP': s['fp'],
      'FN': s['fn'],
      'Precision': s['precision'],
      'Recall': s['recall'],
      'F1': s['f1'],
      'FP on macro/blinks': sum(
        on_distractors(sp, m, d) for sp, m, d in zip(spotted, db.micro, db.distractors)
      ),
    }
  return out


def _estimator(n_videos: int) -> str:
  return (
    'TP / FP / FN: spotted intervals matched one-to-one to the ground-truth micro-expressions '
    f"at IoU >= 0.5 (eq. 1-2), summed over the database's {n_videos} videos; precision, recall "
    'and F1 of the summed counts; FP on macro/blinks: false positives overlapping a '
    'macro-expression or a blink; one pass of a deterministic spotter'
  )


def _selection(p: float) -> str:
  default = " (the library's default, fixed in advance)" if p == DEFAULT_P else ''
  return f'none: the row of the listed threshold fraction p = {p:g}{default}, no p chosen'


def run(key, config: Config, data: Mapping, *, progress: Callable | None = None) -> Results:
  """Table II: every database of `data` at every p of `config.ps`.

  Args:
    key: the run's root jax.random key (unused: the LBP-chi^2 spotter draws
      no randomness; taken for the one protocol shape).
    config: `Config`.
    data: {database name: `Database`}.
    progress: called once after each database, or None.

  Returns:
    `Results`.
  """
  del key
  if not data:
    raise ValueError('no database given.')
  recs, timings, counts = [], {}, {}
  for name, db in data.items():
    checks.check_choice('database', name, tuple(n for n, _, _ in config.databases))
    t0 = time.perf_counter()
    cells = score_database(db, config.ps)
    for p, row in cells.items():
      recs += [
        records_lib.record(
          table_name(name), row_name(p), col, row[col],
          estimator=_estimator(len(db.micro)), selection=_selection(p),
        )
        for col in COLUMNS
      ]  # fmt: skip
    timings[name] = time.perf_counter() - t0
    counts[name] = {'videos': len(db.micro), 'micro': int(sum(len(m) for m in db.micro))}
    if progress is not None:
      progress()
  return Results(recs, timings, counts)
