"""sEMG recordings: a dataset type, an on-disk format, and the synthetic default data.

The paper (Ergeneci et al., semg_fewshot.txt, sections II-A and III) records two
bipolar sEMG channels (left and right biceps femoris long head) at fs = 1000 Hz
for 8 s (8000 samples) while 15 athletes perform seven hamstring drills C1-C7
(Table III). The LUFC recordings are not public, so this module provides

* `SEMGDataset`: the arrays every pipeline in the library consumes;
* `load_semg_dataset` / `save_semg_dataset`: a plain on-disk format into which
  the LUFC data or a NinaPro export can be converted without code changes;
* `synthetic_semg`: the embedded default data, seven drills generated from
  motor-unit pools (recruitment, rate coding, tissue filtering, electrode
  noise) driven by each drill's activation pattern, with subject, session and
  recording variability.

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

Synthetic data and its difficulty
---------------------------------
See `synthetic_semg` for how the data is generated. After the paper's
preprocessing (`signals.semg_features`, [2, 61] flattened), subject-wise
split (subjects 0-7 train, 8-14 test) of the default data (15 subjects x 7
classes x 10 recordings, key 0), chance 25 % for C1-C4 and 33 % for C5-C7:

    classifier                C1-C4    C5-C7
    logistic regression       96.1 %   92.4 %
    1-nearest-neighbour       98.9 %   99.0 %

So with eight subjects' recordings of every class the drills are well
separated after SampEn, although SampEn ignores amplitude: the remaining
C1-C4 errors are mostly C4 -> C1 (both isometric holds) and C2 -> C4, the
C5-C7 errors C6 -> C5 / C7. How hard the *few-shot* task is (one to a few
recordings of a new drill, other subjects) is what the experiment measures.
`tests/test_semg_data.py` checks a smaller version.
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
# Synthetic sEMG: the embedded default data.
# --------------------------------------------------------------------------

# Motor-unit pool under one electrode (Fuglevand, Winter & Patla 1993,
# "Models of recruitment and rate coding organization in motor-unit pools",
# J. Neurophysiol. 70:2470). Thresholds grow exponentially with unit index
# (their eq. 1: most units are small and recruited early, Henneman's size
# principle), firing rate grows linearly with excitation above threshold
# (rate coding, eq. 2) from a minimum rate up to a peak rate that is lower
# for later-recruited units (eq. 5), and interspike intervals vary with a
# coefficient of variation of 0.2 (their Gaussian ISI model).
_NUM_MU = 60  # units within the pick-up volume of a bipolar surface electrode
_RR = 30.0  # range of recruitment thresholds (Fuglevand: 30)
_MFR = 8.0  # minimum firing rate at recruitment, Hz (Fuglevand: 8)
_PFR1 = 35.0  # peak firing rate of the first unit, Hz (Fuglevand: 35)
_PFRD = 10.0  # first minus last unit's peak rate, Hz (Fuglevand: 10)
_GAIN_E = 1.0  # rate per unit excitation above threshold, Hz (Fuglevand: g_e = 1)
_ISI_CV = 0.2  # interspike-interval variability (Fuglevand: 0.2)
# Amplitude of a unit's surface potential grows with its size (number of
# fibres); Fuglevand's twitch forces span 100x, surface potentials of the
# same pool span about 10x before the depth attenuation below.
_AMP_RANGE = 10.0
_MUAP_GROUPS = 8  # units are pooled into this many potential widths (log-spaced)
_FULL_SCALE_MV = 0.6  # about the RMS of biceps femoris sEMG at maximal effort, mV
_POOL_RMS_AT_MAX = 6.5  # RMS of `_motor_unit_emg` at full drive (unit amplitudes; measured)


def _rng_from_key(key: jax.Array) -> np.random.Generator:
  """A NumPy generator seeded by the bits of a JAX PRNG key (deterministic)."""
  if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
    key = jax.random.key_data(key)
  bits = np.asarray(key, dtype=np.uint32).ravel()
  return np.random.default_rng([int(b) for b in bits])


def _smoothstep(z):
  z = np.clip(z, 0.0, 1.0)
  return z * z * (3.0 - 2.0 * z)


def _window(t, on, off, ramp):
  """Activation window [n, T]: smooth ramp up at `on`, down ending at `off`."""
  return _smoothstep((t - on) / ramp) * _smoothstep((off - t) / ramp)


def _slow_wobble(rng, n, t, amplitude, max_hz):
  """[n, T] zero-mean sum of three slow sinusoids of random amplitude <= amplitude."""
  a = rng.uniform(0.0, amplitude, (n, 3, 1)).astype(np.float32)
  f = rng.uniform(0.05, max_hz, (n, 3, 1)).astype(np.float32)
  ph = rng.uniform(0.0, 2 * np.pi, (n, 3, 1)).astype(np.float32)
  return np.sum(a * np.sin(2 * np.pi * f * t + ph), axis=1)


def _cycles(rng, t, on, period, tempo_jitter):
  """[n, T] movement phase in cycles since `on` (0 before).

  The instantaneous rate (1/period) is modulated by a slow wobble so that
  repetitions are not exactly periodic (timing jitter within a set); the rate
  stays positive, so the phase is monotone.
  """
  dt = t[1] - t[0]
  rate = (1.0 / period) * (1.0 + _slow_wobble(rng, len(period), t, tempo_jitter, 0.4))
  return np.cumsum(rate * (t >= on), axis=-1) * dt


def _trapezoid(phase, rise, hold, lower):
  """One bridge repetition per cycle: rise, hold at the top, lower, rest."""
  z = phase % 1.0
  return np.minimum(_smoothstep(z / rise), _smoothstep((rise + hold + lower - z) / lower))


def _bump(phase, start, width, power=2.0):
  """A burst sin^power over [start, start+width) of each cycle (fractions)."""
  z = (phase - start) % 1.0
  return np.where(z < width, np.sin(np.pi * np.minimum(z / width, 1.0)) ** power, 0.0)


def _u(rng, lo, hi, n):
  return rng.uniform(lo, hi, (n, 1)).astype(np.float32)


def _class_drive(c: int, rng, t, tempo, working_left):
  """Excitation of each biceps femoris [n, 2, T], as a fraction of maximal effort.

  The levels are the drills' hamstring demand as the paper describes them
  (sec. III) read with basic mechanics, set once, not fitted to a score:
  the biceps femoris flexes the knee and extends the hip, so it works hard
  when the knee is resisted near 45 deg of flexion (C4 is the classic
  maximal-contraction position), works more in a bridge the straighter the
  knee and the longer the lever (C3 > C5 > C2: with the knees fully flexed
  the glutes do most of a glute bridge and the hamstrings are short), is only
  a stabiliser in an adductor squeeze (C1), and is moderately active in
  unloaded curls (C6: concentric lift stronger than the eccentric lowering)
  and in slow running (C7: a burst in late swing / early stance of each
  stride, the two legs half a stride apart). In single-leg drills (C3, C4,
  C6) the other leg rests. Timing (onset, hold length, repetition tempo)
  varies per recording.

  Args:
    c: class index 0..6 (C1..C7).
    rng: NumPy generator.
    t: [T] time in seconds.
    tempo: [n, 1] subject x recording tempo factor (>1 = slower movements).
    working_left: [n, 1] bool, the working leg of single-leg drills (C3, C4, C6).
  """
  n = tempo.shape[0]
  rest = np.zeros((n, t.shape[0]), np.float32)
  if c in (0, 3):  # C1 adductor squeeze, C4 isometric prone: isometric holds
    on = _u(rng, 0.3, 2.0, n)
    ramp = _u(rng, 0.3, 0.9, n) if c == 0 else _u(rng, 0.6, 1.4, n)
    off = on + (_u(rng, 3.5, 6.0, n) if c == 0 else _u(rng, 4.0, 6.5, n))
    hold = _window(t, on, off, ramp)
    # Holding against resistance is not perfectly steady.
    hold = hold * (1.0 + _slow_wobble(rng, n, t, 0.12, 1.5))
    if c == 0:  # both hamstrings stabilise the squeeze: low, bilateral
      main, other = 0.15 * hold, 0.13 * hold
    else:  # one knee flexed against full resistance: near maximal
      main, other = 0.85 * hold, rest
  elif c in (1, 4, 2):  # C2 glute bridge, C5 elevated bridge, C3 SL bridge
    lo, hi, rise, top, lower = {
      1: (3.2, 4.5, 0.25, 0.30, 0.25),
      4: (2.8, 4.0, 0.20, 0.40, 0.25),
      2: (3.0, 4.2, 0.25, 0.35, 0.25),
    }[c]
    on = _u(rng, 0.0, 1.5, n)
    phase = _cycles(rng, t, on, tempo * _u(rng, lo, hi, n), 0.15)
    reps = _trapezoid(phase, rise, top, lower) * (t >= on)
    if c == 1:  # knees fully flexed: glutes lead, hamstrings short
      main, other = 0.25 * reps, 0.22 * reps
    elif c == 4:  # feet on a box, knees at 90 deg: more hamstring
      main, other = 0.4 * reps, 0.37 * reps
    else:  # one leg, long lever (knee 45 deg): the hardest bridge
      main, other = 0.6 * reps, rest
  elif c == 5:  # C6 single-leg prone curls: concentric then eccentric phase
    on = _u(rng, 0.0, 1.5, n)
    phase = _cycles(rng, t, on, tempo * _u(rng, 2.0, 3.0, n), 0.15)
    curl = 0.35 * _bump(phase, 0.0, 0.4) + 0.2 * _bump(phase, 0.45, 0.4)
    main, other = curl * (t >= on), rest
  elif c == 6:  # C7 running at 3 kph: alternating left/right bursts per stride
    period = tempo * _u(rng, 1.0, 1.35, n)
    phase = _cycles(rng, t, np.zeros((n, 1), np.float32), period, 0.1)
    phase = phase + _u(rng, 0.0, 1.0, n)  # already running at t=0
    duty = _u(rng, 0.3, 0.4, n)
    shift = 0.5 + _u(rng, -0.04, 0.04, n)
    main = 0.05 + 0.3 * _bump(phase, 0.0, duty)
    other = 0.05 + 0.3 * _bump(phase, shift, duty)
  else:
    raise ValueError(f'class index {c} not in 0..6')
  left = np.where(working_left, main, other)
  right = np.where(working_left, other, main)
  return np.stack([left, right], axis=1).astype(np.float32)


def _acquisition_band(freqs, band=(20.0, 450.0)):
  """[F] amplitude response of a 4th-order Butterworth 20-450 Hz band-pass.

  The usual sEMG acquisition band (SENIAM; Merletti & Parker, Electromyography,
  2004): it removes movement artefacts below 20 Hz and aliasing above.
  """
  lo, hi = band
  highpass = (freqs / lo) ** 4 / np.sqrt(1.0 + (freqs / lo) ** 8)
  lowpass = 1.0 / np.sqrt(1.0 + (freqs / hi) ** 8)
  return (highpass * lowpass).astype(np.float32)


def _muap_spectra(widths_ms, num_samples, fs):
  """rfft [G, F] of the first Hermite-Rodriguez function at each width.

  HR1(t) = (t / w) exp(-(t / w)^2) is the standard biphasic surface
  motor-unit action potential of sEMG simulators (Lo Conte, Merletti &
  Sandri 1994, IEEE Trans. Biomed. Eng. 41:1140); its spectrum peaks at
  1 / (pi w sqrt(2)), about 110 Hz at w = 2 ms, 55 Hz at 4 ms.
  """
  half = int(np.ceil(6e-3 * widths_ms.max() * fs))
  tau = np.arange(-half, half + 1) / fs * 1e3  # ms
  z = tau[None, :] / widths_ms[:, None]
  shapes = z * np.exp(-(z**2))
  shapes /= np.abs(shapes).max(axis=1, keepdims=True)
  padded = np.zeros((len(widths_ms), num_samples), np.float32)
  padded[:, : 2 * half + 1] = shapes
  # Centre the potential on its spike time (circular shift by `half`).
  return np.fft.rfft(np.roll(padded, -half, axis=1), axis=1)


def _motor_unit_emg(rng, drive, unit_amp, unit_group, group_spectra, fs):
  """Surface EMG of motor-unit pools driven by `drive`: [m, T] float32.

  Each channel's pool recruits unit i when the excitation E(t) = drive *
  E_max passes its threshold and fires it at a rate rising with E (see the
  constants above); spike times are a rate-integrating oscillator with a
  random initial phase, each spike displaced by Gaussian jitter so that
  interspike intervals have CV ~ 0.2. Each spike adds the unit's potential
  (amplitude `unit_amp`, shape of its width group).

  Args:
    rng: NumPy generator.
    drive: [m, T] excitation in [0, 1] of maximal.
    unit_amp: [m, U] potential amplitude of every unit.
    unit_group: [m, U] int width group of every unit.
    group_spectra: [m, G, F] rfft of each group's potential for each channel.
    fs: sampling rate in Hz.
  """
  m, num_samples = drive.shape
  units = unit_amp.shape[1]
  groups = group_spectra.shape[1]
  i = np.arange(1, units + 1)
  threshold = np.exp(np.log(_RR) * i / units).astype(np.float32)  # Fuglevand eq. 1
  peak = (_PFR1 - _PFRD * threshold / threshold[-1]).astype(np.float32)  # eq. 5
  e_max = threshold[-1] + (peak[-1] - _MFR) / _GAIN_E  # every unit at its peak rate
  # Rates change slowly (the drive is smooth), so they are held constant over
  # blocks of `hop` samples and spike times solved exactly within a block:
  # at most one spike per unit and block while rate * hop / fs < 1.
  hop = max(1, int(fs * 0.01))
  blocks = -(-num_samples // hop)
  padded = np.pad(drive, ((0, 0), (0, blocks * hop - num_samples)), mode='edge')
  coarse = padded.reshape(m, blocks, hop).mean(axis=-1)
  out = np.empty((m, num_samples), np.float32)
  chunk = 64  # channels per block: [64, 60, 800] float32 is 12 MB
  for s in range(0, m, chunk):
    e = coarse[s : s + chunk, None, :] * e_max  # (c, 1, B)
    c = e.shape[0]
    rate = np.minimum(_GAIN_E * (e - threshold[:, None]) + _MFR, peak[:, None])  # eq. 2
    step = np.where(e >= threshold[:, None], rate, 0.0).astype(np.float32) * (hop / fs)
    end = np.cumsum(step, axis=-1) + rng.uniform(size=(c, units, 1)).astype(np.float32)
    start = end - step
    ci, ui, bi = np.nonzero(np.floor(end) > np.floor(start))
    frac = (np.ceil(start[ci, ui, bi]) - start[ci, ui, bi]) / step[ci, ui, bi]
    isi = hop / step[ci, ui, bi]  # samples
    # Independent jitter of each spike: ISI CV = sqrt(2) * jitter / ISI.
    jitter = rng.standard_normal(ci.shape) * (_ISI_CV / np.sqrt(2.0)) * isi
    ti = np.round((bi + frac) * hop + jitter).astype(np.int64)
    ti = np.clip(ti, 0, num_samples - 1)
    g = unit_group[s + ci, ui]
    flat = (ci * groups + g) * num_samples + ti
    trains = np.bincount(flat, weights=unit_amp[s + ci, ui], minlength=c * groups * num_samples)
    trains = trains.reshape(c, groups, num_samples).astype(np.float32)
    spec = np.sum(np.fft.rfft(trains, axis=-1) * group_spectra[s : s + c], axis=1)
    out[s : s + c] = np.fft.irfft(spec, n=num_samples, axis=-1)
  return out


def synthetic_semg(
  key: jax.Array,
  num_subjects: int = 15,
  recordings_per_class: int = 10,
  num_sessions: int = 2,
  fs: float = 1000.0,
  duration_s: float = 8.0,
  variability: float = 1.0,
) -> SEMGDataset:
  """Synthetic two-channel hamstring sEMG for the seven drills C1-C7.

  How it is generated, from how surface EMG arises:

  1. *Drive.* Each drill is a pattern of excitation of the left and right
     biceps femoris over time (`_class_drive`): isometric holds (C1 low and
     bilateral, C4 near-maximal on one leg), bridge repetitions (C2 < C5
     bilateral, C3 one leg), single-leg curls with a concentric and a weaker
     eccentric burst (C6), alternating stride bursts (C7).
  2. *Motor units.* Each channel has its own pool of 60 motor units
     (Fuglevand et al. 1993): exponentially spaced recruitment thresholds
     (Henneman's size principle), rate coding from 8 Hz to 25-35 Hz, ISI
     CV 0.2. Low excitation recruits few small units firing slowly: the
     signal is a sparse train of distinct potentials (regular, predictable:
     low SampEn). High excitation adds large units and high rates: a dense
     interference pattern (near-Gaussian: high SampEn). So the drill's level
     changes the signal's regularity, not only its amplitude.
  3. *Tissue.* Each unit has a depth; the potential seen at the skin
     shrinks (x 1/10 over the depth range) and widens (x 2.5) with depth
     (volume-conductor low-pass filtering), and larger units conduct faster
     (narrower potentials). Potentials are first Hermite-Rodriguez
     functions (Lo Conte et al. 1994) of width 1.2-6 ms, pooled into
     8 log-spaced widths. Subcutaneous fat differs per subject (width scale).
  4. *Electrode.* Amplifier white noise (5-25 uV RMS) and 50 Hz mains hum
     (UK) per subject, per-session electrode gains (re-placement), then the
     20-450 Hz acquisition band-pass. Rest is the noise floor only.
  5. *Variability.* Per subject: channel gains, fat, noise, tempo, preferred
     working leg, how hard each drill is performed (x lognormal 0.2);
     per recording: effort (x lognormal 0.1), tempo, onset, hold length,
     timing jitter within the set, working leg. `variability` scales the
     spread of gains, effort and tempo. Effort changes the number of active
     units and their rates, hence the signal's structure, not only its size.

  What the representation keeps. The paper's SampEn uses r = 0.25 x each
  frame's standard deviation, so it is blind to a frame's amplitude: the
  drills differ after preprocessing through (a) when each leg is active
  (rest frames are the noise floor), (b) how densely the active pool fires
  (step 2) and (c) the repetition pattern. `tests/test_semg_data.py`
  measures it: logistic regression on the [2, 61] features
  (`signals.semg_features`), trained on some subjects and tested on others.

  Recordings are ordered subject-major, then class, then repetition;
  repetition r of a subject is in session r * num_sessions // recordings_per_class.

  Args:
    key: JAX PRNG key; the data is a deterministic function of it.
    num_subjects: number of subjects (the paper has 15).
    recordings_per_class: recordings per subject and class.
    num_sessions: sessions per subject (electrode re-placements).
    fs: sampling frequency in Hz (paper: 1000).
    duration_s: recording length in seconds (paper: 8, i.e. 8000 samples).
    variability: scale of the subject/session/recording spread (1 = default).

  Returns:
    `SEMGDataset` with x [num_subjects*7*recordings_per_class, 2, fs*duration_s]
    float32 in millivolts, class_names = `CLASS_NAMES`.
  """
  for name, v in (
    ('num_subjects', num_subjects),
    ('recordings_per_class', recordings_per_class),
    ('num_sessions', num_sessions),
  ):
    if int(v) != v or v < 1:
      raise ValueError(f'{name} must be a positive integer, got {v}')
  if not fs > 0 or not duration_s > 0:
    raise ValueError(f'fs and duration_s must be positive, got {fs}, {duration_s}')
  num_samples = int(round(fs * duration_s))
  if num_samples < 2:
    raise ValueError(f'fs * duration_s = {fs * duration_s} gives no signal')
  if not variability >= 0:
    raise ValueError(f'variability must be >= 0, got {variability}')

  rng = _rng_from_key(key)
  K, S, R, U = len(CLASS_NAMES), num_subjects, recordings_per_class, _NUM_MU
  n = S * K * R
  subjects = np.repeat(np.arange(S), K * R)
  labels = np.tile(np.repeat(np.arange(K), R), S)
  reps = np.tile(np.arange(R), S * K)
  sessions = reps * num_sessions // R
  t = (np.arange(num_samples) / fs).astype(np.float32)
  v = variability

  # Per subject: electrode/skin gains, noise floor, mains hum, subcutaneous
  # fat (widens every potential), tempo, preferred leg, drill effort.
  subj_gain = rng.lognormal(0.0, 0.25 * v, (S, 2))
  subj_noise = np.exp(rng.uniform(np.log(0.005), np.log(0.025), S))  # mV
  subj_hum = np.exp(rng.uniform(np.log(0.002), np.log(0.03), S))  # mV
  subj_fat = rng.uniform(1.0, 1.5, S)
  subj_tempo = rng.lognormal(0.0, 0.1 * v, S)
  subj_left = rng.uniform(0.2, 0.8, S)  # P(left is the working leg)
  subj_effort = rng.lognormal(0.0, 0.2 * v, (S, K))
  sess_gain = rng.lognormal(0.0, 0.15 * v, (S, num_sessions, 2))

  rec_tempo = (subj_tempo[subjects] * rng.lognormal(0.0, 0.08 * v, n))[:, None]
  working_left = (rng.uniform(size=n) < subj_left[subjects])[:, None]
  drive = np.empty((n, 2, num_samples), np.float32)
  for c in range(K):  # one vectorised call per drill
    idx = np.flatnonzero(labels == c)
    drive[idx] = _class_drive(c, rng, t, rec_tempo[idx].astype(np.float32), working_left[idx])
  effort = subj_effort[subjects, labels] * rng.lognormal(0.0, 0.1 * v, n)
  drive = np.clip(drive * effort[:, None, None].astype(np.float32), 0.0, 1.0)

  # Motor-unit pools, one per recording and channel (the electrode samples a
  # different set of units each time it is placed).
  size = np.exp(np.log(_AMP_RANGE) * np.arange(1, U + 1) / U)
  depth = rng.uniform(0.0, 1.0, (n, 2, U))
  amp = size * np.exp(-np.log(10.0) * depth)
  # Width in ms: 2 ms for a superficial small unit, wider with depth and fat,
  # narrower for large (faster-conducting) units.
  width = 2.0 * (1.0 + 1.5 * depth) * (1.2 - 0.4 * np.arange(U) / U)
  width = width * subj_fat[subjects, None, None]
  edges = np.geomspace(1.2, 6.0, _MUAP_GROUPS + 1)
  centres = np.sqrt(edges[:-1] * edges[1:])
  group = np.clip(np.searchsorted(edges, width) - 1, 0, _MUAP_GROUPS - 1)
  spectra = _muap_spectra(centres, num_samples, fs)  # (G, F)
  emg = _motor_unit_emg(
    rng,
    drive.reshape(n * 2, num_samples),
    amp.reshape(n * 2, U).astype(np.float32),
    group.reshape(n * 2, U),
    np.broadcast_to(spectra, (n * 2, *spectra.shape)),
    fs,
  ).reshape(n, 2, num_samples)
  del drive

  gain = (
    _FULL_SCALE_MV / _POOL_RMS_AT_MAX * subj_gain[subjects] * sess_gain[subjects, sessions]
  )  # (n, 2)
  x = gain[:, :, None].astype(np.float32) * emg
  del emg

  # Noise floor: amplifier noise and 50 Hz hum (UK mains), per subject.
  x += subj_noise[subjects, None, None] * rng.standard_normal(x.shape, dtype=np.float32)
  hum_phase = rng.uniform(0.0, 2 * np.pi, (n, 2, 1)).astype(np.float32)
  hum_amp = subj_hum[subjects, None, None] * rng.lognormal(0.0, 0.3, (n, 2, 1))
  x += (hum_amp * np.sin(2 * np.pi * 50.0 * t + hum_phase)).astype(np.float32)
  band = _acquisition_band(np.fft.rfftfreq(num_samples, 1.0 / fs))
  x = np.fft.irfft(np.fft.rfft(x, axis=-1) * band, n=num_samples, axis=-1).astype(np.float32)

  return SEMGDataset(
    x=x, labels=labels, subjects=subjects, sessions=sessions, class_names=CLASS_NAMES, fs=fs
  )


# --------------------------------------------------------------------------
# A difficulty check for data sets: few-shot 1-nearest-neighbour.
# --------------------------------------------------------------------------


def nearest_neighbour_few_shot(
  features: np.ndarray, labels: np.ndarray, shots: int, key: jax.Array, episodes: int = 100
) -> np.ndarray:
  """Accuracy of 1-NN (Euclidean) with `shots` support examples per class.

  Each episode draws `shots` recordings per class as the support set and
  classifies every other recording as a query by its nearest support
  example. This is the sanity baseline quoted for `synthetic_semg`; it is not
  one of the paper's methods.

  Args:
    features: [n, ...] float features (flattened internally).
    labels: [n] int class labels; every class present needs > `shots` examples.
    shots: support examples per class (the paper's nu: 1, 5, 10, 20, 50).
    key: JAX PRNG key; episodes are deterministic given it.
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
  rng = _rng_from_key(key)
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
