"""Face detection, alignment and crops of a clip's frames (MEGC 2019 preprocessing).

Micro-expressions move the face by a pixel or two, so the face must sit at
the same place in every frame of a clip; otherwise head motion reads as
expression. Two ways, both with detectors bundled in the installed wheels
(nothing is downloaded):

* 'box' (default): OpenCV's frontal-face Haar cascade (Viola-Jones) on a
  sample of frames; the median box, enlarged by a margin and made square,
  is fixed over the whole clip. Right for the databases' short clips of a
  still head (CASME II, SAMM and SMIC are recorded with the head still).
* 'landmarks': MediaPipe's face mesh (468 landmarks) on every frame; a
  similarity transform (rotation, scale, translation) fitted to the rigid
  landmarks (eye corners, nose bridge and tip, not brows or mouth, which move
  with the expression) maps each frame onto the first, then the fixed box
  is cut. Removes head motion; MediaPipe is imported only when asked for.

Boxes are (x, y, w, h) in pixels, x to the right, y down.
"""

from __future__ import annotations

import os
import threading

import cv2
import numpy as np

from evaluation import checks
from vision import optional

ALIGNMENTS = ('box', 'landmarks')
_CASCADES = ('haarcascade_frontalface_default.xml', 'haarcascade_frontalface_alt2.xml')
# Face-mesh indices of points that do not move with facial expressions:
# outer and inner eye corners, nose bridge, nose tip and the sides of the nose.
_RIGID_LANDMARKS = (33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 98, 327)


_local = threading.local()  # each thread's cascades: one classifier object is not thread-safe


def _cascade(name: str) -> cv2.CascadeClassifier:
  """This thread's Haar cascade `name` (loaded once per thread: two threads detecting
  with one `CascadeClassifier` at once found other boxes, measured)."""
  loaded = _local.__dict__.setdefault('cascades', {})
  if name not in loaded:
    path = os.path.join(cv2.data.haarcascades, name)
    c = cv2.CascadeClassifier(path)
    if c.empty():
      raise FileNotFoundError(f'OpenCV Haar cascade {path} could not be loaded.')
    loaded[name] = c
  return loaded[name]


def _grey(frame, name: str = 'frame') -> np.ndarray:
  """uint8 grey [H, W] or BGR [H, W, 3] -> uint8 grey [H, W] (faces and flow check frames here)."""
  frame = np.asarray(checks.check_array(name, frame, finite=False))
  if (
    frame.dtype != np.uint8 or frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] != 3)
  ):
    raise ValueError(
      f'{name} must be a uint8 grey [H, W] or BGR [H, W, 3] image, got {frame.dtype} {frame.shape}.'
    )
  return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def detect_face(frame, min_size: int = 40) -> np.ndarray | None:
  """The largest frontal face in a frame, or None.

  Tries OpenCV's default frontal-face cascade, then the 'alt2' cascade
  (which finds some faces turned slightly aside that the default misses).

  Args:
    frame: [H, W] uint8 grey or [H, W, 3] uint8 BGR.
    min_size: smallest face side in pixels.

  Returns:
    [4] int (x, y, w, h), or None if no face was found.
  """
  grey = _grey(frame)
  for name in _CASCADES:
    boxes = _cascade(name).detectMultiScale(grey, 1.1, 5, minSize=(min_size, min_size))
    if len(boxes):
      boxes = np.asarray(boxes)
      return boxes[np.argmax(boxes[:, 2] * boxes[:, 3])].astype(int)
  return None


def square_box(box, margin: float, shape) -> np.ndarray:
  """Square box around `box`, `margin` times larger on each side, inside the image.

  Args:
    box: (x, y, w, h).
    margin: fraction of the side added on every side (0.1 -> 1.2x the side).
    shape: the image shape (H, W, ...).

  Returns:
    [4] int (x, y, s, s) with the square shrunk (about its centre) to fit.
  """
  x, y, w, h = (float(v) for v in box)
  side = max(w, h) * (1 + 2 * margin)
  height, width = shape[:2]
  side = min(side, height, width)
  cx, cy = x + w / 2, y + h / 2
  x0 = int(round(np.clip(cx - side / 2, 0, width - side)))
  y0 = int(round(np.clip(cy - side / 2, 0, height - side)))
  s = int(round(side))
  return np.array([x0, y0, s, s])


def clip_face_box(frames, margin: float = 0.1, samples: int = 5, name: str = 'clip') -> np.ndarray:
  """One face box fixed over a clip: the median of detections on a few frames.

  Args:
    frames: [T, H, W, 3] uint8 BGR (or [T, H, W] grey).
    margin: see `square_box`.
    samples: number of evenly spaced frames to run the detector on.
    name: the clip's name, for the error message.

  Returns:
    [4] int square (x, y, s, s).

  Raises:
    ValueError: no face in any sampled frame (naming the clip).
  """
  frames = np.asarray(frames)
  if frames.ndim not in (3, 4) or frames.shape[0] == 0:
    raise ValueError(f'{name}: frames must be [T, H, W(, 3)] with T >= 1, got {frames.shape}.')
  idx = np.unique(np.linspace(0, len(frames) - 1, min(samples, len(frames))).round().astype(int))
  boxes = [b for b in (detect_face(frames[i]) for i in idx) if b is not None]
  if not boxes:
    raise ValueError(f'{name}: no face found in frames {idx.tolist()}.')
  return square_box(np.median(np.stack(boxes), axis=0), margin, frames.shape[1:])


def crop(frames, box, size: int) -> np.ndarray:
  """Cuts `box` out of every frame and resizes it to size x size (area averaging).

  Args:
    frames: [T, H, W(, 3)] uint8.
    box: (x, y, w, h) inside the frames.
    size: output side in pixels.

  Returns:
    [T, size, size(, 3)] uint8.
  """
  size = checks.check_int('size', size, low=2)
  frames = np.asarray(frames)
  x, y, w, h = (int(v) for v in box)
  if w < 1 or h < 1 or x < 0 or y < 0 or y + h > frames.shape[1] or x + w > frames.shape[2]:
    raise ValueError(f'box {tuple(box)} is not inside frames of shape {frames.shape[1:3]}.')
  return np.stack(
    [
      cv2.resize(f[y : y + h, x : x + w], (size, size), interpolation=cv2.INTER_AREA)
      for f in frames
    ]
  )


def face_landmarks(frames, name: str = 'clip') -> np.ndarray:
  """MediaPipe face-mesh landmarks of every frame (video mode: tracked).

  Args:
    frames: [T, H, W, 3] uint8 BGR.
    name: the clip's name, for the error message.

  Returns:
    [T, 468, 2] float64 (x, y) in pixels.

  Raises:
    ValueError: a frame without a face (naming the clip and frame).
  """
  mp = optional.import_mediapipe("Landmark face alignment (align='landmarks')")

  frames = np.asarray(frames)
  if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
    raise ValueError(f'{name}: frames must be [T, H, W, 3] uint8 BGR, got {frames.shape}.')
  h, w = frames.shape[1:3]
  out = np.empty((len(frames), 468, 2))
  with mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1) as mesh:
    for t, f in enumerate(frames):
      res = mesh.process(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
      if not res.multi_face_landmarks:
        raise ValueError(f'{name}: MediaPipe found no face in frame {t}.')
      lm = res.multi_face_landmarks[0].landmark
      out[t] = [(p.x * w, p.y * h) for p in lm[:468]]
  return out


def align_to_first(frames, landmarks) -> np.ndarray:
  """Warps every frame onto the first by a similarity fitted to rigid landmarks.

  Args:
    frames: [T, H, W(, 3)] uint8.
    landmarks: [T, 468, 2] face-mesh landmarks of the frames.

  Returns:
    [T, H, W(, 3)] uint8, frame 0 unchanged.
  """
  frames = np.asarray(frames)
  ref = landmarks[0, list(_RIGID_LANDMARKS)].astype(np.float32)
  h, w = frames.shape[1:3]
  out = [frames[0]]
  for f, lm in zip(frames[1:], landmarks[1:]):
    pts = lm[list(_RIGID_LANDMARKS)].astype(np.float32)
    m, _ = cv2.estimateAffinePartial2D(pts, ref, method=cv2.LMEDS)
    if m is None:  # degenerate fit: keep the frame as it is
      m = np.eye(2, 3, dtype=np.float64)
    out.append(
      cv2.warpAffine(f, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    )
  return np.stack(out)


def face_clip(
  frames, size: int, align: str = 'box', margin: float = 0.1, name: str = 'clip'
) -> np.ndarray:
  """Face crops of a clip, registered so that head motion does not read as expression.

  Args:
    frames: [T, H, W, 3] uint8 BGR.
    size: output side in pixels.
    align: 'box' (a fixed Haar box) or 'landmarks' (MediaPipe similarity
      alignment onto the first frame, then the fixed box); module doc.
    margin: box margin, see `square_box`.
    name: the clip's name, for error messages.

  Returns:
    [T, size, size, 3] uint8 BGR.
  """
  return face_clips(frames, (size,), align, margin, name)[0]


def face_clips(
  frames, sizes, align: str = 'box', margin: float = 0.1, name: str = 'clip'
) -> list[np.ndarray]:
  """`face_clip` at every side in `sizes`, from one alignment and one face box.

  Returns:
    [len(sizes)] of [T, size, size, 3] uint8 BGR, each equal to
    `face_clip(frames, size, align, margin, name)`.
  """
  checks.check_choice('align', align, ALIGNMENTS)
  frames = np.asarray(frames)
  if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
    raise ValueError(f'{name}: frames must be [T >= 1, H, W, 3] uint8 BGR, got {frames.shape}.')
  if align == 'landmarks':
    frames = align_to_first(frames, face_landmarks(frames, name))
  box = clip_face_box(frames, margin, name=name)
  return [crop(frames, box, size) for size in sizes]
