"""CK+ (Lucey et al., CVPRW 2010): the macro-expression source of EMR (the paper's [16], [22]).

The Extended Cohn-Kanade release unpacks to two folders (usually side by
side, sometimes one level down inside the archives' own folders):

    cohn-kanade-images/S005/001/S005_001_00000001.png ... S005_001_00000011.png
    Emotion/S005/001/S005_001_00000011_emotion.txt

Each sequence runs from a neutral face (the first frame, the onset) to the
peak of a posed expression (the last frame, the apex). 327 of the 593
sequences have an emotion file: one number, 1 anger, 2 contempt, 3 disgust,
4 fear, 5 happy, 6 sadness, 7 surprise (0 neutral does not occur). The MEGC
mapping (section III) makes anger, contempt, disgust, fear and sadness
negative, happy positive and surprise surprise (`MEGC_CLASS`). Sequences
without an emotion file are not labelled and are left out.

`load_ckplus` returns one `MEClip` per labelled sequence (database 'CK+',
onset the first frame, apex and offset the last), frames read lazily.
"""

from __future__ import annotations

import os
import re

from vision.megc.data import IMAGE_EXTENSIONS
from vision.megc.data import MEClip

FPS = 30.0  # CK+ is recorded at 30 frames per second
IMAGES = 'cohn-kanade-images'
EMOTIONS = 'Emotion'
# CK+ emotion codes (its README) and their MEGC class (section III).
EMOTION_CODES = {
  1: 'anger',
  2: 'contempt',
  3: 'disgust',
  4: 'fear',
  5: 'happiness',
  6: 'sadness',
  7: 'surprise',
}
MEGC_CLASS = {
  'anger': 'negative',
  'contempt': 'negative',
  'disgust': 'negative',
  'fear': 'negative',
  'sadness': 'negative',
  'happiness': 'positive',
  'surprise': 'surprise',
}
SEARCH_DEPTH = 2  # CK+/extended-cohn-kanade-images/cohn-kanade-images


def _find(root: str, name: str) -> str | None:
  """The folder called `name` at most SEARCH_DEPTH levels below root (root itself included)."""
  level = [root]
  for _ in range(SEARCH_DEPTH + 1):
    hits = [os.path.join(d, name) for d in level if os.path.isdir(os.path.join(d, name))]
    if len(hits) > 1:
      raise ValueError(f'CK+: several {name!r} folders under {root}: {hits}; pass the one to use.')
    if hits:
      return hits[0]
    level = [
      os.path.join(d, e) for d in level for e in sorted(os.listdir(d))
      if os.path.isdir(os.path.join(d, e))
    ]  # fmt: skip
  return None


def _frame_number(path: str) -> int:
  return int(re.findall(r'\d+', os.path.splitext(os.path.basename(path))[0])[-1])


def read_emotion(path: str) -> str:
  """The emotion name of a CK+ emotion file ('   3.0000000e+00' -> 'disgust')."""
  with open(path) as f:
    text = f.read().strip()
  try:
    value = float(text)
  except ValueError:
    raise ValueError(f'CK+ emotion file {path} does not hold a number: {text[:40]!r}.') from None
  if value != int(value) or int(value) not in EMOTION_CODES:
    raise ValueError(f'CK+ emotion file {path}: code {text!r} is not one of 1..7.')
  return EMOTION_CODES[int(value)]


def load_ckplus(root: str) -> list[MEClip]:
  """The labelled CK+ sequences as clips (module doc).

  Args:
    root: the folder holding `cohn-kanade-images/` and `Emotion/` (or up to
      2 levels above them).

  Returns:
    MEClips (database 'CK+', subject 'S005', name 'S005_001', emotion e.g.
    'disgust'; onset 0, apex = offset = the last frame), in subject and
    sequence order.

  Raises:
    FileNotFoundError: root, or either folder under it, is missing.
    ValueError: a labelled sequence has no frames or an unreadable label.
  """
  if not os.path.isdir(root):
    raise FileNotFoundError(f'CK+: {root} is not a folder.')
  images, emotions = _find(root, IMAGES), _find(root, EMOTIONS)
  missing = [n for n, p in ((IMAGES, images), (EMOTIONS, emotions)) if p is None]
  if missing:
    raise FileNotFoundError(
      f'CK+: no {" or ".join(repr(m) for m in missing)} folder under {root} (searched '
      f'{SEARCH_DEPTH} levels down); CK+ unpacks to cohn-kanade-images/S005/001/*.png and '
      'Emotion/S005/001/*_emotion.txt.'
    )
  clips = []
  for subject in sorted(os.listdir(emotions)):
    sdir = os.path.join(emotions, subject)
    if not os.path.isdir(sdir):
      continue
    for seq in sorted(os.listdir(sdir)):
      labels = [
        f for f in sorted(os.listdir(os.path.join(sdir, seq))) if f.endswith('_emotion.txt')
      ]
      if not labels:
        continue  # an unlabelled sequence
      emotion = read_emotion(os.path.join(sdir, seq, labels[0]))
      fdir = os.path.join(images, subject, seq)
      if not os.path.isdir(fdir):
        raise ValueError(f'CK+ {subject}/{seq}: labelled, but {fdir} does not exist.')
      files = [
        os.path.join(fdir, f) for f in os.listdir(fdir)
        if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith('.')
      ]  # fmt: skip
      if len(files) < 2:
        raise ValueError(
          f'CK+ {subject}/{seq}: {len(files)} frames in {fdir}, need onset and peak.'
        )
      files = tuple(sorted(files, key=_frame_number))
      last = len(files) - 1
      clips.append(MEClip('CK+', subject, f'{subject}_{seq}', emotion, files, 0, last, last, FPS))
  if not clips:
    raise ValueError(f'CK+: no labelled sequence under {emotions}.')
  return clips
