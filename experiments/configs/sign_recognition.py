"""Config of the pose sign-language experiment (Moryossef et al., Table 1, section 5, Figure 6).

Run:

    python -m experiments.sign_recognition --quick          # minutes on a 2-core CPU
    python -m experiments.sign_recognition                  # larger models, more epochs and folds
    python -m experiments.sign_recognition --data-root AUTSL   # the paper's setting (AUTSL poses)

The tasks, what the default data can show, and the measured figures are in
docs/sign_language.md.
"""

from __future__ import annotations

import dataclasses

from fewshot.protocols.sign import Config


def get_config(quick: bool = False, autsl: bool = False) -> Config:
  """The full or quick setting, for the lexicon or for AUTSL (`autsl=True`)."""
  if autsl:
    cfg = Config(max_frames=64, batch_size=512, epochs=100)
    if quick:
      cfg = dataclasses.replace(cfg, epochs=5, autsl_limit=2048)
    return cfg
  if quick:
    return Config(
      max_frames=16,
      folds=3,
      epochs=20,
      ctc_epochs=30,
      batch_size=32,
      bilstm=(64, (32, 32), 0.2),
      transformer=(64, 4, 2, 128, 0.1),
      episodes=500,
    )
  return Config()
