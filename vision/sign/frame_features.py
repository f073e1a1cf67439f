"""Per-clip image features as frame features (Team 1's image baselines, section 3.1, Table 1).

Team 1 replaced the pose keypoints by the frame features of three image
models (EfficientNet-B7, I3D trained on Kinetics, I3D trained on BSL-1K).
Their weights cannot be fetched here, so features from any image model are
read from a folder: one NumPy array `[T, D]` per clip (T time steps, D
features; T may differ from the clip's pose frames, e.g. I3D's one step per
window), saved as `{name}.npy` where name is the sample's id (AUTSL:
`signer0_sample1`, or `signer0_sample1_color`) or the stem of the clip's
`.pose` file (the fingerspelling lexicon).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from evaluation import checks

__all__ = ['FrameFeatures', 'load_frame_features']


class FrameFeatures(NamedTuple):
  """Clips' frame features, padded.

  Attributes:
    x: [N, T, D] float32, zeros at padded steps.
    mask: [N, T] bool, True at real steps.
    lengths: [N] int32 real steps per clip.
    paths: [N] str the files read.
  """

  x: np.ndarray
  mask: np.ndarray
  lengths: np.ndarray
  paths: np.ndarray


def _find(folder: Path, names) -> Path | None:
  return next((folder / f'{n}.npy' for n in names if (folder / f'{n}.npy').is_file()), None)


def load_frame_features(folder, samples, max_frames: int | None = None, pad_to=None):
  """Reads `{sample}.npy` ([T, D] each) of every sample from `folder`, subsampled and padded.

  Args:
    folder: the folder of `.npy` files.
    samples: N names; each is looked for as `{name}.npy`, then
      `{name}_color.npy` (AUTSL's video stem).
    max_frames: longer clips are subsampled to this many evenly spaced
      steps (first and last kept, as `vision.pad_poses`).
    pad_to: pad to this many steps (>= the longest after subsampling).

  Returns:
    `FrameFeatures`.

  Raises:
    FileNotFoundError: the folder, or a sample's file (naming the sample,
      how many are missing and the folder).
    ValueError: an array that is not [T, D] float with T >= 1, holds NaN or
      inf, or whose D differs from the first clip's (naming the file).
  """
  from vision.sign.poses import _subsample

  folder = Path(folder)
  if not folder.is_dir():
    raise FileNotFoundError(f'frame-feature folder not found: {folder}')
  samples = [str(s) for s in samples]
  if not samples:
    raise ValueError('samples is empty: no clips to read frame features for.')
  paths, missing = [], []
  for s in samples:
    path = _find(folder, (s, f'{s}_color'))
    paths.append(path)
    if path is None:
      missing.append(s)
  if missing:
    raise FileNotFoundError(
      f'{len(missing)} of {len(samples)} clips have no frame features in {folder} (first: '
      f'{missing[0]}; looked for {missing[0]}.npy and {missing[0]}_color.npy).'
    )
  if max_frames is not None:
    checks.check_int('max_frames', max_frames)
  arrays, dim = [], None
  for path in paths:
    try:
      a = np.load(path, allow_pickle=False)
    except Exception as e:  # numpy raises Value/OSError/EOFError/UnpicklingError on bad files
      raise ValueError(f'{path} is not a readable .npy array ({type(e).__name__}: {e}).') from e
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1 or not np.issubdtype(a.dtype, np.number):
      raise ValueError(
        f'{path}: frame features must be a numeric [T, D] array with T, D >= 1, got '
        f'{a.dtype} {a.shape}.'
      )
    if dim is None:
      dim = a.shape[1]
    elif a.shape[1] != dim:
      raise ValueError(f'{path} has D = {a.shape[1]} features per step, the first clip {dim}.')
    if not np.all(np.isfinite(a)):
      raise ValueError(f'{path} holds NaN or inf.')
    sel = _subsample(len(a), max_frames) if max_frames else np.arange(len(a))
    arrays.append(a[sel].astype(np.float32))
  longest = max(len(a) for a in arrays)
  pad_to = longest if pad_to is None else pad_to
  checks.check_int('pad_to', pad_to, low=longest)
  x = np.zeros((len(arrays), pad_to, dim), np.float32)
  lengths = np.array([len(a) for a in arrays], np.int32)
  for i, a in enumerate(arrays):
    x[i, : len(a)] = a
  mask = np.arange(pad_to)[None] < lengths[:, None]
  return FrameFeatures(x, mask, lengths, np.array([os.fspath(p) for p in paths]))
