"""Sign-language pose data: spoken-to-signed's fingerspelling lexicon (offline) and AUTSL.

Fingerspelling lexicon (installs offline with the `spoken-to-signed` package):
600 MediaPipe Holistic `.pose` files listed in its `data.csv`, 19 sign
languages (ISO 639-3 codes: ase, asq, bzs, cse, csq, eso, gsg, gss, ise, jos,
lls, mfs, psr, sgg, ssp, svk, swl, tsm, ukl), one clip per language and
letter (24 to 44 letters per language; 23 Latin letters are signed in 16
languages, the Greek, Arabic and Cyrillic alphabets in one each). Each
language is fingerspelled by one signer, so "which language" and "which
signer" cannot be told apart on this data.

AUTSL (Sincan & Keles 2020; the CVPR21 ChaLearn challenge of the paper,
section 3): not redistributable, so the user points `root` at their copy
laid out as the challenge distributed it::

    ROOT/train_labels.csv          # rows "signer0_sample1,118" (no header): sample id, class 0..225
    ROOT/val_labels.csv            # the validation ground truth, same format
    ROOT/test_labels.csv           # optional
    ROOT/train/signer0_sample1_color.mp4   (and _depth.mp4; videos of the challenge)
    ROOT/poses/train/signer0_sample1.pose  # Holistic poses (any of the places below)

A sample's `.pose` is looked for as `{id}.pose` or `{id}_color.pose` (what
`python -m vision.extract_poses ROOT/train/*_color.mp4 --out ROOT/poses/train`
writes) in `pose_dir`, `ROOT/poses/{split}`, `ROOT/holistic/{split}` (the
layout of the sign-language-datasets Holistic archive, which names the
validation split `validation`) and `ROOT/{split}`. With `extract=True` the
poses of samples that have only their video are extracted first.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import NamedTuple

import numpy as np

from evaluation import checks
from vision.sign.poses import PoseBatch
from vision.sign.poses import pad_poses
from vision.sign.poses import read_pose_arrays

__all__ = [
  'AUTSLData',
  'FingerspellingLexicon',
  'autsl_samples',
  'fingerspelling_lexicon_dir',
  'load_autsl',
  'load_fingerspelling_lexicon',
]

AUTSL_SPLITS = ('train', 'val', 'test')
AUTSL_NUM_CLASSES = 226


class FingerspellingLexicon(NamedTuple):
  """The lexicon's clips, padded into one batch.

  Attributes:
    poses: `PoseBatch` (points [N, T, 75, 3], mask, lengths, width).
    language: [N] str, the sign language (ISO 639-3) of each clip.
    letter: [N] str, the letter it spells (e.g. 'A', 'SCH', 'Ж').
    path: [N] str, the `.pose` file.
  """

  poses: PoseBatch
  language: np.ndarray
  letter: np.ndarray
  path: np.ndarray


class AUTSLData(NamedTuple):
  """One AUTSL split, padded into one batch.

  Attributes:
    poses: `PoseBatch`.
    labels: [N] int32 class ids 0..225.
    signers: [N] int32 signer ids (from `signer{K}_sample{M}`).
    ids: [N] str sample ids.
  """

  poses: PoseBatch
  labels: np.ndarray
  signers: np.ndarray
  ids: np.ndarray


def fingerspelling_lexicon_dir() -> Path:
  """The lexicon folder inside the installed spoken-to-signed package (not imported)."""
  package = checks.package_dir('spoken_to_signed', 'its fingerspelling lexicon of .pose files')
  folder = Path(package) / 'assets' / 'fingerspelling_lexicon'
  if not (folder / 'data.csv').is_file():
    raise FileNotFoundError(f'no fingerspelling lexicon index at {folder / "data.csv"}.')
  return folder


def load_fingerspelling_lexicon(
  max_frames: int | None = None, languages=None, root=None
) -> FingerspellingLexicon:
  """Reads the fingerspelling lexicon's clips listed in its `data.csv`.

  Args:
    max_frames: clips longer than this are subsampled to `max_frames` evenly
      spaced frames (see `pad_poses`); None keeps all (the longest has 258).
    languages: optional list of language codes to keep.
    root: the lexicon folder (default: the installed package's).

  Returns:
    `FingerspellingLexicon`, rows in `data.csv` order.
  """
  root = Path(root) if root is not None else fingerspelling_lexicon_dir()
  index = root / 'data.csv'
  if not index.is_file():
    raise FileNotFoundError(f'no data.csv in {root}.')
  with open(index, 'rb') as f, checks.reading(index, 'UTF-8 CSV file'):
    rows = list(csv.DictReader(f.read().decode('utf-8').splitlines()))
  missing = {'path', 'signed_language', 'words'} - set(rows[0] if rows else ())
  if missing:
    raise ValueError(f'{index} lacks the column(s) {sorted(missing)}.')
  if languages is not None:
    known = sorted({r['signed_language'] for r in rows})
    unknown = sorted(set(languages) - set(known))
    if unknown:
      raise ValueError(f'unknown language(s) {unknown}; the lexicon has {known}.')
    rows = [r for r in rows if r['signed_language'] in set(languages)]
  if not rows:
    raise ValueError(f'{index} lists no clips.')
  clips = [read_pose_arrays(root / r['path']) for r in rows]
  return FingerspellingLexicon(
    poses=pad_poses(clips, max_frames=max_frames),
    language=np.array([r['signed_language'] for r in rows]),
    letter=np.array([r['words'] for r in rows]),
    path=np.array([str(root / r['path']) for r in rows]),
  )


def _read_labels(path: Path, num_classes: int) -> list[tuple[str, int]]:
  rows = []
  with open(path, 'rb') as f, checks.reading(path, 'UTF-8 CSV file'):
    lines = f.read().decode('utf-8').splitlines()
  for line_no, row in enumerate(csv.reader(lines), start=1):
    if not row or not ''.join(row).strip():
      continue
    if len(row) < 2:
      raise ValueError(f'{path}:{line_no}: expected "sample_id,class_id", got {row}.')
    sample, label = row[0].strip(), row[1].strip()
    try:
      label = int(label)
    except ValueError:
      raise ValueError(f'{path}:{line_no}: class id {label!r} is not an integer.') from None
    if not 0 <= label < num_classes:
      raise ValueError(f'{path}:{line_no}: class id {label} outside [0, {num_classes}).')
    if not sample.startswith('signer') or '_sample' not in sample:
      raise ValueError(f'{path}:{line_no}: sample id {sample!r} is not signerK_sampleM.')
    rows.append((sample, label))
  if not rows:
    raise ValueError(f'{path} holds no samples.')
  return rows


def _find_poses(rows, folders):
  paths, missing = [], []
  for sample, _ in rows:
    names = (f'{sample}.pose', f'{sample}_color.pose')
    found = next((f / n for f in folders for n in names if (f / n).is_file()), None)
    paths.append(str(found) if found else '')
    if found is None:
      missing.append(sample)
  return paths, missing


def autsl_samples(
  root,
  split: str,
  pose_dir=None,
  num_classes: int = AUTSL_NUM_CLASSES,
  extract: bool = False,
  workers: int = 1,
):
  """Sample ids, labels, signers and `.pose` paths of one AUTSL split.

  Args:
    root: the AUTSL folder (see the module docstring for the layout).
    split: 'train', 'val' or 'test'.
    pose_dir: folder holding this split's `.pose` files, if not one of the
      default places.
    num_classes: class ids must lie in [0, num_classes).
    extract: run Holistic (`extract_pose_files`) on the videos
      `ROOT/{split}/{id}_color.mp4` of samples without a `.pose`, writing
      `ROOT/poses/{split}/{id}_color.pose` (resumable).
    workers: worker processes for `extract`.

  Returns:
    (ids [N] str, labels [N] int32, signers [N] int32, pose paths [N] str).

  Raises:
    FileNotFoundError: no labels file, or poses missing (naming how many and
      the first, and the extraction command when the videos are there).
  """
  checks.check_choice('split', split, AUTSL_SPLITS)
  root = Path(root)
  labels_csv = root / f'{split}_labels.csv'
  if not labels_csv.is_file():
    raise FileNotFoundError(f'AUTSL labels not found: {labels_csv}.')
  rows = _read_labels(labels_csv, num_classes)
  folders = [Path(pose_dir)] if pose_dir is not None else []
  folders += [root / 'poses' / split, root / 'holistic' / split, root / split]
  if split == 'val':
    folders.append(root / 'holistic' / 'validation')
  paths, missing = _find_poses(rows, folders)
  videos = [root / split / f'{m}_color.mp4' for m in missing]
  hint = ''
  if extract and missing:
    from vision.sign.extract import extract_pose_files

    report = extract_pose_files(
      [v for v in videos if v.is_file()], root / 'poses' / split, workers=workers
    )
    paths, missing = _find_poses(rows, folders)
    if report.failed:
      hint = f' Extraction failed for {len(report.failed)} video(s), e.g. {next(iter(report.failed.values()))}'
  elif missing and videos[0].is_file():
    hint = (
      f' The videos are there: extract the poses with `python -m vision.extract_poses '
      f'{root / split}/*_color.mp4 --out {root / "poses" / split}` (or extract=True).'
    )
  if missing:
    raise FileNotFoundError(
      f'{len(missing)} of {len(rows)} {split} samples have no .pose file (first: {missing[0]}; '
      f'looked in {[str(f) for f in folders]}).{hint}'
    )
  ids = np.array([s for s, _ in rows])
  signers = np.array([int(s.split('_')[0][len('signer') :]) for s in ids], np.int32)
  return ids, np.array([lab for _, lab in rows], np.int32), signers, np.array(paths)


def load_autsl(
  root,
  split: str,
  max_frames: int | None = None,
  pose_dir=None,
  limit: int | None = None,
  pad_to: int | None = None,
  extract: bool = False,
  workers: int = 1,
) -> AUTSLData:
  """Reads one AUTSL split's Holistic poses into a padded batch.

  Args:
    root: the AUTSL folder.
    split: 'train', 'val' or 'test'.
    max_frames: subsample longer clips to this many frames (see `pad_poses`).
    pose_dir: see `autsl_samples`.
    limit: read only the first `limit` samples (quick runs).
    pad_to: pad to this many frames (so splits share one shape).
    extract, workers: extract missing poses from the split's videos (see
      `autsl_samples`).

  Returns:
    `AUTSLData`.
  """
  ids, labels, signers, paths = autsl_samples(
    root, split, pose_dir, extract=extract, workers=workers
  )
  if limit is not None:
    checks.check_int('limit', limit)
    ids, labels, signers, paths = ids[:limit], labels[:limit], signers[:limit], paths[:limit]
  clips = [read_pose_arrays(p) for p in paths]
  return AUTSLData(pad_poses(clips, max_frames=max_frames, pad_to=pad_to), labels, signers, ids)
