"""Config of the pose sign-language experiment (Moryossef et al., Table 1, section 5, Figure 6).

Run:

    python -m experiments.sign_recognition --quick          # minutes on a 2-core CPU
    python -m experiments.sign_recognition                  # larger models, more epochs and folds
    python -m experiments.sign_recognition --data-root AUTSL   # the paper's setting (AUTSL poses)

Default data: spoken-to-signed's fingerspelling lexicon (600 real MediaPipe
Holistic clips, 19 sign languages, one clip per language and letter; one
signer per language). Task (a), Table 1's layout: which sign language a clip
is signed in, with whole letters held out (k folds over the letters), for
each model (Team 1: transformer + CTC; Team 2: BiLSTM) and feature set
(flat normalised points, limb angles + lengths, both). Section 5: the
dominant hand's share of frames for correctly and wrongly recognised clips
(Team 2, points+limbs), the Figure 6 histogram and the Wilcoxon rank-sum
test. Task (b): 5-way few-shot letter recognition across languages on the 13
letters N..Z (each signed in 14-16 languages), with embeddings of a BiLSTM
trained on the letters A..M, against the untrained mean-feature embedding.

What the lexicon can and cannot show. With one signer per language, task (a)
cannot separate the language from the signer, the camera and the framing:
high accuracy there says the pipeline learns from real Holistic poses, not
that it recognises sign languages, and nothing about AUTSL's 226 signs by 43
signers (the paper's 80-86 %). Its failure analysis has few errors to
analyse. Task (b) has 14-16 examples per letter, all from different
languages whose alphabets differ, so it measures how much a letter's
handshape carries across sign languages, not isolated sign recognition.

With --data-root the paper's setting runs on AUTSL (train on train, keep the
epoch with the best validation loss, report validation accuracy as Table 1
does; Team 2's settings: batch 512, Adam defaults, flip augmentation).

Expected figures of `--quick` (measured: 210 s wall, 310 s CPU, on the idle
2-core CPU), accuracy % mean ± std over
the 3 folds (19 languages, chance 5.3 %):

    feature set              Team 1 (transformer, CTC)   Team 2 (BiLSTM)
    Holistic points          73.26 ± 1.35                73.15 ± 4.45
    Holistic limbs           53.26 ± 5.93                57.14 ± 3.48
    Holistic points+limbs    75.16 ± 7.21                82.22 ± 1.56

Section 5 (Team 2, points+limbs): dominant hand present in 99.61 % of the
frames of 495 correct and 99.64 % of 105 wrong clips, rank-sum z = -0.46,
p = 0.64 (no effect: the lexicon's clips rarely lose a hand). Few-shot
letters N..Z, 5-way episode accuracy % (chance 20): mean features 24.70
(1-shot), 29.65 (5-shot); BiLSTMs trained on A..M 27.78, 32.11. The full
setting was not run on this CPU.
"""

from __future__ import annotations

import dataclasses

from vision.sign.features import FEATURE_SETS


@dataclasses.dataclass(frozen=True)
class Config:
  """Everything that changes the numbers of a run.

  Attributes:
    seed: root seed.
    max_frames: clips longer than this are subsampled evenly (`vision.pad_poses`).
    folds: k of the leave-letters-out folds of task (a).
    feature_sets: rows of Table 1 (`vision.FEATURE_SETS`).
    kinds: columns of Table 1: 'transformer' (Team 1), 'bilstm' (Team 2).
    epochs: training epochs of the BiLSTMs (the last epoch's model is kept on
      the lexicon; the best validation epoch on AUTSL, with `patience`).
    ctc_epochs: the same for the CTC transformer, which needs more steps: it
      first sits on the CTC plateau of all-blank outputs (on the lexicon's
      quick setting, about 150-200 steps at batch 32).
    patience: early-stopping patience on AUTSL.
    batch_size: clips per step (Team 2: 512).
    learning_rate: Adam step size (Adam's default 1e-3, as the paper).
    flip: mirror training clips at random (the paper's only augmentation).
    bilstm: (hidden, lstm units per layer, dropout) of Team 2's model (paper:
      512, (256, 256), 0.2).
    transformer: (dim, heads, layers, ff, dropout) of Team 1's model (sizes
      not given in the paper).
    beam_width: CTC beam width.
    min_languages, num_base: task (b): letters in >= min_languages languages,
      the first num_base alphabetically train the embedding.
    n_way, shots, n_query, episodes: task (b) episodes; shots=() skips task (b).
    autsl_limit: read only the first N clips of each AUTSL split (None: all).
    languages: restrict the lexicon to these languages (None: all 19).
  """

  seed: int = 0
  max_frames: int = 48
  folds: int = 5
  feature_sets: tuple = FEATURE_SETS
  kinds: tuple = ('transformer', 'bilstm')
  epochs: int = 60
  ctc_epochs: int = 100
  patience: int = 10
  batch_size: int = 64
  learning_rate: float = 1e-3
  flip: bool = True
  bilstm: tuple = (512, (256, 256), 0.2)
  transformer: tuple = (256, 8, 2, 1024, 0.1)
  beam_width: int = 10
  min_languages: int = 14
  num_base: int = 13
  n_way: int = 5
  shots: tuple = (1, 5)
  n_query: int = 5
  episodes: int = 2000
  autsl_limit: int | None = None
  languages: tuple | None = None


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
