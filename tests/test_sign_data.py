"""`.pose` reading, padded batches, hand presence, the fingerspelling lexicon and the AUTSL loader."""

import csv
import shutil

import numpy as np
import pytest

import vision


@pytest.fixture(scope='module')
def lexicon_rows():
  root = vision.fingerspelling_lexicon_dir()
  with open(root / 'data.csv', newline='', encoding='utf-8') as f:
    return root, list(csv.DictReader(f))


def test_lexicon_loads_all_600_clips():
  lex = vision.load_fingerspelling_lexicon(max_frames=16)
  n = len(lex.language)
  assert n == 600 and len(set(lex.language)) == 19
  assert lex.poses.points.shape == (n, 16, 75, 3) and lex.poses.mask.shape == (n, 16, 75)
  # one clip per language and letter
  assert len(set(zip(lex.language, lex.letter))) == n
  assert set(np.unique(lex.poses.width)) == {500.0}
  lengths = lex.poses.lengths
  assert lengths.min() >= 6 and lengths.max() == 16
  for i in (0, 123, 599):  # padded frames are empty
    assert not lex.poses.mask[i, lengths[i] :].any()


def test_pad_poses_keeps_frames_and_subsamples_evenly(lexicon_rows):
  root, rows = lexicon_rows
  clips = [vision.read_pose_arrays(root / r['path']) for r in rows[:3]]
  batch = vision.pad_poses(clips)
  for i, c in enumerate(clips):
    t = len(c.points)
    assert batch.lengths[i] == t
    np.testing.assert_array_equal(batch.points[i, :t], c.points)
    np.testing.assert_array_equal(batch.mask[i, :t], c.mask)
  short = vision.pad_poses(clips, max_frames=5, pad_to=8)
  assert short.points.shape[1] == 8 and list(short.lengths) == [5, 5, 5]
  t = len(clips[0].points)
  keep = np.round(np.linspace(0, t - 1, 5)).astype(int)
  np.testing.assert_array_equal(short.points[0, :5], clips[0].points[keep])
  with pytest.raises(ValueError, match='pad_to'):
    vision.pad_poses(clips, pad_to=2)
  with pytest.raises(ValueError, match='empty'):
    vision.pad_poses([])


def test_hand_presence_matches_confidence(lexicon_rows):
  root, rows = lexicon_rows
  a = vision.read_pose_arrays(root / 'cse/fs-sts422332378d5434f54bbc9d2b040156f1.pose')
  pose = vision.read_pose(root / 'cse/fs-sts422332378d5434f54bbc9d2b040156f1.pose')
  names = [c.name for c in pose.header.components]
  start = dict(zip(names, np.cumsum([0] + [len(c.points) for c in pose.header.components])))
  conf = pose.body.confidence[:, 0]
  left = (conf[:, start['LEFT_HAND_LANDMARKS'] : start['LEFT_HAND_LANDMARKS'] + 21] > 0).any(1)
  right = (conf[:, start['RIGHT_HAND_LANDMARKS'] : start['RIGHT_HAND_LANDMARKS'] + 21] > 0).any(1)
  got = np.asarray(vision.hand_presence(a.mask))
  np.testing.assert_array_equal(got, np.stack([left, right], 1))
  assert not right.all()  # the right hand is lost in some frames of this clip


def test_dominant_hand_is_the_raised_one():
  points = np.zeros((2, 6, 75, 3), np.float32)
  mask = np.zeros((2, 6, 75), bool)
  mask[:, :, [15, 16]] = True
  points[0, :, 15, 1], points[0, :, 16, 1] = 100, 400  # clip 0: left wrist higher (smaller y)
  points[1, :, 15, 1], points[1, :, 16, 1] = 400, 100
  mask[0, :3, 33:54] = True  # left hand seen in 3 of 6 frames
  mask[1, :, 54:75] = True
  mask[1, 4:] = False  # clip 1 has 4 real frames
  lengths = np.array([6, 4], np.int32)
  np.testing.assert_array_equal(np.asarray(vision.dominant_hand(points, mask)), [0, 1])
  np.testing.assert_allclose(
    np.asarray(vision.dominant_hand_presence(points, mask, lengths)), [0.5, 1]
  )
  with pytest.raises(ValueError, match='lengths'):
    vision.dominant_hand_presence(points, mask, np.array([0, 4], np.int32))


def test_bad_files_named(tmp_path):
  with pytest.raises(FileNotFoundError, match='nothing.pose'):
    vision.read_pose_arrays(tmp_path / 'nothing.pose')
  bad = tmp_path / 'broken.pose'
  bad.write_bytes(b'not a pose file at all')
  with pytest.raises(ValueError, match='broken.pose'):
    vision.read_pose_arrays(bad)


def _autsl_fixture(tmp_path, lexicon_rows, pose_names):
  """A miniature AUTSL folder whose poses are real Holistic clips of the lexicon."""
  root, rows = lexicon_rows
  ids = ['signer3_sample7', 'signer3_sample12', 'signer10_sample1']
  labels = [118, 0, 225]
  (tmp_path / 'train_labels.csv').write_text(''.join(f'{i},{c}\n' for i, c in zip(ids, labels)))
  for i, (sample, name) in enumerate(zip(ids, pose_names)):
    target = tmp_path / name.format(id=sample)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(root / rows[i]['path'], target)
  return ids, labels, [root / rows[i]['path'] for i in range(3)]


def test_autsl_loader_on_fixture(tmp_path, lexicon_rows):
  names = ['poses/train/{id}.pose', 'poses/train/{id}_color.pose', 'holistic/train/{id}.pose']
  ids, labels, sources = _autsl_fixture(tmp_path, lexicon_rows, names)
  data = vision.load_autsl(tmp_path, 'train', max_frames=12)
  assert list(data.ids) == ids and list(data.labels) == labels and list(data.signers) == [3, 3, 10]
  for i, src in enumerate(sources):
    clip = vision.read_pose_arrays(src)
    t = min(len(clip.points), 12)
    assert data.poses.lengths[i] == t
    if len(clip.points) <= 12:
      np.testing.assert_array_equal(data.poses.points[i, :t], clip.points)
  assert len(vision.load_autsl(tmp_path, 'train', limit=2).ids) == 2


def test_autsl_errors_name_the_problem(tmp_path, lexicon_rows):
  with pytest.raises(FileNotFoundError, match='train_labels.csv'):
    vision.load_autsl(tmp_path, 'train')
  with pytest.raises(ValueError, match='split'):
    vision.load_autsl(tmp_path, 'dev')
  ids, _, _ = _autsl_fixture(
    tmp_path, lexicon_rows, ['poses/train/{id}.pose'] * 2 + ['x/{id}.pose']
  )
  (tmp_path / 'train').mkdir()
  (tmp_path / 'train' / f'{ids[2]}_color.mp4').write_bytes(b'')
  with pytest.raises(
    FileNotFoundError, match='1 of 3 train samples.*signer10_sample1.*extract_poses'
  ):
    vision.load_autsl(tmp_path, 'train')
  (tmp_path / 'val_labels.csv').write_text('signer1_sample1,226\n')
  with pytest.raises(ValueError, match='outside'):
    vision.load_autsl(tmp_path, 'val')
