"""Config of the MEGC 2019 recognition experiment (Table IV: composite database, LOSO, UF1 / UAR).

Run:

    python -m experiments.megc_recognition --quick                # minutes on a 2-core CPU
    python -m experiments.megc_recognition                        # the full setting
    python -m experiments.megc_recognition --data-root PATH       # the real databases
    python -m experiments.megc_recognition --casme2 DIR --set "databases=('CASME II',)"

The protocol, its settings and the measured figures are in docs/megc2019.md.
"""

from __future__ import annotations

from fewshot.protocols.megc_recognition import CapsuleConfig
from fewshot.protocols.megc_recognition import Config
from fewshot.protocols.megc_recognition import EMRConfig
from fewshot.protocols.megc_recognition import NetworkConfig
from fewshot.trainer import FitConfig

QUICK_CAPSULE_EPOCHS = 6


def get_config(quick: bool = False) -> Config:
  """The full setting, or with `quick` the minutes-long CPU variant."""
  if not quick:
    return Config()
  # The same protocol on fewer clips (9 per face instead of 12) with short
  # schedules and larger steps; Dual-Inception (6.4 M parameters, most of them
  # in its 6,272 x 1,024 layer) costs the most per epoch and gets the fewest.
  fit = lambda epochs, lr: NetworkConfig(
    FitConfig(num_epochs=epochs, batch_size=32, learning_rate=lr)
  )
  return Config(
    clips_per_subject=(('negative', 4), ('positive', 2), ('surprise', 2), ('omitted', 1)),
    ststnet=fit(15, 1e-3),
    off_apexnet=fit(8, 3e-4),
    dual_inception=fit(3, 3e-4),
    # CapsuleNet at quick size: 32 x 32 apex faces, a quarter of ResNet18's
    # widths (16, 32, 64 channels) and 2 x 2 capsule kernels (32 primary
    # capsules; 0.27 M parameters instead of 13.8 M), trained from scratch.
    capsule=CapsuleConfig(
      FitConfig(num_epochs=QUICK_CAPSULE_EPOCHS, batch_size=32, learning_rate=1e-3),
      size=32,
      width=16,
      caps_kernel=2,
    ),
    # EMR: 117 k parameters trained on the micro clips and the macro source
    # together; 1 synthetic macro clip per face and class (33) instead of 2.
    emr=EMRConfig(fit=FitConfig(num_epochs=30, batch_size=32, learning_rate=1e-3), macro_clips=1),
  )
