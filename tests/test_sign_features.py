"""Pose features against pose-format itself on real Holistic `.pose` files (spoken-to-signed)."""

import numpy as np
import numpy.ma as ma
import pytest

import vision
from vision.sign import features

# Real clips of the fingerspelling lexicon: two with a hand missing in some
# frames (Czech SL), one ASL letter with both hands throughout.
CLIPS = (
  'cse/fs-sts422332378d5434f54bbc9d2b040156f1.pose',
  'cse/fs-sts73314eb6ad1caa7c6be8bd0ff5a40135.pose',
  'ase/fs-stse28e9ac023b0e29ca0a3acc12dc46540.pose',
)
THREE = ['POSE_LANDMARKS', 'LEFT_HAND_LANDMARKS', 'RIGHT_HAND_LANDMARKS']


@pytest.fixture(scope='module')
def poses():
  root = vision.fingerspelling_lexicon_dir()
  return [vision.read_pose(root / c) for c in CLIPS]


def _ours(pose):
  a = vision.pose_to_arrays(pose)
  return a.points, a.mask


def _three(pose):
  """pose-format's own 75-point pose: its data (masked) and mask."""
  sub = pose.get_components(THREE)
  data = sub.body.data[:, 0]  # (T, 75, 3) masked array
  return data, ~np.asarray(ma.getmaskarray(data))[..., 0]


def test_points_and_mask_are_pose_formats_components(poses):
  for pose in poses:
    points, mask = _ours(pose)
    data, present = _three(pose)
    np.testing.assert_array_equal(mask, present)
    np.testing.assert_array_equal(mask, pose.get_components(THREE).body.confidence[:, 0] > 0)
    np.testing.assert_array_equal(points[mask], np.asarray(data.data)[mask])
    assert np.all(points[~mask] == 0)
    assert 0 < mask.mean() < 1  # hands missing somewhere: the mask matters here


def test_limbs_are_pose_formats_limbs(poses):
  from pose_format.pose_representation import PoseRepresentation

  rep = PoseRepresentation(poses[0].get_components(THREE).header)
  np.testing.assert_array_equal(vision.LIMBS, np.stack([rep.limb_pt1s, rep.limb_pt2s], axis=1))
  assert vision.LIMBS.shape == (35 + 21 + 21, 2)
  assert features.BODY_POINTS == tuple(poses[0].header.components[0].points)


def test_normalize_shoulders_equals_pose_normalize(poses):
  for pose in poses:
    points, mask = _ours(pose)
    expected, present = _three(pose.copy().normalize())
    got = np.asarray(vision.normalize_shoulders(points, mask))
    np.testing.assert_allclose(
      got[present], np.asarray(expected.data)[present], rtol=1e-5, atol=1e-6
    )
    assert np.all(got[~mask] == 0)
    # the reference is not trivial: shoulders at +-0.5 shoulder widths on average
    width = np.linalg.norm(got[:, 12] - got[:, 11], axis=-1)
    assert abs(width.mean() - 1) < 1e-5


def _angle_reference(p1s, p2s):
  """pose-format's AngleRepresentation (torch/tf modules), step by step in NumPy masked arrays.

  d = p2 - p1; slope = dy / dx with NaN (0/0) -> 0 (`fix_nan`); masked -> 0
  (`zero_filled`); atan. CI has no torch, so this follows
  `pose_format/torch/representation/angle.py` line by line; the next test runs
  the module itself where torch is installed.
  """
  d = p2s - p1s
  with np.errstate(divide='ignore', invalid='ignore'):
    slopes = np.asarray(d[..., 1].data) / np.asarray(d[..., 0].data)
  slopes[np.isnan(slopes)] = 0
  slopes = np.where(ma.getmaskarray(d)[..., 0], 0, slopes)
  return np.arctan(slopes)


def test_limb_features_equal_pose_format_representation(poses):
  from pose_format.numpy.representation.distance import DistanceRepresentation
  from pose_format.pose_representation import PoseRepresentation

  for pose in poses:
    sub = pose.get_components(THREE)
    rep = PoseRepresentation(sub.header)
    xy = sub.body.data[:, 0, :, :2]  # (T, 75, 2) masked: the 2-D representation
    p1s, p2s = xy[:, rep.limb_pt1s], xy[:, rep.limb_pt2s]
    points, mask = _ours(pose)
    angles, lengths = (np.asarray(a) for a in vision.limb_features(points, mask))
    np.testing.assert_allclose(lengths, DistanceRepresentation()(p1s, p2s), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(angles, _angle_reference(p1s, p2s), rtol=1e-5, atol=1e-6)
    missing = ~(mask[:, vision.LIMBS[:, 0]] & mask[:, vision.LIMBS[:, 1]])
    assert missing.any() and np.all(angles[missing] == 0) and np.all(lengths[missing] == 0)


def test_limb_angles_equal_pose_format_torch_module(poses):
  """The real AngleRepresentation where torch is installed (the `bench` extra; not in CI)."""
  torch = pytest.importorskip('torch')
  from pose_format.pose_representation import PoseRepresentation
  from pose_format.torch.masked.tensor import MaskedTensor
  from pose_format.torch.representation.angle import AngleRepresentation

  for pose in poses:
    sub = pose.get_components(THREE)
    rep = PoseRepresentation(sub.header)
    xy = sub.body.data[:, 0, :, :2]
    data = torch.tensor(np.asarray(xy.data), dtype=torch.float32)
    valid = torch.tensor(~ma.getmaskarray(xy))
    # the module's layout: (points, batch, len, dims)
    t = lambda idx: MaskedTensor(
      data[:, idx].permute(1, 0, 2)[:, None], valid[:, idx].permute(1, 0, 2)[:, None]
    )
    expected = AngleRepresentation()(t(rep.limb_pt1s), t(rep.limb_pt2s))[:, 0].T.numpy()
    points, mask = _ours(pose)
    angles = np.asarray(vision.limb_features(points, mask)[0])
    np.testing.assert_allclose(angles, expected, rtol=1e-5, atol=1e-6)


def test_limb_angle_edge_cases():
  points = np.zeros((1, 75, 3), np.float32)
  mask = np.zeros((1, 75), bool)
  # limb 0 = (15, 21): vertical; limb 1 = (16, 20): zero length; limb 2 = (18, 20): 45 degrees down-left
  points[0, 15, :2], points[0, 21, :2] = (1, 1), (1, 3)
  points[0, 16, :2], points[0, 20, :2] = (2, 2), (2, 2)
  points[0, 18, :2] = (3, 3)
  mask[0, [15, 16, 18, 20, 21]] = True
  angles, lengths = (np.asarray(a)[0] for a in vision.limb_features(points, mask))
  np.testing.assert_allclose(angles[:3], [np.pi / 2, 0, np.pi / 4], rtol=1e-6)
  np.testing.assert_allclose(lengths[:3], [2, 0, np.sqrt(2)], rtol=1e-6)
  # (16, 18) is the only other limb with both ends present: from (2, 2) to (3, 3)
  other = [tuple(limb) for limb in vision.LIMBS].index((16, 18))
  np.testing.assert_allclose([angles[other], lengths[other]], [np.pi / 4, np.sqrt(2)], rtol=1e-6)
  rest = np.setdiff1d(np.arange(len(vision.LIMBS)), [0, 1, 2, other])
  assert np.all(angles[rest] == 0) and np.all(lengths[rest] == 0)


def test_flip_equals_mirror_horizontal(poses):
  from pose_format.utils.holistic import mirror_horizontal

  for pose in poses:
    points, mask = _ours(pose)
    expected, present = _three(mirror_horizontal(pose))
    got, got_mask = (
      np.asarray(a) for a in vision.flip_horizontal(points, mask, pose.header.dimensions.width)
    )
    np.testing.assert_array_equal(got_mask, present)
    np.testing.assert_allclose(got[present], np.asarray(expected.data)[present], rtol=1e-6)
    assert np.all(got[~present] == 0)
    # mirroring twice gives the clip back
    back, back_mask = vision.flip_horizontal(got, got_mask, pose.header.dimensions.width)
    np.testing.assert_array_equal(np.asarray(back_mask), mask)
    np.testing.assert_allclose(np.asarray(back), points, atol=1e-4)


def test_batched_leading_axes_equal_per_clip(poses):
  clips = [vision.pose_to_arrays(p) for p in poses]
  batch = vision.pad_poses(clips)
  b_points, b_mask = batch.points[None], batch.mask[None]  # (1, B, T, 75, 3): two leading axes
  normed = np.asarray(vision.normalize_shoulders(b_points, b_mask))[0]
  angles, lengths = (np.asarray(a)[0] for a in vision.limb_features(b_points, b_mask))
  flipped = np.asarray(vision.flip_horizontal(batch.points, batch.mask, batch.width)[0])
  feats = np.asarray(vision.pose_features(batch.points, batch.mask))
  assert feats.shape == batch.points.shape[:2] + (vision.feature_size(),)

  def check(i, points, mask, t):
    np.testing.assert_allclose(
      normed[i, :t], vision.normalize_shoulders(points, mask)[:t], atol=1e-6
    )
    a, l_ = vision.limb_features(points, mask)
    np.testing.assert_allclose(angles[i, :t], a[:t], atol=2e-5)
    np.testing.assert_allclose(lengths[i, :t], l_[:t], atol=2e-5)
    f = vision.flip_horizontal(points, mask, clips[i].width)[0]
    np.testing.assert_allclose(flipped[i, :t], f[:t], atol=1e-4)
    np.testing.assert_allclose(feats[i, :t], vision.pose_features(points, mask)[:t], atol=5e-5)

  for i in range(len(clips)):  # each clip alone at the batch's length (one compile)
    check(i, batch.points[i], batch.mask[i], batch.lengths[i])
  for i, t in enumerate(batch.lengths):
    assert np.all(feats[i, t:] == 0)  # padded frames stay zero


def test_feature_layout(poses):
  c = vision.pose_to_arrays(poses[0])
  full = np.asarray(vision.pose_features(c.points, c.mask))
  pts = np.asarray(vision.pose_features(c.points, c.mask, 'points'))
  limbs = np.asarray(vision.pose_features(c.points, c.mask, 'limbs'))
  assert full.shape[-1] == 379 and pts.shape[-1] == 225 and limbs.shape[-1] == 154
  np.testing.assert_array_equal(full, np.concatenate([pts, limbs], -1))
  np.testing.assert_array_equal(full[:, vision.feature_columns('points')], pts)
  np.testing.assert_array_equal(full[:, vision.feature_columns('limbs')], limbs)
  assert vision.feature_columns('points+limbs').all()
  normed = np.asarray(vision.normalize_shoulders(c.points, c.mask))
  np.testing.assert_allclose(pts, normed.reshape(len(normed), -1))


def test_flip_permutation_is_an_involution():
  perm = vision.FLIP_PERMUTATION
  np.testing.assert_array_equal(perm[perm], np.arange(75))
  assert perm[features.LEFT_SHOULDER] == features.RIGHT_SHOULDER and perm[0] == 0
  np.testing.assert_array_equal(perm[33:54], np.arange(54, 75))


def test_bad_input_named():
  points = np.zeros((4, 75, 3), np.float32)
  mask = np.ones((4, 75), bool)
  with pytest.raises(ValueError, match='points must be'):
    vision.normalize_shoulders(np.zeros((4, 74, 3), np.float32), mask[:, :74])
  with pytest.raises(ValueError, match='mask must be'):
    vision.limb_features(points, mask[:3])
  with pytest.raises(ValueError, match='boolean'):
    vision.limb_features(points, mask.astype(np.float32))
  bad = points.copy()
  bad[0, 0, 0] = np.nan
  with pytest.raises(ValueError, match='NaN'):
    vision.normalize_shoulders(bad, mask)
  with pytest.raises(ValueError, match='width'):
    vision.flip_horizontal(points[None], mask[None], np.ones(3))
  with pytest.raises(ValueError, match='feature_set'):
    vision.pose_features(points, mask, 'angles')


def test_clip_without_shoulders_is_left_unchanged():
  rng = np.random.default_rng(0)
  points = rng.normal(size=(5, 75, 3)).astype(np.float32)
  mask = np.ones((5, 75), bool)
  mask[:, 11] = False  # never a left shoulder
  points[~mask] = 0
  np.testing.assert_array_equal(np.asarray(vision.normalize_shoulders(points, mask)), points)
