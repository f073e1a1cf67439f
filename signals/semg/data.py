"""sEMG recordings: the dataset type and its on-disk format.

The paper (Ergeneci et al., semg_fewshot.txt, sections II-A and III) records two
bipolar sEMG channels (left and right biceps femoris long head) at fs = 1000 Hz
for 8 s (8000 samples) while 15 athletes perform seven hamstring drills C1-C7
(Table III). The LUFC recordings are not public, so this module provides

* `SEMGDataset`: the arrays every pipeline in the library consumes;
* `load_semg_dataset` / `save_semg_dataset`: a plain on-disk format into which
  the LUFC data or a NinaPro export can be converted without code changes;
* `nearest_neighbour_few_shot`: a difficulty check of a data set.

The embedded default data, `synthetic_semg`, is in `signals.semg.synthetic`.

On-disk format
--------------
Either of two layouts; `load_semg_dataset(path)` picks by what `path` is.

(a) A folder holding ``manifest.csv`` and one file per recording::

      my_data/
        manifest.csv        # header: file,label,subject,session (extra columns ignored)
        meta.json           # optional: {"fs": 1000.0, "class_names": ["C1", ...]}
        s01/c1_rep01.npy    # [channels, samples] array, any float or int dtype
        s01/c1_rep02.csv    # or CSV: one column per channel, one row per sample,
        ...                 #   optional header row, comma-separated

    ``manifest.csv`` rows: ``file`` is a path relative to the folder, ``label``
    is the class *name* (e.g. ``C3``), ``subject`` and ``session`` are
    integers. All recordings must share the same number of channels and
    samples (cut or pad them when exporting). The class order (label index)
    is ``class_names`` given to the loader, else ``meta.json``'s, else the
    label names in natural sort order (``C2`` before ``C10``). ``fs`` comes
    from the loader argument, else ``meta.json``, else 1000 Hz.

(b) A single ``.npz`` file with arrays ``x`` [n, channels, samples],
    ``labels`` [n] int (indices into ``class_names``), ``subjects`` [n] int,
    ``sessions`` [n] int, ``class_names`` [classes] str, and optionally
    ``fs`` (scalar). Written with ``np.savez``; read without pickle.

`save_semg_dataset(ds, path)` writes (b) when ``path`` ends in ``.npz`` and (a)
otherwise (``.npy`` files plus ``manifest.csv`` and ``meta.json``).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
from typing import Sequence

import jax
import numpy as np

from evaluation import checks
from evaluation.keys import numpy_rng

# Paper section III: the seven hamstring drills. Index order = label index; the
# few-shot split of the paper uses C1-C4 (labels 0-3) for base training and
# C5-C7 (labels 4-6) as the novel classes.
CLASS_NAMES: tuple[str, ...] = (
  'C1_adductor_squeeze',
  'C2_glute_bridge',
  'C3_sl_long_lever_bridge',
  'C4_isometric_prone',
  'C5_elevated_glute_bridge',
  'C6_sl_prone_curls',
  'C7_running_3kph',
)
CHANNEL_NAMES: tuple[str, ...] = ('left_biceps_femoris', 'right_biceps_femoris')

MANIFEST = 'manifest.csv'
META = 'meta.json'
_MANIFEST_COLUMNS = ('file', 'label', 'subject', 'session')


@dataclasses.dataclass(frozen=True)
class SEMGDataset:
  """A set of equally long multi-channel sEMG recordings.

  Attributes:
    x: [n, channels, samples] float32 raw sEMG (any unit; the synthetic data
      is in millivolts).
    labels: [n] int32 class index into `class_names`.
    subjects: [n] int32 subject id.
    sessions: [n] int32 session id (electrode placement / day).
    class_names: names of all classes, label i is `class_names[i]`.
    fs: sampling frequency in Hz.
  """

  x: np.ndarray
  labels: np.ndarray
  subjects: np.ndarray
  sessions: np.ndarray
  class_names: tuple[str, ...]
  fs: float = 1000.0

  def __post_init__(self):
    # Normalise dtypes once so every consumer sees the documented types.
    object.__setattr__(self, 'x', np.asarray(self.x, np.float32))
    for name in ('labels', 'subjects', 'sessions'):
      object.__setattr__(self, name, np.asarray(getattr(self, name), np.int32))
    object.__setattr__(self, 'class_names', tuple(str(c) for c in self.class_names))
    object.__setattr__(self, 'fs', float(self.fs))
    if self.x.ndim != 3:
      raise ValueError(f'x must be [n, channels, samples], got shape {self.x.shape}')
    n = self.x.shape[0]
    for name in ('labels', 'subjects', 'sessions'):
      arr = getattr(self, name)
      if arr.shape != (n,):
        raise ValueError(f'{name} must have shape ({n},) to match x, got {arr.shape}')
    if n and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
      raise ValueError(
        f'labels must lie in [0, {len(self.class_names)}) '
        f'(class_names={self.class_names}), got range '
        f'[{self.labels.min()}, {self.labels.max()}]'
      )
    if len(set(self.class_names)) != len(self.class_names):
      raise ValueError(f'class_names must be unique, got {self.class_names}')
    if not self.fs > 0:
      raise ValueError(f'fs must be positive, got {self.fs}')

  def __len__(self) -> int:
    return int(self.x.shape[0])

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  def subset(self, idx) -> 'SEMGDataset':
    """Recordings selected by an index array or boolean mask (classes kept)."""
    idx = np.asarray(idx)
    return dataclasses.replace(
      self,
      x=self.x[idx],
      labels=self.labels[idx],
      subjects=self.subjects[idx],
      sessions=self.sessions[idx],
    )

  def select_classes(self, classes: Sequence[int | str]) -> 'SEMGDataset':
    """Recordings of `classes` only, relabelled 0..len(classes)-1 in that order.

    Used for the paper's task sets: C^1 = C1-C4 and C^2 = C5-C7 (sec. III).
    """
    index = [self.class_names.index(c) if isinstance(c, str) else int(c) for c in classes]
    for c in index:
      if not 0 <= c < self.num_classes:
        raise ValueError(f'unknown class index {c}; have {self.num_classes}')
    mask = np.isin(self.labels, index)
    remap = np.full(self.num_classes, -1, np.int32)
    remap[index] = np.arange(len(index), dtype=np.int32)
    sub = self.subset(mask)
    return dataclasses.replace(
      sub, labels=remap[sub.labels], class_names=tuple(self.class_names[c] for c in index)
    )


# --------------------------------------------------------------------------
# Loading and saving.
# --------------------------------------------------------------------------


def _natural_key(name: str):
  """Sort key that orders 'C2' before 'C10'."""
  return [int(t) if t.isdigit() else t for t in re.split(r'(\d+)', name)]


def _check_finite(x: np.ndarray, where: str) -> None:
  checks.check_array(
    f'{where}: the recording', x, nonempty=False, hint='Clean or interpolate it first.'
  )


def _read_recording(path: str) -> np.ndarray:
  """One recording as [channels, samples] float32 (.npy, or .csv columns)."""
  if not os.path.isfile(path):
    raise FileNotFoundError(f'recording file not found: {path}')
  ext = os.path.splitext(path)[1].lower()
  if ext == '.npy':
    with checks.reading(path, '.npy recording'):
      arr = np.load(path, allow_pickle=False)
    if arr.ndim == 1:  # single channel
      arr = arr[None]
  elif ext == '.csv':
    with open(path, newline='') as f, checks.reading(path, 'CSV recording'):
      first = f.readline()
    try:
      [float(v) for v in first.strip().split(',')]
      skip = 0
    except ValueError:  # header row with channel names
      skip = 1
    try:
      arr = np.loadtxt(path, delimiter=',', skiprows=skip, ndmin=2, dtype=np.float64)
    except ValueError as e:
      raise ValueError(f'{path}: not a numeric CSV ({e})') from None
    arr = arr.T  # CSV stores one column per channel.
  else:
    raise ValueError(f'{path}: unsupported recording format {ext!r} (use .npy or .csv)')
  if arr.ndim != 2:
    raise ValueError(f'{path}: a recording must be [channels, samples], got shape {arr.shape}')
  if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
    raise ValueError(f'{path}: recording dtype {arr.dtype} is not numeric')
  _check_finite(arr, path)
  return arr.astype(np.float32)


def _label_index(
  names_in_data: Sequence[str], class_names: Sequence[str] | None, where: str
) -> tuple[tuple[str, ...], np.ndarray]:
  """Class order and, for each name in the data, its index in that order."""
  if class_names is None:
    order = tuple(sorted(set(names_in_data), key=_natural_key))
  else:
    order = tuple(str(c) for c in class_names)
    if len(set(order)) != len(order):
      raise ValueError(f'class_names must be unique, got {order}')
    unknown = sorted(set(names_in_data) - set(order), key=_natural_key)
    if unknown:
      raise ValueError(f'{where}: unknown label(s) {unknown} not in class_names {list(order)}')
  lookup = {c: i for i, c in enumerate(order)}
  return order, np.array([lookup[c] for c in names_in_data], np.int32)


def _parse_int(value: str, column: str, row: int, where: str) -> int:
  try:
    return int(value)
  except ValueError:
    raise ValueError(
      f'{where} row {row}: column {column!r} must be an integer, got {value!r}'
    ) from None


def _load_folder(folder: str, class_names, fs) -> SEMGDataset:
  manifest = os.path.join(folder, MANIFEST)
  if not os.path.isfile(manifest):
    raise FileNotFoundError(f'{folder} has no {MANIFEST} (columns: {",".join(_MANIFEST_COLUMNS)})')
  meta = {}
  if os.path.isfile(os.path.join(folder, META)):
    with open(os.path.join(folder, META), 'rb') as f, checks.reading(f.name, 'JSON file'):
      meta = json.loads(f.read().decode('utf-8'))
  with open(manifest, newline='') as f:
    reader = csv.DictReader(f)
    columns = [c.strip() for c in (reader.fieldnames or [])]
    missing = [c for c in _MANIFEST_COLUMNS if c not in columns]
    if missing:
      raise ValueError(
        f'{manifest}: missing column(s) {missing}; need '
        f'{",".join(_MANIFEST_COLUMNS)}, found {columns}'
      )
    rows = [{k.strip(): (v or '').strip() for k, v in r.items() if k is not None} for r in reader]
  rows = [r for r in rows if any(r.values())]  # blank trailing lines
  if not rows:
    raise ValueError(f'{manifest}: the manifest lists no recordings')

  recordings = []
  for i, r in enumerate(rows, start=2):  # row 1 is the header
    if not r['file']:
      raise ValueError(f"{manifest} row {i}: empty 'file'")
    rec = _read_recording(os.path.join(folder, r['file']))
    if recordings and rec.shape != recordings[0].shape:
      raise ValueError(
        f'{r["file"]}: shape [channels, samples] = {list(rec.shape)} differs '
        f'from {list(recordings[0].shape)} of {rows[0]["file"]}; all '
        'recordings must have the same channels and length'
      )
    recordings.append(rec)
  order, labels = _label_index(
    [r['label'] for r in rows],
    class_names if class_names is not None else meta.get('class_names'),
    manifest,
  )
  return SEMGDataset(
    x=np.stack(recordings),
    labels=labels,
    subjects=np.array(
      [_parse_int(r['subject'], 'subject', i, manifest) for i, r in enumerate(rows, start=2)]
    ),
    sessions=np.array(
      [_parse_int(r['session'], 'session', i, manifest) for i, r in enumerate(rows, start=2)]
    ),
    class_names=order,
    fs=fs if fs is not None else meta.get('fs', 1000.0),
  )


def _load_npz(path: str, class_names, fs) -> SEMGDataset:
  with checks.reading(path, '.npz file'):
    z = np.load(path, allow_pickle=False)
  with z:
    missing = [
      k for k in ('x', 'labels', 'subjects', 'sessions', 'class_names') if k not in z.files
    ]
    if missing:
      raise ValueError(f'{path}: missing array(s) {missing}; found {z.files}')
    x, labels = z['x'], z['labels']
    subjects, sessions = z['subjects'], z['sessions']
    names = tuple(str(c) for c in z['class_names'])
    file_fs = float(z['fs']) if 'fs' in z.files else 1000.0
  if x.ndim != 3:
    raise ValueError(f'{path}: x must be [n, channels, samples], got {x.shape}')
  if x.shape[0] == 0:
    raise ValueError(f'{path}: the file holds no recordings')
  _check_finite(x, path)
  if labels.shape != (x.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
    raise ValueError(
      f'{path}: labels must be [n={x.shape[0]}] integers, '
      f'got shape {labels.shape} dtype {labels.dtype}'
    )
  if labels.min() < 0 or labels.max() >= len(names):
    raise ValueError(
      f'{path}: label index out of range [0, {len(names)}) of class_names {list(names)}'
    )
  order, index = _label_index(list(names), class_names, path)
  return SEMGDataset(
    x=x,
    labels=index[labels],
    subjects=subjects,
    sessions=sessions,
    class_names=order,
    fs=fs if fs is not None else file_fs,
  )


def load_semg_dataset(
  path: str | os.PathLike,
  expected_channels: int | None = None,
  expected_samples: int | None = None,
  class_names: Sequence[str] | None = None,
  fs: float | None = None,
) -> SEMGDataset:
  """Reads recordings stored in the format of the module docstring.

  Args:
    path: a folder with ``manifest.csv`` or a ``.npz`` file.
    expected_channels: if given, every recording must have this many channels
      (2 for the paper's pipeline).
    expected_samples: if given, every recording must have this many samples
      (8000 for the paper's pipeline).
    class_names: the class order; labels not in it are an error. Default:
      the order stored with the data, else natural sort of the label names.
    fs: sampling frequency in Hz, overriding the stored one (default 1000).

  Returns:
    The `SEMGDataset`.

  Raises:
    FileNotFoundError: `path`, the manifest or a listed recording is missing.
    ValueError: empty manifest, missing columns, unknown label, recordings of
      different shapes or not of the expected shape, NaN or inf values.
  """
  path = os.fspath(path)
  if os.path.isdir(path):
    ds = _load_folder(path, class_names, fs)
  elif os.path.isfile(path):
    if not path.lower().endswith('.npz'):
      raise ValueError(f'{path}: expected a folder with {MANIFEST} or a .npz file')
    ds = _load_npz(path, class_names, fs)
  else:
    raise FileNotFoundError(f'no sEMG dataset at {path}')
  _, channels, samples = ds.x.shape
  if expected_channels is not None and channels != expected_channels:
    raise ValueError(f'{path}: recordings have {channels} channels, expected {expected_channels}')
  if expected_samples is not None and samples != expected_samples:
    raise ValueError(f'{path}: recordings have {samples} samples, expected {expected_samples}')
  return ds


def save_semg_dataset(dataset: SEMGDataset, path: str | os.PathLike) -> str:
  """Writes `dataset` so that `load_semg_dataset(path)` returns it unchanged.

  Args:
    dataset: the recordings.
    path: ``*.npz`` for layout (b); otherwise a folder (created if needed,
      must not already hold a manifest) for layout (a).

  Returns:
    The path written.
  """
  path = os.fspath(path)
  _check_finite(dataset.x, 'save_semg_dataset')
  if path.lower().endswith('.npz'):
    np.savez(
      path,
      x=dataset.x,
      labels=dataset.labels,
      subjects=dataset.subjects,
      sessions=dataset.sessions,
      class_names=np.array(dataset.class_names),
      fs=np.float64(dataset.fs),
    )
    return path
  if os.path.exists(os.path.join(path, MANIFEST)):
    raise ValueError(f'{path} already holds a {MANIFEST}; choose an empty folder')
  os.makedirs(path, exist_ok=True)
  width = max(4, len(str(len(dataset))))
  rows = []
  for i in range(len(dataset)):
    name = f'rec{i:0{width}d}.npy'
    np.save(os.path.join(path, name), dataset.x[i])
    rows.append(
      (
        name,
        dataset.class_names[dataset.labels[i]],
        int(dataset.subjects[i]),
        int(dataset.sessions[i]),
      )
    )
  with open(os.path.join(path, MANIFEST), 'w', newline='') as f:
    w = csv.writer(f)
    w.writerow(_MANIFEST_COLUMNS)
    w.writerows(rows)
  with open(os.path.join(path, META), 'w') as f:
    json.dump({'fs': dataset.fs, 'class_names': list(dataset.class_names)}, f, indent=1)
  return path


# --------------------------------------------------------------------------
# A difficulty check for data sets: few-shot 1-nearest-neighbour.
# --------------------------------------------------------------------------


def nearest_neighbour_few_shot(
  key: jax.Array, features: np.ndarray, labels: np.ndarray, shots: int, episodes: int = 100
) -> np.ndarray:
  """Accuracy of 1-NN (Euclidean) with `shots` support examples per class.

  Each episode draws `shots` recordings per class as the support set and
  classifies every other recording as a query by its nearest support
  example. This is the sanity baseline quoted for `synthetic_semg`; it is not
  one of the paper's methods.

  Args:
    key: JAX PRNG key; episodes are deterministic given it.
    features: [n, ...] float features (flattened internally).
    labels: [n] int class labels; every class present needs > `shots` examples.
    shots: support examples per class (the paper's nu: 1, 5, 10, 20, 50).
    episodes: number of random support draws.

  Returns:
    [episodes] float64 accuracy of each episode.
  """
  feats = np.asarray(features, np.float64).reshape(len(features), -1)
  labels = np.asarray(labels)
  if feats.shape[0] != labels.shape[0]:
    raise ValueError(
      f'features ({feats.shape[0]}) and labels ({labels.shape[0]}) disagree in length'
    )
  _check_finite(feats, 'features')
  classes, counts = np.unique(labels, return_counts=True)
  if shots < 1 or counts.min() <= shots:
    raise ValueError(
      f'shots={shots} needs more than {shots} examples of every '
      f'class; smallest class has {counts.min()}'
    )
  rng = numpy_rng(key)
  sq = np.sum(feats**2, axis=1)
  dist = sq[:, None] + sq[None, :] - 2.0 * feats @ feats.T  # (n, n) squared
  by_class = [np.flatnonzero(labels == c) for c in classes]
  acc = np.empty(episodes)
  for e in range(episodes):
    support = np.concatenate([rng.choice(i, shots, replace=False) for i in by_class])
    query = np.setdiff1d(np.arange(len(labels)), support)
    nearest = support[np.argmin(dist[np.ix_(query, support)], axis=1)]
    acc[e] = np.mean(labels[nearest] == labels[query])
  return acc
