"""Synthetic harAGE-like participants: a physiology simulator of steps, heart rate and wrist acceleration.

`synthetic_harage` (its docstring gives the physiology and its sources)
produces `signals.har.data.Participant`s that the JSON loader and the
windowing of `signals.har.data` treat like real recordings.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from evaluation.keys import numpy_rng
from signals.har import transforms as har
from signals.har.data import INTENSITIES
from signals.har.data import RESTING
from signals.har.data import STATIC
from signals.har.data import Block
from signals.har.data import Participant
from signals.har.data import Stream

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


def _synthetic_participant(
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
  rng = numpy_rng(key)
  return [
    _synthetic_participant(rng, f'S{i:02d}', block_seconds, rest_seconds, gaps_per_minute)
    for i in range(n_participants)
  ]
