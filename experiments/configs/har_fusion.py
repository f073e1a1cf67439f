"""Config of the harAGE multimodal fusion experiment (Mallol-Ragolta et al., Tables 2-4).

Run:

    python -m experiments.har_fusion --quick                       # minutes on a 2-core CPU
    python -m experiments.har_fusion                               # the paper's protocol
    python -m experiments.har_fusion --quick --data basicmotions   # real recordings (aeon)
    python -m experiments.har_fusion --data PATH                   # JSON participants

The full setting follows the paper (every unimodal and multimodal model, RNN
and CNN, tasks of 2, 7 and 10 classes, nested LOSO with 5 inner folds, Adam
1e-3, batches of 64, at most 150 epochs, patience 20); the quick setting
shrinks the data, the epochs and the grid. The quick-run figures, what they
measure and the data caveats: docs/har_fusion.md.
"""

from __future__ import annotations

from fewshot.protocols.har import HARAGE_MODALITIES
from fewshot.protocols.har import Config
from fewshot.protocols.har import train_config


def get_config(quick: bool = False) -> Config:
  """The paper's setting, or the quick one (docs/har_fusion.md)."""
  if not quick:
    return Config()
  return Config(
    participants=4,
    block_seconds=40.0,
    rest_seconds=30.0,
    extractors=('cnn',),
    combos=HARAGE_MODALITIES + ('+'.join(HARAGE_MODALITIES), '*'.join(HARAGE_MODALITIES)),
    # 5 inner folds as in the paper: 4 synthetic participants leave 3 per
    # outer fold, so nested LOSO uses 3 and warns; BasicMotions' 10 groups keep 5.
    train=train_config(max_epochs=40, patience=20),
  )
