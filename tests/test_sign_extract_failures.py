"""Extraction survives a worker that dies or hangs: the video is recorded as failed, the rest go on.

The per-video function is injected (`video_fn`), so no mediapipe runs here:
it writes a stand-in `.pose` for an ordinary 'video', kills its worker
process for one whose name holds 'crash' and sleeps for one holding 'hang'.
"""

import json
import os
import time
from pathlib import Path

import pytest

import vision
import vision.extract_poses as extract_poses_cli
from vision.sign import extract


class _FakePose:
  def __init__(self, video):
    self.video = video

  def write(self, f):
    f.write(f'pose of {Path(self.video).name}'.encode())


def fake_video_to_pose(video, config):
  name = Path(video).name
  if 'crash' in name:
    os._exit(7)  # as a segfault in a decoder would: no exception, no cleanup
  if 'hang' in name:
    time.sleep(600)
  if 'bad' in name:
    raise ValueError(f'cannot extract poses from {video}: not a video')
  return _FakePose(video)


def _videos(folder, names):
  folder.mkdir(parents=True, exist_ok=True)
  for n in names:
    (folder / n).write_bytes(b'')
  return [folder / n for n in names]


def test_crashed_and_hung_workers_are_replaced_recorded_and_skipped_on_resume(tmp_path):
  names = ['a.mp4', 'b_crash.mp4', 'c.mp4', 'd_hang.mp4', 'e.mp4', 'f_bad.mp4', 'g.mp4']
  videos = _videos(tmp_path / 'videos', names)
  out = tmp_path / 'poses'
  run = lambda **kw: vision.extract_pose_files(
    videos, out, workers=2, timeout=1.0, progress=False, video_fn=fake_video_to_pose, **kw
  )
  started = time.monotonic()
  report = run()
  assert time.monotonic() - started < 60  # the hung worker was killed, not waited for
  ok = ['a', 'c', 'e', 'g']
  assert sorted(Path(p).name for p in report.written) == [f'{n}.pose' for n in ok]
  for n in ok:
    assert (out / f'{n}.pose').read_bytes() == f'pose of {n}.mp4'.encode()
  failed = {Path(v).name: e for v, e in report.failed.items()}
  assert set(failed) == {'b_crash.mp4', 'd_hang.mp4', 'f_bad.mp4'}
  assert 'died (exit code 7)' in failed['b_crash.mp4']
  assert 'timed out after 1 s' in failed['d_hang.mp4']
  assert 'not a video' in failed['f_bad.mp4']
  recorded = json.loads((out / extract.FAILURES_FILE).read_text())
  assert set(recorded) == {'b_crash.pose', 'd_hang.pose', 'f_bad.pose'}
  assert recorded['b_crash.pose']['error'] == report.failed[str(videos[1])]
  assert not list(out.glob('.*'))  # no temporary file left behind

  # Resume: nothing is tried again (the recorded failures are listed, not rerun) ...
  again = run()
  assert again.written == [] and again.failed == {} and len(again.skipped) == 4
  assert set(again.previously_failed) == {str(videos[i]) for i in (1, 3, 5)}
  # ... unless asked; a retry that works leaves the record.
  (videos[5]).rename(tmp_path / 'videos' / 'f_fixed.mp4')
  fixed = tmp_path / 'videos' / 'f_fixed.mp4'
  recorded['f_fixed.pose'] = recorded.pop('f_bad.pose')
  (out / extract.FAILURES_FILE).write_text(json.dumps(recorded))
  retried = vision.extract_pose_files(
    [fixed, videos[1]], out, workers=1, retry_failed=True, progress=False,
    video_fn=fake_video_to_pose,
  )  # fmt: skip
  assert retried.written == [str(out / 'f_fixed.pose')]
  assert list(retried.failed) == [str(videos[1])]  # the crash again, with one worker
  assert set(vision.read_failures(out)) == {'b_crash.pose', 'd_hang.pose'}


def test_failures_are_recorded_per_shard_and_the_command_line_reports_them(tmp_path, capsys):
  videos = _videos(tmp_path / 'v', ['a_bad.mp4', 'b.mp4', 'c_bad.mp4'])
  out = tmp_path / 'poses'
  for index in range(2):  # in this process (workers=0)
    vision.extract_pose_files(
      videos, out, shard=(index, 2), workers=0, progress=False, video_fn=fake_video_to_pose
    )
  files = sorted(p.name for p in out.glob('extraction_failures*.json'))
  assert files == ['extraction_failures.shard0of2.json']  # a_bad, c_bad are shard 0
  assert set(vision.read_failures(out)) == {'a_bad.pose', 'c_bad.pose'}
  # The command line names the recorded failures and exits 1 (it would run mediapipe
  # only on videos it tries; these are all done or recorded).
  status = extract_poses_cli.main([*map(str, videos), '--out', str(out), '--no-progress'])
  captured = capsys.readouterr()
  assert status == 1 and 'FAILED BEFORE' in captured.err and 'a_bad.mp4' in captured.err
  assert '0 written, 1 already done, 0 failed, 2 failed before' in captured.out
  with pytest.raises(ValueError, match='workers >= 1'):
    vision.extract_pose_files(videos, out, workers=0, timeout=5.0, video_fn=fake_video_to_pose)
