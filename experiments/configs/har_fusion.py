"""Config of the harAGE multimodal fusion experiment (Mallol-Ragolta et al., Tables 2-4).

Run:

    python -m experiments.har_fusion --quick                       # minutes on a 2-core CPU
    python -m experiments.har_fusion                               # the paper's protocol
    python -m experiments.har_fusion --quick --data basicmotions   # real recordings (aeon)
    python -m experiments.har_fusion --data PATH                   # JSON participants

The full setting follows the paper: every unimodal model and every
multimodal combination with concatenation and outer-product fusion, RNN and
CNN extractors, tasks of 2, 7 and 10 classes, nested LOSO with 5 inner folds,
Adam 1e-3, batches of 64, at most 150 epochs, patience 20. The default data
are synthetic harAGE-like participants (`signals.har_data.synthetic_harage`):
their figures say the code runs, not what harAGE gives.

The quick setting keeps the protocol and the table layout but shrinks the
data (4 participants, 40 s blocks), the epochs (at most 40; patience 20 as in the paper) and
the grid (CNN only; the three unimodal models and both fusions of all three
modalities). Compilation dominates its time: each grid cell compiles two
programs (inner folds, outer folds).

Expected figures of the quick setting (2-core CPU shared with other jobs,
mean / std UAR % over the 4 LOSO folds, CNN), `--quick`, 5.0 min wall:

    model            2 classes    7 classes    10 classes
    f_steps          51.3 / 2.5   26.3 / 15.2  15.5 / 12.6
    f_hr             48.1 / 2.4   14.4 / 1.8   13.3 / 2.7
    f_xyz            59.9 / 10.6  39.6 / 17.6  28.8 / 6.3
    f_steps+hr+xyz   57.1 / 10.2  52.9 / 17.9  29.5 / 2.6
    f_steps*hr*xyz   65.6 / 13.8  87.4 / 6.6   81.4 / 18.9

and `--quick --data basicmotions` (10 pseudo-participants, 1.5 min wall):
f_xyz 38.8 / 12.4, f_gyro 33.8 / 15.6, f_xyz+gyro 56.2 / 19.8,
f_xyz*gyro 78.8 / 15.6 (+ concatenation, * outer product).
"""

from __future__ import annotations

import dataclasses
import itertools

from fewshot.protocols.har import NestedLOSOConfig
from fewshot.protocols.har import train_config

HARAGE_MODALITIES = ('steps', 'hr', 'acc')
BASICMOTIONS_MODALITIES = ('acc', 'gyro')


@dataclasses.dataclass(frozen=True)
class Config:
  """Everything that changes the numbers of a run.

  Attributes:
    seed: root seed; a grid cell uses fold_in(key(seed), crc32(cell name)).
    participants, block_seconds, rest_seconds, gaps_per_minute: synthetic data.
    tasks: harAGE tasks (number of classes, Section 5).
    extractors: 'rnn' and/or 'cnn' (4.2.1).
    combos: harAGE grid: None for every combination (unimodal, and concat +
      outer for each multimodal subset); or a tuple of (modalities, fusion).
    basicmotions_combos: the same for BasicMotions ('acc', 'gyro'); None for
      every combination.
    basicmotions_groups: pseudo-participants of BasicMotions.
    vmap_folds: train the folds of a level as one vmapped program (True) or
      one after another (False; faster for the CNN on a small CPU, see
      experiments/bench/har_folds.py).
    train: NestedLOSOConfig (4.3).
  """

  seed: int = 0
  participants: int = 8
  block_seconds: float = 120.0
  rest_seconds: float = 120.0
  gaps_per_minute: float = 0.5
  tasks: tuple = (2, 7, 10)
  extractors: tuple = ('rnn', 'cnn')
  combos: tuple | None = None
  basicmotions_combos: tuple | None = None
  basicmotions_groups: int = 10
  vmap_folds: bool = True
  train: NestedLOSOConfig = NestedLOSOConfig()


def all_combos(modalities) -> tuple:
  """Every unimodal model and both fusions of every multimodal subset (Tables 2-4)."""
  out = []
  for r in range(1, len(modalities) + 1):
    for sub in itertools.combinations(modalities, r):
      out += [(sub, 'concat')] if r == 1 else [(sub, 'concat'), (sub, 'outer')]
  return tuple(out)


def get_config(quick: bool = False) -> Config:
  if not quick:
    return Config()
  return Config(
    participants=4,
    block_seconds=40.0,
    rest_seconds=30.0,
    extractors=('cnn',),
    combos=tuple(((m,), 'concat') for m in HARAGE_MODALITIES)
    + ((HARAGE_MODALITIES, 'concat'), (HARAGE_MODALITIES, 'outer')),
    # 4 participants leave 3 per outer fold: 3 inner folds (the paper's 5
    # would be cut to 3 with a warning).
    train=train_config(max_epochs=40, patience=20, inner_folds=3),
  )
