"""Micro-expression spotting scores (MEGC 2019, section II-B, eq. 1-2).

Intervals are `[onset, offset]` frame indices, both inclusive, so a one-frame
interval has onset == offset and length offset - onset + 1. The IoU of eq. 1
is taken over frame sets: |A and B| / |A or B|.

Matching rule (one-to-one)
--------------------------
Within each video, a spotted interval and a ground-truth interval are
*eligible* to match when IoU >= `iou` (the boundary counts: IoU of exactly
0.5 is a TP at the default threshold). Each spotted interval matches at most
one ground-truth interval and vice versa. Among all one-to-one matchings of
eligible pairs we take one with the most matches (ties broken by the largest
total IoU), found with the Hungarian algorithm
(`scipy.optimize.linear_sum_assignment`). Greedy matching by highest IoU can
find fewer TPs (see the tests), so it is not used.

Counting: TP = matched pairs; FP = spotted intervals left unmatched; FN =
ground-truth intervals left unmatched. F1 = 2TP / (2TP + FP + FN) (eq. 2);
precision = TP / (TP + FP); recall = TP / (TP + FN); each is 0 when its
denominator is 0. Videos without detections count (all their ground-truth
intervals are FN).

Videos without any micro-expression (an empty ground-truth entry): by
default they count, and all their spotted intervals are FP, which penalises a
spotter that fires on macro-expressions or blinks. The MEGC 2019 paper
scored only videos that contain a micro-expression; `empty_videos='skip'`
follows it (those videos are left out and listed in 'skipped_videos').

Which video is which: per-video lists are matched by position and must have
one entry per video, each a [k, 2] list of intervals (a bare [onset, offset]
pair as an entry is rejected: it is usually one video's flat interval list,
which would be read as several videos). Mappings are matched by video id; a
spotted id without a ground-truth entry is rejected unless
`missing_ground_truth='empty'` (a misspelt id would otherwise silently turn
one video into a false positive and a false negative).

This module runs on the host (NumPy/SciPy): interval lists are ragged and
the matching is combinatorial.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import optimize

from evaluation import checks


def _as_intervals(x, what: str, allow_pair: bool = True) -> np.ndarray:
  a = np.asarray(x if x is not None else [], dtype=np.float64)
  if a.size == 0:
    return np.zeros((0, 2), dtype=np.int64)
  if a.ndim == 1 and a.shape[0] == 2:
    if not allow_pair:
      raise ValueError(
        f'{what} is a bare [onset, offset] pair {a.tolist()}, not a list of intervals: give '
        'one entry per video, each a list of [onset, offset] pairs (one video with '
        'intervals I is [I], not I).'
      )
    a = a[None]
  if a.ndim != 2 or a.shape[1] != 2:
    raise ValueError(
      f'{what} must be a list of [onset, offset] pairs, shape [k, 2]; got shape {a.shape}.'
    )
  if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
    raise ValueError(f'{what} must hold whole frame indices, got {a.tolist()}.')
  bad = a[:, 0] > a[:, 1]
  if bad.any():
    raise ValueError(
      f'{what} has intervals with onset after offset: {a[bad].astype(int).tolist()}.'
    )
  if (a < 0).any():
    raise ValueError(f'{what} has negative frame indices.')
  return a.astype(np.int64)


def interval_iou(spotted, ground_truth) -> np.ndarray:
  """Pairwise frame IoU of inclusive intervals (MEGC eq. 1).

  Args:
    spotted: [k, 2] int [onset, offset] pairs.
    ground_truth: [m, 2] int [onset, offset] pairs.

  Returns:
    [k, m] float64 IoU.
  """
  s = _as_intervals(spotted, 'spotted')
  g = _as_intervals(ground_truth, 'ground_truth')
  inter = (
    np.minimum(s[:, None, 1], g[None, :, 1]) - np.maximum(s[:, None, 0], g[None, :, 0]) + 1
  )  # (k, m)
  inter = np.maximum(inter, 0)
  len_s = s[:, 1] - s[:, 0] + 1
  len_g = g[:, 1] - g[:, 0] + 1
  union = len_s[:, None] + len_g[None, :] - inter
  # Division (not inter >= thr * union) so that a ratio equal to the decimal
  # threshold rounds to the same double as the threshold itself.
  return inter / union


def match_intervals(spotted, ground_truth, iou: float = 0.5):
  """One-to-one matching of one video's intervals (rule in module docstring).

  Args:
    spotted: [k, 2] int spotted intervals of one video.
    ground_truth: [m, 2] int ground-truth intervals of the same video.
    iou: IoU threshold; a pair with IoU >= iou may match.

  Returns:
    [t, 2] int array of (spotted index, ground-truth index) matched pairs.
  """
  ious = interval_iou(spotted, ground_truth)
  eligible = ious >= iou
  if not eligible.any():
    return np.zeros((0, 2), dtype=np.int64)
  k = min(ious.shape)
  # Each match is worth 1 plus a tie-breaking IoU bonus < 1 / (k + 1), so the
  # bonuses of all matches together stay below 1: maximising the weight
  # maximises the number of matches first, then the total IoU.
  weight = np.where(eligible, 1.0 + ious / (k + 1), 0.0)
  rows, cols = optimize.linear_sum_assignment(weight, maximize=True)
  keep = eligible[rows, cols]
  return np.stack([rows[keep], cols[keep]], axis=1).astype(np.int64)


def _unknown_ids(spotted, ground_truth) -> str:
  unknown = [v for v in spotted if v not in ground_truth]
  hints = []
  for v in unknown:
    close = difflib.get_close_matches(str(v), [str(g) for g in ground_truth], n=1)
    if close:
      hints.append(f'{v!r}: did you mean {close[0]!r}?')
  return (
    f'spotted has video ids without ground truth: {unknown[:10]}. '
    + (' '.join(hints) + ' ' if hints else '')
    + "Pass missing_ground_truth='empty' to score them as videos without micro-expressions."
  )


def _videos(spotted, ground_truth, missing_ground_truth: str):
  """Pairs up per-video interval lists; returns [(video_id, s, g)]."""
  if isinstance(spotted, Mapping) != isinstance(ground_truth, Mapping):
    raise ValueError(
      'spotted and ground_truth must both be sequences (one entry per '
      'video) or both be mappings video_id -> intervals.'
    )
  if isinstance(spotted, Mapping):
    if missing_ground_truth == 'error' and any(v not in ground_truth for v in spotted):
      raise ValueError(_unknown_ids(spotted, ground_truth))
    # A ground-truth video missing from spotted had no detection: all FN.
    ids = list(dict.fromkeys([*ground_truth.keys(), *spotted.keys()]))
    return [(v, spotted.get(v), ground_truth.get(v)) for v in ids]
  if (
    isinstance(spotted, (str, bytes))
    or not isinstance(spotted, Sequence)
    or not isinstance(ground_truth, Sequence)
  ):
    raise ValueError('spotted and ground_truth must be per-video lists.')
  if len(spotted) != len(ground_truth):
    raise ValueError(
      f'spotted has {len(spotted)} videos but ground_truth has '
      f'{len(ground_truth)}; give one (possibly empty) entry per video.'
    )
  return [(i, s, g) for i, (s, g) in enumerate(zip(spotted, ground_truth))]


def spotting_scores(
  ground_truth,
  spotted,
  iou: float = 0.5,
  *,
  empty_videos: str = 'count',
  missing_ground_truth: str = 'error',
) -> dict[str, Any]:
  """TP/FP/FN, precision, recall and F1 of spotting over all videos.

  Args:
    ground_truth: per-video ground-truth intervals, either a list (one
      [k_v, 2] array or list of [onset, offset] per video) or a dict
      video_id -> intervals. A video without micro-expressions is an empty
      entry.
    spotted: per-video spotted intervals, same container type.
    iou: IoU threshold of eq. 1 (default 0.5, inclusive).
    empty_videos: 'count' (default): videos with empty ground truth are
      scored, their detections are FP; 'skip': only videos with at least one
      micro-expression are scored, as in the MEGC 2019 paper.
    missing_ground_truth: for mappings, a spotted video id absent from
      ground_truth: 'error' (default) raises naming it (and the closest known
      id); 'empty' scores it as a video without micro-expressions.

  Returns:
    dict with int 'tp', 'fp', 'fn', float 'precision', 'recall', 'f1'
    (eq. 2), 'per_video': {video_id: {'tp', 'fp', 'fn', 'matches'}} of the
    scored videos, and 'skipped_videos': the ids left out by
    empty_videos='skip' (else []).

  Raises:
    ValueError: onset after offset, malformed intervals, a bare [onset,
      offset] pair as a video's entry, mismatched video counts, an unknown
      video id, an IoU threshold outside (0, 1], or no video to score.
  """
  if not (isinstance(iou, (int, float)) and 0.0 < float(iou) <= 1.0):
    raise ValueError(f'iou must be a number in (0, 1], got {iou!r}.')
  checks.check_choice('empty_videos', empty_videos, ('count', 'skip'))
  checks.check_choice('missing_ground_truth', missing_ground_truth, ('error', 'empty'))
  videos = _videos(spotted, ground_truth, missing_ground_truth)
  if not videos:
    raise ValueError('no videos given.')
  tp = fp = fn = 0
  per_video, skipped = {}, []
  for vid, s, g in videos:
    s = _as_intervals(s, f'spotted[{vid!r}]', allow_pair=False)
    g = _as_intervals(g, f'ground_truth[{vid!r}]', allow_pair=False)
    if empty_videos == 'skip' and len(g) == 0:
      skipped.append(vid)
      continue
    matches = match_intervals(s, g, iou)
    v_tp = len(matches)
    v_fp, v_fn = len(s) - v_tp, len(g) - v_tp
    tp, fp, fn = tp + v_tp, fp + v_fp, fn + v_fn
    per_video[vid] = {'tp': v_tp, 'fp': v_fp, 'fn': v_fn, 'matches': matches.tolist()}
  if not per_video:
    raise ValueError(
      "no video with ground truth to score: empty_videos='skip' left out all "
      f'{len(skipped)} videos.'
    )
  div = lambda a, b: float(a) / b if b > 0 else 0.0
  return {
    'tp': tp,
    'fp': fp,
    'fn': fn,
    'precision': div(tp, tp + fp),
    'recall': div(tp, tp + fn),
    'f1': div(2 * tp, 2 * tp + fp + fn),  # eq. 2
    'per_video': per_video,
    'skipped_videos': skipped,
  }
