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

LTP-ML (Li et al., the paper's [11], [12]; the challenge's submission) is
learned: the script computes every frame's local temporal pattern per
facial region with `vision.megc.ltp` (`LTPPatterns`); here a linear SVM is
trained on micro-expression and other patterns leave-one-subject-out (the
videos of the spotted subject never train its classifier), classifies every
pattern of the held-out subject's videos, and a fusion (temporal
qualification per region, spatial selection, merging) turns the positives
into spotted intervals (`ltp_ml_spotted`). Its parameters are its authors'
(`LTPConfig`; docs/megc2019.md lists their sources). scikit-learn's SVC is
deterministic, so `key` is still unused. The records add a row 'LTP-ML' to
each database's block, and table 'II' puts both methods side by side as the
paper does (F1 per database).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

import evaluation
from evaluation import checks
from evaluation import records as records_lib
from fewshot import timing

COLUMNS = ('TP', 'FP', 'FN', 'Precision', 'Recall', 'F1', 'FP on macro/blinks')
COUNT_COLUMNS = ('TP', 'FP', 'FN', 'FP on macro/blinks')
# vision.megc.spotting's defaults (fewshot does not import vision; a test
# checks that they agree).
DEFAULT_P = 0.1
SPOTTER_DEFAULTS = {'seconds': 0.35, 'blocks': 6, 'top_fraction': 1 / 3, 'peak_distance': None}
# 'skip': score only videos with a micro-expression (the paper); 'count': all.
EMPTY_VIDEOS = ('skip', 'count')
LTP_ROW = 'LTP-ML'
# vision.megc.ltp's defaults and ROI order, restated (a test checks that they agree).
LTP_DEFAULTS = {'me_seconds': 0.3, 'clip_seconds': 1.0, 'roi_fraction': 0.15, 'placement': 'auto'}
ROI_GROUPS = {'brows': (0, 1, 2, 3, 4, 5), 'nose': (6, 7), 'mouth': (8, 9, 10, 11)}


@dataclasses.dataclass(frozen=True)
class LTPConfig:
  """LTP-ML's settings. "[11]" below is the authors' MEGC 2019 code (its SAMM setting at 200 fps).

  Attributes:
    me_seconds: L, the ME length: 300 ms ([11], [12]).
    clip_seconds: clips of 1 s overlapping by L ([11]: 200 frames, overlap 60).
    roi_fraction: ROI side / face width (ours; [11]: 15 pixels from the landmarks).
    placement: 'auto' (FaceMesh when MediaPipe is installed), 'facemesh' or 'box'.
    label_fraction: the patterns of the ceil(L / 4) frames up to and
      including an onset are labelled ME ([11]: label2one = ceil(60 / 4)).
    intensity: a region's pattern counts only if its largest normalised
      distance reaches 0.9 ([11]: seuil_indensity), in training and fusion.
    rois_per_me: the (at most) 2 regions with the largest S-patterns train per ME ([11]).
    negative_step: one in 8 non-ME frames of an ME's clip trains ([11]: sampleRate2train).
    svm_c: the linear SVM's C = 5 ([11]: libsvm -t 0 -c 5).
    me_weight: class weight of ME patterns, 2.5 against 1 ([11]: -w0 1 -w1 2.5).
    roi_window: temporal qualification per region over ceil(L / 3) frames ([11]: r_w_ROI).
    roi_min_count: ... keeps groups with more than 2 positives ([11]).
    frame_min_fraction: whole-face qualification over L frames keeps groups
      with more than floor(L / 9) positives ([11]: deleteSinglePeak).
    brow_limit: a frame where more than 5 of the 6 brow regions fire is head motion ([11]).
    nose_limit: ... or where 2 nose regions fire ([11]).
    merge_seconds: merging in blocks of 0.5 s ([11]: 100 frames at 200 fps).
    min_seconds: a block with fewer than 0.1 s of positives is dropped ([11]: 20 frames).
  """

  me_seconds: float = LTP_DEFAULTS['me_seconds']
  clip_seconds: float = LTP_DEFAULTS['clip_seconds']
  roi_fraction: float = LTP_DEFAULTS['roi_fraction']
  placement: str = LTP_DEFAULTS['placement']
  label_fraction: float = 0.25
  intensity: float = 0.9
  rois_per_me: int = 2
  negative_step: int = 8
  svm_c: float = 5.0
  me_weight: float = 2.5
  roi_window: float = 1 / 3
  roi_min_count: int = 2
  frame_min_fraction: float = 1 / 9
  brow_limit: int = 5
  nose_limit: int = 2
  merge_seconds: float = 0.5
  min_seconds: float = 0.1

  def patterns(self) -> dict:
    """The keyword arguments of `vision.megc.ltp.video_ltp` this config sets."""
    return {k: getattr(self, k) for k in LTP_DEFAULTS}


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

    ltp_ml: also spot with LTP-ML (needs the data's `ltp` patterns).
    ltp: LTP-ML's settings (`LTPConfig`).
    max_side: real long videos (`--data-root`) are shrunk so their longer
      side is at most this many pixels (ours: SAMM's 2040 x 1088 frames at
      200 fps would not fit in memory; CAS(ME)^2's 640 x 480 are kept).

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
  ltp_ml: bool = True
  ltp: LTPConfig = LTPConfig()
  max_side: int = 640

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
    ltp: per video, its `LTPPatterns` (None: LTP-ML is not run).
    subjects: per video, its subject (LTP-ML's leave-one-subject-out folds).
    fps: the videos' frame rate (LTP-ML's merging in seconds).
  """

  micro: list
  distractors: list
  spotted: Mapping
  ltp: list | None = None
  subjects: list | None = None
  fps: float | None = None


class Results(NamedTuple):
  """What `run` returns.

  Attributes:
    records: Table II: per database and p, the `COLUMNS`.
    timings: the times of scoring each database (`fewshot.timing.stage` dicts).
    counts: {database: {'videos': scored videos, 'micro': micro-expressions,
      'videos without micro-expressions': n, 'rule': empty_videos}}.
    ltp_training: {database: {held-out subject: {'ME': n, 'non-ME': n}}},
      the patterns each LTP-ML fold trained on.
  """

  records: list
  timings: dict
  counts: dict
  ltp_training: dict | None = None


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


# ------------------------------------------------------------------ LTP-ML


class LTPPatterns(NamedTuple):
  """One video's local temporal patterns (`vision.megc.ltp.video_ltp`'s fields that LTP-ML uses).

  features: [T, R, 1 + L] float32: per frame and ROI, CN then the
    normalised distances d_1..d_L (R = 12 in `ROI_GROUPS`' order).
  starts: [C] int first frame of each clip.
  clip: clip length in frames.
  """

  features: np.ndarray
  starts: np.ndarray
  clip: int


def _label_frames(length: int, cfg: LTPConfig) -> int:
  return max(int(math.ceil(length * cfg.label_fraction)), 1)


def me_labels(n_frames: int, micro, label_frames: int) -> np.ndarray:
  """[T] bool: the frames whose pattern starts an ME (the `label_frames` up to and including each onset)."""
  out = np.zeros(n_frames, bool)
  for onset, _ in np.asarray(micro, np.int64).reshape(-1, 2):
    out[max(onset - label_frames + 1, 0) : min(onset + 1, n_frames)] = True
  return out


def _slope(y) -> float:
  y = np.asarray(y, np.float64)
  if len(y) < 2:
    return 0.0
  return float(np.polyfit(np.arange(len(y)), y, 1)[0])


def s_pattern_rois(pattern, cfg: LTPConfig) -> list[int]:
  """The regions whose pattern at an onset trains LTP-ML ([11]), largest first.

  A region qualifies when its largest normalised distance over the first
  half of L reaches `cfg.intensity`, its CN is at most the regions' mean
  (it moved more than most), and its distances draw an S: rising over the
  first half, not rising over the second, never back to 0.

  Args:
    pattern: [R, 1 + L] the regions' patterns at the onset frame.
    cfg: LTPConfig.

  Returns:
    At most `cfg.rois_per_me` region indices, by decreasing largest distance.
  """
  pattern = np.asarray(pattern, np.float64)
  cn, d = pattern[:, 0], pattern[:, 1:]
  half = max(d.shape[1] // 2, 1)
  kept = []
  for r in range(len(pattern)):
    first, second = d[r, :half], d[r, half:]
    if first.max() < cfg.intensity or cn[r] > cn.mean():
      continue
    if _slope(first) > 0 and _slope(second) <= 0 and not (second == 0).any():
      kept.append((first.max(), r))
  return [r for _, r in sorted(kept, reverse=True)[: cfg.rois_per_me]]


def training_patterns(patterns: LTPPatterns, micro, cfg: LTPConfig):
  """LTP-ML's training patterns of one video ([11]): ME and non-ME, from each ME's clip.

  For each micro-expression, the regions of `s_pattern_rois` at its onset
  give the patterns of every frame of the clip holding the onset: ME for the
  ceil(L / 4) frames up to the onset, non-ME for the others, of which one in
  `cfg.negative_step` is kept.

  Args:
    patterns: the video's LTPPatterns.
    micro: [m, 2] inclusive (onset, offset) micro-expressions.
    cfg: LTPConfig.

  Returns:
    (x [n, 1 + L] float32, y [n] int in {0, 1}).
  """
  f = np.asarray(patterns.features)
  t, _, dim = f.shape
  lab = me_labels(t, micro, _label_frames(dim - 1, cfg))
  xs, ys = [np.zeros((0, dim), np.float32)], [np.zeros(0, np.int64)]
  for onset, _ in np.asarray(micro, np.int64).reshape(-1, 2):
    if not 0 <= onset < t:
      raise ValueError(f'onset {onset} outside the video of {t} frames.')
    start = int(patterns.starts[np.searchsorted(patterns.starts, onset, side='right') - 1])
    frames = np.arange(start, min(start + int(patterns.clip), t))
    keep = lab[frames] | ((frames - start) % cfg.negative_step == 0)
    for r in s_pattern_rois(f[onset], cfg):
      xs.append(f[frames[keep], r])
      ys.append(lab[frames[keep]].astype(np.int64))
  return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


def loso_folds(subjects) -> dict:
  """{held-out subject: indices of the videos that train its classifier} (never its own)."""
  subjects = [str(s) for s in subjects]
  return {s: [i for i, t in enumerate(subjects) if t != s] for s in dict.fromkeys(subjects)}


def _classifier(x, y, cfg: LTPConfig):
  from sklearn.svm import SVC  # only LTP-ML needs it

  if len(np.unique(y)) < 2:  # no S-pattern (or nothing else) to learn from
    return None
  svm = SVC(kernel='linear', C=cfg.svm_c, class_weight={0: 1.0, 1: cfg.me_weight})
  return svm.fit(x, y)


def loso_predictions(db: Database, cfg: LTPConfig) -> tuple[list, dict]:
  """Every video's SVM decisions, each from a classifier that never saw its subject.

  Returns:
    (per video [R, T] bool decisions, {held-out subject: {'ME': n, 'non-ME': n}}).
  """
  if db.ltp is None or db.subjects is None:
    raise ValueError("LTP-ML needs each video's patterns (ltp) and subject (subjects).")
  if not len(db.ltp) == len(db.subjects) == len(db.micro):
    raise ValueError(
      f'{len(db.ltp)} pattern sets, {len(db.subjects)} subjects and {len(db.micro)} videos.'
    )
  out, sizes = [None] * len(db.ltp), {}
  for subject, train in loso_folds(db.subjects).items():
    parts = [training_patterns(db.ltp[i], db.micro[i], cfg) for i in train]
    x = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, 1), np.float32)
    y = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
    sizes[subject] = {'ME': int(y.sum()), 'non-ME': int(len(y) - y.sum())}
    model = _classifier(x, y, cfg) if len(y) else None
    for i, s in enumerate(db.subjects):
      if str(s) != subject:
        continue
      f = np.asarray(db.ltp[i].features)
      t, r, dim = f.shape
      if model is None:
        out[i] = np.zeros((r, t), bool)
      else:
        out[i] = model.predict(f.reshape(-1, dim)).reshape(t, r).T.astype(bool)
  return out, sizes


def drop_sparse_groups(x, span: int, min_count: int) -> np.ndarray:
  """[11]'s temporal qualification of a [T] bool sequence.

  From each positive frame not yet grouped, the next `span` frames form a
  group; when there are several groups and some hold more than `min_count`
  positives, the groups with at most `min_count` are cleared.
  """
  x = np.asarray(x, bool).copy()
  groups, j = [], 0
  while j < len(x):
    if x[j]:
      groups.append((j, int(x[j : j + span + 1].sum())))
      j += span + 1
    else:
      j += 1
  if len(groups) > 1 and any(c > min_count for _, c in groups):
    for j, c in groups:
      if c <= min_count:
        x[j : j + span + 1] = False
  return x


def fuse(decisions, features, fps: float, cfg: LTPConfig) -> np.ndarray:
  """LTP-ML's fusion of one video's region decisions into spotted intervals ([11]).

  1. Per region, a positive counts only where the region moved more than
     most (CN at most the regions' mean at that frame) and its pattern
     reaches `cfg.intensity`; temporal qualification over ceil(L / 3) frames.
  2. Spatial selection: frames where more than `brow_limit` brow regions or
     `nose_limit` nose regions fire (the SVM's raw decisions) are head motion.
  3. The face fires where any region does; qualification over L frames
     (more than floor(L / 9) positives).
  4. Merge: per block of `merge_seconds`, a block with at least
     `min_seconds` of positives gives the interval from its first to its last
     positive, moved forward by ceil(L / 4) frames (the labels end at the onset).

  Args:
    decisions: [R, T] bool SVM decisions.
    features: [T, R, 1 + L] the patterns.
    fps: frame rate.
    cfg: LTPConfig.

  Returns:
    [k, 2] int inclusive (onset, offset) intervals.
  """
  pred = np.asarray(decisions, bool)
  f = np.asarray(features)
  t, _, dim = f.shape
  length = dim - 1
  cn = f[:, :, 0]
  det = pred & (cn <= cn.mean(axis=1, keepdims=True)).T
  det &= (f[:, :, 1:].max(axis=-1) >= cfg.intensity).T
  span = int(math.ceil(length * cfg.roi_window))
  det = np.stack([drop_sparse_groups(d, span, cfg.roi_min_count) for d in det])
  head = (pred[list(ROI_GROUPS['brows'])].sum(0) > cfg.brow_limit) | (
    pred[list(ROI_GROUPS['nose'])].sum(0) >= cfg.nose_limit
  )
  det[:, head] = False
  face = drop_sparse_groups(det.any(0), length, int(math.floor(length * cfg.frame_min_fraction)))
  block = max(int(round(cfg.merge_seconds * fps)), 1)
  shortest = max(int(round(cfg.min_seconds * fps)), 1)
  shift = _label_frames(length, cfg)
  out = []
  for b in range(0, t, block):
    idx = np.flatnonzero(face[b : b + block]) + b
    if len(idx) >= shortest:
      out.append((min(idx[0] + shift, t - 1), min(idx[-1] + shift, t - 1)))
  return np.asarray(out, np.int64).reshape(-1, 2)


def ltp_ml_spotted(db: Database, cfg: LTPConfig) -> tuple[list, dict]:
  """(per video [k, 2] spotted intervals, training sizes per fold) of LTP-ML on one database."""
  if db.fps is None:
    raise ValueError("LTP-ML needs the videos' frame rate (Database.fps).")
  decisions, sizes = loso_predictions(db, cfg)
  spotted = [fuse(d, p.features, db.fps, cfg) for d, p in zip(decisions, db.ltp)]
  return spotted, sizes


def _ltp_estimator(n_micro: int, n_empty: int, rule: str, n_subjects: int) -> str:
  return (
    _estimator(n_micro, n_empty, rule).replace('one pass of a deterministic spotter', '')
    + f'LTP-ML: a linear SVM trained leave-one-subject-out ({n_subjects} folds: no '
    "video of the spotted subject trains its classifier), [11]'s fusion; one pass, "
    'deterministic'
  )


SUMMARY_TABLE = 'II'


def run(key, config: Config, data: Mapping, *, progress: Callable | None = None) -> Results:
  """Table II: every database of `data` at every p of `config.ps`, and LTP-ML where it has patterns.

  Args:
    key: the run's root jax.random key (unused: neither LBP-chi^2 nor
      LTP-ML's linear SVC draws randomness; taken for the one protocol shape).
    config: `Config`.
    data: {database name: `Database`}.
    progress: called once after each database, or None.

  Returns:
    `Results`.
  """
  del key
  if not data:
    raise ValueError('no database given.')
  recs, timings, counts, ltp_training, summary = [], {}, {}, {}, {}
  for name, db in data.items():
    checks.check_choice('database', name, tuple(n for n, _, _ in config.databases))
    with timing.stage(name) as timings[name]:
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
      summary[(row_name(config.figure_p), name)] = (
        cells[config.figure_p]['F1'] if (config.figure_p in cells) else None
      )
      if config.ltp_ml and db.ltp is not None:
        spotted, ltp_training[name] = ltp_ml_spotted(db, config.ltp)
        view = Database(db.micro, db.distractors, {LTP_ROW: spotted})
        row = score_database(view, [LTP_ROW], config.empty_videos)[LTP_ROW]
        est = _ltp_estimator(n_micro, n_empty, config.empty_videos, len(set(map(str, db.subjects))))
        sel = (
          "none: [11]'s parameters where it gives them, ours named in docs/megc2019.md; "
          'nothing chosen on the scored videos'
        )
        recs += [
          records_lib.record(table_name(name), LTP_ROW, col, row[col], estimator=est, selection=sel)
          for col in COLUMNS
        ]
        summary[(LTP_ROW, name)] = row['F1']
    counts[name] = {
      'videos': n_micro + (n_empty if config.empty_videos == 'count' else 0),
      'micro': int(sum(len(m) for m in db.micro)),
      'videos without micro-expressions': n_empty,
      'rule': config.empty_videos,
    }
    if progress is not None:
      progress()
  for (row, name), f1 in summary.items():
    if f1 is not None:
      recs.append(
        records_lib.record(
          SUMMARY_TABLE, row, name, f1,
          estimator='F1 = 2 TP / (2 TP + FP + FN) of the database block of the same row (eq. 2)',
          selection=f'none: LBP-χ² at the figure threshold p = {config.figure_p:g}; LTP-ML as run',
        )
      )  # fmt: skip
  return Results(recs, timings, counts, ltp_training)
