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
are synthetic harAGE-like participants (`signals.har.data.synthetic_harage`,
grounded in cadence, heart-rate kinetics and wrist-motion physiology): their
figures say the code runs and learns, not what harAGE gives.

The quick setting keeps the protocol and the table layout but shrinks the
data (4 participants, 40 s blocks: about 100 training windows per outer
fold), the epochs (at most 40; patience 20 as in the paper) and the grid
(CNN only; the three unimodal models and both fusions of all three
modalities); 5 inner folds as in the paper, which 4 participants cut to 3
(with a warning). With batches of 64 an epoch is only about 2 Adam steps,
and early stopping on 3 tiny inner folds often picks 1-6 epochs, so most
quick models are barely trained: the quick tables measure how fast a model
learns in a few dozen steps, not how separable the data are (a logistic
regression on per-window means and standard deviations reaches about
99 / 94 / 90% UAR on the same data; `tests/test_har_data.py` checks the
7-class case). The tables give the paper's estimator (mean and std over
folds of per-participant UAR) and the pooled UAR.

Measured with `python -m experiments.har_fusion --quick --out runs/har_quick`
(2-core CPU shared with other jobs, 38 min wall), CNN, UAR % over the 4 LOSO
folds, mean / std (ddof 1) / pooled:

    model            2 classes         7 classes          10 classes
    f_steps          54.4 / 8.8 / 52.6  30.1 / 19.1 / 32.1  10.0 / 8.2 / 14.8
    f_hr             53.1 / 6.2 / 55.1  14.9 / 1.2 / 12.9   7.5 / 5.0 / 7.6
    f_xyz            48.2 / 13.7 / 48.1 24.4 / 5.6 / 20.7   24.2 / 11.4 / 22.5
    f_steps+hr+xyz   49.6 / 5.1 / 49.7  33.1 / 16.0 / 32.6  24.4 / 12.3 / 22.3
    f_steps*hr*xyz   87.9 / 8.7 / 87.4  80.0 / 12.8 / 82.6  63.4 / 11.7 / 61.0

and `--quick --data basicmotions` (10 pseudo-participants, 4.9 min wall on
a shared 2-core CPU): f_xyz 40.0 / 14.2, f_gyro 30.0 / 15.8, f_xyz+gyro
55.0 / 18.8, f_xyz*gyro 90.0 / 9.9 (+ concatenation, * outer product).
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
    # 5 inner folds as in the paper: 4 synthetic participants leave 3 per
    # outer fold, so nested LOSO uses 3 and warns; BasicMotions' 10 groups keep 5.
    train=train_config(max_epochs=40, patience=20),
  )
