"""The sign experiment's inputs from poses: every pose system's features side by side, and which columns each row uses.

Table 1 (Moryossef et al.) has rows per pose system: OpenPose, Holistic and
OpenPose+Holistic (both per frame, concatenated). `pose_inputs` computes the
features of the Holistic poses and, when given, of the same clips' OpenPose
poses (`combined_batch_data`), and names the columns of each row and of each
Holistic feature set (points, limbs, points+limbs), so that a row is the
full vector with the other columns zeroed.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from vision.sign.features import FEATURE_SETS
from vision.sign.features import combined_batch_data
from vision.sign.features import feature_columns
from vision.sign.features import feature_size
from vision.sign.features import upper_body_columns
from vision.sign.frame_features import load_frame_features
from vision.sign.layouts import layout_of
from vision.sign.presence import dominant_hand_presence

__all__ = ['OPENPOSE_ROWS', 'PoseInputs', 'frame_feature_inputs', 'pose_inputs']

OPENPOSE_ROWS = ('OpenPose', 'OpenPose+Holistic')


class PoseInputs(NamedTuple):
  """Features and column sets of Holistic (and OpenPose) poses.

  Attributes:
    features: {'x': [N, T, F], 'mask': [N, T], 'y': [N], ['x_flip']}: the
      Holistic features (379 columns), then OpenPose's when given.
    columns: {name: [F] bool}: each Holistic feature set ('points', 'limbs',
      'points+limbs') and, with OpenPose, 'OpenPose' and 'OpenPose+Holistic'.
    upper_body: [F] bool, the upper-body coordinate columns of every system.
    presence: [N] the dominant hand's share of frames (Holistic).
  """

  features: dict
  columns: dict
  upper_body: np.ndarray
  presence: np.ndarray


def pose_inputs(poses, labels, openpose=None, flip: bool = True) -> PoseInputs:
  """`PoseInputs` of a Holistic `PoseBatch` and optionally the same clips' OpenPose `PoseBatch`.

  Args:
    poses: Holistic `PoseBatch` [N, T, 75, 3].
    labels: [N] class ids.
    openpose: OpenPose `PoseBatch` [N, T, 67 or 65, 2] of the same clips and
      frames, or None.
    flip: also the mirrored clips' features (`x_flip`).
  """
  batches = [poses] + ([openpose] if openpose is not None else [])
  layouts = [layout_of(b.points.shape[2]) for b in batches]
  if layouts[0].name != 'holistic':
    raise ValueError(f'poses must be Holistic (75 points), got {layouts[0].name}.')
  if openpose is not None and layouts[1].name == 'holistic':
    raise ValueError('openpose must be OpenPose poses (67 or 65 points), got Holistic.')
  dims = [b.points.shape[3] for b in batches]
  sizes = [feature_size(layout=lay, dims=d) for lay, d in zip(layouts, dims)]
  bounds = np.cumsum([0] + sizes)

  def place(cols, i):
    out = np.zeros(bounds[-1], bool)
    out[bounds[i] : bounds[i + 1]] = cols
    return out

  columns = {fs: place(feature_columns(fs), 0) for fs in FEATURE_SETS}
  if openpose is not None:
    columns['OpenPose'] = place(feature_columns('points+limbs', dims[1], layouts[1]), 1)
    columns['OpenPose+Holistic'] = np.ones(bounds[-1], bool)
  return PoseInputs(
    features=combined_batch_data(batches, labels, flip=flip),
    columns=columns,
    upper_body=np.concatenate([upper_body_columns(d, lay) for lay, d in zip(layouts, dims)]),
    presence=np.asarray(dominant_hand_presence(poses.points, poses.mask, poses.lengths)),
  )


def frame_feature_inputs(dirs: dict, samples, max_frames: int | None) -> dict:
  """{name: {'x': [N, T', D], 'mask': [N, T']}} of each folder of per-clip image features.

  Args:
    dirs: {name: folder} (`load_frame_features`: `{sample}.npy` arrays [T, D]).
    samples: N sample names.
    max_frames: subsample and pad every clip to this many steps.
  """
  out = {}
  for name, folder in dirs.items():
    f = load_frame_features(folder, samples, max_frames, pad_to=max_frames)
    out[name] = {'x': f.x, 'mask': f.mask}
  return out
