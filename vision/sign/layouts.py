"""The pose layouts read from `.pose` files: MediaPipe Holistic and OpenPose (BODY_25 + hands, BODY_135).

Each layout is the points kept of one pose system (face dropped, as the paper
drops Holistic's face mesh), in a fixed order, with the facts the features
need: the shoulders pose-format normalises by, pose-format's limbs among the
kept points, the left/right permutation of a horizontal flip, and which
points are the upper body (Team 1's input, section 3.1).

* `HOLISTIC` (75 points, x y z): POSE_LANDMARKS 33, LEFT_HAND_LANDMARKS 21,
  RIGHT_HAND_LANDMARKS 21 (section 3.2).
* `OPENPOSE` (67 points, x y): what pose-format's `load_openpose_directory`
  makes of OpenPose JSON frames: `pose_keypoints_2d` (BODY_25),
  `hand_left_keypoints_2d` 21, `hand_right_keypoints_2d` 21
  (`face_keypoints_2d` dropped).
* `OPENPOSE_135` (65 points, x y): AUTSL's OpenPose poses as
  sign-language-datasets provides them (config 'openpose', header
  `openpose_135.poseheader`: one component `BODY_135` of 135 points,
  pose-format's `utils.openpose_135`): its body 25 and hands 20 + 20 (the
  hands' base is the body's wrist); the 70 face points dropped.

Point and limb names are pose-format's (`pose_format.utils.openpose`,
`openpose_135`, MediaPipe's for Holistic), written out so that importing
`vision` stays light; tests check every list against pose-format's headers.
A layout is recognised from a pose's components (`layout_of_components`) or
from the number of points of an array (`layout_of`: 75, 67, 65).
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = [
  'HOLISTIC',
  'LAYOUTS',
  'OPENPOSE',
  'OPENPOSE_135',
  'PoseLayout',
  'layout_of',
  'layout_of_components',
]


@dataclasses.dataclass(frozen=True)
class PoseLayout:
  """One pose system's kept points and the facts the features use (hashable: a static jit argument).

  Attributes:
    name: 'holistic', 'openpose' or 'openpose_135'.
    components: ((component name, (point names kept, in order)), ...) as in
      the `.pose` header.
    limbs: ((start, end), ...) indices into the kept points: pose-format's
      limbs among them, in its header order (`PoseRepresentation`).
    right_shoulder, left_shoulder: the points pose-format normalises by
      (`pose_format.utils.generic.pose_shoulders`).
    flip: output point i of a mirrored pose takes point flip[i] (left and
      right exchanged).
    upper_body: one bool per point: above the hips (head, arms, hands).
    dims: coordinates kept per point (3: x y z; 2: x y).
    hands: ((start, stop) of the left hand, (start, stop) of the right).
  """

  name: str
  components: tuple
  limbs: tuple
  right_shoulder: int
  left_shoulder: int
  flip: tuple
  upper_body: tuple
  dims: int
  hands: tuple

  @property
  def points(self) -> tuple:
    """The kept points as (component, point) names."""
    return tuple((c, p) for c, names in self.components for p in names)

  @property
  def num_points(self) -> int:
    return sum(len(names) for _, names in self.components)

  @property
  def limb_array(self) -> np.ndarray:
    """[L, 2] int32 limb ends."""
    return np.array(self.limbs, np.int32).reshape(-1, 2)


def _swap_side(name: str) -> str:
  """LEFT_X <-> RIGHT_X (MediaPipe), LShoulder <-> RShoulder (OpenPose); other names unchanged."""
  if 'LEFT' in name or 'RIGHT' in name:
    return name.replace('LEFT', '\0').replace('RIGHT', 'LEFT').replace('\0', 'RIGHT')
  if len(name) > 1 and name[0] in 'LR' and name[1].isupper():
    return {'L': 'R', 'R': 'L'}[name[0]] + name[1:]
  return name


def _make(name, components, limb_names, shoulders, lower_body, dims, hand_components):
  """A `PoseLayout` from names: limbs as ((component, point), (component, point)) pairs."""
  points = [(c, p) for c, names in components for p in names]
  index = {p: i for i, p in enumerate(points)}
  limbs = tuple((index[a], index[b]) for a, b in limb_names if a in index and b in index)
  swapped = {}
  for c, p in points:
    other_c = hand_components.get(c, c)
    swapped[(c, p)] = index[(other_c, _swap_side(p) if other_c == c else p)]
  flip = tuple(swapped[p] for p in points)
  upper = tuple(p not in lower_body for _, p in points)
  hands = []
  for side in ('left', 'right'):
    members = [i for i, (c, p) in enumerate(points) if _hand_side(c, p) == side]
    hands.append((min(members), max(members) + 1))
  return PoseLayout(
    name=name,
    components=tuple((c, tuple(names)) for c, names in components),
    limbs=limbs,
    right_shoulder=index[shoulders[0]],
    left_shoulder=index[shoulders[1]],
    flip=flip,
    upper_body=upper,
    dims=dims,
    hands=tuple(hands),
  )


def _hand_side(component: str, point: str):
  lower = component.lower()
  if 'hand' in lower:
    return 'left' if 'left' in lower else 'right'
  if component == 'BODY_135' and point[1:2] and point[0] in 'LR':
    finger = point[1:]
    if finger.startswith(('Thumb', 'Index', 'Middle', 'Ring', 'Pinky')):
      return 'left' if point[0] == 'L' else 'right'
  return None


# ------------------------------------------------------------------ Holistic

# MediaPipe's PoseLandmark names in index order (pose-format's POSE_LANDMARKS points).
HOLISTIC_BODY = (
  'NOSE', 'LEFT_EYE_INNER', 'LEFT_EYE', 'LEFT_EYE_OUTER', 'RIGHT_EYE_INNER', 'RIGHT_EYE',
  'RIGHT_EYE_OUTER', 'LEFT_EAR', 'RIGHT_EAR', 'MOUTH_LEFT', 'MOUTH_RIGHT', 'LEFT_SHOULDER',
  'RIGHT_SHOULDER', 'LEFT_ELBOW', 'RIGHT_ELBOW', 'LEFT_WRIST', 'RIGHT_WRIST', 'LEFT_PINKY',
  'RIGHT_PINKY', 'LEFT_INDEX', 'RIGHT_INDEX', 'LEFT_THUMB', 'RIGHT_THUMB', 'LEFT_HIP', 'RIGHT_HIP',
  'LEFT_KNEE', 'RIGHT_KNEE', 'LEFT_ANKLE', 'RIGHT_ANKLE', 'LEFT_HEEL', 'RIGHT_HEEL',
  'LEFT_FOOT_INDEX', 'RIGHT_FOOT_INDEX',
)  # fmt: skip
# MediaPipe's HandLandmark names (pose-format's hand components).
HOLISTIC_HAND = (
  'WRIST', 'THUMB_CMC', 'THUMB_MCP', 'THUMB_IP', 'THUMB_TIP', 'INDEX_FINGER_MCP',
  'INDEX_FINGER_PIP', 'INDEX_FINGER_DIP', 'INDEX_FINGER_TIP', 'MIDDLE_FINGER_MCP',
  'MIDDLE_FINGER_PIP', 'MIDDLE_FINGER_DIP', 'MIDDLE_FINGER_TIP', 'RING_FINGER_MCP',
  'RING_FINGER_PIP', 'RING_FINGER_DIP', 'RING_FINGER_TIP', 'PINKY_MCP', 'PINKY_PIP', 'PINKY_DIP',
  'PINKY_TIP',
)  # fmt: skip
# pose-format's limbs of POSE_LANDMARKS (MediaPipe POSE_CONNECTIONS, 35) and of
# each hand (HAND_CONNECTIONS, 21), in the order its header stores them.
HOLISTIC_BODY_LIMBS = (
  (15, 21), (16, 20), (18, 20), (3, 7), (14, 16), (23, 25), (28, 30), (11, 23), (27, 31),
  (6, 8), (15, 17), (24, 26), (16, 22), (4, 5), (5, 6), (29, 31), (12, 24), (23, 24),
  (0, 1), (9, 10), (1, 2), (0, 4), (11, 13), (30, 32), (28, 32), (15, 19), (16, 18),
  (25, 27), (26, 28), (12, 14), (17, 19), (2, 3), (11, 12), (27, 29), (13, 15),
)  # fmt: skip
HOLISTIC_HAND_LIMBS = (
  (3, 4), (0, 5), (17, 18), (0, 17), (13, 14), (13, 17), (18, 19), (5, 6), (5, 9), (14, 15),
  (0, 1), (9, 10), (1, 2), (9, 13), (10, 11), (19, 20), (6, 7), (15, 16), (2, 3), (11, 12),
  (7, 8),
)  # fmt: skip

_H = ('POSE_LANDMARKS', 'LEFT_HAND_LANDMARKS', 'RIGHT_HAND_LANDMARKS')
HOLISTIC = _make(
  'holistic',
  [(_H[0], HOLISTIC_BODY), (_H[1], HOLISTIC_HAND), (_H[2], HOLISTIC_HAND)],
  [((_H[0], HOLISTIC_BODY[a]), (_H[0], HOLISTIC_BODY[b])) for a, b in HOLISTIC_BODY_LIMBS]
  + [
    ((c, HOLISTIC_HAND[a]), (c, HOLISTIC_HAND[b])) for c in _H[1:] for a, b in HOLISTIC_HAND_LIMBS
  ],
  ((_H[0], 'RIGHT_SHOULDER'), (_H[0], 'LEFT_SHOULDER')),
  set(HOLISTIC_BODY[23:]),
  3,
  {_H[1]: _H[2], _H[2]: _H[1]},
)

# ------------------------------------------------------------ OpenPose BODY_25

OPENPOSE_BODY = (
  'Nose', 'Neck', 'RShoulder', 'RElbow', 'RWrist', 'LShoulder', 'LElbow', 'LWrist', 'MidHip',
  'RHip', 'RKnee', 'RAnkle', 'LHip', 'LKnee', 'LAnkle', 'REye', 'LEye', 'REar', 'LEar', 'LBigToe',
  'LSmallToe', 'LHeel', 'RBigToe', 'RSmallToe', 'RHeel',
)  # fmt: skip
OPENPOSE_BODY_LIMBS = (
  ('Neck', 'RShoulder'), ('RShoulder', 'RElbow'), ('RElbow', 'RWrist'), ('Neck', 'LShoulder'),
  ('LShoulder', 'LElbow'), ('LElbow', 'LWrist'), ('Neck', 'MidHip'), ('Nose', 'LEye'),
  ('Nose', 'REye'), ('Nose', 'LEar'), ('Nose', 'REar'), ('Neck', 'Nose'), ('MidHip', 'RHip'),
  ('RHip', 'RKnee'), ('RKnee', 'RAnkle'), ('MidHip', 'LHip'), ('LHip', 'LKnee'),
  ('LKnee', 'LAnkle'), ('RAnkle', 'RHeel'), ('RAnkle', 'RBigToe'), ('RBigToe', 'RSmallToe'),
  ('LAnkle', 'LHeel'), ('LAnkle', 'LBigToe'), ('LBigToe', 'LSmallToe'),
)  # fmt: skip
OPENPOSE_HAND = (
  'BASE', 'T_STT', 'T_BCMC', 'T_MCP', 'T_IP', 'I_CMC', 'I_MCP', 'I_PIP', 'I_DIP', 'M_CMC', 'M_MCP',
  'M_PIP', 'M_DIP', 'R_CMC', 'R_MCP', 'R_PIP', 'R_DIP', 'P_CMC', 'P_MCP', 'P_PIP', 'P_DIP',
)  # fmt: skip
OPENPOSE_HAND_LIMBS = (
  ('BASE', 'T_STT'), ('BASE', 'I_CMC'), ('BASE', 'M_CMC'), ('BASE', 'R_CMC'), ('BASE', 'P_CMC'),
  ('T_STT', 'T_BCMC'), ('T_BCMC', 'T_MCP'), ('T_MCP', 'T_IP'), ('I_CMC', 'I_MCP'),
  ('I_MCP', 'I_PIP'), ('I_PIP', 'I_DIP'), ('M_CMC', 'M_MCP'), ('M_MCP', 'M_PIP'),
  ('M_PIP', 'M_DIP'), ('R_CMC', 'R_MCP'), ('R_MCP', 'R_PIP'), ('R_PIP', 'R_DIP'),
  ('P_CMC', 'P_MCP'), ('P_MCP', 'P_PIP'), ('P_PIP', 'P_DIP'),
)  # fmt: skip
_LOWER_25 = {
  'MidHip', 'RHip', 'RKnee', 'RAnkle', 'LHip', 'LKnee', 'LAnkle', 'LBigToe', 'LSmallToe',
  'LHeel', 'RBigToe', 'RSmallToe', 'RHeel',
}  # fmt: skip

_O = ('pose_keypoints_2d', 'hand_left_keypoints_2d', 'hand_right_keypoints_2d')
OPENPOSE = _make(
  'openpose',
  [(_O[0], OPENPOSE_BODY), (_O[1], OPENPOSE_HAND), (_O[2], OPENPOSE_HAND)],
  [((_O[0], a), (_O[0], b)) for a, b in OPENPOSE_BODY_LIMBS]
  + [((c, a), (c, b)) for c in _O[1:] for a, b in OPENPOSE_HAND_LIMBS],
  ((_O[0], 'RShoulder'), (_O[0], 'LShoulder')),
  _LOWER_25,
  2,
  {_O[1]: _O[2], _O[2]: _O[1]},
)

# ----------------------------------------------------------- OpenPose BODY_135

OPENPOSE_135_BODY = (
  'Nose', 'LEye', 'REye', 'LEar', 'REar', 'LShoulder', 'RShoulder', 'LElbow', 'RElbow', 'LWrist',
  'RWrist', 'LHip', 'RHip', 'LKnee', 'RKnee', 'LAnkle', 'RAnkle', 'UpperNeck', 'HeadTop',
  'LBigToe', 'LSmallToe', 'LHeel', 'RBigToe', 'RSmallToe', 'RHeel',
)  # fmt: skip
_FINGERS = tuple(
  f'{finger}{part}'
  for finger, parts in (
    ('Thumb', ('1CMC', '2Knuckles', '3IP', '4FingerTip')),
    ('Index', ('1Knuckles', '2PIP', '3DIP', '4FingerTip')),
    ('Middle', ('1Knuckles', '2PIP', '3DIP', '4FingerTip')),
    ('Ring', ('1Knuckles', '2PIP', '3DIP', '4FingerTip')),
    ('Pinky', ('1Knuckles', '2PIP', '3DIP', '4FingerTip')),
  )
  for part in parts
)
OPENPOSE_135_BODY_LIMBS = (
  ('RShoulder', 'LShoulder'), ('RShoulder', 'RElbow'), ('RElbow', 'RWrist'),
  ('LShoulder', 'LElbow'), ('LElbow', 'LWrist'), ('Nose', 'LEye'), ('Nose', 'REye'),
  ('Nose', 'LEar'), ('Nose', 'REar'), ('RHip', 'LHip'), ('RHip', 'RShoulder'),
  ('LHip', 'LShoulder'), ('RHip', 'RKnee'), ('RKnee', 'RAnkle'), ('LHip', 'LKnee'),
  ('LKnee', 'LAnkle'), ('RAnkle', 'RHeel'), ('RAnkle', 'RBigToe'), ('RBigToe', 'RSmallToe'),
  ('LAnkle', 'LHeel'), ('LAnkle', 'LBigToe'), ('LBigToe', 'LSmallToe'),
)  # fmt: skip
# pose-format's ABSTRACT_HAND_LIMBS: the wrist to each finger's first joint, then along each
# finger; its BODY_135 limbs list each of these for the left, then the right hand.
_HAND_135_LIMBS = tuple(('Wrist', _FINGERS[4 * i]) for i in range(5)) + tuple(
  (_FINGERS[4 * i + j], _FINGERS[4 * i + j + 1]) for i in range(5) for j in range(3)
)
_LOWER_135 = {
  'LHip', 'RHip', 'LKnee', 'RKnee', 'LAnkle', 'RAnkle', 'LBigToe', 'LSmallToe', 'LHeel',
  'RBigToe', 'RSmallToe', 'RHeel',
}  # fmt: skip
OPENPOSE_135_KEPT = (
  OPENPOSE_135_BODY + tuple('L' + f for f in _FINGERS) + tuple('R' + f for f in _FINGERS)
)


_B = 'BODY_135'
OPENPOSE_135 = _make(
  'openpose_135',
  [(_B, OPENPOSE_135_KEPT)],
  [
    ((_B, a), (_B, b))
    for a, b in OPENPOSE_135_BODY_LIMBS
    + tuple((side + a, side + b) for a, b in _HAND_135_LIMBS for side in 'LR')
  ],
  ((_B, 'RShoulder'), (_B, 'LShoulder')),
  _LOWER_135,
  2,
  {},
)

LAYOUTS = {layout.name: layout for layout in (HOLISTIC, OPENPOSE, OPENPOSE_135)}


def layout_of(num_points: int) -> PoseLayout:
  """The layout of arrays with `num_points` points (75 Holistic, 67 OpenPose, 65 BODY_135)."""
  for layout in LAYOUTS.values():
    if layout.num_points == num_points:
      return layout
  sizes = {n: layout.num_points for n, layout in LAYOUTS.items()}
  raise ValueError(f'{num_points} points is no known pose layout (points per layout: {sizes}).')


def layout_of_components(names) -> PoseLayout | None:
  """The layout whose components a `.pose` header holds (component names), or None."""
  names = set(names)
  for layout in LAYOUTS.values():
    if {c for c, _ in layout.components} <= names:
      return layout
  return None
