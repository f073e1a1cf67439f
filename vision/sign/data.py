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
    ROOT/SignList_ClassId_TR_EN.csv  # optional: the signs' names (ClassId,TR,EN)
    ROOT/train/signer0_sample1_color.mp4   (and _depth.mp4; videos of the challenge)
    ROOT/poses/train/signer0_sample1.pose  # Holistic poses (any of the places below)
    ROOT/openpose/train/signer0_sample1.pose  # optional: OpenPose poses (BODY_135 as
                                              # sign-language-datasets', or BODY_25 + hands)

The labels files are found under each name the published copies use
(`LABEL_FILES`: `val_labels.csv`, OpenHands' `validation_labels.csv`,
sign-language-datasets' `autsl_validation_labels.csv`, ChaLearn's
`val/ground_truth.csv`, and the train/test equivalents) or given explicitly.
A sample's `.pose` is looked for as `{id}.pose` or `{id}_color.pose` (what
`python -m vision.extract_poses ROOT/train/*_color.mp4 --out ROOT/poses/train`
writes) in `pose_dir`, `ROOT/poses/{split}`, `ROOT/holistic/{split}` (the
layout of the sign-language-datasets Holistic archive, which names the
validation split `validation`) and `ROOT/{split}`; its video as
`{id}_color.mp4` in `video_dir`, `ROOT/{split}` or `ROOT/{split}/{split}`
(the archives unpack into a folder of the split's name). With `extract=True`
the poses of samples that have only their video are extracted first, after
`limit` has cut the list, in worker processes that survive a crashed or hung
extraction (`extract_pose_files`).
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
  'autsl_class_names',
  'autsl_labels_file',
  'autsl_openpose_paths',
  'autsl_samples',
  'load_autsl_splits',
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
    openpose: `PoseBatch` of the same clips' OpenPose poses (BODY_25 +
      hands, or BODY_135), padded alike, or None when they are not there.
  """

  poses: PoseBatch
  labels: np.ndarray
  signers: np.ndarray
  ids: np.ndarray
  openpose: PoseBatch | None = None


def fingerspelling_lexicon_dir() -> Path:
  """The lexicon folder inside the installed spoken-to-signed package (not imported)."""
  package = checks.package_dir('spoken_to_signed', 'its fingerspelling lexicon of .pose files')
  folder = Path(package) / 'assets' / 'fingerspelling_lexicon'
  if not (folder / 'data.csv').is_file():
    raise FileNotFoundError(f'no fingerspelling lexicon index at {folder / "data.csv"}.')
  return folder


def load_fingerspelling_lexicon(
  max_frames: int | None = None, languages=None, root=None, interpolate: bool = False
) -> FingerspellingLexicon:
  """Reads the fingerspelling lexicon's clips listed in its `data.csv`.

  Args:
    max_frames: clips longer than this are subsampled to `max_frames` evenly
      spaced frames (see `pad_poses`); None keeps all (the longest has 258).
    languages: optional list of language codes to keep.
    root: the lexicon folder (default: the installed package's).
    interpolate: fill each point's missing frames first (pose-format's
      `Pose.interpolate`, `vision.sign.poses.interpolate_missing`).

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
  clips = [read_pose_arrays(root / r['path'], interpolate=interpolate) for r in rows]
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


# The names each published copy gives a split's labels, in the order they are looked for:
# the challenge's, OpenHands' (`validation_labels.csv`), sign-language-datasets'
# (`autsl_*_labels.csv`), and ChaLearn's later `ground_truth.csv` inside the split folder.
LABEL_FILES = {
  'train': ('train_labels.csv', 'autsl_train_labels.csv', 'train/train_labels.csv'),
  'val': (
    'val_labels.csv',
    'validation_labels.csv',
    'autsl_validation_labels.csv',
    'val/ground_truth.csv',
    'validation/ground_truth.csv',
  ),
  'test': ('test_labels.csv', 'autsl_test_labels.csv', 'test/ground_truth.csv'),
}
CLASS_NAMES_FILE = 'SignList_ClassId_TR_EN.csv'


def autsl_labels_file(root, split: str, labels=None) -> Path | None:
  """The labels CSV of one AUTSL split: `labels` if given, else the one published name found.

  Args:
    root: the AUTSL folder.
    split: 'train', 'val' or 'test'.
    labels: an explicit CSV path (must exist), or None to look for
      `LABEL_FILES[split]` under `root`.

  Returns:
    The path, or None when no file of those names exists.

  Raises:
    FileNotFoundError: an explicit `labels` that does not exist.
    ValueError: two differing files found under different names (pass one).
  """
  checks.check_choice('split', split, AUTSL_SPLITS)
  if labels is not None:
    labels = Path(labels)
    if not labels.is_file():
      raise FileNotFoundError(f'AUTSL {split} labels not found: {labels}.')
    return labels
  found = [Path(root) / n for n in LABEL_FILES[split] if (Path(root) / n).is_file()]
  if len({f.read_bytes() for f in found}) > 1:
    raise ValueError(
      f'{len(found)} different {split} label files in {root}: {[str(f) for f in found]}; '
      'name the one to use (labels=, --labels SPLIT=CSV).'
    )
  return found[0] if found else None


def autsl_class_names(path, num_classes: int = AUTSL_NUM_CLASSES) -> tuple | None:
  """AUTSL's sign names from `SignList_ClassId_TR_EN.csv` (columns ClassId, TR, EN).

  Args:
    path: the CSV, or the AUTSL folder holding it.
    num_classes: ids 0..num_classes-1 must each appear once.

  Returns:
    num_classes names, `names[k]` of class k: the English gloss, with the
    Turkish one in parentheses where two classes share an English gloss; None
    when `path` is a folder without the file.
  """
  path = Path(path)
  if path.is_dir():
    path = path / CLASS_NAMES_FILE
    if not path.is_file():
      return None
  with open(path, 'rb') as f, checks.reading(path, 'UTF-8 CSV file'):
    rows = list(csv.DictReader(f.read().decode('utf-8-sig').splitlines()))
  missing = {'ClassId', 'TR', 'EN'} - set(rows[0] if rows else ())
  if missing:
    raise ValueError(f'{path} lacks the column(s) {sorted(missing)} (expected ClassId,TR,EN).')
  names = {}
  for line_no, row in enumerate(rows, start=2):
    try:
      k = int(row['ClassId'])
    except ValueError:
      raise ValueError(f'{path}:{line_no}: ClassId {row["ClassId"]!r} is not an integer.') from None
    if k in names or not 0 <= k < num_classes:
      raise ValueError(f'{path}:{line_no}: ClassId {k} repeated or outside [0, {num_classes}).')
    names[k] = (row['EN'].strip() or row['TR'].strip(), row['TR'].strip())
  if len(names) != num_classes:
    absent = sorted(set(range(num_classes)) - set(names))
    raise ValueError(f'{path} names {len(names)} of {num_classes} classes (missing {absent[:5]}).')
  english = [names[k][0] for k in range(num_classes)]
  return tuple(
    f'{en} ({tr})' if english.count(en) > 1 else en
    for en, tr in (names[k] for k in range(num_classes))
  )


def _video_folders(root: Path, split: str, video_dir) -> list[Path]:
  """Where a split's `{id}_color.mp4` may be: ROOT/{split}, and the archives' nested folder."""
  names = [split, 'validation'] if split == 'val' else [split]
  folders = [Path(video_dir)] if video_dir is not None else []
  return folders + [root / n for n in names] + [root / n / n for n in names]


def autsl_samples(
  root,
  split: str,
  pose_dir=None,
  num_classes: int = AUTSL_NUM_CLASSES,
  extract: bool = False,
  workers: int = 1,
  *,
  limit: int | None = None,
  labels=None,
  video_dir=None,
  timeout: float | None = 600.0,
  retry_failed: bool = False,
  video_fn=None,
):
  """Sample ids, labels, signers and `.pose` paths of one AUTSL split.

  Args:
    root: the AUTSL folder (see the module docstring for the layout).
    split: 'train', 'val' or 'test'.
    pose_dir: folder holding this split's `.pose` files, if not one of the
      default places; extracted poses are written there (default
      `ROOT/poses/{split}`).
    num_classes: class ids must lie in [0, num_classes).
    extract: run Holistic (`extract_pose_files`) on the videos
      `{id}_color.mp4` of samples without a `.pose` (resumable; a video
      that failed before is not retried unless `retry_failed`).
    workers: worker processes for `extract`.
    limit: keep only the first `limit` samples of the labels file, before
      anything is extracted.
    labels: the split's labels CSV, if not found under a published name
      (`LABEL_FILES`).
    video_dir: folder of the split's videos, if not `ROOT/{split}` (or
      `ROOT/{split}/{split}`, `ROOT/validation` for 'val').
    timeout, retry_failed, video_fn: see `extract_pose_files` (the timeout
      applies with workers >= 1).

  Returns:
    (ids [N] str, labels [N] int32, signers [N] int32, pose paths [N] str).

  Raises:
    FileNotFoundError: no labels file (naming the names looked for), or
      poses missing (naming how many, the first sample, the folders searched
      for its pose and its video, and why it was not extracted).
  """
  checks.check_choice('split', split, AUTSL_SPLITS)
  root = Path(root)
  labels_csv = autsl_labels_file(root, split, labels)
  if labels_csv is None:
    raise FileNotFoundError(
      f'AUTSL {split} labels not found: none of {list(LABEL_FILES[split])} in {root} '
      '(or give the file: labels=, --labels SPLIT=CSV).'
    )
  rows = _read_labels(labels_csv, num_classes)
  if limit is not None:
    checks.check_int('limit', limit)
    rows = rows[:limit]
  out = Path(pose_dir) if pose_dir is not None else root / 'poses' / split
  folders = list(
    dict.fromkeys([out, root / 'poses' / split, root / 'holistic' / split, root / split])
  )
  if split == 'val':
    folders.append(root / 'holistic' / 'validation')
  paths, missing = _find_poses(rows, folders)
  video_folders = _video_folders(root, split, video_dir)

  def video_of(sample):
    names = [f / f'{sample}_color.mp4' for f in video_folders]
    return next((v for v in names if v.is_file()), None)

  videos = {m: video_of(m) for m in missing}
  why = ''
  if missing and extract and any(videos.values()):
    from vision.sign.extract import extract_pose_files

    report = extract_pose_files(
      [v for v in videos.values() if v is not None],
      out,
      workers=workers,
      timeout=timeout if workers else None,
      retry_failed=retry_failed,
      video_fn=video_fn,
    )
    paths, missing = _find_poses(rows, folders)
    failed = {**report.previously_failed, **report.failed}
    errors = {Path(v).name.removesuffix('_color.mp4'): e for v, e in failed.items()}
    if missing and missing[0] in errors:
      again = (
        ' (recorded earlier; retry_failed / --retry-failed tries again)'
        if (str(videos[missing[0]]) in report.previously_failed)
        else ''
      )
      why = f' Extracting its video failed{again}: {errors[missing[0]]}'
  if missing and not why:
    video = videos.get(missing[0])
    if video is None:
      why = (
        f' Nor is its video {missing[0]}_color.mp4 in {[str(f) for f in video_folders]} '
        'to extract it from.'
      )
    elif not extract:
      why = (
        f' Its video {video} is there: extract the poses with `python -m vision.extract_poses '
        f'{video.parent}/*_color.mp4 --out {out}` (or extract=True; --no-extract was given?).'
      )
  if missing:
    raise FileNotFoundError(
      f'{len(missing)} of {len(rows)} {split} samples have no .pose file (first: {missing[0]}; '
      f'looked for {missing[0]}.pose and {missing[0]}_color.pose in '
      f'{[str(f) for f in folders]}).{why}'
    )
  ids = np.array([s for s, _ in rows])
  signers = np.array([int(s.split('_')[0][len('signer') :]) for s in ids], np.int32)
  return ids, np.array([lab for _, lab in rows], np.int32), signers, np.array(paths)


def autsl_openpose_paths(root, split: str, ids, openpose_dir=None) -> list | None:
  """The OpenPose `.pose` file of every sample, or None when the split has none.

  Looked for as `{id}.pose` or `{id}_color.pose` in `openpose_dir`,
  `ROOT/openpose/{split}` (sign-language-datasets' OpenPose archive, BODY_135,
  which names the validation split `validation`) and `ROOT/openpose_poses/{split}`.

  Raises:
    FileNotFoundError: some samples have one and others not (naming how
      many, the first without, and the folders searched).
  """
  checks.check_choice('split', split, AUTSL_SPLITS)
  root = Path(root)
  folders = [Path(openpose_dir)] if openpose_dir is not None else []
  folders += [root / 'openpose' / split, root / 'openpose_poses' / split]
  if split == 'val':
    folders.append(root / 'openpose' / 'validation')
  rows = [(i, None) for i in ids]
  paths, missing = _find_poses(rows, folders)
  if len(missing) == len(rows):
    return None
  if missing:
    raise FileNotFoundError(
      f'{len(missing)} of {len(rows)} {split} samples have no OpenPose .pose file (first: '
      f'{missing[0]}; looked in {[str(f) for f in folders]}); the OpenPose rows need every '
      "sample's (or none: then they are not run)."
    )
  return paths


def load_autsl(
  root,
  split: str,
  max_frames: int | None = None,
  pose_dir=None,
  limit: int | None = None,
  pad_to: int | None = None,
  extract: bool = False,
  workers: int = 1,
  *,
  interpolate: bool = False,
  openpose: bool | None = None,
  openpose_dir=None,
  **kwargs,
) -> AUTSLData:
  """Reads one AUTSL split's Holistic (and, where present, OpenPose) poses into padded batches.

  Args:
    root: the AUTSL folder.
    split: 'train', 'val' or 'test'.
    max_frames: subsample longer clips to this many frames (see `pad_poses`).
    pose_dir: see `autsl_samples`.
    limit: only the first `limit` samples of the labels file (quick runs);
      applied before any extraction, so only those are extracted.
    pad_to: pad to this many frames (so splits share one shape).
    extract, workers: extract missing poses from the split's videos (see
      `autsl_samples`).
    interpolate: fill missing points over time first (pose-format's
      `Pose.interpolate`; both pose systems).
    openpose: read the samples' OpenPose poses (`autsl_openpose_paths`):
      None when present, True required, False never.
    openpose_dir: folder of this split's OpenPose `.pose` files, if not a
      default place.
    **kwargs: `labels`, `video_dir`, `timeout`, `retry_failed`, `video_fn` of
      `autsl_samples`.

  Returns:
    `AUTSLData` (its `openpose` None when not read).

  Raises:
    FileNotFoundError: `openpose=True` and no OpenPose poses, or an OpenPose
      pose with another number of frames than the sample's Holistic pose.
  """
  ids, labels, signers, paths = autsl_samples(
    root, split, pose_dir, extract=extract, workers=workers, limit=limit, **kwargs
  )
  clips = [read_pose_arrays(p, interpolate=interpolate) for p in paths]
  other = None
  if openpose is not False:
    op_paths = autsl_openpose_paths(root, split, ids, openpose_dir)
    if op_paths is None and openpose:
      raise FileNotFoundError(
        f'no OpenPose poses of the AUTSL {split} split (looked in {openpose_dir or ""} '
        f'{Path(root) / "openpose" / split}).'
      )
    if op_paths is not None:
      op_clips = [read_pose_arrays(p, interpolate=interpolate) for p in op_paths]
      for i, (a, b) in enumerate(zip(clips, op_clips)):
        if len(a.points) != len(b.points):
          raise ValueError(
            f'{ids[i]}: its OpenPose pose {op_paths[i]} has {len(b.points)} frames, its '
            f'Holistic pose {paths[i]} {len(a.points)}: the two must be of the same video.'
          )
      sizes = sorted({c.points.shape[1] for c in op_clips})
      if len(sizes) > 1:
        raise ValueError(f'the {split} OpenPose poses mix layouts (points per clip: {sizes}).')
      other = pad_poses(op_clips, max_frames=max_frames, pad_to=pad_to)
  poses = pad_poses(clips, max_frames=max_frames, pad_to=pad_to)
  return AUTSLData(poses, labels, signers, ids, other)


def load_autsl_splits(root, splits, max_frames: int | None = None, **kwargs):
  """Several AUTSL splits in one padded batch (`load_autsl` of each, padded to `max_frames`).

  Args:
    root: the AUTSL folder.
    splits: e.g. ('train', 'val', 'test').
    max_frames: subsample and pad every clip to this many frames.
    **kwargs: `load_autsl`'s (limit, extract, workers, interpolate,
      openpose, labels as {split: CSV}, ...).

  Returns:
    (`AUTSLData` of all clips, split by split, its `openpose` None unless
    every split has OpenPose poses; (rows of each split)).

  Raises:
    FileNotFoundError: OpenPose poses for some splits but not all.
  """
  labels = dict(kwargs.pop('labels', None) or {})
  parts = [
    load_autsl(root, s, max_frames, pad_to=max_frames, labels=labels.get(s), **kwargs)
    for s in splits
  ]
  stack = lambda batches: PoseBatch(*(np.concatenate(a) for a in zip(*batches)))
  have = [p.openpose is not None for p in parts]
  if any(have) and not all(have):
    lacking = [s for s, h in zip(splits, have) if not h]
    raise FileNotFoundError(
      f'AUTSL OpenPose poses found for some splits but not for {lacking} (looked in '
      f'{Path(root) / "openpose"}/SPLIT): the OpenPose rows need every split reported.'
    )
  sizes = np.cumsum([0] + [len(p.labels) for p in parts])
  rows = tuple(np.arange(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
  data = AUTSLData(
    stack([p.poses for p in parts]),
    np.concatenate([p.labels for p in parts]),
    np.concatenate([p.signers for p in parts]),
    np.concatenate([p.ids for p in parts]),
    stack([p.openpose for p in parts]) if all(have) else None,
  )
  return data, rows
