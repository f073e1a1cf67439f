"""OpenPose `.pose` fixtures made from real Holistic clips (spoken-to-signed's lexicon), through pose-format's loaders.

A Holistic clip's body and hand landmarks are written out as OpenPose JSON
frames (`{name}_{frame:012d}_keypoints.json`, one person), which pose-format
then reads as OpenPose does:

* BODY_25 + hands: `load_openpose_directory` (components pose_keypoints_2d,
  face_keypoints_2d, hand_left_keypoints_2d, hand_right_keypoints_2d).
* BODY_135 (AUTSL's OpenPose poses of sign-language-datasets):
  `load_openpose_135_directory`, whose JSON holds all 135 keypoints in
  pose_keypoints_2d.

Mapping: each OpenPose body point takes the Holistic body landmark of the same
name (big toe = FOOT_INDEX; Neck and MidHip the midpoints of the shoulders
and hips, where both are present); points Holistic has no landmark for
(small toes, BODY_135's UpperNeck and HeadTop, the face) are missing
(confidence 0). OpenPose's 21 hand points are MediaPipe's 21 in the same
order (BODY_135's hands omit the wrist, the body's). Confidence is
Holistic's where present, 0 where missing.
"""

import json

import numpy as np

import vision
from vision.sign import layouts

H_BODY = layouts.HOLISTIC_BODY
# OpenPose point -> Holistic POSE_LANDMARKS name (or a pair whose midpoint it is).
_BODY = {
  'Nose': 'NOSE',
  'Neck': ('LEFT_SHOULDER', 'RIGHT_SHOULDER'),
  'MidHip': ('LEFT_HIP', 'RIGHT_HIP'),
  'UpperNeck': None,
  'HeadTop': None,
  'LSmallToe': None,
  'RSmallToe': None,
}
for side, word in (('L', 'LEFT'), ('R', 'RIGHT')):
  for part in ('Shoulder', 'Elbow', 'Wrist', 'Hip', 'Knee', 'Ankle', 'Eye', 'Ear', 'Heel'):
    _BODY[side + part] = f'{word}_{part.upper()}'
  _BODY[side + 'BigToe'] = f'{word}_FOOT_INDEX'


def _holistic(path):
  pose = vision.read_pose(path)
  arrays = vision.pose_to_arrays(pose)
  conf = np.zeros(arrays.mask.shape, np.float32)
  names = [c.name for c in pose.header.components]
  start, starts = 0, {}
  for c in pose.header.components:
    starts[c.name] = start
    start += len(c.points)
  idx = np.concatenate([
    starts[c] + np.arange(len(p)) for c, p in layouts.HOLISTIC.components if c in names
  ])  # fmt: skip
  conf = np.asarray(pose.body.confidence)[:, 0][:, idx].astype(np.float32)
  return arrays, np.where(arrays.mask, conf, 0)


def _body_point(arrays, conf, name):
  """[T, 3] x, y, confidence of OpenPose body point `name`."""
  source = _BODY[name]
  t = arrays.points.shape[0]
  if source is None:
    return np.zeros((t, 3), np.float32)
  if isinstance(source, tuple):
    a, b = (H_BODY.index(s) for s in source)
    ok = arrays.mask[:, a] & arrays.mask[:, b]
    xy = (arrays.points[:, a, :2] + arrays.points[:, b, :2]) / 2
    c = np.minimum(conf[:, a], conf[:, b])
    return np.where(ok[:, None], np.concatenate([xy, c[:, None]], 1), 0).astype(np.float32)
  i = H_BODY.index(source)
  return np.concatenate([arrays.points[:, i, :2], conf[:, i, None]], 1).astype(np.float32)


def _hand(arrays, conf, side):
  start = 33 if side == 'left' else 54
  xy = arrays.points[:, start : start + 21, :2]
  return np.concatenate([xy, conf[:, start : start + 21, None]], -1).astype(
    np.float32
  )  # [T, 21, 3]


def _write_frames(folder, people_per_frame):
  folder.mkdir(parents=True, exist_ok=True)
  for t, person in enumerate(people_per_frame):
    frame = {'version': 1.3, 'people': [person]}
    (folder / f'clip_{t:012d}_keypoints.json').write_text(json.dumps(frame))
  return folder


def openpose_json(holistic_path, folder, body_135: bool = False):
  """Writes the OpenPose JSON frames of a Holistic clip into `folder`; returns (folder, fps, width, height)."""
  arrays, conf = _holistic(holistic_path)
  t = arrays.points.shape[0]
  left, right = _hand(arrays, conf, 'left'), _hand(arrays, conf, 'right')
  flat = lambda a: [float(v) for v in np.asarray(a).reshape(-1)]
  frames = []
  if body_135:
    body = np.stack([_body_point(arrays, conf, n) for n in layouts.OPENPOSE_135_BODY], 1)
    full = np.concatenate([body, left[:, 1:], right[:, 1:], np.zeros((t, 70, 3))], 1)  # [T, 135, 3]
    for i in range(t):
      frames.append({
        'pose_keypoints_2d': flat(full[i]), 'face_keypoints_2d': [],
        'hand_left_keypoints_2d': [], 'hand_right_keypoints_2d': [],
      })  # fmt: skip
  else:
    body = np.stack([_body_point(arrays, conf, n) for n in layouts.OPENPOSE_BODY], 1)
    for i in range(t):
      frames.append({
        'pose_keypoints_2d': flat(body[i]), 'face_keypoints_2d': flat(np.zeros((70, 3))),
        'hand_left_keypoints_2d': flat(left[i]), 'hand_right_keypoints_2d': flat(right[i]),
      })  # fmt: skip
  return _write_frames(folder, frames), arrays.fps, arrays.width, arrays.height


def openpose_pose_file(holistic_path, out, work, body_135: bool = False):
  """`out`: the OpenPose `.pose` file pose-format makes of the clip's JSON frames (written in `work`)."""
  from pose_format.utils.openpose import load_openpose_directory
  from pose_format.utils.openpose_135 import load_openpose_135_directory

  folder, fps, width, height = openpose_json(holistic_path, work, body_135)
  load = load_openpose_135_directory if body_135 else load_openpose_directory
  pose = load(str(folder), fps=fps, width=width, height=height)
  out.parent.mkdir(parents=True, exist_ok=True)
  with open(out, 'wb') as f:
    pose.write(f)
  return out
