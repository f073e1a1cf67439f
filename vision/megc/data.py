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

The releases unpack with extra levels, which the loaders look through
(`find_clip_root`: up to 3 levels below the folder given, for the folder of
the subject folders): `CASME2/CASME2_RAW_selected/sub01`,
`CASME2-RAW/CASME2-RAW/sub01` or `CASME2/Cropped/sub01` with
`CASME2-coding-20140508.xlsx` at any level between; `SAMM/SAMM/006` or
`SAMM/SAMM_CROP/006` with `SAMM_Micro_FACS_Codes_v2.xlsx` (or
`SAMM_20181215_Micro_FACS_Codes_v2.xlsx`) beside the inner folder;
`SMIC/SMIC_all_cropped/HS/s1` or `SMIC_all_raw/HS/s1` (NIR and VIS passed
over). Two candidate folders (raw and cropped side by side) are an error
asking for the one to use. `load_databases` reads the databases asked for
under a data root or from folders given one by one, and a database asked for
and not found is an error naming what was searched.

Spreadsheets (.xlsx) are read with pandas and openpyxl. Emotions are checked
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
DATABASES = ('SMIC', 'CASME II', 'SAMM')
# The subject folders that mark a database's clip folder (`find_clip_root`).
SUBJECT_FOLDERS = {'CASME II': r'sub\d+', 'SAMM': r'\d+', 'SMIC': r's\d+'}
EXAMPLE_SUBJECT = {'CASME II': 'sub01', 'SAMM': '006', 'SMIC': 's1'}
# Names of the coding spreadsheets in the releases (CASME2-coding-20140508.xlsx,
# SAMM_Micro_FACS_Codes_v2.xlsx, SAMM_20181215_Micro_FACS_Codes_v2.xlsx).
SHEET_NAMES = {'CASME II': r'coding', 'SAMM': r'facs_codes'}
SEARCH_DEPTH = 3  # SMIC/SMIC_all_raw/SMIC_all_raw/HS: 3 levels below the top folder


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


def _find_sheet(database: str, top: str, root: str, coding: str | None) -> str:
  """The coding spreadsheet: `coding`, or the one found between `top` and `root`.

  The releases keep it beside the clip folders or up to the database's top
  folder (`CASME2-RAW/CASME2-coding-20140508.xlsx` over
  `CASME2-RAW/CASME2-RAW/sub01`), so every folder from `top` down to `root`,
  and `root`'s parent, is searched. Several spreadsheets are narrowed to the
  names the releases use (`SHEET_NAMES`).
  """
  if coding is not None:
    return coding
  top, root = os.path.abspath(top), os.path.abspath(root)
  folders = [top]
  rel = os.path.relpath(root, top)
  if rel != '.' and not rel.startswith('..'):
    for part in rel.split(os.sep):
      folders.append(os.path.join(folders[-1], part))
  if os.path.dirname(root) not in folders:
    folders.append(os.path.dirname(root))
  found = sorted(
    os.path.join(d, f)
    for d in folders
    for f in (os.listdir(d) if os.path.isdir(d) else [])
    if f.lower().endswith('.xlsx') and not f.startswith(('~$', '.'))
  )
  named = [f for f in found if re.search(SHEET_NAMES[database], os.path.basename(f), re.I)]
  chosen = named if len(named) == 1 else found
  if len(chosen) != 1:
    raise ValueError(
      f'{database}: pass the coding spreadsheet explicitly; found {len(found)} candidates '
      f'({len(named)} named like {SHEET_NAMES[database]!r}) in {folders}: {found}.'
    )
  return chosen[0]


def _is_clip_root(database: str, folder: str) -> bool:
  """Whether `folder` holds the database's subject folders (`SUBJECT_FOLDERS`)."""
  if database == 'SMIC' and os.path.basename(os.path.normpath(folder)).upper() in ('NIR', 'VIS'):
    return False  # SMIC's other cameras; the composite database uses HS
  try:
    names = os.listdir(folder)
  except OSError:
    return False
  return any(
    re.fullmatch(SUBJECT_FOLDERS[database], n, re.I) and os.path.isdir(os.path.join(folder, n))
    for n in names
  )


def find_folders(folder: str, is_match, depth: int) -> tuple[list[str], list[str]]:
  """Folders at or up to `depth` levels below `folder` for which `is_match(path)` holds.

  Breadth first, in sorted order, skipping hidden folders and not looking
  inside a match. Returns (matches, every folder searched).
  """
  found, level, searched = [], [folder], []
  for _ in range(depth + 1):
    below = []
    for d in level:
      searched.append(d)
      if is_match(d):
        found.append(d)
        continue
      below += sorted(
        os.path.join(d, n)
        for n in os.listdir(d)
        if not n.startswith('.') and os.path.isdir(os.path.join(d, n))
      )
    level = below
  return found, searched


def find_clip_root(database: str, folder: str, depth: int = SEARCH_DEPTH) -> str:
  """The folder of a database's subject folders, at or below `folder`.

  The public releases unpack with extra levels (module doc): this looks
  `depth` levels down, breadth first, for folders holding subject folders
  (`sub01` for CASME II, `006` for SAMM, `s1` for SMIC, where NIR and VIS are
  passed over for HS) and does not look inside the ones it finds.

  Args:
    database: 'CASME II', 'SAMM' or 'SMIC'.
    folder: where to look (the database's top folder, or the clip folder itself).
    depth: levels below `folder` to look at.

  Returns:
    The one such folder.

  Raises:
    ValueError: `folder` does not exist, none is found or several are (the
      message names what was searched and found).
  """
  if database not in SUBJECT_FOLDERS:
    raise ValueError(f'unknown database {database!r}; expected one of {tuple(SUBJECT_FOLDERS)}.')
  if not os.path.isdir(folder):
    raise ValueError(f'{database}: folder {folder} does not exist.')
  found, _ = find_folders(folder, lambda d: _is_clip_root(database, d), depth)
  if len(found) != 1:
    what = 'no folder' if not found else f'{len(found)} folders'
    raise ValueError(
      f'{database}: {what} holding subject folders like {EXAMPLE_SUBJECT[database]!r} in {folder} '
      f'or up to {depth} levels below it{": " + str(found) if found else ""}; pass the clip '
      'folder explicitly.'
    )
  return found[0]


# ------------------------------------------------------------------ loaders


def _load_coded(database: str, root: str, coding, columns, subject_folder) -> list[MEClip]:
  """Clips of a database with a coding spreadsheet (CASME II, SAMM).

  Args:
    database: 'CASME II' or 'SAMM'.
    root: the database's folder: the folder of the subject folders or one
      up to `SEARCH_DEPTH` levels above it (`find_clip_root`).
    coding: the spreadsheet, or None to look for it (`_find_sheet`).
    columns: the sheet's (subject, filename, onset, apex, offset, emotion) column names.
    subject_folder: subject id in the sheet (an int) -> its folder name.
  """
  if coding is not None:  # a spreadsheet given is checked before the folders are searched
    sheet = _read_sheet(coding, columns)
  top, root = root, find_clip_root(database, root)
  if coding is None:
    sheet = _read_sheet(_find_sheet(database, top, root, coding), columns)
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
    root: the folder holding `sub01/`, `sub02/`, ..., or one up to 3 levels
      above it as the releases unpack (`CASME2/CASME2_RAW_selected`,
      `CASME2-RAW/CASME2-RAW`; `find_clip_root`).
    coding: the coding .xlsx (default: the one found from `root` down to the
      subject folders' folder and its parent, preferring a name with
      'coding').

  Returns:
    One MEClip per spreadsheet row, in its order (all emotions, including
    'others'; `evaluation.megc.composite_database` leaves those out).
  """
  columns = ('Subject', 'Filename', 'OnsetFrame', 'ApexFrame', 'OffsetFrame', 'Estimated Emotion')
  return _load_coded('CASME II', root, coding, columns, lambda s: f'sub{s:02d}')


def load_samm(root: str, coding: str | None = None) -> list[MEClip]:
  """SAMM clips (layout in the module doc).

  Args:
    root: the folder holding `006/`, `007/`, ..., or one up to 3 levels
      above it (`SAMM/SAMM`, `SAMM/SAMM_CROP`; `find_clip_root`).
    coding: the coding .xlsx (default: the one found from `root` down to the
      subject folders' folder and its parent, preferring a name with
      'FACS_Codes').

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
    root: the folder holding `s1/`, `s2/`, ... (SMIC's `HS` folder), or one
      up to 3 levels above it (`SMIC_all_cropped`, `SMIC/SMIC_all_raw`; NIR
      and VIS are passed over; `find_clip_root`).

  Returns:
    One MEClip per clip folder, subjects and clips in sorted order; onset is
    the first frame, offset the last, apex None.
  """
  if not os.path.isdir(root):
    raise ValueError(f'SMIC: folder {root} does not exist.')
  if not any(re.fullmatch(r's\d+', d.lower()) for d in os.listdir(root)):
    root = find_clip_root('SMIC', root)
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


def _top_folders(root: str, database: str) -> list[str]:
  """Folders of `root` named like the database (`CASME2*`, `CASME_II*`, `SAMM*`, `SMIC*`)."""
  out = []
  for d in sorted(os.listdir(root)):
    key = re.sub(r'[^a-z0-9]', '', d.lower())
    if not os.path.isdir(os.path.join(root, d)) or d.startswith('.'):
      continue
    if database == 'CASME II':
      hit = key.startswith(('casme2', 'casmeii')) and '(' not in d  # not CAS(ME)^2
    else:
      hit = key.startswith(database.lower())
    if hit:
      out.append(os.path.join(root, d))
  return out


def locate_databases(
  root: str | None = None,
  databases: Sequence[str] = DATABASES,
  folders: dict | None = None,
) -> dict[str, str]:
  """The clip folder of every database asked for (`find_clip_root`).

  Args:
    root: a folder holding the databases as unpacked: folders named like
      `CASME2`, `CASME_II`, `CASME2-RAW`, `SAMM`, `SMIC`, `SMIC_all_cropped`
      (case and separators ignored), each with its clip folder up to 3
      levels below (module doc). None: every database needs a folder in
      `folders`.
    databases: the databases asked for ('SMIC', 'CASME II', 'SAMM').
    folders: {database: folder} given explicitly (the clip folder or one
      above it); these are not looked for under `root`.

  Returns:
    {database: clip folder} for every database of `databases`.

  Raises:
    ValueError: an unknown database, a folder given for a database not asked
      for, or a database asked for and not found: one message names every
      missing database and what was searched.
  """
  folders = dict(folders or {})
  for db in (*databases, *folders):
    if db not in DATABASES:
      raise ValueError(f'unknown database {db!r}; expected one of {DATABASES}.')
  extra = sorted(set(folders) - set(databases))
  if extra:
    raise ValueError(
      f'folders given for {extra}, which are not among the databases asked for {tuple(databases)}.'
    )
  if root is not None and not os.path.isdir(root):
    raise ValueError(f'data root {root} does not exist.')
  found, missing = {}, []
  for db in databases:
    if db in folders:
      try:
        found[db] = find_clip_root(db, folders[db])
      except ValueError as e:
        missing.append(f'{e} (the folder given for {db})')
      continue
    if root is None:
      missing.append(f'{db}: no folder given and no data root to look in.')
      continue
    tops = _top_folders(root, db)
    roots, errors = [], []
    for top in tops:
      try:
        roots.append(find_clip_root(db, top))
      except ValueError as e:
        errors.append(str(e))
    if len(roots) == 1:
      found[db] = roots[0]
    elif roots:
      missing.append(
        f'{db}: several clip folders under {root}: {roots}; pass the one to use explicitly.'
      )
    elif not tops:
      missing.append(
        f'{db}: {root} has no folder named like {DATABASE_FOLDER_NAMES[db]}; pass its folder explicitly.'
      )
    else:
      missing.append('; '.join(errors))
  if missing:
    raise ValueError(
      f'databases asked for and not found ({len(missing)} of {len(databases)}):\n- '
      + '\n- '.join(missing)
    )
  return found


DATABASE_FOLDER_NAMES = {
  'CASME II': 'CASME2, CASME_II, CASME2-RAW, CASME2_RAW_selected',
  'SAMM': 'SAMM, SAMM_CROP',
  'SMIC': 'SMIC, SMIC_all_cropped, SMIC_all_raw',
}


def load_databases(
  root: str | None = None,
  databases: Sequence[str] = DATABASES,
  *,
  folders: dict | None = None,
  codings: dict | None = None,
) -> list[MEClip]:
  """The clips of every database asked for, found under `root` or given explicitly.

  Args:
    root: a folder holding the databases as unpacked (`locate_databases`), or None.
    databases: the databases asked for; each must be found (default all three).
    folders: {database: folder} given explicitly (`locate_databases`).
    codings: {'CASME II' or 'SAMM': spreadsheet} given explicitly (default:
      found beside the clip folders, `load_casme2`, `load_samm`).

  Returns:
    The clips of `databases`, in the order of `databases`.

  Raises:
    ValueError: a database asked for and not found (naming what was
      searched), a spreadsheet given for SMIC (it has none) or for a database
      not asked for, or any loader's error.
  """
  codings = dict(codings or {})
  bad = sorted(set(codings) - ({'CASME II', 'SAMM'} & set(databases)))
  if bad:
    raise ValueError(
      f'coding spreadsheets given for {bad}; only CASME II and SAMM have one, and only '
      f'databases asked for ({tuple(databases)}) are read.'
    )
  where = locate_databases(root, databases, folders)
  folders = dict(folders or {})
  clips = []
  for db in databases:
    # The search for the spreadsheet starts at the folder as given (or as found).
    top = folders.get(db) or next(
      t for t in _top_folders(root, db) if os.path.commonpath([t, where[db]]) == t
    )
    if db == 'CASME II':
      clips += load_casme2(top, codings.get(db))
    elif db == 'SAMM':
      clips += load_samm(top, codings.get(db))
    else:
      clips += load_smic(where[db])
  return clips
