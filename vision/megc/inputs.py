"""Network and baseline inputs of the recognition methods of Table IV.

All four submissions use the apex frame (section III-C, after Liong et al.
[20]); the networks learn from the optical flow between the onset and the
apex frame, where the apex is the annotated one or, without annotation (SMIC),
the middle frame (Zhou et al. [18]; `data.apex_index`):

* STSTNet [17]: [28, 28, 3] = (u, v, optical strain).
* OFF-ApexNet [26] and Dual-Inception [18]: [28, 28, 2] = (u, v).

Steps per clip: face crop of the onset and apex frames from one box (or
landmark alignment, `faces.face_clip`) at `face_size`, TV-L1 flow between
them (`flow.optical_flow_pairs`, many clips in a process pool), strain of the
full-resolution flow, area-averaged down to 28 x 28, then each channel
min-max scaled to [0, 1] per clip: the STSTNet authors train on such
normalised images (their released inputs, `norm_u_v_os`), and it takes out
the clip-to-clip differences in face size and motion amplitude.

LBP-TOP [25] (the hand-crafted baseline): the face crops of every frame from
onset to offset, grey, described by `lbp.lbp_top`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import cv2
import numpy as np
from tqdm.auto import tqdm

from evaluation import checks
from vision.megc import faces
from vision.megc import flow as flow_lib
from vision.megc import lbp as lbp_lib
from vision.megc.data import MEClip
from vision.megc.data import apex_index
from vision.megc.data import clip_frames

INPUT_SIZE = 28  # STSTNet and OFF-ApexNet inputs are 28 x 28


class RecognitionInputs(NamedTuple):
  """Onset-to-apex inputs of N clips.

  ststnet: [N, 28, 28, 3] float32 (u, v, strain), each channel in [0, 1].
  offapex: [N, 28, 28, 2] float32 (u, v), each channel in [0, 1] (also the
    Dual-Inception input).
  apex: [N] int apex frame index used per clip.
  flows: [N, S, S, 2] float32 onset-to-apex flows at face resolution (the
    Bi-WOOF input, `vision.biwoof_features`), or None.
  """

  ststnet: np.ndarray
  offapex: np.ndarray
  apex: np.ndarray
  flows: np.ndarray | None = None


class OnsetApexFaces(NamedTuple):
  """Grey face crops of the onset and apex frame of N clips, at one side S.

  onset, apex: [N, S, S] uint8; index: [N] int the apex frame used per clip
  (`data.apex_index`).
  """

  onset: np.ndarray
  apex: np.ndarray
  index: np.ndarray


def onset_apex_faces(
  clips: Sequence[MEClip], face_size: int = 112, align: str = 'box', progress: bool = False
) -> OnsetApexFaces:
  """Grey face crops of the onset and apex frame of every clip (`OnsetApexFaces`)."""
  return onset_apex_crops(clips, (face_size,), align, progress)[face_size]


def onset_apex_crops(
  clips: Sequence[MEClip], sizes: Sequence[int], align: str = 'box', progress: bool = False
) -> dict[int, OnsetApexFaces]:
  """`onset_apex_faces` at every side in `sizes`, each clip's face found once.

  The flow inputs, EMR and CapsuleNet all crop a clip's onset and apex
  frames with the same box (`faces.face_clip` of the two frames) at their
  own sides: computed here, the frames are read, aligned and searched for a
  face once per clip. `crops[s]` equals `onset_apex_faces(clips, s, align)`
  exactly; pass it as those functions' `faces`.

  Returns:
    {side: OnsetApexFaces} for every side in `sizes`.
  """
  if not len(clips):
    raise ValueError('no clips given.')
  sizes = sorted({checks.check_int('face size', s, low=2) for s in sizes})
  if not sizes:
    raise ValueError('no face sizes given.')
  crops = {s: ([], []) for s in sizes}
  idx = []
  for clip in tqdm(clips, desc='faces', unit='clip', disable=not progress):
    a = apex_index(clip)
    pairs = faces.face_clips(
      clip_frames(clip, [clip.onset, a]), sizes, align, name=f'{clip.database} {clip.name}'
    )
    for s, pair in zip(sizes, pairs):
      for out, f in zip(crops[s], pair):
        out.append(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY))
    idx.append(a)
  return {
    s: OnsetApexFaces(np.stack(o), np.stack(p), np.asarray(idx)) for s, (o, p) in crops.items()
  }


def clip_faces(clips, size: int, align: str, progress: bool, faces, name: str) -> OnsetApexFaces:
  """`faces` checked against the clips at side `size`, or computed (`onset_apex_faces`) when None.

  Raises:
    ValueError: given faces of other shapes, naming `name` and the mismatch.
  """
  if faces is None:
    return onset_apex_faces(clips, size, align, progress)
  n = len(clips)
  onset, apex, index = (np.asarray(a) for a in faces)
  want = (n, size, size)
  if onset.shape != want or apex.shape != want or index.shape != (n,):
    raise ValueError(
      f'{name}: faces must be onset and apex crops [{n}, {size}, {size}] and [{n}] apex '
      f'indices for the {n} clips at face size {size}; got {onset.shape}, {apex.shape} and '
      f'{index.shape} (`onset_apex_crops`).'
    )
  return OnsetApexFaces(onset, apex, index)


def _minmax(x: np.ndarray) -> np.ndarray:
  """Per clip and channel min-max scaling of [N, H, W, C] to [0, 1]."""
  lo = x.min(axis=(1, 2), keepdims=True)
  span = x.max(axis=(1, 2), keepdims=True) - lo
  return np.where(span > 0, (x - lo) / np.where(span > 0, span, 1), 0.0).astype(np.float32)


def flow_features(flows, size: int = INPUT_SIZE, normalize: bool = True) -> tuple:
  """STSTNet and OFF-ApexNet inputs from onset-to-apex flows.

  Args:
    flows: [N, H, W, 2] float32 flows at face resolution.
    size: output side (28).
    normalize: min-max scale each channel of each clip to [0, 1].

  Returns:
    (ststnet [N, size, size, 3], offapex [N, size, size, 2]) float32.
  """
  flows = checks.check_array('flows', flows, ndim=4, kind='float')
  if flows.shape[-1] != 2:
    raise ValueError(f'flows must be [N, H, W, 2], got {flows.shape}.')
  strain = np.asarray(flow_lib.optical_strain(flows))  # (N, H, W)
  full = np.concatenate([np.asarray(flows, np.float32), strain[..., None]], axis=-1)
  small = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in full])
  small = _minmax(small) if normalize else small.astype(np.float32)
  return small, small[..., :2]


def recognition_inputs(
  clips: Sequence[MEClip],
  face_size: int = 112,
  method: str = 'tvl1',
  align: str = 'box',
  workers: int | None = None,
  progress: bool = True,
  faces: OnsetApexFaces | None = None,
) -> RecognitionInputs:
  """Onset-to-apex network inputs of every clip (module doc).

  Args:
    clips: the clips.
    face_size: side of the face crops the flow is computed on.
    method: 'tvl1' or 'farneback'.
    align: 'box' or 'landmarks' (`faces.face_clip`).
    workers: flow processes (default: all CPUs).
    progress: progress bars.
    faces: the clips' onset and apex crops at `face_size`, already computed
      (`onset_apex_crops`), or None to compute them.

  Returns:
    RecognitionInputs.
  """
  onset, apex, idx = clip_faces(clips, face_size, align, progress, faces, 'recognition_inputs')
  flows = flow_lib.optical_flow_pairs(onset, apex, method, workers, progress)
  ststnet, offapex = flow_features(flows)
  return RecognitionInputs(ststnet, offapex, idx, flows)


def apex_inputs(
  clips: Sequence[MEClip],
  size: int = 224,
  align: str = 'box',
  progress: bool = False,
  faces: OnsetApexFaces | None = None,
) -> np.ndarray:
  """CapsuleNet's input [19]: the grey apex face of every clip, [N, size, size, 1] float32 in [0, 1].

  The face box is fixed from the onset and apex frames as for the flow
  inputs (`onset_apex_faces`), the crop resized to `size` (224 in the
  paper's setting); the apex is the annotated one or the middle frame.
  `faces`: the crops at `size` already computed (`onset_apex_crops`), or None.
  """
  size = checks.check_int('size', size)
  apex = clip_faces(clips, size, align, progress, faces, 'apex_inputs').apex
  return (apex[..., None] / np.float32(255)).astype(np.float32)


def lbp_top_features(
  clips: Sequence[MEClip],
  face_size: int = 64,
  grid: tuple[int, int] = (5, 5),
  points: int = 8,
  radii: tuple[float, float, float] = (1.0, 1.0, 2.0),
  progress: bool = True,
) -> np.ndarray:
  """LBP-TOP descriptors of every clip, onset to offset (Zhao and Pietikainen [25]).

  Args:
    clips: the clips.
    face_size: side of the grey face crops.
    grid: spatial blocks (5 x 5 as in the CASME II baseline).
    points: P per plane.
    radii: (R_x, R_y, R_t).
    progress: progress bar.

  Returns:
    [N, 3 * blocks * bins] float64 (59 bins for P = 8, 'nri_uniform').
  """
  if not len(clips):
    raise ValueError('no clips given.')
  feats = []
  for clip in tqdm(clips, desc='LBP-TOP', unit='clip', disable=not progress):
    name = f'{clip.database} {clip.name}'
    frames = clip_frames(clip, np.arange(clip.onset, clip.offset + 1))
    if len(frames) <= 2 * int(np.ceil(radii[2])):
      raise ValueError(f'{name}: {len(frames)} frames from onset to offset, too few for LBP-TOP.')
    grey = np.stack(
      [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in faces.face_clip(frames, face_size, name=name)]
    )
    feats.append(lbp_lib.lbp_top(grey, grid, points, radii))
  return np.stack(feats)
