"""OpenPose poses against pose-format, on OpenPose files pose-format makes of real clips' JSON frames.

The fixtures (`sign_openpose_fixture`) write a real Holistic clip of the
lexicon (Czech SL, a hand missing in some frames) as OpenPose JSON frames
and read them with pose-format's own `load_openpose_directory` (BODY_25 +
hands) and `load_openpose_135_directory` (BODY_135, AUTSL's OpenPose poses).
"""

import numpy as np
import numpy.ma as ma
import pytest
from sign_openpose_fixture import openpose_pose_file

import vision
from vision.sign import layouts

CLIP = 'cse/fs-sts422332378d5434f54bbc9d2b040156f1.pose'
KEPT = {
  'openpose': (['pose_keypoints_2d', 'hand_left_keypoints_2d', 'hand_right_keypoints_2d'], None),
  'openpose_135': (['BODY_135'], {'BODY_135': list(layouts.OPENPOSE_135_KEPT)}),
}


@pytest.fixture(scope='module')
def files(tmp_path_factory):
  tmp = tmp_path_factory.mktemp('openpose')
  holistic = vision.fingerspelling_lexicon_dir() / CLIP
  out = {'holistic': holistic}
  for name, body_135 in (('openpose', False), ('openpose_135', True)):
    out[name] = openpose_pose_file(holistic, tmp / f'{name}.pose', tmp / name, body_135=body_135)
  return out


def _reference(path, name):
  """pose-format's pose of the kept components (face dropped): data [T, P, 2] masked, header."""
  components, points = KEPT[name]
  pose = vision.read_pose(path).get_components(components, points)
  return pose


def _angle_reference(p1s, p2s):
  # pose-format's AngleRepresentation (torch) in NumPy: atan(dy / dx), 0/0 -> 0, 0 where masked.
  d = p2s - p1s
  with np.errstate(divide='ignore', invalid='ignore'):
    slopes = np.asarray(d[..., 1].data) / np.asarray(d[..., 0].data)
  slopes[np.isnan(slopes)] = 0
  return np.arctan(np.where(ma.getmaskarray(d)[..., 0], 0, slopes))


@pytest.mark.parametrize('name', ['openpose', 'openpose_135'])
def test_openpose_points_normalisation_and_limbs_equal_pose_format(files, name):
  from pose_format.numpy.representation.distance import DistanceRepresentation
  from pose_format.pose_representation import PoseRepresentation

  layout = layouts.LAYOUTS[name]
  arrays = vision.read_pose_arrays(files[name])
  points, mask = arrays.points, arrays.mask
  assert points.shape[1:] == (layout.num_points, 2) and vision.layout_of(points.shape[1]) is layout
  ref = _reference(files[name], name)
  data = ref.body.data[:, 0]  # (T, P, 2) masked
  np.testing.assert_array_equal(mask, ~ma.getmaskarray(data)[..., 0])
  np.testing.assert_array_equal(points[mask], np.asarray(data.data)[mask])
  assert 0 < mask.mean() < 1 and np.all(points[~mask] == 0)
  # The real Holistic landmarks went through OpenPose's JSON unchanged.
  holistic = vision.read_pose_arrays(files['holistic'])
  names = [p for _, p in layout.points]
  for ours, theirs in (('RShoulder', 'RIGHT_SHOULDER'), ('LWrist', 'LEFT_WRIST')):
    np.testing.assert_array_equal(
      points[:, names.index(ours)], holistic.points[:, layouts.HOLISTIC_BODY.index(theirs), :2]
    )
  # Limbs: pose-format's, among the kept points.
  rep = PoseRepresentation(ref.header)
  np.testing.assert_array_equal(layout.limb_array, np.stack([rep.limb_pt1s, rep.limb_pt2s], 1))
  # Normalisation: Pose.normalize() (its shoulders: RShoulder, LShoulder).
  normalized = np.asarray(vision.normalize_shoulders(points, mask))
  expected = ref.normalize().body.data[:, 0]
  np.testing.assert_allclose(
    normalized[mask], np.asarray(expected.data)[mask], rtol=1e-5, atol=1e-5
  )
  # Limb angles and lengths of the normalised points: pose-format's representation.
  xy = expected
  p1s, p2s = xy[:, rep.limb_pt1s], xy[:, rep.limb_pt2s]
  angles, lengths = (np.asarray(a) for a in vision.limb_features(normalized, mask))
  np.testing.assert_allclose(lengths, DistanceRepresentation()(p1s, p2s), rtol=1e-5, atol=1e-5)
  # (atol: float32 rounding of the normalised points near dx = 0)
  np.testing.assert_allclose(angles, _angle_reference(p1s, p2s), rtol=1e-5, atol=1e-5)
  features = np.asarray(vision.pose_features(points, mask))
  assert features.shape == (len(points), vision.feature_size(layout=layout, dims=2))
  np.testing.assert_allclose(features[:, -len(layout.limbs) :], lengths, rtol=1e-6, atol=1e-6)


def test_flip_swaps_sides_by_name_and_is_an_involution(files):
  for name in ('openpose', 'openpose_135'):
    layout = layouts.LAYOUTS[name]
    a = vision.read_pose_arrays(files[name])
    points, mask = vision.flip_horizontal(a.points, a.mask, a.width)
    names = [p for _, p in layout.points]
    r, left = names.index('RShoulder'), names.index('LShoulder')
    both = a.mask[:, r] & a.mask[:, left]
    np.testing.assert_allclose(np.asarray(points)[both, r, 0], a.width - a.points[both, left, 0])
    hand = slice(*layout.hands[0])  # the left hand takes the right hand's points
    np.testing.assert_array_equal(np.asarray(mask)[:, hand], a.mask[:, slice(*layout.hands[1])])
    again = vision.flip_horizontal(points, mask, a.width)
    np.testing.assert_allclose(np.asarray(again[0]), a.points, atol=1e-4)
    assert sorted(layout.flip) == list(range(layout.num_points))


def test_openpose_plus_holistic_and_upper_body_columns(files):
  holistic = vision.read_pose_arrays(files['holistic'])
  openpose = vision.read_pose_arrays(files['openpose'])
  batches = [vision.pad_poses([c, c], max_frames=8) for c in (holistic, openpose)]
  data = vision.combined_batch_data(batches, [0, 1])
  f_h, f_o = vision.feature_size(), vision.feature_size(dims=2, layout=vision.OPENPOSE)
  assert (f_h, f_o) == (379, 262)
  assert data['x'].shape == data['x_flip'].shape == (2, 8, f_h + f_o)
  alone = vision.pose_batch_data(batches[1], [0, 1])
  np.testing.assert_array_equal(np.asarray(data['x'])[..., f_h:], np.asarray(alone['x']))
  np.testing.assert_array_equal(np.asarray(data['x_flip'])[..., f_h:], np.asarray(alone['x_flip']))
  short = vision.pad_poses([holistic, holistic], max_frames=6, pad_to=8)
  with pytest.raises(ValueError, match='same frames'):
    vision.combined_batch_data([short, batches[1]], [0, 1])
  # Team 1's upper body: the coordinates above the hips, no limbs.
  cols = vision.upper_body_columns(dims=2, layout=vision.OPENPOSE)
  assert cols.sum() == 2 * (25 - 13 + 42) and not cols[67 * 2 :].any()
  assert vision.upper_body_columns().sum() == 3 * (23 + 42)
  with pytest.raises(ValueError, match='no known pose layout'):
    vision.pad_poses(
      [holistic._replace(points=holistic.points[:, :70], mask=holistic.mask[:, :70])]
    )


def test_interpolation_fills_missing_hand_frames_as_pose_format(files, tmp_path):
  # The lexicon's clips lose no hand between two detections, so frames 5-8
  # of the right hand of the real clip are dropped here (confidence 0).
  pose = vision.read_pose(files['holistic'])
  start = sum(len(c.points) for c in pose.header.components[:3])  # RIGHT_HAND_LANDMARKS
  names = [c.name for c in pose.header.components]
  assert names[3] == 'RIGHT_HAND_LANDMARKS'
  pose.body.confidence[5:9, 0, start : start + 21] = 0
  gapped = tmp_path / 'gapped.pose'
  with open(gapped, 'wb') as f:
    pose.write(f)
  plain = vision.read_pose_arrays(gapped)
  filled = vision.read_pose_arrays(gapped, interpolate=True)
  expected = vision.pose_to_arrays(vision.read_pose(gapped).interpolate(kind='cubic'))
  np.testing.assert_array_equal(filled.mask, expected.mask)
  np.testing.assert_allclose(filled.points, expected.points)
  right = slice(54, 75)
  assert not plain.mask[5:9, right].any() and filled.mask[5:9, right].all()  # the gap filled
  assert np.all(filled.mask[plain.mask])
  np.testing.assert_allclose(filled.points[plain.mask], plain.points[plain.mask], atol=1e-3)
  original = vision.read_pose_arrays(files['holistic'])  # near the dropped real points
  assert np.abs(filled.points[5:9, right, :2] - original.points[5:9, right, :2]).max() < 20
  one = vision.interpolate_missing(pose.slice_step(100))  # one frame: unchanged
  assert one.body.data.shape[0] == 1


def test_unknown_pose_and_bad_frame_features_named(files, tmp_path):
  pose = vision.read_pose(files['openpose'])
  with pytest.raises(ValueError, match='no POSE_LANDMARKS component'):
    vision.pose_to_arrays(pose, layout='holistic')
  sub = pose.get_components(['face_keypoints_2d'])
  with pytest.raises(ValueError, match='expected a MediaPipe Holistic or OpenPose'):
    vision.pose_to_arrays(sub)
  rng = np.random.default_rng(0)
  np.save(tmp_path / 'a.npy', rng.normal(size=(5, 4)))
  np.save(tmp_path / 'b_color.npy', rng.normal(size=(12, 4)))
  got = vision.load_frame_features(tmp_path, ['a', 'b'], max_frames=8)
  assert got.x.shape == (2, 8, 4) and got.lengths.tolist() == [5, 8]
  np.testing.assert_allclose(got.x[0, :5], np.load(tmp_path / 'a.npy'), rtol=1e-6)
  assert not got.mask[0, 5:].any() and np.all(got.x[0, 5:] == 0)
  with pytest.raises(FileNotFoundError, match='1 of 3 clips.*first: c; looked for c.npy'):
    vision.load_frame_features(tmp_path, ['a', 'b', 'c'])
  np.save(tmp_path / 'c.npy', rng.normal(size=(5, 3)))
  with pytest.raises(ValueError, match='c.npy has D = 3'):
    vision.load_frame_features(tmp_path, ['a', 'c'])
  np.save(tmp_path / 'd.npy', rng.normal(size=(5,)))
  with pytest.raises(ValueError, match=r'd.npy: frame features must be a numeric \[T, D\]'):
    vision.load_frame_features(tmp_path, ['d'])
  with pytest.raises(FileNotFoundError, match='folder not found'):
    vision.load_frame_features(tmp_path / 'nope', ['a'])


def test_table1_cells_and_team1_upper_body_input(files):
  import dataclasses

  from fewshot.protocols import sign as protocol

  holistic = vision.read_pose_arrays(files['holistic'])
  openpose = vision.read_pose_arrays(files['openpose_135'])
  batches = [vision.pad_poses([c, c], max_frames=8) for c in (holistic, openpose)]
  inputs = vision.pose_inputs(*batches[:1], [0, 1], openpose=batches[1])
  data = protocol.SignData(**inputs._asdict(), class_names=('a', 'b'))
  assert set(inputs.columns) == {'points', 'limbs', 'points+limbs', 'OpenPose', 'OpenPose+Holistic'}
  np.testing.assert_array_equal(inputs.columns['points+limbs'][:379], True)
  assert not inputs.columns['points+limbs'][379:].any() and inputs.columns['OpenPose'][379:].all()
  cfg = protocol.Config(feature_sets=('points', 'points+limbs'))
  cells = protocol.table1_cells(cfg, data)
  assert cells == {
    'points': [('ablation', 'Holistic points')],
    'points+limbs': [('ablation', 'Holistic points+limbs'), ('paper', 'Holistic')],
    'OpenPose': [('paper', 'OpenPose')],
    'OpenPose+Holistic': [('paper', 'OpenPose+Holistic')],
  }
  x, flip = protocol._cell_input(cfg, data, 'transformer', 'OpenPose+Holistic')
  assert flip and np.array_equal(x['x'], data.features['x'])
  team1 = dataclasses.replace(cfg, team1_upper_body=True)
  x, flip = protocol._cell_input(team1, data, 'transformer', 'OpenPose+Holistic')
  kept = np.abs(np.asarray(x['x'])).sum((0, 1)) > 0
  assert not flip and kept.any() and not kept[~inputs.upper_body].any()
  assert protocol._cell_input(team1, data, 'bilstm', 'OpenPose')[1]  # Team 2 unchanged
  with pytest.raises(ValueError, match='rows'):
    protocol.Config(rows=('Kinect',))
