"""Config of the MEGC 2019 spotting experiment (Table II: LBP-chi^2 on long videos).

Run:

    python -m experiments.megc_spotting --quick     # a few minutes on a 2-core CPU
    python -m experiments.megc_spotting             # more and longer videos

The data are synthetic long videos made from real faces
(`vision.synthetic_long_videos`): a CAS(ME)^2-like set at 30 fps in colour
and a SAMM-like set in grey (100 fps, half of SAMM's 200), each video with
3 micro-expressions (the ground truth), 1 macro-expression and 2 blinks
(the distractors the paper blames for the baseline's false positives). The
spotter is Moilanen et al.'s LBP-chi^2 feature difference (`vision.megc.
spotting`); Table II reports it at one threshold, here at several values of
p (T = C_mean + p (C_max - C_mean)); p = 0.1 is the library's default.

Expected figures are in README.md (section "Micro-expressions (MEGC
2019)"), measured with the commands above.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Config:
  """Everything that changes the numbers of a run.

  Attributes:
    seed: NumPy seed of the videos (the spotter has no randomness).
    databases: ((name, videos, seconds), ...) of `vision.synthetic_long_videos`.
    ps: threshold fractions p, one row of Table II each.
    figure_p: p of the figure's threshold line and spotted intervals.
    size: frame side of the videos (faces are about 0.56 of it).
  """

  seed: int = 0
  databases: tuple = (('CAS(ME)^2', 8, 20.0), ('SAMM', 6, 10.0))
  ps: tuple = (0.05, 0.1, 0.2, 0.3, 0.5)
  figure_p: float = 0.1
  size: int = 288


def get_config(quick: bool = False) -> Config:
  """The full setting, or with `quick` a minutes-long CPU variant."""
  if not quick:
    return Config()
  return Config(databases=(('CAS(ME)^2', 4, 10.0), ('SAMM', 2, 9.0)))


def get_tiny_config() -> Config:
  """For the end-to-end test: seconds, not a finding."""
  return Config(databases=(('CAS(ME)^2', 1, 10.0),), ps=(0.1, 0.3), size=128)
