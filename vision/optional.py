"""The optional [pose] extra: MediaPipe, for Holistic extraction and landmark face alignment.

`pip install bodysignals-fewshot` leaves mediapipe out (its last release with
the bundled Holistic/FaceMesh models, 0.10.14, has wheels for CPython
3.8-3.12 only); `pip install 'bodysignals-fewshot[pose]'` or `bash install.sh`
brings it in. Everything else in the library imports and runs without it.
"""

from __future__ import annotations

import importlib

INSTALL = "pip install 'bodysignals-fewshot[pose]'  (from a checkout: pip install -e '.[pose]')"


def import_mediapipe(purpose: str):
  """The `mediapipe` module, or an ImportError naming the extra and the install command.

  Args:
    purpose: what needs it, for the message (e.g. 'Holistic pose extraction').
  """
  try:
    return importlib.import_module('mediapipe')
  except ImportError as e:
    raise ImportError(
      f'{purpose} needs mediapipe, the optional [pose] extra, which is not installed '
      f'({e}). Install it with: {INSTALL}'
    ) from e
