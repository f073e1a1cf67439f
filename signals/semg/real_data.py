"""Real EMG recordings that install offline from PyPI, for tests and demos.

* `emgflow` (EMGFlow 1.1.2) ships four facial sEMG recordings in its data
  folder: CSV with columns Time, EMG_zyg, EMG_cor (zygomaticus and corrugator)
  at 2 kHz, 20000 samples each.
* `openhdemg` (0.1.2) ships an OTB+ test file, `otb_testfile.mat`, with 64
  HD-sEMG channels (plus auxiliary channels) at 2048 Hz.

Both packages are installed with `--no-deps` by install.sh: only their data
files are read, located with importlib without importing the packages (their
own imports pull in GUI dependencies we do not need).
"""

from __future__ import annotations

import os

import numpy as np

from evaluation import checks

__all__ = ['emgflow_recordings', 'finite_segments', 'openhdemg_recording', 'package_dir']


def package_dir(name: str) -> str:
  """Folder of an installed package, found without importing it."""
  return checks.package_dir(name, 'the real recordings it carries')


def emgflow_recordings() -> list[np.ndarray]:
  """The four EMGFlow sample recordings as [2, 20000] float64 arrays (2 kHz).

  Three of the files have runs of missing samples (written as NULL: 100, 8 and
  300 rows); they are returned as NaN, so nothing is silently invented. Use
  `finite_segments` to cut the recordings at the gaps.

  Returns:
    List of [channels=2, samples] arrays (zygomaticus, corrugator).
  """
  folder = os.path.join(package_dir('EMGFlow'), 'data')
  files = sorted(f for f in os.listdir(folder) if f.endswith('.csv'))
  if not files:
    raise FileNotFoundError(f'no sample CSV files in {folder}')
  out = []
  for name in files:
    table = np.genfromtxt(
      os.path.join(folder, name),
      delimiter=',',
      skip_header=1,
      missing_values='NULL',
      filling_values=np.nan,
      encoding='utf-8-sig',
    )
    out.append(np.ascontiguousarray(table[:, 1:].T))
  return out


def openhdemg_recording(channels: int = 64) -> tuple[np.ndarray, float]:
  """The openhdemg OTB+ test recording: ([channels, samples] float64, fs in Hz)."""
  import scipy.io

  path = os.path.join(
    package_dir('openhdemg'), 'library', 'decomposed_test_files', 'otb_testfile.mat'
  )
  if not os.path.exists(path):
    raise FileNotFoundError(f'openhdemg test file not found at {path}')
  mat = scipy.io.loadmat(path)
  data = np.asarray(mat['Data'][0, 0], dtype=np.float64)  # (samples, all channels)
  fs = float(np.asarray(mat['SamplingFrequency']).ravel()[0])
  return np.ascontiguousarray(data[:, :channels].T), fs


def finite_segments(x: np.ndarray, min_length: int) -> list[np.ndarray]:
  """Maximal runs of samples finite on every channel, at least min_length long.

  Args:
    x: [channels, samples] recording, NaN where samples are missing.
    min_length: shortest segment to keep.

  Returns:
    List of [channels, length] views, in time order.
  """
  ok = np.all(np.isfinite(x), axis=0).astype(np.int8)
  edges = np.flatnonzero(np.diff(np.concatenate([[0], ok, [0]])))
  return [x[:, a:b] for a, b in zip(edges[::2], edges[1::2]) if b - a >= min_length]
