"""Preprocessing and data of 1-D body signals: sEMG (`signals.semg`) and smartwatch HAR (`signals.har`).

No models and no training here: those live in `fewshot`. The HAR model and
training names that `signals` exported before the learning code moved to
`fewshot` still resolve, lazily, with a DeprecationWarning.
"""

import importlib
import warnings

from signals.har import HARWindows
from signals.har import derivatives
from signals.har import gaussian_filter1d
from signals.har import load_basicmotions
from signals.har import load_participants
from signals.har import preprocess_accelerometer
from signals.har import preprocess_heart_rate
from signals.har import preprocess_steps
from signals.har import select_task
from signals.har import synthetic_harage
from signals.har import trim_segments
from signals.har import window_starts
from signals.har import windows_from_participants
from signals.semg import SEMGDataset
from signals.semg import decimate
from signals.semg import frame
from signals.semg import load_semg_dataset
from signals.semg import num_frames
from signals.semg import sampen
from signals.semg import save_semg_dataset
from signals.semg import savgol
from signals.semg import semg_features
from signals.semg import synthetic_semg

# Names that moved to the learning package: name -> (module, attribute).
_MOVED = {
  'HARFusionModel': ('fewshot.models.har', 'HARFusionModel'),
  'concat_fusion': ('fewshot.models.har', 'concat_fusion'),
  'outer_fusion': ('fewshot.models.har', 'outer_fusion'),
  'make_model': ('fewshot.models.har', 'make_model'),
  'TrainConfig': ('fewshot.protocols.har', 'train_config'),
  'nested_loso': ('fewshot.protocols.har', 'nested_loso'),
  'train_folds': ('fewshot.protocols.har', 'train_folds'),
}


def __getattr__(name):
  if name not in _MOVED:
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
  module, attr = _MOVED[name]
  warnings.warn(
    f'signals.{name} moved to {module}.{attr}; import it from there',
    DeprecationWarning,
    stacklevel=2,
  )
  return getattr(importlib.import_module(module), attr)
