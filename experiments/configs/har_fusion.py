"""Config of the harAGE multimodal fusion experiment (Mallol-Ragolta et al., Tables 2-4).

Run:

    python -m experiments.har_fusion --quick                       # minutes on a 2-core CPU
    python -m experiments.har_fusion                               # the paper's protocol
    python -m experiments.har_fusion --quick --data basicmotions   # real recordings (aeon)
    python -m experiments.har_fusion --data PATH                   # JSON participants

The full setting follows the paper (every unimodal and multimodal model, RNN
and CNN, tasks of 2, 7 and 10 classes, nested LOSO with 5 inner folds, Adam
1e-3, batches of 64, at most 150 epochs, patience 20, one seed). The quick
setting keeps the 7-class task and both fusions of the three modalities
(BasicMotions: both fusions of its two), CNN only, and trains every outer
model on a fixed budget written here before any outer fold was scored
(no inner folds): 30 epochs of 20 batches of 16 = 600 Adam steps at 1e-3,
3 seeds. Figures, what they measure and the data caveats: docs/har_fusion.md.
"""

from __future__ import annotations

from fewshot.protocols.har import HARAGE_MODALITIES
from fewshot.protocols.har import Config
from fewshot.protocols.har import train_config

# Quick setting's budget (issue 21): 600 Adam steps per model at batch 16,
# the same for every fold (`steps_per_epoch`: full batches, cycling through a
# fold's ~80 training windows). Stated here, not selected on any fold.
QUICK_BUDGET = dict(batch_size=16, steps_per_epoch=20, max_epochs=30, epoch_rule='fixed')


def get_config(quick: bool = False) -> Config:
  """The paper's setting, or the quick one (docs/har_fusion.md)."""
  if not quick:
    return Config()
  return Config(
    participants=4,
    block_seconds=40.0,
    rest_seconds=30.0,
    tasks=(7,),
    extractors=('cnn',),
    combos=('+'.join(HARAGE_MODALITIES), '*'.join(HARAGE_MODALITIES)),
    basicmotions_combos=('acc+gyro', 'acc*gyro'),
    seeds=3,
    train=train_config(**QUICK_BUDGET),
  )
