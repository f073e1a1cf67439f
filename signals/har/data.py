"""Smartwatch activity data (harAGE layout): participants, JSON I/O, windows, BasicMotions.

The synthetic harAGE-like generator is in `signals.har.synthetic`.

Data model
----------
A participant is a sequence of blocks; a block is one activity (at one
intensity) with one stream per modality. A stream is timestamps (float
seconds, strictly increasing, at the modality's own rate) and values
([n] for 'steps' and 'hr', [n, 3] for 'acc'). The 'resting' block is never
classified (paper Section 5) but gives the heart-rate baseline (4.1.2).

JSON layout (`load_participants`), close to the watch app's messages (paper
Section 3: the app packs each modality's recent samples into a JSON message):
one file per participant, `<dir>/<anything>.json`::

  {"participant": "P01",
   "messages": [
     {"activity": "resting", "intensity": null,
      "steps": {"timestamps": [t0, t1, ...], "values": [3021, 3021, ...]},
      "hr":    {"timestamps": [...], "values": [64, 65, ...]},
      "acc":   {"timestamps": [...], "x": [...], "y": [...], "z": [...]}},
     {"activity": "walking", "intensity": "low", ...},
     ...]}

Timestamps are seconds (any origin, e.g. Unix time). A message may omit a
modality (nothing was received). Consecutive messages with the same activity
and intensity are joined into one block, in file order; gaps between them
(lost messages) are found later from the timestamps. Activities are those of
`ACTIVITIES` plus 'resting'; intensity is null or one of `INTENSITIES`.

Windowing (`windows_from_participants`): per block and modality, the stream is
cut into continuous runs of at least 20 s (Section 3), each run is
preprocessed alone (`signals.har`), and aligned 20 s windows are taken where
all modalities are continuous: 50% overlap (hop 10 s) for windows used in
training and no overlap (hop 20 s) for windows used in testing (4.1). A
window where a modality is missing or not consecutive is excluded and counted
in `WindowStats`. A participant without resting heart-rate samples raises
ValueError, or, with `missing_rest='exclude'`, is excluded and listed.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import NamedTuple

import numpy as np

from evaluation import checks
from signals.har import transforms as har

# harAGE activities (paper Table 1, Section 5.3 order); 'resting' is extra.
ACTIVITIES = (
  'lying',
  'sitting',
  'standing',
  'washing_hands',
  'walking',
  'running',
  'stairs',
  'strength_workout',
  'flexibility_workout',
  'cycling',
)
RESTING = 'resting'
INTENSITIES = ('low', 'moderate', 'high')
STATIC = ('lying', 'sitting', 'standing')
DYNAMIC = ('walking', 'running', 'stairs', 'cycling')
MODALITIES = ('steps', 'hr', 'acc')

# Section 5: the three tasks as class lists; each class is a tuple of activities.
TASKS = {
  2: (STATIC, DYNAMIC),  # 5.1: washing hands and workouts excluded
  7: tuple((a,) for a in STATIC + DYNAMIC),  # 5.2: standard HAR
  10: tuple((a,) for a in ACTIVITIES),  # 5.3: all harAGE activities
}
TASK_CLASS_NAMES = {
  2: ('static', 'dynamic'),
  7: STATIC + DYNAMIC,
  10: ACTIVITIES,
}


@dataclasses.dataclass(frozen=True)
class Stream:
  """One modality of one block: t [n] seconds, values [n] or [n, axes]."""

  t: np.ndarray
  values: np.ndarray


@dataclasses.dataclass(frozen=True)
class Block:
  activity: str
  intensity: str | None
  streams: dict  # modality -> Stream


@dataclasses.dataclass(frozen=True)
class Participant:
  pid: str
  blocks: tuple


class HARWindows(NamedTuple):
  """Windowed, preprocessed data of several participants.

  inputs: modality -> [n, time, channels] float32 features.
  labels: [n] int32 class index into class_names.
  subjects: [n] int32 participant index into subject_names.
  train_window: [n] bool, a window of the 50%-overlap (training) grid.
  test_window: [n] bool, a window of the no-overlap (testing) grid.
  caveat: '' when each subject is one person; otherwise what a subject is and
    why leaving one out is not subject-independent (BasicMotions'
    pseudo-participants). The harAGE protocol copies it into the
    estimator of every record of these windows.
  """

  inputs: dict
  labels: np.ndarray
  subjects: np.ndarray
  train_window: np.ndarray
  test_window: np.ndarray
  class_names: tuple
  subject_names: tuple
  caveat: str = ''


@dataclasses.dataclass
class WindowStats:
  n_train_windows: int = 0
  n_test_windows: int = 0
  n_excluded_windows: int = 0  # a modality missing / not consecutive
  excluded_participants: list = dataclasses.field(default_factory=list)


# ------------------------------------------------------------------- loader


def _json_column(msg, modality, key, where):
  if not isinstance(msg[modality], dict) or key not in msg[modality]:
    raise ValueError(f'{where}: {modality} lacks {key!r} (layout in signals.har.data).')
  try:
    a = np.asarray(msg[modality][key], dtype=np.float64)
  except (TypeError, ValueError) as e:
    raise ValueError(f'{where}: {modality} {key} must be a flat list of numbers ({e}).') from None
  if a.ndim != 1:
    raise ValueError(
      f'{where}: {modality} {key} must be a flat list of numbers, got shape {a.shape}.'
    )
  return a


def _stream_from_json(msg, modality, where):
  if modality == 'acc':
    cols = [_json_column(msg, 'acc', k, where) for k in ('x', 'y', 'z')]
    for k, c in zip('yz', cols[1:]):
      if c.shape != cols[0].shape:
        raise ValueError(f'{where}: acc {k} has {c.shape[0]} values, x has {cols[0].shape[0]}.')
    values = np.stack(cols, axis=-1)
  else:
    values = _json_column(msg, modality, 'values', where)
  t = _json_column(msg, modality, 'timestamps', where)
  if t.shape[0] != values.shape[0]:
    raise ValueError(
      f'{where}: {modality} has {t.shape[0]} timestamps but {values.shape[0]} values.'
    )
  return t, values


def _check_activity(activity, intensity, where):
  if activity not in ACTIVITIES and activity != RESTING:
    raise ValueError(
      f'{where}: unknown activity {activity!r}; expected one of {ACTIVITIES + (RESTING,)}.'
    )
  if intensity is not None and intensity not in INTENSITIES:
    raise ValueError(f'{where}: unknown intensity {intensity!r}; expected null or {INTENSITIES}.')


def participant_from_json(doc: dict, where: str = '<json>') -> Participant:
  """Build a Participant from the JSON document described in the module doc."""
  if 'participant' not in doc or 'messages' not in doc:
    raise ValueError(f'{where}: expected keys "participant" and "messages".')
  blocks = []
  for i, msg in enumerate(doc['messages']):
    w = f'{where} message {i}'
    activity, intensity = msg.get('activity'), msg.get('intensity')
    _check_activity(activity, intensity, w)
    parts = {m: _stream_from_json(msg, m, w) for m in MODALITIES if m in msg}
    if blocks and (blocks[-1][0], blocks[-1][1]) == (activity, intensity):
      prev = blocks[-1][2]
      for m, (t, v) in parts.items():
        if m in prev:
          prev[m] = (np.concatenate([prev[m][0], t]), np.concatenate([prev[m][1], v]))
        else:
          prev[m] = (t, v)
    else:
      blocks.append((activity, intensity, parts))
  out = []
  for activity, intensity, parts in blocks:
    streams = {}
    for m, (t, v) in parts.items():
      har.check_timestamps(t, f'{where} {activity}/{intensity} {m} timestamps')
      streams[m] = Stream(t, v)
    out.append(Block(activity, intensity, streams))
  return Participant(str(doc['participant']), tuple(out))


def load_participants(path) -> list[Participant]:
  """Load every `*.json` participant file of a directory (or one file).

  Raises:
    ValueError: naming the file, on a missing path, no JSON files, a file
      that is not JSON, or malformed content (missing keys, lists of other
      lengths or nesting).
  """
  path = pathlib.Path(path)
  if not path.exists():
    raise ValueError(f'data path {path} does not exist.')
  files = [path] if path.is_file() else sorted(path.glob('*.json'))
  if not files:
    raise ValueError(f'no *.json participant files in {path}.')
  out = []
  for f in files:
    with open(f, 'rb') as fh, checks.reading(f, 'JSON file'):
      doc = json.loads(fh.read().decode('utf-8'))
    out.append(participant_from_json(doc, str(f)))
  pids = [p.pid for p in out]
  if len(set(pids)) != len(pids):
    raise ValueError(f'duplicated participant ids in {path}: {pids}.')
  return out


def participant_to_json(p: Participant) -> dict:
  """Inverse of `participant_from_json` (one message per block)."""
  msgs = []
  for b in p.blocks:
    msg = {'activity': b.activity, 'intensity': b.intensity}
    for m, s in b.streams.items():
      if m == 'acc':
        msg[m] = {
          'timestamps': s.t.tolist(),
          'x': s.values[:, 0].tolist(),
          'y': s.values[:, 1].tolist(),
          'z': s.values[:, 2].tolist(),
        }
      else:
        msg[m] = {'timestamps': s.t.tolist(), 'values': s.values.tolist()}
    msgs.append(msg)
  return {'participant': p.pid, 'messages': msgs}


# ------------------------------------------------------------ windowing


def _preprocess_run(modality, values, rest_hr, acc_median):
  if modality == 'steps':
    return har.preprocess_steps(values)
  if modality == 'hr':
    return har.preprocess_heart_rate(values, rest_hr)
  return har.preprocess_accelerometer(values, acc_median)


def participant_windows(
  p: Participant, modalities=MODALITIES, window_seconds: float = har.WINDOW_SECONDS
):
  """Preprocessed train (50% overlap) and test (no overlap) windows of one participant.

  Returns:
    (windows, n_excluded): windows is a list of (inputs dict modality ->
    [time, channels] float32, activity, is_train_grid, is_test_grid) for the
    non-resting blocks; n_excluded counts candidate windows dropped because a
    modality was missing or not consecutive in them.

  Raises:
    ValueError: if the participant has no resting heart-rate samples while
      'hr' is used, or no accelerometer samples while 'acc' is used.
  """
  rest_hr = acc_median = None
  if 'hr' in modalities:
    rest = [b.streams['hr'].values for b in p.blocks if b.activity == RESTING and 'hr' in b.streams]
    try:
      rest_hr = har.resting_baseline(np.concatenate(rest) if rest else [])
    except ValueError as e:
      raise ValueError(f'participant {p.pid}: {e}') from None
  if 'acc' in modalities:
    try:
      acc_median = har.accelerometer_median(
        [b.streams['acc'].values for b in p.blocks if 'acc' in b.streams]
      )
    except ValueError as e:
      raise ValueError(f'participant {p.pid}: {e}') from None
  out, excluded = [], 0
  for b in p.blocks:
    if b.activity == RESTING:
      continue
    if any(m not in b.streams for m in modalities):
      excluded += 1  # a whole block lacks a modality: no window possible
      continue
    ts = {m: b.streams[m].t for m in modalities}
    rates = {m: har.RATES[m] for m in modalities}
    feats = {}
    for m in modalities:
      runs = har.trim_segments(ts[m], rates[m], window_seconds)
      feats[m] = [
        np.asarray(_preprocess_run(m, b.streams[m].values[a:e], rest_hr, acc_median))
        for a, e in runs
      ]
    grids = {}
    for is_train, hop in ((True, window_seconds / 2), (False, window_seconds)):
      wins, n_ex = har.window_starts(ts, rates, hop, window_seconds)
      excluded += n_ex
      for w in wins:
        grids.setdefault(w.start, [w, False, False])
        grids[w.start][1 if is_train else 2] = True
    for start in sorted(grids):
      w, tr, te = grids[start]
      inputs = {}
      for m in modalities:
        run, i = w.slices[m]
        n = int(round(window_seconds * rates[m]))
        inputs[m] = feats[m][run][i : i + n]
        assert inputs[m].shape[0] == n, 'window slicing went past its run'
      out.append((inputs, b.activity, tr, te))
  return out, excluded


def windows_from_participants(
  participants,
  modalities=MODALITIES,
  missing_rest: str = 'error',
  window_seconds: float = har.WINDOW_SECONDS,
) -> tuple[HARWindows, WindowStats]:
  """Windowed features of all participants, labelled with the 10 activities.

  Args:
    participants: list of Participant.
    modalities: modalities to window; windows need all of them.
    missing_rest: 'error' raises on a participant without resting heart rate;
      'exclude' drops that participant and lists it in the stats.
    window_seconds: window length (paper: 20 s).

  Returns:
    (HARWindows with class_names = ACTIVITIES, WindowStats).
  """
  if missing_rest not in ('error', 'exclude'):
    raise ValueError(f"missing_rest must be 'error' or 'exclude', got {missing_rest!r}.")
  unknown = set(modalities) - set(MODALITIES)
  if unknown or not modalities:
    raise ValueError(
      f'unknown or empty modalities {modalities}; expected a subset of {MODALITIES}.'
    )
  if not participants:
    raise ValueError('no participants given.')
  stats = WindowStats()
  rows, names = [], []
  for p in participants:
    try:
      wins, ex = participant_windows(p, modalities, window_seconds)
    except ValueError as e:
      if missing_rest == 'exclude' and 'resting' in str(e):
        stats.excluded_participants.append(p.pid)
        continue
      raise
    stats.n_excluded_windows += ex
    if not wins:
      stats.excluded_participants.append(p.pid)
      continue
    s = len(names)
    names.append(p.pid)
    rows += [(w, ACTIVITIES.index(a), s, tr, te) for w, a, tr, te in wins]
  if not rows:
    raise ValueError(
      f'no complete window in any participant (window_seconds={window_seconds:g}): '
      f'{_longest_runs(participants, modalities)}.'
    )
  inputs = {m: np.stack([r[0][m] for r in rows]).astype(np.float32) for m in modalities}
  data = HARWindows(
    inputs=inputs,
    labels=np.asarray([r[1] for r in rows], np.int32),
    subjects=np.asarray([r[2] for r in rows], np.int32),
    train_window=np.asarray([r[3] for r in rows], bool),
    test_window=np.asarray([r[4] for r in rows], bool),
    class_names=ACTIVITIES,
    subject_names=tuple(names),
  )
  stats.n_train_windows = int(data.train_window.sum())
  stats.n_test_windows = int(data.test_window.sum())
  return data, stats


def _longest_runs(participants, modalities) -> str:
  # Why no window: the longest continuous stretch of each modality in any block.
  longest = {m: 0.0 for m in modalities}
  for p in participants:
    for b in p.blocks:
      for m in modalities:
        if b.activity != RESTING and m in b.streams and b.streams[m].t.size:
          runs = har.continuous_runs(b.streams[m].t, har.RATES[m], name=f'{p.pid} {m} timestamps')
          n = max(e - a for a, e in runs)
          longest[m] = max(longest[m], n / har.RATES[m])
  return 'the longest continuous run of a block is ' + ', '.join(
    f'{s:g} s of {m}' for m, s in longest.items()
  )


def select_task(data: HARWindows, task: int) -> HARWindows:
  """Relabel 10-activity windows for the 2-, 7- or 10-class task (Section 5).

  Raises:
    ValueError: on an unknown task, or labels that are not integer ids of the
      10 activities (a float or out-of-range label would index the wrong class).
  """
  if task not in TASKS:
    raise ValueError(f'task must be one of {tuple(TASKS)}, got {task}.')
  if data.class_names != ACTIVITIES:
    raise ValueError('select_task needs windows labelled with the 10 harAGE activities.')
  checks.check_labels('labels', data.labels, len(ACTIVITIES))
  lut = np.full(len(ACTIVITIES), -1, np.int32)
  for c, group in enumerate(TASKS[task]):
    for a in group:
      lut[ACTIVITIES.index(a)] = c
  new = lut[data.labels]
  keep = new >= 0
  return HARWindows(
    {m: x[keep] for m, x in data.inputs.items()},
    new[keep],
    data.subjects[keep],
    data.train_window[keep],
    data.test_window[keep],
    TASK_CLASS_NAMES[task],
    data.subject_names,
    data.caveat,
  )


def select_modalities(data: HARWindows, modalities) -> HARWindows:
  missing = [m for m in modalities if m not in data.inputs]
  if missing:
    raise ValueError(f'modalities {missing} not in the data ({tuple(data.inputs)}).')
  return data._replace(inputs={m: data.inputs[m] for m in modalities})


# ------------------------------------------------------ real recordings


BASICMOTIONS_CAVEAT = (
  'BasicMotions: the held-out "participants" are pseudo-participants (groups of recordings '
  'dealt out by class rank; the archive does not say which of its four students made each '
  "recording), so every student's recordings are likely in training and test alike: leaving "
  'one group out is a grouped, stratified cross-validation, not subject-independent'
)


def load_basicmotions(n_groups: int = 10) -> HARWindows:
  """aeon's BasicMotions smartwatch recordings as two-modality windows.

  BasicMotions (UCR/UEA archive, shipped inside the aeon package, no
  download): 80 recordings of 10 s at 10 Hz, 3-axis accelerometer and 3-axis
  gyroscope, 4 activities (standing, running, walking, badminton), recorded
  by four students. The archive does not ship which student made each
  recording, so recordings are split into `n_groups` pseudo-participants
  holding the same number of recordings of every activity (the k-th
  recording of each class, in file order, goes to group k mod n_groups).
  LOSO over pseudo-participants is therefore a grouped, stratified CV, not a
  true subject-independent one (`HARWindows.caveat` says so, and so does every
  record of the harAGE protocol on these windows).

  Each modality gets the accelerometer pipeline of 4.1.3 (per pseudo-
  participant per-axis median debiasing, Gaussian filter sigma 1, first and
  second derivatives); each recording is one window (every window is both a
  training and a testing window).

  Returns:
    HARWindows with inputs {'acc': [80, 100, 9], 'gyro': [80, 100, 9]}.
  """
  from aeon.datasets import load_classification  # dev dependency

  x, y, meta = load_classification('BasicMotions', return_metadata=True)
  classes = tuple(meta['class_values'])
  labels = np.asarray([classes.index(v) for v in y], np.int32)
  counts = [int((labels == c).sum()) for c in range(len(classes))]
  if n_groups < 2 or n_groups > min(counts):
    raise ValueError(f'n_groups must be in [2, {min(counts)}], got {n_groups}.')
  rank = np.zeros_like(labels)
  for c in range(len(classes)):
    rank[labels == c] = np.arange(counts[c])
  subjects = (rank % n_groups).astype(np.int32)
  x = np.transpose(x, (0, 2, 1))  # (N, T, 6)
  inputs = {}
  for m, sl in (('acc', slice(0, 3)), ('gyro', slice(3, 6))):
    feats = np.empty(x.shape[:2] + (9,), np.float32)
    for s in range(n_groups):
      idx = np.flatnonzero(subjects == s)
      med = har.accelerometer_median([x[i, :, sl] for i in idx])
      for i in idx:
        feats[i] = np.asarray(har.preprocess_accelerometer(x[i, :, sl], med))
    inputs[m] = feats
  n = labels.shape[0]
  return HARWindows(
    inputs,
    labels,
    subjects,
    np.ones(n, bool),
    np.ones(n, bool),
    classes,
    tuple(f'G{g}' for g in range(n_groups)),
    BASICMOTIONS_CAVEAT,
  )


def heartpy_heart_rate(example: int = 1):
  """A 1 Hz heart-rate series derived from one of heartpy's PPG examples.

  heartpy finds the beats (`heartpy.process`); the instantaneous rate
  60 / RR of each accepted beat interval is placed at the interval's end and
  linearly interpolated onto a 1 Hz grid, as a watch reports heart rate.

  Args:
    example: 1 (about 128 s of PPG with a millisecond timer) or 0 (about 25 s
      at 100 Hz).

  Returns:
    (t [n] seconds, hr [n] bpm), float64.
  """
  import heartpy as hp  # dev dependency

  if example == 0:
    data, fs = hp.load_exampledata(0)[0], 100.0
  elif example == 1:
    data, timer = hp.load_exampledata(1)
    fs = hp.get_samplerate_mstimer(timer)
  else:
    raise ValueError(f'example must be 0 or 1, got {example}.')
  wd, _ = hp.process(np.asarray(data, np.float64), fs)
  peaks = np.asarray(wd['peaklist'])
  ok = np.asarray(wd['binary_peaklist'], bool)
  times = peaks / fs
  # An interval counts only when both of its beats were accepted.
  good = ok[1:] & ok[:-1]
  t_beat = times[1:][good]
  rate = 60.0 / np.diff(times)[good]
  grid = np.arange(np.ceil(t_beat[0]), np.floor(t_beat[-1]) + 1.0)
  return grid, np.interp(grid, t_beat, rate)
