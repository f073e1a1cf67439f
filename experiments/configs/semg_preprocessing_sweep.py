"""Config of the sEMG preprocessing sweep (Ergeneci et al., Sec. III-A, Fig. 3).

    python -m experiments.semg_preprocessing_sweep --quick    # minutes on 2 CPU cores
    python -m experiments.semg_preprocessing_sweep            # the paper's model and 10 seeds

The quick setting is a small model (one BiLSTM layer of 16 units), 3 seeds,
at most 8 epochs, small synthetic data and a reduced grid: it shows the
machinery, not the paper's figure. Its figures and the caveats:
docs/semg_fewshot.md ("Fig. 3").
"""

from __future__ import annotations

from fewshot.protocols.semg_sweep import Config
from fewshot.trainer import FitConfig

__all__ = ['Config', 'get_config', 'get_tiny_config']


def get_config(quick: bool = False) -> Config:
  """The paper's model and seeds on the full grid, or with `quick` the minutes-long CPU variant."""
  if not quick:
    return Config()
  return Config(
    num_seeds=3,
    subjects=6,
    recordings_per_class=6,
    # Around N=128, L=96, rate 4: N=256 (hop 160, 49 frames) shows the
    # Savitzky-Golay rule; rate 1 is left out (4x the model's sequence length).
    frame_sizes=(128, 192, 256),
    overlaps=(64, 96, 112),
    rates=(2, 4, 8),
    hidden=(16,),
    fc=(32, 16),
    fit=FitConfig(num_epochs=8, batch_size=32, patience=4, smoothing=0.5, learning_rate=5e-3),
  )


def get_tiny_config() -> Config:
  """For the end-to-end test: seconds, not minutes. Not meant to give findings."""
  return Config(
    num_seeds=2,
    subjects=2,
    recordings_per_class=5,
    frame_sizes=(128, 512),
    overlaps=(96,),
    rates=(4, 8),
    hidden=(4,),
    fc=(8, 8),
    fit=FitConfig(num_epochs=2, batch_size=8, patience=2),
  )
