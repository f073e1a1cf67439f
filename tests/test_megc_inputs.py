"""Onset-to-apex network inputs and LBP-TOP descriptors of synthetic clips."""

import cv2
import jax
import numpy as np
import pytest

import vision
from vision.megc import flow as flow_lib
from vision.megc import inputs
from vision.megc import synthetic


@pytest.fixture(scope='module')
def clips():
  faces = synthetic.source_faces()
  out = []
  for i, (face, cls) in enumerate(
    ((faces[0], 'surprise'), (faces[5], 'positive'))
  ):  # SMIC, CASME II
    frames, onset, apex, offset = synthetic.micro_expression_clip(jax.random.key(i), face, cls)
    annotated = None if face.database == 'SMIC' else apex
    out.append(
      vision.MEClip(face.database, face.subject, cls, cls, frames, onset, annotated, offset, 100.0)
    )
  return out


def test_recognition_inputs_shapes_ranges_and_apex(clips):
  res = vision.recognition_inputs(
    clips, face_size=64, method='farneback', workers=1, progress=False
  )
  assert res.ststnet.shape == (2, 28, 28, 3) and res.offapex.shape == (2, 28, 28, 2)
  assert res.ststnet.dtype == np.float32
  np.testing.assert_array_equal(res.offapex, res.ststnet[..., :2])
  for c in range(3):  # each channel min-max scaled per clip
    np.testing.assert_allclose(res.ststnet[..., c].min(axis=(1, 2)), 0.0, atol=1e-6)
    np.testing.assert_allclose(res.ststnet[..., c].max(axis=(1, 2)), 1.0, atol=1e-6)
  smic, casme = clips
  assert res.apex.tolist() == [(smic.onset + smic.offset) // 2, casme.apex]  # SMIC: mid frame


def test_faces_found_once_give_the_same_inputs(clips):
  # One face search per clip, cropped at two sides, equals each side alone.
  crops = vision.onset_apex_crops(clips, (64, 32))
  for size in (64, 32):
    alone = inputs.onset_apex_faces(clips, size)
    for a, b in zip(crops[size], alone):
      np.testing.assert_array_equal(a, b)
  given = vision.recognition_inputs(
    clips, face_size=64, method='farneback', workers=1, progress=False, faces=crops[64]
  )
  plain = vision.recognition_inputs(
    clips, face_size=64, method='farneback', workers=1, progress=False
  )
  for a, b in zip(given, plain):
    np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(
    vision.apex_inputs(clips, 32, faces=crops[32]), vision.apex_inputs(clips, 32)
  )
  with pytest.raises(ValueError, match=r'apex_inputs: faces must be .*\[2, 64, 64\]'):
    vision.apex_inputs(clips, 64, faces=crops[32])
  with pytest.raises(ValueError, match='recognition_inputs: faces'):
    vision.recognition_inputs(clips[:1], face_size=64, faces=crops[64])
  with pytest.raises(ValueError, match='no face sizes'):
    vision.onset_apex_crops(clips, ())


def test_flow_features_are_resized_flow_and_strain():
  rng = np.random.default_rng(1)
  flows = rng.normal(size=(2, 56, 56, 2)).astype(np.float32)
  ststnet, offapex = inputs.flow_features(flows, normalize=False)
  strain = np.asarray(flow_lib.optical_strain(flows))
  for i in range(2):
    ref_u = cv2.resize(flows[i, ..., 0], (28, 28), interpolation=cv2.INTER_AREA)
    ref_s = cv2.resize(strain[i], (28, 28), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(ststnet[i, ..., 0], ref_u, atol=1e-6)
    np.testing.assert_allclose(ststnet[i, ..., 2], ref_s, atol=1e-6)
  with pytest.raises(ValueError, match=r'\[N, H, W, 2\]'):
    inputs.flow_features(flows[..., :1])


def test_lbp_top_features_describe_onset_to_offset(clips):
  feats = vision.lbp_top_features(clips, face_size=32, grid=(2, 2), progress=False)
  assert feats.shape == (2, 3 * 4 * 59)
  # Every block histogram of every plane sums to 1.
  np.testing.assert_allclose(feats.reshape(2, 12, 59).sum(-1), 1.0)


def test_inputs_reject_empty_sets():
  with pytest.raises(ValueError, match='no clips'):
    vision.recognition_inputs([])
  with pytest.raises(ValueError, match='no clips'):
    vision.lbp_top_features([])
