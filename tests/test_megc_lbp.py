"""LBP against scikit-image and a naive per-pixel loop; LBP-TOP, histograms and chi^2 by hand."""

import os

import cv2
import numpy as np
import pytest
from skimage.feature import local_binary_pattern

import vision
from vision.megc import lbp as lbp_lib
from vision.megc import synthetic


@pytest.fixture(scope='module')
def face():
  img = cv2.imread(os.path.join(synthetic.feat_data_dir(), '0-f1-su-ph.jpg'), cv2.IMREAD_GRAYSCALE)
  return img[150:230, 160:260]  # 80 x 100: brows and eyes of a real face


def _naive_lbp(image, points, radius):
  """Per-pixel loop: bilinear samples on an ellipse, outside reads 0, s(x) = x >= 0."""
  img = np.asarray(image, np.float64)
  rows, cols = img.shape
  rr, rc = radius
  at = lambda r, c: img[r, c] if 0 <= r < rows and 0 <= c < cols else 0.0
  out = np.zeros(img.shape, np.int64)
  for r in range(rows):
    for c in range(cols):
      code = 0
      for p in range(points):
        y = r + round(-rr * np.sin(2 * np.pi * p / points), 5)
        x = c + round(rc * np.cos(2 * np.pi * p / points), 5)
        y0, x0 = int(np.floor(y)), int(np.floor(x))
        fy, fx = y - y0, x - x0
        g = (
          (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
          + fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1))
        )  # fmt: skip
        code |= int(g - img[r, c] >= 0) << p
      out[r, c] = code
  return out


@pytest.mark.parametrize('points, radius', [(8, 1), (8, 2), (16, 2), (4, 1.5)])
@pytest.mark.parametrize('method', ['default', 'nri_uniform'])
def test_lbp_equals_scikit_image_on_a_real_face(face, points, radius, method):
  ours = vision.local_binary_pattern(face, points, radius, method)
  ref = local_binary_pattern(face, points, radius, method)
  np.testing.assert_array_equal(ours, ref)
  assert ours.max() < lbp_lib.num_bins(points, method)


@pytest.mark.parametrize('radius', [(2.0, 1.0), (1.5, 2.5)])
def test_elliptical_lbp_equals_a_naive_loop(face, radius):
  patch = face[20:44, 30:60]
  np.testing.assert_array_equal(
    vision.local_binary_pattern(patch, 8, radius, 'default'), _naive_lbp(patch, 8, radius)
  )


def test_lbp_batches_over_leading_axes(face):
  stack = np.stack([face, face[::-1], 255 - face]).reshape(3, 1, *face.shape)
  out = vision.local_binary_pattern(stack, 8, 1)
  for i in range(3):
    np.testing.assert_array_equal(out[i, 0], vision.local_binary_pattern(stack[i, 0], 8, 1))


def test_nri_uniform_table_counts_the_uniform_patterns():
  table = lbp_lib._nri_uniform_table(8)
  assert table.max() == 58 and len(np.unique(table)) == 59  # P (P - 1) + 3
  assert table[0] == 0 and table[255] == 57
  # 0b01010101 has 8 transitions: not uniform.
  assert table[0b01010101] == 58


def test_block_histograms_match_a_loop_over_blocks():
  rng = np.random.default_rng(0)
  codes = rng.integers(0, 5, size=(2, 13, 11))
  hist = lbp_lib.block_histograms(codes, (3, 2), 5, border=(1, 1))
  assert hist.shape == (2, 6, 5)
  inner = codes[:, 1:-1, 1:-1]  # 11 x 9
  r_edges, c_edges = [0, 4, 7, 11], [0, 4, 9]  # round(linspace)
  for t in range(2):
    for i in range(3):
      for j in range(2):
        block = inner[t, r_edges[i] : r_edges[i + 1], c_edges[j] : c_edges[j + 1]].ravel()
        ref = np.bincount(block, minlength=5) / block.size
        np.testing.assert_allclose(hist[t, i * 2 + j], ref)


def test_lbp_top_equals_per_plane_loops():
  rng = np.random.default_rng(1)
  clip = rng.integers(0, 256, size=(7, 9, 10)).astype(np.uint8)
  radii = (1.0, 1.0, 2.0)  # R_x, R_y, R_t
  feat = vision.lbp_top(clip, grid=(1, 2), points=4, radii=radii, method='default')
  bins = 16
  assert feat.shape == (3 * 2 * bins,)
  xy = np.stack([_naive_lbp(f, 4, (1.0, 1.0)) for f in clip])
  xt = np.stack([_naive_lbp(clip[:, y, :], 4, (2.0, 1.0)) for y in range(9)], axis=1)
  yt = np.stack([_naive_lbp(clip[:, :, x], 4, (2.0, 1.0)) for x in range(10)], axis=2)
  # Voxels with full neighbourhoods: t in 2..4, y in 1..7, x in 1..8; two
  # blocks of columns 1..4 and 5..8.
  ref = []
  for codes in (xy, xt, yt):
    inner = codes[2:5, 1:8, 1:9]
    for cols in (slice(0, 4), slice(4, 8)):
      h = np.bincount(inner[:, :, cols].ravel(), minlength=bins).astype(float)
      ref.append(h / h.sum())
  np.testing.assert_allclose(feat, np.concatenate(ref))


def test_chi2_distance_by_hand():
  p = np.array([0.5, 0.5, 0.0, 0.0])
  q = np.array([0.25, 0.25, 0.5, 0.0])
  # 2 * 0.25^2 / 0.75 + 0.5^2 / 0.5 + 0 (empty bin)
  assert vision.chi2_distance(p, q) == pytest.approx(2 * 0.0625 / 0.75 + 0.5)
  assert vision.chi2_distance(p, p) == 0.0
  np.testing.assert_allclose(
    vision.chi2_distance(np.stack([p, q]), q), [2 * 0.0625 / 0.75 + 0.5, 0]
  )


def test_lbp_rejects_bad_arguments(face):
  with pytest.raises(ValueError, match='points'):
    vision.local_binary_pattern(face, 17, 1)
  with pytest.raises(ValueError, match='method'):
    vision.local_binary_pattern(face, 8, 1, 'ror')
  with pytest.raises(ValueError, match='radius'):
    vision.local_binary_pattern(face, 8, 0.0)
  with pytest.raises(ValueError, match='dimension'):
    vision.local_binary_pattern(face[0], 8, 1)
  with pytest.raises(ValueError, match='too short'):
    vision.lbp_top(np.zeros((4, 9, 9), np.uint8), radii=(1, 1, 2))
  with pytest.raises(ValueError, match='non-negative'):
    vision.chi2_distance([-0.1, 1.1], [0.5, 0.5])
