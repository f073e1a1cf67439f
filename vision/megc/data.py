"""Micro-expression clips: the record type and loaders for CASME II, SAMM and SMIC-HS.

The three databases of the MEGC 2019 composite set (section III, Table III)
are licensed and are read here as they are distributed:

* CASME II (Yan et al., 200 fps): `<root>/sub01/EP02_01f/img46.jpg ...`, one
  folder per subject, one per clip, and the coding spreadsheet
  (`CASME2-coding-*.xlsx`: Subject, Filename, OnsetFrame, ApexFrame,
  OffsetFrame, Estimated Emotion). Frame numbers are those in `img<n>.jpg`.
* SAMM (Davison et al., 200 fps, grey): `<root>/006/006_1_2/006_05562.jpg ...`
  and its spreadsheet (`SAMM_Micro_FACS_Codes_v2.xlsx`: some title lines, then
  Subject, Filename, Onset Frame, Apex Frame, Offset Frame, ..., Estimated
  Emotion). Frame numbers are the number after the last underscore.
* SMIC-HS (Li et al., 100 fps): `<root>/s1/micro/negative/s1_ne_01/image0654.bmp`
  (class folders; the `micro` level may be absent). Clips are cut from onset
  to offset and have no apex annotation: the apex is taken as the middle
  frame, following Zhou et al. [18] as the paper notes (`apex_index`).

Spreadsheets are read with pandas and openpyxl. Emotions are checked
against `evaluation.megc` (which maps them to the three MEGC classes); a
missing folder, a clip without frames, an onset after its offset, a frame
number that is not in the folder, or an unknown emotion raise ValueError
naming the clip. Frames are read lazily (`clip_frames`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import NamedTuple

import cv2
import numpy as np

from evaluation import checks
from evaluation import megc as megc_eval

FPS = {'CASME II': 200.0, 'SAMM': 200.0, 'SMIC': 100.0}
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.bmp', '.png')
SMIC_CLASSES = ('negative', 'positive', 'surprise')


class MEClip(NamedTuple):
  """One micro-expression clip.

  Attributes:
    database: 'SMIC', 'CASME II' or 'SAMM' (or a synthetic database's name).
    subject: subject id within the database.
    name: clip name (folder name, e.g. 'EP02_01f').
    emotion: the database's emotion label.
    frames: [T, H, W, 3] uint8 BGR frames, or a tuple of T image paths.
    onset: index of the onset frame in `frames`.
    apex: index of the apex frame, or None where it is not annotated (SMIC).
    offset: index of the offset frame (inclusive).
    fps: frame rate.
  """

  database: str
  subject: str
  name: str
  emotion: str
  frames: object
  onset: int
  apex: int | None
  offset: int
  fps: float


def apex_index(clip: MEClip) -> int:
  """The apex frame, or the middle of onset and offset where none is annotated.

  Zhou et al. [18] take the mid-position frame as the apex (section III-C and
  observation 2 of III-D); SMIC has no apex annotation.
  """
  return clip.apex if clip.apex is not None else (clip.onset + clip.offset) // 2


def clip_frames(clip: MEClip, indices=None) -> np.ndarray:
  """Frames of a clip as [n, H, W, 3] uint8 BGR (all, or those at `indices`)."""
  n = len(clip.frames)
  idx = np.arange(n) if indices is None else np.asarray(indices, int).ravel()
  if idx.size and (idx.min() < -n or idx.max() >= n):
    raise ValueError(
      f'{clip.database} {clip.name}: frame indices {idx.tolist()} outside 0..{n - 1}.'
    )
  if isinstance(clip.frames, np.ndarray):
    return clip.frames[idx]
  out = []
  for i in idx:
    img = cv2.imread(clip.frames[i], cv2.IMREAD_COLOR)
    if img is None:
      raise ValueError(f'{clip.database} {clip.name}: cannot read frame {clip.frames[i]}.')
    out.append(img)
  return np.stack(out)


# ------------------------------------------------------------------ helpers


def _frame_number(path: str) -> int:
  nums = re.findall(r'\d+', os.path.splitext(os.path.basename(path))[0])
  if not nums:
    raise ValueError(f'frame file {path} has no frame number in its name.')
  return int(nums[-1])


def frame_files(folder: str, what: str) -> list[str]:
  """Image files of a clip folder, sorted by the frame number in their names.

  Raises:
    ValueError: the folder is missing or holds no image (naming `what`).
  """
  if not os.path.isdir(folder):
    raise ValueError(f'{what}: folder {folder} does not exist.')
  files = [
    os.path.join(folder, f)
    for f in os.listdir(folder)
    if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith('.')
  ]
  if not files:
    raise ValueError(f'{what}: folder {folder} holds no frames ({", ".join(IMAGE_EXTENSIONS)}).')
  return sorted(files, key=_frame_number)


def _as_frame_number(value, what: str, field: str, optional: bool = False):
  try:
    f = float(str(value).strip())
  except ValueError:
    f = np.nan
  if not np.isfinite(f) or f != int(f):
    if optional:
      return None
    raise ValueError(f'{what}: {field} {value!r} is not a frame number.')
  return int(f)


def _clip(database, subject, name, emotion, files, onset_no, apex_no, offset_no) -> MEClip:
  """Validates one annotated clip and turns frame numbers into indices."""
  what = f'{database} {subject}/{name}'
  try:
    megc_eval.map_emotions([emotion], database)
  except ValueError as e:
    raise ValueError(f'{what}: {e}') from None
  if onset_no > offset_no:
    raise ValueError(f'{what}: onset frame {onset_no} is after offset frame {offset_no}.')
  numbers = {_frame_number(f): i for i, f in enumerate(files)}
  idx = []
  for field, no in (('onset', onset_no), ('apex', apex_no), ('offset', offset_no)):
    if no is None:
      idx.append(None)
    elif no not in numbers:
      raise ValueError(
        f'{what}: {field} frame {no} is not among its frames '
        f'({min(numbers)}..{max(numbers)}, {len(numbers)} files).'
      )
    else:
      idx.append(numbers[no])
  onset, apex, offset = idx
  if apex is not None and not onset <= apex <= offset:
    raise ValueError(f'{what}: apex frame {apex_no} is outside onset..offset.')
  return MEClip(
    database, str(subject), str(name), str(emotion).strip(), tuple(files), onset, apex, offset,
    FPS[database],
  )  # fmt: skip


def _column_key(name) -> str:
  """'Onset Frame', 'OnsetFrame', 'onset_frame' -> 'onsetframe'."""
  return re.sub(r'[^a-z]', '', str(name).lower())


def _read_sheet(path: str, required: Sequence[str]):
  """A coding spreadsheet as a DataFrame, its header row found by name."""
  import pandas as pd  # only the loaders need it

  if not os.path.isfile(path):
    raise ValueError(f'coding spreadsheet {path} does not exist.')
  with checks.reading(path, 'Excel spreadsheet'):
    raw = pd.read_excel(path, header=None, dtype=str, engine='openpyxl')
  want = [_column_key(c) for c in required]
  for row in range(min(len(raw), 30)):  # SAMM puts title lines above the header
    names = [_column_key(c) for c in raw.iloc[row]]
    if all(w in names for w in want):
      table = raw.iloc[row + 1 :].copy()
      table.columns = names
      return table.dropna(how='all')
  raise ValueError(f'{path}: no header row with the columns {list(required)}.')


def _find_sheet(root: str, coding: str | None, what: str) -> str:
  if coding is not None:
    return coding
  found = sorted(
    os.path.join(d, f)
    for d in (root, os.path.dirname(os.path.abspath(root)))
    for f in (os.listdir(d) if os.path.isdir(d) else [])
    if f.lower().endswith(('.xlsx', '.xls')) and not f.startswith('~$')
  )
  if len(found) != 1:
    raise ValueError(
      f'{what}: pass the coding spreadsheet explicitly; found {len(found)} candidates '
      f'in {root} and its parent: {found}.'
    )
  return found[0]


# ------------------------------------------------------------------ loaders


def _load_coded(database: str, root: str, coding, columns, subject_folder) -> list[MEClip]:
  """Clips of a database with a coding spreadsheet (CASME II, SAMM).

  Args:
    database: 'CASME II' or 'SAMM'.
    root: the folder of the subject folders.
    coding: the spreadsheet, or None to look for it.
    columns: the sheet's (subject, filename, onset, apex, offset, emotion) column names.
    subject_folder: subject id in the sheet (an int) -> its folder name.
  """
  sheet = _read_sheet(_find_sheet(root, coding, database), columns)
  subject_col, file_col, onset_col, apex_col, offset_col, emotion_col = map(_column_key, columns)
  clips = []
  for _, r in sheet.iterrows():
    subject = subject_folder(int(float(r[subject_col])))
    name = str(r[file_col]).strip()
    what = f'{database} {subject}/{name}'
    files = frame_files(os.path.join(root, subject, name), what)
    clips.append(
      _clip(
        database,
        subject,
        name,
        r[emotion_col],
        files,
        _as_frame_number(r[onset_col], what, 'onset'),
        _as_frame_number(r[apex_col], what, 'apex', optional=True),
        _as_frame_number(r[offset_col], what, 'offset'),
      )
    )
  return clips


def load_casme2(root: str, coding: str | None = None) -> list[MEClip]:
  """CASME II clips (layout in the module doc).

  Args:
    root: the folder holding `sub01/`, `sub02/`, ...
    coding: the coding .xlsx (default: the only spreadsheet in `root` or its
      parent).

  Returns:
    One MEClip per spreadsheet row, in its order (all emotions, including
    'others'; `evaluation.megc.composite_database` leaves those out).
  """
  columns = ('Subject', 'Filename', 'OnsetFrame', 'ApexFrame', 'OffsetFrame', 'Estimated Emotion')
  return _load_coded('CASME II', root, coding, columns, lambda s: f'sub{s:02d}')


def load_samm(root: str, coding: str | None = None) -> list[MEClip]:
  """SAMM clips (layout in the module doc).

  Args:
    root: the folder holding `006/`, `007/`, ...
    coding: the coding .xlsx (default: the only spreadsheet in `root` or its
      parent).

  Returns:
    One MEClip per spreadsheet row, in its order.
  """
  columns = (
    'Subject',
    'Filename',
    'Onset Frame',
    'Apex Frame',
    'Offset Frame',
    'Estimated Emotion',
  )
  return _load_coded('SAMM', root, coding, columns, lambda s: f'{s:03d}')


def load_smic(root: str) -> list[MEClip]:
  """SMIC-HS clips from class folders (layout in the module doc).

  Args:
    root: the folder holding `s1/`, `s2/`, ... (SMIC's `HS` folder).

  Returns:
    One MEClip per clip folder, subjects and clips in sorted order; onset is
    the first frame, offset the last, apex None.
  """
  if not os.path.isdir(root):
    raise ValueError(f'SMIC: folder {root} does not exist.')
  subjects = sorted(d for d in os.listdir(root) if re.fullmatch(r's\d+', d.lower()))
  if not subjects:
    raise ValueError(f'SMIC: {root} has no subject folders s1, s2, ...')
  clips = []
  for s in subjects:
    base = os.path.join(root, s)
    if os.path.isdir(os.path.join(base, 'micro')):
      base = os.path.join(base, 'micro')
    for emotion in sorted(os.listdir(base)):
      folder = os.path.join(base, emotion)
      if not os.path.isdir(folder):
        continue
      if emotion.lower() not in SMIC_CLASSES:
        raise ValueError(f'SMIC {s}: unknown emotion folder {emotion!r}; expected {SMIC_CLASSES}.')
      for name in sorted(os.listdir(folder)):
        if not os.path.isdir(os.path.join(folder, name)):
          continue
        files = frame_files(os.path.join(folder, name), f'SMIC {s}/{name}')
        first, last = _frame_number(files[0]), _frame_number(files[-1])
        clips.append(_clip('SMIC', s, name, emotion.lower(), files, first, None, last))
  if not clips:
    raise ValueError(f'SMIC: no clip folders under {root}.')
  return clips


def load_databases(root: str) -> list[MEClip]:
  """All of CASME II, SAMM and SMIC-HS found under `root`.

  Looks for the folders `CASME2` (or `CASME_II`, `CASME II`), `SAMM` and
  `SMIC` (or `SMIC/HS`), case-insensitively; each database's spreadsheet sits
  in its folder or beside it.

  Returns:
    The clips of every database found.

  Raises:
    ValueError: none of the three folders exists.
  """
  if not os.path.isdir(root):
    raise ValueError(f'data root {root} does not exist.')
  entries = {re.sub(r'[^a-z0-9]', '', d.lower()): os.path.join(root, d) for d in os.listdir(root)}
  clips = []
  if 'casme2' in entries or 'casmeii' in entries:
    clips += load_casme2(entries.get('casme2') or entries['casmeii'])
  if 'samm' in entries:
    clips += load_samm(entries['samm'])
  if 'smic' in entries:
    smic = entries['smic']
    hs = os.path.join(smic, 'HS')
    clips += load_smic(hs if os.path.isdir(hs) else smic)
  if not clips:
    raise ValueError(f'{root} holds none of the folders CASME2, SAMM, SMIC.')
  return clips
