"""Smartwatch activity data (harAGE layout): loader, synthetic generator, adapters.

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

import jax
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
  """

  inputs: dict
  labels: np.ndarray
  subjects: np.ndarray
  train_window: np.ndarray
  test_window: np.ndarray
  class_names: tuple
  subject_names: tuple


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


# ------------------------------------------------------ synthetic harAGE
#
# Physiology behind the generator (see `synthetic_harage` for the sources).
# Watch frame: x along the forearm towards the fingers, y across the wrist,
# z out of the watch face. `up` is the direction opposite to gravity in that
# frame: a still watch reads +1 g along it.

G = 9.81  # m/s^2 per g
_LOWER = (-1.0, 0.0, 0.15)  # arm hanging at the side: fingers point down


class _Activity(NamedTuple):
  met: tuple  # metabolic equivalents per intensity (low, moderate, high) or (one,)
  cadence: tuple  # steps/min per intensity; () for no gait
  up: tuple  # posture: 'up' in the watch frame
  motion: str  # 'still', 'gait', 'rub', 'workout', 'stretch', 'pedal'
  posture_bpm: float = 0.0  # heart-rate offset of posture (orthostatic)
  false_steps: float = 0.0  # steps/s a wrist pedometer counts without walking


# METs: Ainsworth et al. 2011 Compendium (lying 1.0, sitting 1.3, standing
# 1.8 with light movement, washing hands 2.0, walking 2.8/3.5/4.3 at 2-3.5
# mph, running 6.0/8.3/9.8 at 4-6 mph, stairs 4.0/6.0/8.8, resistance
# training 3.5-5.0, stretching 2.3, stationary cycling 3.5/6.8/8.8).
# Cadence: walking 90-125 steps/min (Tudor-Locke et al. 2011, 2018), running
# 150-180 (Cavanagh & Kram 1989), stairs slower than level walking.
_ACTIVITY = {
  'resting': _Activity((1.2,), (), (0.1, 0.0, 1.0), 'still'),
  'lying': _Activity((1.0,), (), (0.05, 1.0, 0.2), 'still', posture_bpm=-4.0),
  'sitting': _Activity((1.3,), (), (0.1, 0.0, 1.0), 'still'),
  'standing': _Activity((1.8,), (), _LOWER, 'still', posture_bpm=8.0, false_steps=0.02),
  'washing_hands': _Activity((2.0,), (), (0.5, 0.8, 0.3), 'rub', false_steps=0.15),
  'walking': _Activity((2.8, 3.5, 4.3), (95.0, 110.0, 125.0), _LOWER, 'gait'),
  'running': _Activity((6.0, 8.3, 9.8), (150.0, 162.0, 175.0), (0.2, 0.9, 0.3), 'gait'),
  'stairs': _Activity((4.0, 6.0, 8.8), (85.0, 98.0, 112.0), _LOWER, 'gait'),
  'strength_workout': _Activity((3.5,), (), _LOWER, 'workout', false_steps=0.05),
  'flexibility_workout': _Activity((2.3,), (), (0.0, 0.3, 1.0), 'stretch'),
  'cycling': _Activity((3.5, 6.8, 8.8), (), (0.5, 0.0, 0.85), 'pedal', false_steps=0.03),
}
_INTENSITY_INDEX = {None: 0, 'low': 0, 'moderate': 1, 'high': 2}


class _Person(NamedTuple):
  hr_rest: float  # bpm, sitting at rest
  hr_max: float  # bpm, 208 - 0.7 age (Tanaka et al. 2001)
  met_max: float  # aerobic capacity in METs
  tau_on: float  # s, heart-rate on-kinetics time constant
  tau_off: float  # s, recovery time constant (slower than the rise)
  cadence: float  # personal cadence factor
  effort: float  # personal reading of 'low / moderate / high'
  swing: float  # arm-swing amplitude factor
  tilt: np.ndarray  # [11, 3] personal posture rotation vectors (radians)
  acc_bias: np.ndarray  # [3] m/s^2 sensor offset


def _person(rng) -> _Person:
  age = float(np.clip(rng.normal(41.7, 8.0), 25.0, 65.0))  # harAGE: 41.7 +- 8.0 years
  return _Person(
    hr_rest=float(np.clip(rng.normal(68.0, 8.0), 50.0, 90.0)),
    hr_max=208.0 - 0.7 * age + rng.normal(0.0, 5.0),
    met_max=float(np.clip(rng.normal(10.5, 2.0), 7.0, 16.0)),
    tau_on=rng.uniform(20.0, 45.0),
    tau_off=rng.uniform(40.0, 90.0),
    cadence=rng.lognormal(0.0, 0.06),
    effort=rng.lognormal(0.0, 0.12),
    swing=rng.lognormal(0.0, 0.25),
    tilt=rng.normal(0.0, np.deg2rad(15.0), (len(_ACTIVITY), 3)),
    acc_bias=rng.normal(0.0, 0.2, 3),
  )


def _rotate(v, axis, angle):
  """Rodrigues: vectors v [n, 3] rotated by angle [n] about unit axis [n, 3] or [3]."""
  axis = np.broadcast_to(axis, v.shape)
  c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
  dot = np.sum(axis * v, axis=-1, keepdims=True)
  return v * c + np.cross(axis, v) * s + axis * dot * (1.0 - c)


def _ar1(rng, n, rho, sd):
  """Stationary AR(1) noise [n] with lag-1 correlation rho and std sd."""
  e = rng.normal(0.0, sd * np.sqrt(1.0 - rho**2), n)
  out = np.empty(n)
  out[0] = rng.normal(0.0, sd)
  for k in range(1, n):
    out[k] = rho * out[k - 1] + e[k]
  return out


def _smooth_noise(rng, n, fs, cutoff, sd):
  """Gaussian noise [n] low-passed below `cutoff` Hz, scaled to std sd."""
  x = rng.normal(0.0, 1.0, n)
  spec = np.fft.rfft(x)
  spec[np.fft.rfftfreq(n, 1.0 / fs) > cutoff] = 0.0
  y = np.fft.irfft(spec, n)
  return sd * y / (y.std() + 1e-12)


def _gait(rng, ta, cadence, act_name, person, intensity):
  """Wrist motion of walking, running, stairs: angle [n], linear acc [n, 3], step times."""
  n, fs = ta.size, har.RATES['acc']
  # Step frequency with stride-to-stride variability (CV about 2-3%,
  # Hausdorff et al. 1995) as a slowly varying AR(1) factor.
  f_step = cadence / 60.0 * (1.0 + _ar1(rng, n, 0.995, 0.025))
  if act_name == 'stairs':  # flights of about 12 s, up and down, with turns
    flight = np.floor((ta - ta[0]) / 12.0).astype(int)
    down = flight % 2 == 1
    f_step = np.where(down, 1.15 * f_step, f_step)
    turn = ((ta - ta[0]) % 12.0) > 10.5
    f_step = np.where(turn, 0.3 * f_step, f_step)
  phase = 2.0 * np.pi * np.cumsum(f_step) / fs + rng.uniform(0.0, 2.0 * np.pi)
  step_times = ta[0] + np.interp(
    np.arange(np.ceil(phase[0] / (2 * np.pi)), phase[-1] / (2 * np.pi)) * 2 * np.pi,
    phase,
    ta - ta[0],
  )
  running = act_name == 'running'
  # Arm swing at the stride frequency (half the step frequency), larger with
  # speed; the running arm is bent, swinging less in angle.
  swing = np.deg2rad((18.0 if running else 12.0 + 6.0 * intensity) * person.swing)
  angle = swing * np.sin(phase / 2.0)
  # Inertial acceleration: the forearm's tangential acceleration of the swing
  # (radius about 0.6 m for the hanging arm, 0.3 m for the bent one) and the
  # vertical impact at each foot strike, a few tenths of a g walking and
  # 1-2 g running at the wrist.
  radius = 0.3 if running else 0.6
  ang_acc = -((np.pi * f_step) ** 2) * angle
  impact = (1.2 + 0.4 * intensity if running else 0.25 + 0.08 * intensity) * G
  if act_name == 'stairs':
    impact = np.where(down, 1.5 * impact, impact)
  bump = impact * np.maximum(np.cos(phase), 0.0) ** 4  # short peak per step
  lin = np.zeros((n, 3))
  lin[:, 2] = radius * ang_acc
  lin[:, 0] = -bump  # along the forearm (points down for the hanging arm)
  return angle, lin, step_times


def _non_gait(rng, ta, act: _Activity):
  """Wrist motion of the other activities: angle [n], linear acc [n, 3]."""
  n, fs = ta.size, har.RATES['acc']
  lin = np.zeros((n, 3))
  half = ta - ta[0] > 0.5 * (ta[-1] - ta[0])
  if act.motion == 'still':
    # harAGE did each static activity twice: without moving, then with
    # reasonable free movements: posture shifts of 10-30 degrees.
    angle = np.zeros(n)
    for start in rng.uniform(ta[0], ta[-1], rng.poisson(0.05 * (ta[-1] - ta[0]))):
      dur = rng.uniform(1.0, 3.0)
      on = half & (ta >= start) & (ta < start + dur)
      angle[on] += np.deg2rad(rng.uniform(10.0, 30.0)) * np.sin(np.pi * (ta[on] - start) / dur)
    lin += _smooth_noise(rng, n, fs, 12.0, 0.01 * G)[:, None] * rng.normal(0, 1, 3)  # tremor
  elif act.motion == 'rub':  # rubbing the hands at 2-4 Hz, in bouts
    f = rng.uniform(2.0, 4.0) * (1.0 + _ar1(rng, n, 0.99, 0.08))
    phase = 2.0 * np.pi * np.cumsum(f) / fs
    bouts = 0.6 + 0.4 * np.sign(np.sin(2 * np.pi * (ta - ta[0]) / rng.uniform(6.0, 12.0)))
    angle = np.deg2rad(20.0) * np.sin(phase) * bouts
    lin[:, 1] = rng.uniform(0.3, 0.6) * G * np.sin(phase) * bouts
  elif act.motion == 'workout':  # squats, then arm raises; a repetition every 2.5-4 s
    f = 1.0 / rng.uniform(2.5, 4.0)
    phase = 2.0 * np.pi * f * (ta - ta[0])
    raise_arm = np.deg2rad(85.0) * (1.0 - np.cos(phase)) / 2.0
    angle = np.where(half, raise_arm, np.deg2rad(80.0))  # squats: arms held forward
    lin[:, 2] = np.where(half, 0.6 * (2 * np.pi * f) ** 2 * raise_arm * np.cos(phase), 0.0)
    lin[:, 0] += np.where(half, 0.0, 0.25 * G * np.cos(phase))  # the body's rise and fall
  elif act.motion == 'stretch':  # shoulder rolls (0.5 Hz), then wrist stretches held 15 s
    roll = np.deg2rad(12.0) * np.sin(2 * np.pi * 0.5 * (ta - ta[0]))
    hold = np.deg2rad(70.0) * (np.sin(2 * np.pi * (ta - ta[0]) / 30.0) > 0)
    angle = np.where(half, _smooth_noise(rng, n, fs, 0.3, 0.05) + hold, roll)
    lin[:, 1] = np.where(half, 0.0, 0.08 * G * np.sin(2 * np.pi * 0.5 * (ta - ta[0])))
  else:  # pedal: hands on the handlebar, road vibration and rocking at the pedal rate
    angle = np.deg2rad(3.0) * np.sin(2 * np.pi * rng.uniform(1.0, 1.5) * (ta - ta[0]))
    lin += _smooth_noise(rng, n, fs, 12.0, rng.uniform(0.03, 0.1) * G)[:, None] * rng.normal(
      0, 1, 3
    )
  return angle, lin


def _accelerometer(rng, ta, act_name, person, intensity):
  """[n, 3] m/s^2 wrist accelerometer of one block and its step times."""
  act = _ACTIVITY[act_name]
  up0 = np.asarray(act.up) / np.linalg.norm(act.up)
  tilt = person.tilt[list(_ACTIVITY).index(act_name)]  # rotation vector: axis * angle
  angle0 = np.linalg.norm(tilt)
  up0 = _rotate(up0[None], tilt / max(angle0, 1e-12), np.full(1, angle0))[0]
  if act.motion == 'gait':
    cad = act.cadence[intensity] * person.cadence
    angle, lin, steps = _gait(rng, ta, cad, act_name, person, intensity)
  else:
    (angle, lin), steps = _non_gait(rng, ta, act), np.zeros(0)
  # The arm swings and turns about the watch's y axis (the sagittal plane).
  up = _rotate(np.broadcast_to(up0, (ta.size, 3)).copy(), np.array([0.0, 1.0, 0.0]), angle)
  noise = rng.normal(0.0, 0.015 * G, (ta.size, 3))  # sensor noise, about 15 mg
  return G * up + lin + person.acc_bias + noise, steps


def _pedometer(rng, t1, steps, act: _Activity, intensity, total):
  """Cumulative steps [n] at 1 Hz: detected steps plus the wrist's false counts."""
  detect = 0.85 + 0.04 * intensity  # wrist pedometers undercount slow walking
  kept = steps[rng.random(steps.size) < detect]
  false = rng.uniform(t1[0], t1[-1] + 1.0, rng.poisson(act.false_steps * t1.size))
  events = np.sort(np.concatenate([kept, false]))
  return total + np.searchsorted(events, t1 + 1.0).astype(np.float64)


def _heart_rate(rng, t1, act: _Activity, person, intensity, hr_now, effort):
  """Heart rate [n] bpm at 1 Hz and the state at the end of the block.

  The steady state follows the metabolic cost as a fraction of the heart
  rate reserve (Karvonen; Swain & Leutholtz 1997: %HRR ~ %VO2R); the heart
  rate approaches it with first-order kinetics, faster rising (tau 20-45 s)
  than recovering (40-90 s) (Cole et al. 1999 on recovery).
  """
  met = act.met[min(intensity, len(act.met) - 1)] * (effort if len(act.met) > 1 else 1.0)
  reserve = np.clip((met - 1.2) / (person.met_max - 1.2), -0.05, 0.95)
  target = person.hr_rest + act.posture_bpm + reserve * (person.hr_max - person.hr_rest)
  hr = np.empty(t1.size)
  for k in range(t1.size):
    tau = person.tau_on if target > hr_now else person.tau_off
    hr_now += (target - hr_now) * (1.0 - np.exp(-1.0 / tau))
    hr[k] = hr_now
  # Sinus variability (respiratory, ~0.25 Hz) and PPG motion artefacts that
  # grow with the motion; the watch reports whole bpm.
  resp = 2.0 * np.sin(2 * np.pi * rng.uniform(0.2, 0.3) * (t1 - t1[0]) + rng.uniform(0, 6.3))
  artefact = _ar1(rng, t1.size, 0.8, 1.0 + 2.0 * reserve)
  return np.round(hr + resp + artefact), hr_now


def _protocol():
  # Section 3 order: resting, static, washing hands, dynamic at three
  # intensities, workouts before cycling.
  blocks = [(RESTING, None)] + [(a, None) for a in STATIC + ('washing_hands',)]
  blocks += [(a, i) for a in ('walking', 'running', 'stairs') for i in INTENSITIES]
  blocks += [('strength_workout', None), ('flexibility_workout', None)]
  blocks += [('cycling', i) for i in INTENSITIES]
  return blocks


def _drop_gaps(rng, t, values, seconds, gaps_per_minute, max_gap_seconds):
  keep = np.ones(t.shape[0], bool)
  n_gaps = rng.poisson(gaps_per_minute * seconds / 60.0)
  for _ in range(n_gaps):
    start = rng.uniform(t[0], t[-1])
    keep &= ~((t >= start) & (t < start + rng.uniform(1.0, max_gap_seconds)))
  return t[keep], values[keep]


def synthetic_participant(
  rng: np.random.Generator,
  pid: str,
  block_seconds: float,
  rest_seconds: float,
  gaps_per_minute: float,
  max_gap_seconds: float = 6.0,
) -> Participant:
  """One synthetic harAGE-like participant (see `synthetic_harage`)."""
  person = _person(rng)
  total = float(rng.integers(1000, 8000))  # steps since midnight
  hr_now = person.hr_rest
  clock = float(rng.integers(0, 10**6))
  blocks = []
  for activity, intensity in _protocol():
    seconds = rest_seconds if activity == RESTING else block_seconds
    act, level = _ACTIVITY[activity], _INTENSITY_INDEX[intensity]
    t1 = clock + np.arange(int(seconds), dtype=np.float64)
    ta = clock + np.arange(int(seconds * har.RATES['acc'])) / har.RATES['acc']
    acc, step_times = _accelerometer(rng, ta, activity, person, level)
    steps = _pedometer(rng, t1, step_times, act, level, total)
    total = float(steps[-1])
    hr, hr_now = _heart_rate(rng, t1, act, person, level, hr_now, person.effort)
    streams = {}
    for m, t, v in (('steps', t1, steps), ('hr', t1, hr), ('acc', ta, acc)):
      t, v = _drop_gaps(rng, t, v, seconds, gaps_per_minute, max_gap_seconds)
      streams[m] = Stream(t, v)
    blocks.append(Block(activity, intensity, streams))
    # A 30 s pause between activities, standing: the heart rate recovers
    # towards the standing level, so the next block starts with a lag.
    stand = _ACTIVITY['standing']
    _, hr_now = _heart_rate(rng, np.arange(30.0), stand, person, 0, hr_now, 1.0)
    clock = float(np.ceil(t1[-1])) + 30.0
  return Participant(pid, tuple(blocks))


def synthetic_harage(
  key,
  n_participants: int = 8,
  block_seconds: float = 120.0,
  rest_seconds: float = 120.0,
  gaps_per_minute: float = 0.5,
) -> list[Participant]:
  """Synthetic harAGE-like participants, deterministic from `key`.

  Each participant follows the harAGE protocol (Section 3): resting, lying,
  sitting, standing, washing hands, walking / running / stairs at low,
  moderate and high intensity, strength and flexibility workouts, cycling at
  three intensities, with a 30 s standing pause between activities. Steps
  and heart rate at 1 Hz, accelerometer at 25 Hz (m/s^2), and random gaps
  (lost messages) dropped independently per modality.

  Every modality follows from the activity's physiology, each on its own (no
  class is defined by a product of modalities):

  * Steps: gait activities have a cadence per intensity (walking 95/110/125
    steps/min, Tudor-Locke et al. 2011 and 2018 cadence-intensity studies;
    running 150-175, Cavanagh & Kram 1989; stairs slower, with flights
    alternating up and down and turns) with stride-to-stride variability
    (CV about 2.5%, Hausdorff et al. 1995); a wrist pedometer detects 85-93%
    of the steps and counts a few false steps from arm motion (washing
    hands, workouts, cycling vibration). Cumulative count since midnight.
  * Heart rate: the steady state is the activity's metabolic cost (METs of
    the Compendium of Physical Activities, Ainsworth et al. 2011) as a
    fraction of the personal heart-rate reserve (%HRR ~ %VO2R, Swain &
    Leutholtz 1997), between the resting rate and 208 - 0.7 age (Tanaka et
    al. 2001), plus a posture offset (standing about +8 bpm, lying -4 bpm).
    It is approached with first-order kinetics, faster rising (tau 20-45 s)
    than recovering (40-90 s; Cole et al. 1999 on heart-rate recovery), so
    each block starts where the previous one (and the pause) left it.
    Respiratory sinus variability, PPG motion artefacts that grow with the
    effort, whole bpm.
  * Wrist acceleration: gravity seen from the watch's posture (arm hanging,
    hand on the lap, on the handlebar, ...) rotated by the arm's motion, plus
    the inertial acceleration and sensor noise (15 mg). Walking and running:
    arm swing at the stride frequency (half the cadence; larger when faster),
    its tangential acceleration, and a foot-strike impulse per step (a few
    tenths of a g walking, 1-2 g running). Static activities: still, then
    (as in harAGE, which recorded them twice) with free posture shifts.
    Washing hands: rubbing at 2-4 Hz in bouts. Strength: squats, then arm
    raises, one repetition every 2.5-4 s. Flexibility: shoulder rolls, then
    held wrist stretches. Cycling: road vibration and rocking at the pedal
    rate with the hands on the handlebar.
  * Participants differ in age (41.7 +- 8 years as in harAGE), resting heart
    rate, aerobic capacity, heart-rate time constants, cadence, what
    'low / moderate / high' means to them, arm-swing amplitude, how they hold
    each posture (+- 15 degrees) and the sensor offset.

  The parameters are textbook values, not fitted to harAGE (which is not
  public); the data cannot show how real watch signals confuse activities
  (e.g. free arm movements while sitting), only that the pipeline learns from
  signals that behave like them.

  Args:
    key: jax.random key.
    n_participants: number of participants (>= 1).
    block_seconds: duration of each activity block (paper: 180 s; 90 s for
      the workouts).
    rest_seconds: duration of the resting block (paper: 300 s).
    gaps_per_minute: mean number of gaps per minute and modality.

  Returns:
    list of Participant, ids 'S00', 'S01', ...
  """
  if n_participants < 1:
    raise ValueError(f'n_participants must be >= 1, got {n_participants}.')
  if block_seconds < har.WINDOW_SECONDS or rest_seconds <= 0:
    raise ValueError(f'block_seconds must be >= {har.WINDOW_SECONDS} and rest_seconds > 0.')
  seed = np.asarray(jax.random.key_data(key)).astype(np.uint32).ravel().tolist()
  rng = np.random.default_rng(seed)
  return [
    synthetic_participant(rng, f'S{i:02d}', block_seconds, rest_seconds, gaps_per_minute)
    for i in range(n_participants)
  ]


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
  )


def select_modalities(data: HARWindows, modalities) -> HARWindows:
  missing = [m for m in modalities if m not in data.inputs]
  if missing:
    raise ValueError(f'modalities {missing} not in the data ({tuple(data.inputs)}).')
  return data._replace(inputs={m: data.inputs[m] for m in modalities})


# ------------------------------------------------------ real recordings


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
  true subject-independent one.

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
