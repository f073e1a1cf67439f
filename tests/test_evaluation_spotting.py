"""Spotting scores on hand-worked cases (MEGC 2019 eq. 1-2)."""

import itertools

import numpy as np
import pytest

import evaluation
from evaluation import spotting


def test_iou_counts_inclusive_frames():
  # [0, 9] has 10 frames, [5, 14] has 10; they share frames 5..9 (5 frames),
  # union 15 frames.
  np.testing.assert_allclose(spotting.interval_iou([[0, 9]], [[5, 14]]), [[5 / 15]])
  # Single-frame intervals.
  assert spotting.interval_iou([[3, 3]], [[3, 3]])[0, 0] == 1.0
  assert spotting.interval_iou([[3, 3]], [[4, 4]])[0, 0] == 0.0


def test_iou_exactly_half_is_a_true_positive():
  # 5 shared frames / 10 frames in the union = 0.5 exactly.
  assert spotting.interval_iou([[0, 9]], [[0, 4]])[0, 0] == 0.5
  s = evaluation.spotting_scores([[[0, 4]]], [[[0, 9]]])
  assert (s['tp'], s['fp'], s['fn']) == (1, 0, 0)
  # One frame less overlap: 4/10 < 0.5 -> one FP and one FN.
  s = evaluation.spotting_scores([[[0, 3]]], [[[0, 9]]])
  assert (s['tp'], s['fp'], s['fn']) == (0, 1, 1)
  # 0.3 threshold: 3/10 must still count (division, not thr * union).
  s = evaluation.spotting_scores([[[0, 2]]], [[[0, 9]]], iou=0.3)
  assert s['tp'] == 1


def test_one_prediction_cannot_match_two_ground_truths():
  # Two overlapping GT intervals, both with IoU >= 0.5 against one detection.
  gt = [[0, 9], [1, 10]]
  spotted = [[0, 10]]
  s = evaluation.spotting_scores([gt], [spotted])
  assert (s['tp'], s['fp'], s['fn']) == (1, 0, 1)
  # Two identical detections of one GT: one TP, one FP.
  s = evaluation.spotting_scores([[[0, 9]]], [[[0, 9], [0, 9]]])
  assert (s['tp'], s['fp'], s['fn']) == (1, 1, 0)


def _greedy_tp(spotted, gt, thr=0.5):
  ious = spotting.interval_iou(spotted, gt)
  used_s, used_g, tp = set(), set(), 0
  for i, j in sorted(np.ndindex(*ious.shape), key=lambda ij: -ious[ij]):
    if ious[i, j] >= thr and i not in used_s and j not in used_g:
      used_s.add(i)
      used_g.add(j)
      tp += 1
  return tp


def test_matching_maximises_true_positives_where_greedy_does_not():
  # A = [0, 11] vs G1 = [0, 9]: 10/12 = 0.83; A vs G2 = [2, 13]: 10/14 = 0.71.
  # B = [0, 5] vs G1: 6/10 = 0.6; B vs G2: 4/14 < 0.5.
  # Greedy takes (A, G1) first and leaves B and G2 unmatched: 1 TP.
  # The optimal one-to-one matching is (A, G2), (B, G1): 2 TPs.
  spotted = [[0, 11], [0, 5]]
  gt = [[0, 9], [2, 13]]
  assert _greedy_tp(spotted, gt) == 1
  s = evaluation.spotting_scores([gt], [spotted])
  assert (s['tp'], s['fp'], s['fn']) == (2, 0, 0)
  assert sorted(map(tuple, s['per_video'][0]['matches'])) == [(0, 1), (1, 0)]


def test_matching_equals_brute_force_maximum_on_random_videos():
  rng = np.random.default_rng(0)
  for _ in range(40):

    def draw(k):
      on = rng.integers(0, 30, k)
      return np.stack([on, on + rng.integers(0, 8, k)], 1)

    s, g = draw(rng.integers(0, 5)), draw(rng.integers(0, 5))
    eligible = spotting.interval_iou(s, g) >= 0.5
    best = 0
    for perm in itertools.permutations(
      range(max(len(s), len(g))), len(s) if len(s) <= len(g) else len(g)
    ):
      pairs = zip(range(len(s)), perm) if len(s) <= len(g) else zip(perm, range(len(g)))
      best = max(best, sum(eligible[i, j] for i, j in pairs))
    assert len(spotting.match_intervals(s, g)) == best


def test_videos_without_ground_truth_are_counted():
  spotted = [[[10, 20]], [[0, 5], [40, 50]], []]
  ground_truth = [[[10, 20]], [], [[7, 9]]]
  s = evaluation.spotting_scores(ground_truth, spotted)
  # Video 1 has no GT: both detections are FP. Video 2 has no detection: FN.
  assert (s['tp'], s['fp'], s['fn']) == (1, 2, 1)
  assert s['f1'] == pytest.approx(2 * 1 / (2 * 1 + 2 + 1))  # eq. 2
  assert s['precision'] == pytest.approx(1 / 3)
  assert s['recall'] == pytest.approx(1 / 2)


def test_mapping_input_scores_videos_missing_on_either_side():
  spotted = {'a': [[10, 20]], 'no_gt': [[0, 5]]}
  ground_truth = {'a': [[10, 20]], 'missed': [[3, 8]]}
  # A spotted id without ground truth is rejected by default (a misspelt id
  # would otherwise count as one FP and one FN); asked for, it is a video
  # without micro-expressions.
  with pytest.raises(ValueError, match=r"spotted has video ids without ground truth: \['no_gt'\]"):
    evaluation.spotting_scores(ground_truth, spotted)
  s = evaluation.spotting_scores(ground_truth, spotted, missing_ground_truth='empty')
  assert (s['tp'], s['fp'], s['fn']) == (1, 1, 1)
  assert set(s['per_video']) == {'a', 'no_gt', 'missed'}


def test_misspelt_video_id_is_an_error_not_a_false_positive_and_negative():
  truth = {'s01_clip3': [[10, 20]], 's02_clip1': [[5, 9]]}
  spotted = {'s01_clip3': [[10, 20]], 's02_clipl': [[5, 9]]}  # 'l' for '1'
  with pytest.raises(ValueError, match="'s02_clipl'.*did you mean 's02_clip1'"):
    evaluation.spotting_scores(truth, spotted)


def test_flat_interval_list_of_one_video_is_not_read_as_several_videos():
  # Two intervals of ONE video, passed without the per-video list: before, each
  # pair was read as a video of its own and scored.
  with pytest.raises(ValueError, match=r'spotted\[0\] is a bare \[onset, offset\] pair'):
    evaluation.spotting_scores([[[10, 20], [30, 40]]] * 2, [[10, 20], [30, 40]])
  with pytest.raises(ValueError, match=r'ground_truth\[1\] is a bare'):
    evaluation.spotting_scores([[[10, 20]], [30, 40]], [[[10, 20]], [[30, 40]]])
  # A single video's intervals still work for the per-video functions.
  assert spotting.match_intervals([10, 20], [[10, 20]]).tolist() == [[0, 0]]


def test_videos_without_micro_expressions_count_or_are_skipped():
  spotted = [[[10, 20]], [[0, 5], [30, 40]]]
  truth = [[[10, 20]], []]  # the second video holds no micro-expression
  s = evaluation.spotting_scores(truth, spotted)
  assert (s['tp'], s['fp'], s['fn']) == (1, 2, 0) and s['skipped_videos'] == []
  # The paper scored only videos that contain a micro-expression.
  s = evaluation.spotting_scores(truth, spotted, empty_videos='skip')
  assert (s['tp'], s['fp'], s['fn'], s['f1']) == (1, 0, 0, 1.0)
  assert s['skipped_videos'] == [1] and set(s['per_video']) == {0}
  with pytest.raises(ValueError, match='empty_videos'):
    evaluation.spotting_scores(truth, spotted, empty_videos='drop')
  with pytest.raises(ValueError, match='no video with ground truth'):
    evaluation.spotting_scores([[]], [[[0, 1]]], empty_videos='skip')


def test_nothing_spotted_nothing_true_scores_zero():
  s = evaluation.spotting_scores([[]], [[]])
  assert (s['tp'], s['fp'], s['fn'], s['f1']) == (0, 0, 0, 0.0)


@pytest.mark.parametrize(
  'spotted,gt,match',
  [
    ([[[9, 3]]], [[[0, 4]]], 'onset after offset'),
    ([[[0, 4]]], [[[5, 2]]], 'onset after offset'),
    ([[[0, 4, 5]]], [[[0, 4]]], r'\[k, 2\]'),
    ([[[0, 4]]], [[[0, 4]], []], 'videos'),
    ([[[0.5, 4]]], [[[0, 4]]], 'whole frame'),
  ],
)
def test_bad_intervals_raise(spotted, gt, match):
  with pytest.raises(ValueError, match=match):
    evaluation.spotting_scores(gt, spotted)


def test_bad_threshold_and_containers_raise():
  with pytest.raises(ValueError, match='iou'):
    evaluation.spotting_scores([[[0, 1]]], [[[0, 1]]], iou=0.0)
  with pytest.raises(ValueError, match='both'):
    evaluation.spotting_scores([[[0, 1]]], {'a': [[0, 1]]})
  with pytest.raises(ValueError, match='no videos'):
    evaluation.spotting_scores([], [])
