"""Without the [pose] extra (mediapipe absent) the library imports and runs.

Each check runs in a fresh interpreter whose import system refuses
`mediapipe`, as on a `pip install bodysignals-fewshot` without extras.
"""

import subprocess
import sys
import textwrap

BLOCK = textwrap.dedent(
  """
  import sys
  import importlib.abc

  class _NoMediapipe(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
      if name == 'mediapipe' or name.startswith('mediapipe.'):
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
      return None

  sys.meta_path.insert(0, _NoMediapipe())
  """
)


def _run(code: str) -> subprocess.CompletedProcess:
  return subprocess.run(
    [sys.executable, '-c', BLOCK + textwrap.dedent(code)],
    capture_output=True,
    text=True,
    timeout=300,
  )


def test_packages_import_and_sampen_pipeline_runs_without_mediapipe():
  out = _run(
    """
    import numpy as np
    import signals, fewshot, evaluation, vision
    import experiments.semg_fewshot, experiments.sign_recognition, experiments.megc_recognition
    assert 'mediapipe' not in sys.modules
    x = np.random.default_rng(0).standard_normal((3, 2, 8000)).astype(np.float32)
    feats = np.asarray(signals.semg_features(x))
    assert feats.shape == (3, 2, 61) and np.isfinite(feats).all(), feats.shape
    frames = np.asarray(signals.frame(x[:1], size=128, hop=32))
    se = np.asarray(signals.sampen(frames, 2, 0.25))
    assert se.shape == (1, 2, 247)
    assert 'mediapipe' not in sys.modules
    print('ok')
    """
  )
  assert out.returncode == 0, out.stderr[-3000:]
  assert out.stdout.strip().endswith('ok')


CALLS = {
  'vision.video_to_pose(path)': 'Holistic pose extraction',
  'vision.extract_pose_files([path], out)': 'Holistic pose extraction',
  'vision.megc.faces.face_landmarks(np.zeros((2, 32, 32, 3), np.uint8))': 'Landmark face alignment',
}


def test_mediapipe_functions_name_the_extra(tmp_path):
  # One interpreter for all calls (starting one costs seconds); each call's outcome on its line.
  video = tmp_path / 'v.mp4'
  video.write_bytes(b'')
  tries = ''.join(
    f"""
    try:
      {call}
      print({i}, 'NO ERROR')
    except ImportError as e:
      print({i}, 'IMPORTERROR', str(e).replace(chr(10), ' '))
    """
    for i, call in enumerate(CALLS)
  )
  out = _run(
    f"""
    import numpy as np
    import vision, vision.megc.faces
    path, out = {str(video)!r}, {str(tmp_path / 'poses')!r}
    """
    + tries
  )
  assert out.returncode == 0, out.stderr[-3000:]
  lines = dict(line.split(' ', 1) for line in out.stdout.strip().splitlines())
  for i, (call, purpose) in enumerate(CALLS.items()):
    said = lines.get(str(i), '')
    assert said.startswith('IMPORTERROR'), (call, out.stdout)
    assert purpose in said and '[pose]' in said and 'pip install' in said, (call, said)
