"""Long videos of the spotting challenge (section II, Table I): CAS(ME)^2 and SAMM Long Videos.

Both databases are licensed; they are read here as they are distributed:

* CAS(ME)^2 (Qu et al., 30 fps, 640 x 480): `rawpic/s15/15_0101disgustingteeth/img1.jpg ...`
  (one folder per subject `s<nn>`, one per long video `<nn>_<code><name>`,
  frames `img<n>.jpg`) and `CAS(ME)^2code_final.xlsx`. Its main sheet has no
  header: participant number, clip name (`disgust1_1`: the stimulus name
  before the underscore), onset, apex, offset, action units, emotion,
  expression type (`micro-expression` / `macro-expression`), self-reported
  emotion. Sheet `naming rule1` maps participants to subject folders
  (folder number, 's<nn>', participant number) and `naming rule2` stimulus
  names to the 4-digit video codes (code, name). An offset of 0 (a few macro-
  expressions) means none was coded: the apex ends the interval.
* SAMM Long Videos (Yap et al., 200 fps, 2040 x 1088, grey):
  `SAMM_longvideos/006_1/006_1_0001.jpg ...` (one folder per long video
  `<subject>_<n>`, frames `<video>_<nnnn>.jpg`) and
  `SAMM_LongVideos_V1_Release.xlsx`: title lines, then a header row with
  Subject, Filename (`006_1_2`: the video and the movement's number), Onset,
  Apex, Offset, ..., Type (`Micro - 1/2` or `Macro`). An apex of -1 means
  none was coded. The MEGC 2019 organisers' cropped SAMM long videos have
  the same per-video layout (`load_samm_long` reads either).

Frame numbers in the sheets are those in the file names; they become
0-based indices into the sorted frames. The releases unpack under extra
levels (`CASME_sq/rawpic`, `SAMMLV/SAMM_longvideos`): `find_long_root`
looks up to `SEARCH_DEPTH` levels down for the `rawpic` / `SAMM_longvideos`
folder, and the spreadsheet is looked for beside it or in the folder given.
A database asked for and not found is an error naming the folders searched
(`locate_long_videos`). Frames are read lazily (`read_long_video`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from collections.abc import Sequence
from typing import NamedTuple

import cv2
import numpy as np

from evaluation import checks
from vision.megc import data as data_lib

FPS = {'CAS(ME)^2': 30.0, 'SAMM': 200.0}
DATABASES = tuple(FPS)
# The folder of the long videos in each release, and its spreadsheet's name.
ROOT_FOLDERS = {'CAS(ME)^2': r'rawpic', 'SAMM': r'samm_long_?videos'}
SHEETS = {'CAS(ME)^2': r'code_?final.*\.xlsx$', 'SAMM': r'longvideos.*\.xlsx$'}
VIDEO_FOLDERS = {'CAS(ME)^2': r's\d+', 'SAMM': r'\d+_\d+'}
SEARCH_DEPTH = 3


class LongVideoRecord(NamedTuple):
  """One annotated long video, its frames on disk.

  micro, macro: [m, 2] int inclusive (onset, offset) frame indices.
  micro_apex, macro_apex: [m] int apex indices (-1: not coded).
  """

  database: str
  subject: str
  name: str
  files: tuple
  fps: float
  micro: np.ndarray
  macro: np.ndarray
  micro_apex: np.ndarray
  macro_apex: np.ndarray


def read_long_video(video: LongVideoRecord, max_side: int | None = None) -> np.ndarray:
  """All frames of a long video as [T, H, W, 3] uint8 BGR, shrunk so the longer side is <= max_side."""
  out = []
  for f in video.files:
    img = cv2.imread(f, cv2.IMREAD_COLOR)
    if img is None:
      raise ValueError(f'{video.database} {video.name}: cannot read frame {f}.')
    if max_side is not None and max(img.shape[:2]) > max_side:
      scale = max_side / max(img.shape[:2])
      img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    out.append(img)
  return np.stack(out)


def _is_root(database: str, folder: str) -> bool:
  name = os.path.basename(os.path.normpath(folder))
  if re.fullmatch(ROOT_FOLDERS[database], name, re.I):
    return True
  try:  # the folder of the video folders itself
    names = os.listdir(folder)
  except OSError:
    return False
  return any(
    re.fullmatch(VIDEO_FOLDERS[database], n) and os.path.isdir(os.path.join(folder, n))
    for n in names
  )


def find_long_root(database: str, folder: str, depth: int = SEARCH_DEPTH) -> str:
  """The `rawpic` (CAS(ME)^2) or `SAMM_longvideos` folder at or below `folder`.

  Raises:
    ValueError: the folder is missing, or holds none or several such folders
      (the message names what was searched).
  """
  checks.check_choice('database', database, DATABASES)
  if not os.path.isdir(folder):
    raise ValueError(f'{database}: folder {folder} does not exist.')
  found, searched = data_lib.find_folders(folder, lambda d: _is_root(database, d), depth)
  if len(found) != 1:
    what = 'no folder' if not found else f'{len(found)} folders'
    raise ValueError(
      f'{database}: {what} like {ROOT_FOLDERS[database]!r} (or holding video folders like '
      f'{VIDEO_FOLDERS[database]!r}) in {folder} or up to {depth} levels below it; searched '
      f'{searched[:20]}{" ..." if len(searched) > 20 else ""}'
      f'{"; found " + str(found) if found else ""}. Pass the folder explicitly.'
    )
  return found[0]


def find_long_sheet(database: str, top: str, root: str) -> str:
  """The annotation spreadsheet: beside `root`, in `root`, or in `top` (one match by name)."""
  folders = list(dict.fromkeys(os.path.abspath(d) for d in (os.path.dirname(root), root, top)))
  found = sorted(
    os.path.join(d, f)
    for d in folders
    for f in os.listdir(d)
    if re.search(SHEETS[database], f, re.I) and not f.startswith(('~$', '.'))
  )
  found = list(dict.fromkeys(found))
  if len(found) != 1:
    raise ValueError(
      f'{database}: {len(found)} spreadsheets named like {SHEETS[database]!r} in {folders}'
      f'{": " + str(found) if found else ""}; pass the spreadsheet explicitly.'
    )
  return found[0]


def _sheets(path: str) -> dict:
  import pandas as pd  # only the loaders need it

  if not os.path.isfile(path):
    raise ValueError(f'annotation spreadsheet {path} does not exist.')
  with checks.reading(path, 'Excel spreadsheet'):
    return pd.read_excel(path, sheet_name=None, header=None, dtype=str, engine='openpyxl')


def _int(value, what: str) -> int:
  try:
    f = float(str(value).strip())
  except ValueError:
    f = np.nan
  if not np.isfinite(f) or f != int(f):
    raise ValueError(f'{what}: {value!r} is not a frame number.')
  return int(f)


def _index(numbers: np.ndarray, no: int, what: str) -> int:
  i = int(np.searchsorted(numbers, no))
  if i >= len(numbers) or numbers[i] != no:
    raise ValueError(
      f'{what}: frame {no} is not among its frames ({numbers[0]}..{numbers[-1]}, '
      f'{len(numbers)} files).'
    )
  return i


def _record(database, subject, name, files, events) -> LongVideoRecord:
  """events: [(kind, onset_no, apex_no or None, offset_no)] frame numbers -> a record of indices."""
  numbers = np.asarray([data_lib._frame_number(f) for f in files])
  spans = {'micro': [], 'macro': []}
  apexes = {'micro': [], 'macro': []}
  for kind, on, apex, off in events:
    what = f'{database} {name} {kind}-expression {on}-{off}'
    if on > off:
      raise ValueError(f'{what}: onset after offset.')
    a, b = _index(numbers, on, what), _index(numbers, off, what)
    spans[kind].append((a, b))
    apexes[kind].append(_index(numbers, apex, what) if apex is not None else -1)
  arr = lambda k: np.asarray(sorted(spans[k]), np.int64).reshape(-1, 2)
  order = lambda k: np.asarray([x for _, x in sorted(zip(spans[k], apexes[k]))], np.int64).reshape(
    -1
  )
  return LongVideoRecord(
    database, str(subject), str(name), tuple(files), FPS[database],
    arr('micro'), arr('macro'), order('micro'), order('macro'),
  )  # fmt: skip


def load_casme_sq(root: str, coding: str | None = None) -> list[LongVideoRecord]:
  """Every CAS(ME)^2 long video with its micro- and macro-expressions (module doc).

  Args:
    root: the `rawpic` folder or a folder up to `SEARCH_DEPTH` levels above it.
    coding: `CAS(ME)^2code_final.xlsx` (default: looked for beside `rawpic` or in `root`).

  Returns:
    LongVideoRecords sorted by subject and video, videos without any
    expression included (empty intervals).
  """
  top, root = root, find_long_root('CAS(ME)^2', root)
  sheets = _sheets(coding or find_long_sheet('CAS(ME)^2', top, root))
  by_name = {str(k).strip().lower(): v for k, v in sheets.items()}
  if 'naming rule1' not in by_name or 'naming rule2' not in by_name:
    raise ValueError(
      f"CAS(ME)^2 sheet: expected sheets 'naming rule1' and 'naming rule2', got {list(sheets)}."
    )
  main = next(v for k, v in sheets.items() if not str(k).strip().lower().startswith('naming'))
  rule1 = by_name['naming rule1'].dropna(how='all')
  rule2 = by_name['naming rule2'].dropna(how='all')
  folder_of = {
    _int(r[2], 'naming rule1 participant'): _int(r[0], 'naming rule1 folder')
    for _, r in rule1.iterrows()
  }
  code_of = {
    str(r[1]).strip().lower(): _int(r[0], 'naming rule2 code') for _, r in rule2.iterrows()
  }
  events: dict = {}
  for _, r in main.dropna(how='all').iterrows():
    try:
      participant = _int(r[0], 'participant')
    except ValueError:
      continue  # a title or header line
    stimulus = str(r[1]).strip().split('_')[0].lower()
    if participant not in folder_of or stimulus not in code_of:
      raise ValueError(
        f'CAS(ME)^2 sheet: participant {participant} / clip {r[1]!r} is not in the naming rules.'
      )
    on, apex, off = (_int(r[i], f'CAS(ME)^2 {r[1]} column {i}') for i in (2, 3, 4))
    if off == 0:  # no offset coded: the apex (or the onset) ends it
      off = apex if apex > 0 else on
    kind = 'micro' if 'micro' in str(r[7]).lower() else 'macro'
    key = (folder_of[participant], code_of[stimulus])
    events.setdefault(key, []).append((kind, on, apex if apex > 0 else None, off))
  out = []
  for sub in sorted(os.listdir(root)):
    m = re.fullmatch(r's(\d+)', sub, re.I)
    if not m or not os.path.isdir(os.path.join(root, sub)):
      continue
    for video in sorted(os.listdir(os.path.join(root, sub))):
      v = re.match(r'(\d+)_(\d{4})', video)
      folder = os.path.join(root, sub, video)
      if not v or not os.path.isdir(folder):
        continue
      files = data_lib.frame_files(folder, f'CAS(ME)^2 {sub}/{video}')
      evs = events.pop((int(m.group(1)), int(v.group(2))), [])
      out.append(_record('CAS(ME)^2', sub, video, files, evs))
  if events:
    missing = [f's{s}/{s}_{c:04d}*' for s, c in events]
    raise ValueError(f'CAS(ME)^2: annotated videos without a folder under {root}: {missing}.')
  return out


def _samm_header(frame):
  want = ('subject', 'filename', 'onset', 'apex', 'offset', 'type')
  for row in range(min(len(frame), 30)):  # title lines come first
    names = [data_lib._column_key(c) for c in frame.iloc[row]]
    if all(w in names for w in want):
      table = frame.iloc[row + 1 :].copy()
      table.columns = names
      return table.dropna(how='all')
  return None


def load_samm_long(root: str, coding: str | None = None) -> list[LongVideoRecord]:
  """Every SAMM long video with its micro- and macro-movements (module doc).

  Args:
    root: the `SAMM_longvideos` folder (or the cropped videos' folder, same
      layout) or a folder up to `SEARCH_DEPTH` levels above it.
    coding: `SAMM_LongVideos_V1_Release.xlsx` (default: looked for beside
      the videos' folder or in `root`).

  Returns:
    LongVideoRecords sorted by video name.
  """
  top, root = root, find_long_root('SAMM', root)
  path = coding or find_long_sheet('SAMM', top, root)
  tables = [t for t in map(_samm_header, _sheets(path).values()) if t is not None]
  if not tables:
    raise ValueError(
      f'{path}: no sheet with the columns Subject, Filename, Onset, Apex, Offset, Type.'
    )
  events: dict = {}
  for _, r in tables[0].iterrows():
    name = str(r['filename']).strip()
    if not re.fullmatch(r'\d+_\d+_\d+', name):
      continue
    video = name.rsplit('_', 1)[0]
    on, apex, off = (_int(r[c], f'SAMM {name} {c}') for c in ('onset', 'apex', 'offset'))
    kind = 'micro' if 'micro' in str(r['type']).lower() else 'macro'
    events.setdefault(video, []).append((kind, on, apex if apex > 0 else None, off))
  out = []
  for video in sorted(os.listdir(root)):
    folder = os.path.join(root, video)
    if not re.fullmatch(VIDEO_FOLDERS['SAMM'], video) or not os.path.isdir(folder):
      continue
    files = data_lib.frame_files(folder, f'SAMM {video}')
    out.append(_record('SAMM', video.split('_')[0], video, files, events.pop(video, [])))
  if events:
    raise ValueError(f'SAMM: annotated videos without a folder under {root}: {sorted(events)}.')
  return out


LOADERS = {'CAS(ME)^2': load_casme_sq, 'SAMM': load_samm_long}


def load_long_videos(
  data_root: str | None,
  databases: Sequence[str] = DATABASES,
  folders: Mapping[str, str] | None = None,
  codings: Mapping[str, str] | None = None,
) -> dict[str, list[LongVideoRecord]]:
  """The long videos of each database asked for, each from its own folder or found under a root.

  Args:
    data_root: folder holding the databases as unpacked (`CASME_sq/rawpic`,
      `SAMMLV/SAMM_longvideos`, up to `SEARCH_DEPTH` levels down), or None.
    databases: 'CAS(ME)^2' and/or 'SAMM'.
    folders: {database: its folder}, searched instead of `data_root`.
    codings: {database: its spreadsheet}.

  Raises:
    ValueError: a database asked for is not found (naming the folders
      searched), or no folder at all is given.
  """
  folders, codings = dict(folders or {}), dict(codings or {})
  out = {}
  for db in databases:
    checks.check_choice('database', db, DATABASES)
    where = folders.get(db, data_root)
    if where is None:
      raise ValueError(f'{db}: no folder given (pass --data-root or its own folder).')
    try:
      out[db] = LOADERS[db](where, codings.get(db))
    except ValueError as e:
      raise ValueError(f'{db} long videos asked for but not found: {e}') from None
  return out


def table_ii_videos(
  data_root: str | None,
  databases: Sequence[str] = DATABASES,
  folders: Mapping[str, str] | None = None,
  codings: Mapping[str, str] | None = None,
  samm_cropped: str | None = None,
) -> dict[str, list[LongVideoRecord]]:
  """The long videos of Table II's columns: CAS(ME)^2, SAMM (SAMM^f and SAMM^c).

  Under `data_root` the `databases` named are asked for (each must be
  found); a database's own folder asks for it too. With `samm_cropped` (the
  organisers' cropped SAMM long videos, same layout and spreadsheet), the
  full-frame SAMM column is 'SAMM^f' and the cropped one 'SAMM^c'.

  Returns:
    {column: LongVideoRecords}.
  """
  folders = dict(folders or {})
  asked = [db for db in DATABASES if (data_root and db in databases) or db in folders]
  found = load_long_videos(data_root, asked, folders, codings) if asked else {}
  out = {'SAMM^f' if db == 'SAMM' and samm_cropped else db: v for db, v in found.items()}
  if samm_cropped:
    out['SAMM^c'] = load_samm_long(samm_cropped, (codings or {}).get('SAMM'))
  return out
