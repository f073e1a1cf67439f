"""Config of the MEGC 2019 recognition experiment (Table IV: composite database, LOSO, UF1 / UAR).

Run:

    python -m experiments.megc_recognition --quick                # minutes on a 2-core CPU
    python -m experiments.megc_recognition                        # the full setting
    python -m experiments.megc_recognition --data-root PATH       # the real databases

Methods: LBP-TOP [25] with a linear SVM, STSTNet [17], OFF-ApexNet [26] and
Dual-Inception [18] (`fewshot.models.megc`), all under the CDE protocol
(`fewshot.protocols.megc`). The full setting trains STSTNet as its authors'
port does (Adam 5e-5, batches of 256, 800 epochs); the OFF-ApexNet and
Dual-Inception schedules are ours (the sources give none we could check):
Adam 1e-4, batches of 256, 300 epochs. The default data are 11 real faces
animated into a synthetic composite database (`vision.synthetic_megc`);
its figures show the pipeline at work, not what Table IV's databases give.

Expected figures are in README.md (section "Micro-expressions (MEGC
2019)"), measured with the commands above.
"""

from __future__ import annotations

import dataclasses

from fewshot.protocols.megc import NetworkConfig
from fewshot.protocols.megc import SVMConfig
from fewshot.trainer import FitConfig

METHODS = ('LBP-TOP', 'STSTNet', 'OFF-ApexNet', 'Dual-Inception')


@dataclasses.dataclass(frozen=True)
class Config:
  """Everything that changes the numbers of a run.

  Attributes:
    seed: seed of the synthetic clips, the SVM solver and the networks' keys.
    clips_per_subject: ((MEGC class or 'omitted', clips), ...) per source face.
    subjects: source faces per synthetic database (None: all 11).
    face_size: side of the face crops the flow is computed on.
    flow_method: 'tvl1' or 'farneback'.
    align: 'box' or 'landmarks' (`vision.face_clip`).
    workers: flow processes (None: every CPU).
    lbp_face_size, lbp_grid, lbp_radii: LBP-TOP face side, blocks, (R_x, R_y, R_t).
    methods: Table IV rows to run.
    networks: ((network, NetworkConfig), ...).
    svm: the LBP-TOP baseline's linear SVM.
  """

  seed: int = 0
  clips_per_subject: tuple = (('negative', 6), ('positive', 3), ('surprise', 2), ('omitted', 1))
  subjects: int | None = None
  face_size: int = 112
  flow_method: str = 'tvl1'
  align: str = 'box'
  workers: int | None = None
  lbp_face_size: int = 64
  lbp_grid: tuple = (5, 5)
  lbp_radii: tuple = (1.0, 1.0, 2.0)
  methods: tuple = METHODS
  networks: tuple = (
    ('STSTNet', NetworkConfig(FitConfig(num_epochs=800, batch_size=256, learning_rate=5e-5))),
    ('OFF-ApexNet', NetworkConfig(FitConfig(num_epochs=300, batch_size=256, learning_rate=1e-4))),
    (
      'Dual-Inception',
      NetworkConfig(FitConfig(num_epochs=300, batch_size=256, learning_rate=1e-4)),
    ),
  )
  svm: SVMConfig = SVMConfig()


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
    networks=(
      ('STSTNet', fit(15, 1e-3)),
      ('OFF-ApexNet', fit(8, 3e-4)),
      ('Dual-Inception', fit(3, 3e-4)),
    ),
  )


def get_tiny_config() -> Config:
  """For the end-to-end test: seconds of training on one face per database, not a finding."""
  # The setting of tests/test_megc_protocol.py's STSTNet run (same shapes too),
  # so the test suite compiles the training program once.
  fit = NetworkConfig(FitConfig(num_epochs=30, batch_size=8, learning_rate=1e-2))
  return Config(
    clips_per_subject=(('negative', 2), ('positive', 1), ('surprise', 1)),
    subjects=1,
    face_size=48,
    flow_method='farneback',
    workers=1,
    lbp_face_size=24,
    lbp_grid=(2, 2),
    methods=('LBP-TOP', 'STSTNet'),
    networks=(('STSTNet', fit),),
  )
