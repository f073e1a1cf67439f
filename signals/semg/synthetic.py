"""Synthetic sEMG: the embedded default data of the sEMG paper.

`synthetic_semg` generates the seven drills C1-C7 from motor-unit pools
(recruitment, rate coding, tissue filtering, electrode noise) driven by each
drill's activation pattern, with subject, session and recording variability.

Difficulty
----------
See `synthetic_semg` for how the data is generated. After the paper's
preprocessing (`signals.semg_features`, [2, 61] flattened), subject-wise
split (subjects 0-7 train, 8-14 test) of the default data (15 subjects x 7
classes x 10 recordings, key 0), chance 25 % for C1-C4 and 33 % for C5-C7:

    classifier                C1-C4    C5-C7
    logistic regression       96.1 %   96.7 %
    1-nearest-neighbour       98.2 %   99.5 %

(measured with linear convolution and filtering, `_MARGIN_S`; the circular
version before it gave 96.1 / 96.7 and 98.9 / 99.0 %).

So with eight subjects' recordings of every class the drills are well
separated after SampEn, although SampEn ignores amplitude: the remaining
C1-C4 errors are mostly C4 -> C1 (both isometric holds) and C2 -> C4, the
C5-C7 errors C6 -> C5 / C7. How hard the *few-shot* task is (one to a few
recordings of a new drill, other subjects) is what the experiment measures.
`tests/test_semg_data.py` checks a smaller version.
"""

from __future__ import annotations

import jax
import numpy as np
import scipy.fft

from evaluation.keys import named_key
from evaluation.keys import numpy_rng
from signals.semg.data import CLASS_NAMES
from signals.semg.data import SEMGDataset
from signals.semg.data import load_semg_dataset

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
# Every recording is generated on [-margin, duration + margin] and cropped, so
# that its first and last samples hold the potentials, filter responses and
# activity of the moments just outside it, as a cut from a longer recording
# does. 0.25 s covers the widest potential (+-36 ms) and the band-pass'
# impulse response (below 3e-6 of its peak after 0.25 s; `_band_pass`).
_MARGIN_S = 0.25


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
    t: [T] time in seconds (the recording starts at 0; earlier and later
      times are the generator's margins).
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
    # Already running when the recording starts: strides from the first
    # time point (`t` may begin before 0, see `synthetic_semg`).
    phase = _cycles(rng, t, np.full((n, 1), t[0], np.float32), period, 0.1)
    phase = phase + _u(rng, 0.0, 1.0, n)
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


def _band_pass(x, fs, reach):
  """The zero-phase acquisition band-pass of the last axis, without wrap-around.

  The filter (`_acquisition_band`, zero phase) is applied by a float32 FFT
  (scipy.fft) on `x` zero-padded by at least `reach` samples, so it is a linear convolution
  for lags up to `reach`: the two ends of `x` never mix. Its impulse
  response is two-sided and falls below 1e-4 of its peak after 0.1 s and
  3e-6 after 0.25 s, so the first and last ~0.1 s of the output lack the
  filtered past and future of samples outside `x`: callers filter a longer
  signal and crop those margins.

  Args:
    x: [..., T] float32.
    fs: sampling rate in Hz.
    reach: samples of zero padding (the lags that stay linear).

  Returns:
    [..., T] float32.
  """
  num_samples = x.shape[-1]
  nfft = scipy.fft.next_fast_len(num_samples + reach, real=True)
  band = _acquisition_band(np.fft.rfftfreq(nfft, 1.0 / fs))
  y = scipy.fft.irfft(scipy.fft.rfft(x, n=nfft, axis=-1) * band, n=nfft, axis=-1)
  return y[..., :num_samples].astype(np.float32)


def _muap_shapes(widths_ms, fs):
  """[G, 2 * half + 1] first Hermite-Rodriguez functions, centred on sample `half`.

  HR1(t) = (t / w) exp(-(t / w)^2) is the standard biphasic surface
  motor-unit action potential of sEMG simulators (Lo Conte, Merletti &
  Sandri 1994, IEEE Trans. Biomed. Eng. 41:1140); its spectrum peaks at
  1 / (pi w sqrt(2)), about 110 Hz at w = 2 ms, 55 Hz at 4 ms. Each shape
  spans +-6 widths of the widest group (where HR1 is below 1e-14 of its peak)
  and has peak amplitude 1.
  """
  half = int(np.ceil(6e-3 * widths_ms.max() * fs))
  tau = np.arange(-half, half + 1) / fs * 1e3  # ms
  z = tau[None, :] / widths_ms[:, None]
  shapes = z * np.exp(-(z**2))
  return (shapes / np.abs(shapes).max(axis=1, keepdims=True)).astype(np.float32)


def _motor_unit_emg(rng, drive, unit_amp, unit_group, shapes, fs):
  """Surface EMG of motor-unit pools driven by `drive`: [m, T] float32.

  Each channel's pool recruits unit i when the excitation E(t) = drive *
  E_max passes its threshold and fires it at a rate rising with E (see the
  constants above); spike times are a rate-integrating oscillator with a
  random initial phase, each spike displaced by Gaussian jitter so that
  interspike intervals have CV ~ 0.2. Each spike adds the unit's potential
  (amplitude `unit_amp`, shape of its width group) centred on its sample.

  Edges. Spikes that jitter outside the signal are dropped (not moved onto
  its first or last sample), and the potentials are added by linear
  convolution (zero-padded FFT), so a potential near one end never wraps
  into the other; the first and last `half` samples (`shapes`) lack the
  tails of potentials centred outside the signal, so callers generate a
  margin on both sides and crop it (`synthetic_semg`).

  Args:
    rng: NumPy generator.
    drive: [m, T] excitation in [0, 1] of maximal.
    unit_amp: [m, U] potential amplitude of every unit.
    unit_group: [m, U] int width group of every unit.
    shapes: [G, 2 * half + 1] potential of each width group, centred on
      sample `half` (`_muap_shapes`).
    fs: sampling rate in Hz.
  """
  m, num_samples = drive.shape
  units = unit_amp.shape[1]
  groups, width = shapes.shape
  half = width // 2
  # Linear convolution: the full output has num_samples + 2 half samples.
  # scipy.fft keeps float32 (complex64) where numpy.fft would use float64.
  nfft = scipy.fft.next_fast_len(num_samples + 2 * half, real=True)
  spectra = scipy.fft.rfft(shapes, n=nfft, axis=-1)  # (G, F)
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
    inside = (ti >= 0) & (ti < num_samples)  # spikes jittered off the signal are dropped
    ci, ui, ti = ci[inside], ui[inside], ti[inside]
    g = unit_group[s + ci, ui]
    flat = (ci * groups + g) * num_samples + ti
    trains = np.bincount(flat, weights=unit_amp[s + ci, ui], minlength=c * groups * num_samples)
    trains = trains.reshape(c, groups, num_samples).astype(np.float32)
    spec = np.sum(scipy.fft.rfft(trains, n=nfft, axis=-1) * spectra, axis=1)
    # Sample j of the full convolution is centred on spike time j - half.
    out[s : s + c] = scipy.fft.irfft(spec, n=nfft, axis=-1)[:, half : half + num_samples]
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
  6. *Edges.* Each recording is generated 0.25 s longer at both ends and
     cropped, with linear (zero-padded) convolution of the potentials and
     of the band-pass, and spikes jittered past the support dropped: a
     recording is a cut from ongoing activity, its first and last samples
     as large as their neighbours (tests/test_semg_data.py), and neither end
     carries anything of the other.

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
  margin = int(np.ceil(_MARGIN_S * fs))
  if not variability >= 0:
    raise ValueError(f'variability must be >= 0, got {variability}')

  rng = numpy_rng(key)
  K, S, R, U = len(CLASS_NAMES), num_subjects, recordings_per_class, _NUM_MU
  n = S * K * R
  subjects = np.repeat(np.arange(S), K * R)
  labels = np.tile(np.repeat(np.arange(K), R), S)
  reps = np.tile(np.arange(R), S * K)
  sessions = reps * num_sessions // R
  support = num_samples + 2 * margin  # generated, then cropped to [margin, margin + num_samples)
  t = (np.arange(-margin, num_samples + margin) / fs).astype(np.float32)
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
  drive = np.empty((n, 2, support), np.float32)
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
  emg = _motor_unit_emg(
    rng,
    drive.reshape(n * 2, support),
    amp.reshape(n * 2, U).astype(np.float32),
    group.reshape(n * 2, U),
    _muap_shapes(centres, fs),
    fs,
  ).reshape(n, 2, support)
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
  x = _band_pass(x, fs, margin)[..., margin : margin + num_samples]

  return SEMGDataset(
    x=x, labels=labels, subjects=subjects, sessions=sessions, class_names=CLASS_NAMES, fs=fs
  )


def paper_recordings(
  key: jax.Array, data_path: str | None, num_subjects: int, recordings_per_class: int
) -> SEMGDataset:
  """The recordings of the paper's seven drills: `data_path`'s, or the synthetic default.

  Args:
    key: the experiment's root key; the synthetic data come from ('data').
    data_path: anything `load_semg_dataset` reads (two channels), or None for
      `synthetic_semg(named_key(key, 'data'), num_subjects, recordings_per_class)`.
    num_subjects, recordings_per_class: size of the synthetic default.

  Raises:
    ValueError: the data do not have the paper's 7 classes.
  """
  if data_path is None:
    ds = synthetic_semg(named_key(key, 'data'), num_subjects, recordings_per_class)
  else:
    ds = load_semg_dataset(data_path, expected_channels=2)
  if ds.num_classes != 7:
    raise ValueError(
      'the paper protocol needs 7 classes (C1-C4 seen, C5-C7 unseen); '
      f'the data has {ds.num_classes}: {ds.class_names}'
    )
  return ds
