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

Which videos are scored: as in the paper, only the videos that hold at
least one micro-expression (`Config.empty_videos='skip'`, the default);
`'count'` also scores the videos without one, all of whose spotted
intervals are false positives. The records' estimator names the rule and
how many videos each side of it has.

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
# vision.megc.spotting's defaults (fewshot does not import vision; a test
# checks that they agree).
DEFAULT_P = 0.1
SPOTTER_DEFAULTS = {'seconds': 0.35, 'blocks': 6, 'top_fraction': 1 / 3, 'peak_distance': None}
# 'skip': score only videos with a micro-expression (the paper); 'count': all.
EMPTY_VIDEOS = ('skip', 'count')


@dataclasses.dataclass(frozen=True)
class Config:
  """Everything that changes the numbers of a spotting run.

  Attributes:
    seed: seed of the synthetic videos (the spotter has no randomness).
    databases: ((name, videos, seconds), ...) of `vision.synthetic_long_videos`:
      videos with micro-expressions (3 each, 1 macro-expression, 2 blinks).
    videos_without_micro: per database, further videos of the same length
      with only a macro-expression and 2 blinks.
    empty_videos: 'skip' (the paper: score only videos with a
      micro-expression) or 'count' (score every video).
    ps: threshold fractions p, one row of Table II each.
    figure_p: p of the figure's threshold line and spotted intervals.
    size: frame side of the videos (faces are about 0.56 of it).
    micro_seconds: the micro-interval N as a duration (k = (N - 1) / 2).
    blocks: the face grid's blocks per side.
    top_fraction: M / blocks^2, the most-changed blocks summed in F_i.
    peak_distance: minimum frames between spotted peaks (None: k).

  Sources: `blocks` (6 x 6), `top_fraction` (M = 12 of 36) and the LBP
  (uniform, P = 8, R = 1) follow Moilanen et al. [8] as
  `vision.megc.spotting` describes it; `micro_seconds` = 0.35 s turns [8]'s
  N = 9 at 25 fps and N = 21 at 60 fps into a duration (ours); the threshold
  rule T = C_mean + p (C_max - C_mean) is [8]'s, the listed p values, the
  default p = 0.1, `peak_distance` = k and the intervals of +-k around a
  peak are this library's choices; IoU >= 0.5 and the one-to-one matching
  are the paper's eq. 1-2 (section II-B); the data settings (databases,
  videos, seconds, size, `videos_without_micro`) are ours
  (docs/megc2019.md).
  """

  seed: int = 0
  databases: tuple = (('CAS(ME)^2', 8, 20.0), ('SAMM', 6, 10.0))
  videos_without_micro: int = 1
  empty_videos: str = 'skip'
  ps: tuple = (0.05, 0.1, 0.2, 0.3, 0.5)
  figure_p: float = 0.1
  size: int = 288
  micro_seconds: float = SPOTTER_DEFAULTS['seconds']
  blocks: int = SPOTTER_DEFAULTS['blocks']
  top_fraction: float = SPOTTER_DEFAULTS['top_fraction']
  peak_distance: int | None = SPOTTER_DEFAULTS['peak_distance']

  def __post_init__(self):
    for p in self.ps + (self.figure_p,):
      if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f'threshold fractions p must lie in [0, 1], got {p}.')
    checks.check_choice('empty_videos', self.empty_videos, EMPTY_VIDEOS)
    checks.check_int('videos_without_micro', self.videos_without_micro, low=0)
    if not 0.0 < float(self.top_fraction) <= 1.0:
      raise ValueError(f'top_fraction must lie in (0, 1], got {self.top_fraction}.')

  def spotter(self) -> dict:
    """The keyword arguments of `vision.analyse_spotting` this config sets."""
    return dict(
      seconds=self.micro_seconds,
      blocks=self.blocks,
      top_fraction=self.top_fraction,
      peak_distance=self.peak_distance,
    )


class Database(NamedTuple):
  """One database's videos: ground truth, distractors and the spotter's output.

  Attributes:
    micro: per video, [m, 2] int inclusive (onset, offset) micro-expressions
      (m = 0 for a video without one).
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
    counts: {database: {'videos': scored videos, 'micro': micro-expressions,
      'videos without micro-expressions': n, 'rule': empty_videos}}.
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


def score_database(db: Database, ps, empty_videos: str = 'skip') -> dict:
  """{p: {column: value}} of one database (Table II's cells).

  Args:
    db: the database's videos.
    ps: threshold fractions.
    empty_videos: 'skip' scores only videos with a micro-expression (the
      paper), 'count' every video.
  """
  checks.check_choice('empty_videos', empty_videos, EMPTY_VIDEOS)
  scored = [i for i, m in enumerate(db.micro) if empty_videos == 'count' or len(m)]
  out = {}
  for p in ps:
    if len(db.spotted[p]) != len(db.micro):
      raise ValueError(
        f'p={p}: {len(db.spotted[p])} spotted videos but {len(db.micro)} with truth.'
      )
    spotted = [db.spotted[p][i] for i in scored]
    micro = [db.micro[i] for i in scored]
    distractors = [db.distractors[i] for i in scored]
    s = evaluation.spotting_scores(spotted=spotted, ground_truth=micro)
    out[p] = {
      'TP': s['tp'],
      'FP': s['fp'],
      'FN': s['fn'],
      'Precision': s['precision'],
      'Recall': s['recall'],
      'F1': s['f1'],
      'FP on macro/blinks': sum(
        on_distractors(sp, m, d) for sp, m, d in zip(spotted, micro, distractors)
      ),
    }
  return out


def _videos_scored(n_micro: int, n_empty: int, rule: str) -> str:
  if rule == 'skip':
    left = f'; its {n_empty} videos without one left out, as in the paper' if n_empty else ''
    return f"the database's {n_micro} videos with micro-expressions{left}"
  return (
    f"all {n_micro + n_empty} of the database's videos, {n_empty} without a micro-expression "
    '(their spotted intervals all false positives; the paper scores only videos with one)'
  )


def _estimator(n_micro: int, n_empty: int, rule: str) -> str:
  return (
    'TP / FP / FN: spotted intervals matched one-to-one to the ground-truth micro-expressions '
    f'at IoU >= 0.5 (eq. 1-2), summed over {_videos_scored(n_micro, n_empty, rule)}; '
    'precision, recall and F1 of the summed counts; FP on macro/blinks: false positives '
    'overlapping a macro-expression or a blink; one pass of a deterministic spotter'
  )


def _selection(config: Config, p: float) -> str:
  default = (
    " (the library's default, per its code chosen on synthetic videos of another seed)"
    if p == DEFAULT_P
    else ''
  )
  return (
    f'none: the row of the listed threshold fraction p = {p:g}{default}; no p and no '
    'spotter setting (blocks, M, N, peak distance: the config) chosen on the scored videos'
  )


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
    cells = score_database(db, config.ps, config.empty_videos)
    n_empty = sum(len(m) == 0 for m in db.micro)
    n_micro = len(db.micro) - n_empty
    estimator = _estimator(n_micro, n_empty, config.empty_videos)
    for p, row in cells.items():
      recs += [
        records_lib.record(
          table_name(name), row_name(p), col, row[col],
          estimator=estimator, selection=_selection(config, p),
        )
        for col in COLUMNS
      ]  # fmt: skip
    timings[name] = time.perf_counter() - t0
    counts[name] = {
      'videos': n_micro + (n_empty if config.empty_videos == 'count' else 0),
      'micro': int(sum(len(m) for m in db.micro)),
      'videos without micro-expressions': n_empty,
      'rule': config.empty_videos,
    }
    if progress is not None:
      progress()
  return Results(recs, timings, counts)
