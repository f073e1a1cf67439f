"""The pose sign-language paper's protocol: Table 1, the section 5 hand-presence analysis, few-shot letters.

Moryossef et al., *Evaluating the immediate applicability of pose estimation
for sign language recognition*. `run(key, config, data)` computes every
table of the experiment:

* Training (section 3) on the library's one trainer (`fewshot.trainer`,
  stages from `trainer.make_stage`, Adam at `FitConfig.learning_rate`):
  Team 2's BiLSTM with cross-entropy, Team 1's transformer with the CTC loss
  of one class per clip, the horizontal flip as the only augmentation (each
  training clip is mirrored with probability 1/2 at every step). Clips are
  padded; frame masks keep padding out of every output (see
  `fewshot.models.sign`). Runs (folds) are a vmapped axis.
* Prediction: the BiLSTM's argmax; the transformer's CTC beam-search
  decoding (`fewshot.ctc.ctc_classes`). During training the transformer's
  validation accuracy uses the cheaper read-out of the class with the most
  probability over the frames (only for monitoring).
* Rows. Table 1 (`TABLE1`) has the paper's rows: OpenPose, Holistic and
  OpenPose+Holistic (`PAPER_ROWS`, each run when its poses are in the data;
  otherwise listed in `Results.absent_rows`) and Team 1's image-feature rows
  (`SignData.frame_features`, `FRAME_ROW`); a second table
  (`ablation_table(TABLE1)`) has the Holistic feature sets (points, limbs,
  points+limbs), whose points+limbs models are Table 1's Holistic row.
* Inputs: the model input of a pose row is the full vector of every pose
  system's `vision.pose_features` side by side (379 Holistic columns, then
  OpenPose's when present: `vision.combined_batch_data`); a row or feature
  set zeroes the columns it does not use (`SignData.columns`, from
  `vision.feature_columns`). With `Config.team1_upper_body` Team 1 reads
  only the upper-body coordinates (`SignData.upper_body`), without the flip.
  A zero column is zero after batch norm (BiLSTM) and adds nothing through
  the projection, so this is the smaller input up to the initial weight
  scale (the fan-in of the first layer counts the zeroed columns), and all
  rows share one compiled program per model.
* On the fingerspelling lexicon (`vision.load_fingerspelling_lexicon`):
  task (a), which sign language a clip is signed in, with whole letters held
  out (`language_task`); task (b), few-shot letter recognition across
  languages with N-way K-shot episodes on embeddings (`letter_task`,
  `few_shot_letters`). On AUTSL (`autsl_split`): train on its training
  split less a few held-out training signers, keep the epoch with the best
  loss on those signers' clips, report accuracy on the validation split (as
  Table 1) and on the test split where its labels are given; neither
  reported split is seen by selection.
* Section 5: the dominant hand's share of frames for correctly and wrongly
  recognised clips, and the Wilcoxon rank-sum test (`hand_presence_analysis`).

Preprocessing (poses -> features, dominant-hand presence) is `vision`'s: the
experiment script computes it and passes it in as `SignData`.

Keys, by name below the run's key: the folds of task (a) from 'folds'; the
AUTSL training signers held out for selection from 'selection signers'; the
Table 1 cell (team, cell) from ('table1', kind, cell), cell a Holistic
feature set ('points+limbs' also for the paper's Holistic row), 'OpenPose',
'OpenPose+Holistic' or 'frame features: NAME', whose
run r initialises from ('init', r) and trains from ('fit', r) below it; task
(b)'s BiLSTMs from ('few_shot', 'train') and its K-shot episodes from
('few_shot', 'episodes', K), the same episodes for every embedding.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import evaluation
from evaluation import records as records_lib
from evaluation import reports
from evaluation.keys import named_key
from fewshot import timing
from fewshot import trainer
from fewshot.classifiers import prototype_classifier
from fewshot.ctc import ctc_class_loss
from fewshot.ctc import ctc_classes
from fewshot.episodes import evaluate_episodes
from fewshot.models.sign import SignBiLSTM
from fewshot.models.sign import SignTransformer

KINDS = ('transformer', 'bilstm')  # Team 1, Team 2
FEATURE_SETS = ('points', 'limbs', 'points+limbs')  # vision.FEATURE_SETS
TEAMS = {'transformer': 'Team 1 (transformer, CTC)', 'bilstm': 'Team 2 (BiLSTM)'}
ROWS = {fs: f'Holistic {fs}' for fs in FEATURE_SETS}
TABLE1, PRESENCE, FEW_SHOT = '1', 'Section 5', 'Few-shot letters'
TABLE1_TEST = '1, test split'
# Table 1's pose rows as the paper has them; a row runs when its poses are in the data.
PAPER_ROWS = ('OpenPose', 'Holistic', 'OpenPose+Holistic')
# The model of the paper's Holistic row is the Holistic points+limbs cell (section 3.2's input).
HOLISTIC_CELL = 'points+limbs'
FRAME_ROW = 'frame features: {}'  # Team 1's image-feature rows, by the features' name


def ablation_table(table: str) -> str:
  """The Holistic feature-set table (points / limbs / points+limbs) beside a Table 1 (`TABLE1`, `TABLE1_TEST`)."""
  return f'{table} (Holistic feature sets)'


CONFUSIONS = 'Most confused classes'  # of the section 5 cell, by class name  # AUTSL with test labels: Table 1's layout on the test split
# Section 5 analyses the paper's model and input.
PRESENCE_CELL = ('bilstm', 'points+limbs')
# Section 5's rows that count clips (rendered as integers).
COUNT_ROWS = ('correct clips', 'incorrect clips')


@dataclasses.dataclass(frozen=True)
class Config:
  """Everything that changes the numbers of a run.

  Attributes:
    seed: root seed.
    max_frames: clips longer than this are subsampled evenly (`vision.pad_poses`).
    folds: k of the leave-letters-out folds of task (a).
    feature_sets: rows of Table 1 (`FEATURE_SETS`).
    kinds: columns of Table 1: 'transformer' (Team 1), 'bilstm' (Team 2).
    epochs: training epochs of the BiLSTMs (the last epoch's model is kept on
      the lexicon; on AUTSL the epoch with the lowest loss on the held-out
      training signers, with `patience`).
    ctc_epochs: the same for the CTC transformer, which needs more steps: it
      first sits on the CTC plateau of all-blank outputs (on the lexicon's
      quick setting, about 150-200 steps at batch 32).
    patience: early-stopping patience on AUTSL.
    batch_size: clips per step (Team 2: 512).
    learning_rate: Adam step size of every stage (Adam's default 1e-3, as the paper).
    flip: mirror training clips at random (the paper's only augmentation).
    bilstm: (hidden, lstm units per layer, dropout) of Team 2's model (paper:
      512, (256, 256), 0.2).
    transformer: (dim, heads, layers, ff, dropout) of Team 1's model (sizes
      not given in the paper).
    beam_width: CTC beam width.
    min_languages, num_base: task (b): letters in >= min_languages languages,
      the first num_base alphabetically train the embedding.
    n_way, shots, n_query, episodes: task (b) episodes; shots=() skips task (b).
    autsl_limit: read only the first N clips of each AUTSL split's labels file
      (None: all); only those are extracted when poses are missing.
    held_out_signers: AUTSL: the share of the training split's signers held
      out to choose the epoch (rounded, at least one, at least one left to
      train on; this library's choice, the paper selects on the validation
      split it reports).
    languages: restrict the lexicon to these languages (None: all 19).
    rows: Table 1's pose rows (`PAPER_ROWS`); each runs when the data hold
      its poses (`SignData.columns` has it; the Holistic row is the Holistic
      points+limbs cell), else it is listed as not run (`SignData.absent`).
    team1_upper_body: Team 1 as the paper describes it (section 3.1): its
      transformer reads the upper-body skeletal coordinates of the row's
      pose systems (`SignData.upper_body`: normalised points above the
      hips, no limbs) without the flip (named for Team 2 only); it then runs
      Table 1's rows only, not the Holistic feature-set table. False: both
      teams read the same input (the library's default).
    frame_feature_kinds: the teams trained on image features
      (`SignData.frame_features`; the paper: Team 1 only).
    interpolate: the poses were read with pose-format's missing-point
      interpolation (`vision.interpolate_missing`; applied by the script
      that loads the data, recorded here).
  """

  seed: int = 0
  max_frames: int = 48
  folds: int = 5
  feature_sets: tuple = FEATURE_SETS
  kinds: tuple = KINDS
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
  held_out_signers: float = 0.15
  languages: tuple | None = None
  rows: tuple = PAPER_ROWS
  team1_upper_body: bool = False
  frame_feature_kinds: tuple = ('transformer',)
  interpolate: bool = False

  def __post_init__(self):
    for fs in self.feature_sets:
      evaluation.checks.check_choice('feature_sets', fs, FEATURE_SETS)
    for kind in self.kinds + tuple(self.frame_feature_kinds):
      evaluation.checks.check_choice('kinds', kind, KINDS)
    for row in self.rows:
      evaluation.checks.check_choice('rows', row, PAPER_ROWS)
    if not 0 < self.held_out_signers < 1:
      raise ValueError(f'held_out_signers must be a share in (0, 1), got {self.held_out_signers}.')


class SignData(NamedTuple):
  """The preprocessed clips `run` trains and scores on.

  Attributes:
    features: `vision.pose_batch_data(poses, labels, flip)`: {'x': [N, T, F],
      'mask': [N, T], 'y': [N] class, ['x_flip': [N, T, F]]}.
    class_names: the classes of 'y'.
    columns: {feature set: [F] bool} the columns it uses (`vision.feature_columns`).
    presence: [N] the dominant hand's share of each clip's frames
      (`vision.dominant_hand_presence`).
    lexicon: the fingerspelling lexicon (its `.language` and `.letter` [N]
      str arrays), or None for AUTSL.
    split: None on the lexicon (leave-letters-out folds); on AUTSL
      (train rows, validation rows) or (train rows, validation rows, test
      rows) when the test labels are given.
    source: the data in words (for the estimators).
    signers: AUTSL: [N] the signer of each clip (`vision.load_autsl`), or None.
    upper_body: [F] bool, the columns of 'x' holding upper-body coordinates
      (`vision.upper_body_columns` of each pose system; Team 1's input with
      `Config.team1_upper_body`), or None.
    frame_features: {name: {'x': [N, T', D], 'mask': [N, T'] bool}} image
      features of the same clips (`vision.load_frame_features`), each a
      Table 1 row `FRAME_ROW.format(name)`, or None.
    absent: {Table 1 row: why it is not run} for `PAPER_ROWS` whose poses
      are not in the data (e.g. OpenPose on the fingerspelling lexicon).

  `columns` holds the Holistic feature sets ('points', 'limbs',
  'points+limbs') and the paper's rows with inputs of their own
  ('OpenPose', 'OpenPose+Holistic'): 'x' holds every pose system's features
  side by side (`vision.combined_batch_data`).
  """

  features: dict
  class_names: tuple
  columns: dict
  presence: np.ndarray
  lexicon: object | None = None
  split: tuple | None = None
  source: str = ''
  signers: np.ndarray | None = None
  upper_body: np.ndarray | None = None
  frame_features: dict | None = None
  absent: dict | None = None


class Results(NamedTuple):
  """What `run` returns.

  Attributes:
    records: Table 1 (mean and std of accuracy over folds), section 5 (group
      sizes, mean presence, the rank-sum test) and the few-shot letters table.
    timings: the times (`fewshot.timing.stage` dicts) of each Table 1 cell
      ('table1 <kind> <cell>') and of the few-shot task ('few_shot').
    accuracies: {row: {team: [R] accuracy of each run}} (Table 1).
    presence: {'presence': [n] fraction of each evaluated clip, 'correct': [n] bool,
      'label': [n] its class, 'predicted': [n] the class the section 5 cell predicted}.
    few_shot: {'letters': novel letters, 'accuracy': {embedding: {column: [episodes x runs]}}}
      or None.
    selected_epochs: {'kind feature_set': [R] the epoch each run's kept model
      is from} (the last epoch on the lexicon).
    test_accuracies: AUTSL with test labels: {row: {team: [R]}} on the test
      split; else None.
    absent_rows: {Table 1 row: why it was not run}.

  `accuracies` and `test_accuracies` hold the rows of Table 1 and of its
  Holistic feature-set table together (their names differ: 'Holistic' and
  'Holistic points+limbs' are the same models).
  """

  records: list
  timings: dict
  accuracies: dict
  presence: dict
  few_shot: dict | None
  selected_epochs: dict | None = None
  test_accuracies: dict | None = None
  absent_rows: dict | None = None


class Task(NamedTuple):
  """A classification task on a set of clips.

  Attributes:
    labels: [N] int32 class of every clip (-1: not part of the task).
    class_names: the K class names, label k = class_names[k].
    folds: list of `evaluation.Fold` (train / test indices), or None.
  """

  labels: np.ndarray
  class_names: tuple
  folds: list | None


# ------------------------------------------------------------- training


def make_model(config: Config, name: str, *, num_classes: int):
  """Team 2's `SignBiLSTM` ('bilstm': `config.bilstm`) or Team 1's
  `SignTransformer` ('transformer': `config.transformer`) for `num_classes` classes."""
  evaluation.checks.check_choice('name', name, KINDS)
  if name == 'bilstm':
    hidden, lstm, dropout = config.bilstm
    return SignBiLSTM(num_classes, hidden=hidden, lstm=tuple(lstm), dropout=dropout)
  dim, heads, layers, ff, dropout = config.transformer
  return SignTransformer(num_classes, dim=dim, heads=heads, layers=layers, ff=ff, dropout=dropout)


def kind_of(model) -> str:
  """'bilstm' or 'transformer', the team of a model from `make_model`."""
  if isinstance(model, SignBiLSTM):
    return 'bilstm'
  if isinstance(model, SignTransformer):
    return 'transformer'
  raise ValueError(f'not a sign model: {type(model).__name__}')


def fit_config(config: Config, kind: str, validate: bool) -> trainer.FitConfig:
  """The `FitConfig` of a stage: epochs of the team, patience only with validation."""
  epochs = config.ctc_epochs if kind == 'transformer' else config.epochs
  return trainer.FitConfig(
    num_epochs=epochs,
    batch_size=config.batch_size,
    patience=config.patience if validate else epochs,
    learning_rate=config.learning_rate,
  )


def _forward(model, params, batch_stats, x, frame_mask, train, key=None, mask=None):
  rngs = {'dropout': key} if key is not None else None
  # The example mask keeps masked slots out of the BiLSTM's batch statistics
  # (the transformer has none).
  kw = {'mask': mask} if mask is not None and kind_of(model) == 'bilstm' else {}
  return trainer.apply_model(
    model, params, batch_stats, x, frame_mask, train=train, rngs=rngs, **kw
  )


def _loss(kind, out, frame_mask, y, mask):
  if kind == 'bilstm':
    return trainer.cross_entropy_loss(out, y, mask)
  return trainer.masked_mean(ctc_class_loss(out, frame_mask, y), mask)


def make_loss_fn(model, flip: bool):
  """`loss_fn(params, batch_stats, key, batch)` of the trainer for one model."""
  kind = kind_of(model)

  def loss_fn(params, batch_stats, key, batch):
    d = batch.data
    key_flip, key_drop = jax.random.split(key)
    x = d['x']
    if flip:  # the paper's only augmentation, per clip with probability 1/2
      mirror = jax.random.bernoulli(key_flip, 0.5, x.shape[:1])
      x = jnp.where(mirror[:, None, None], d['x_flip'], x)
    out, stats = _forward(model, params, batch_stats, x, d['mask'], True, key_drop, batch.mask)
    return _loss(kind, out, d['mask'], d['y'], batch.mask), stats

  return loss_fn


def flip_loss(model):
  """The stage loss with random mirroring (`trainer.make_stage`'s factory)."""
  return make_loss_fn(model, flip=True)


def plain_loss(model):
  """The stage loss without augmentation."""
  return make_loss_fn(model, flip=False)


def _monitor_classes(kind, out, frame_mask):
  if kind == 'bilstm':
    return jnp.argmax(out, -1)
  probs = jnp.where(frame_mask[..., None], jax.nn.softmax(out, -1)[..., 1:], 0)
  return jnp.argmax(probs.sum(1), -1)


def make_eval_fn(model):
  """`eval_fn(params, batch_stats, data, split)` -> {'val_loss', 'val_acc'} for early stopping."""
  kind = kind_of(model)

  def eval_fn(params, batch_stats, data, split):
    idx, m = split.val_idx, split.val_mask
    x, fm, y = data['x'][idx], data['mask'][idx], data['y'][idx]
    out, _ = _forward(model, params, batch_stats, x, fm, False)
    correct = (_monitor_classes(kind, out, fm) == y).astype(jnp.float32)
    return {'val_loss': _loss(kind, out, fm, y, m), 'val_acc': trainer.masked_mean(correct, m)}

  return eval_fn


def pad_split(split, like):
  """`split` padded with masked entries to the index widths of `like` (same runs).

  A run padded this way trains exactly as before (masked entries are never
  used) and shares `like`'s compiled program.
  """
  if split.train_idx.shape[0] != like.train_idx.shape[0]:
    raise ValueError(f'{split.train_idx.shape[0]} runs, expected {like.train_idx.shape[0]}.')
  out = []
  for a, b in zip(split, like):
    extra = b.shape[1] - a.shape[1]
    if extra < 0:
      raise ValueError(f'split is wider ({a.shape[1]}) than the one to match ({b.shape[1]}).')
    out.append(jnp.pad(a, ((0, 0), (0, extra))))  # index 0, mask False
  return trainer.Split(*out)


def _run_keys(key, name: str, num_runs: int):
  return jnp.stack([named_key(key, name, r) for r in range(num_runs)])


def train_runs(key, model, data, split, *, config: trainer.FitConfig, flip=True, validate=False):
  """Trains one model per run of `split` (runs vmapped) on the one trainer.

  Args:
    key: jax.random key; run r initialises from `named_key(key, 'init', r)`
      and trains from `named_key(key, 'fit', r)`.
    model: `SignBiLSTM` or `SignTransformer` (`make_model`).
    data: from `vision.pose_batch_data` (feature columns zeroed as the run needs).
    split: `trainer.Split` with a leading [R] axis (`trainer.make_split`).
    config: `trainer.FitConfig` (`fit_config`); Adam at its learning rate.
    flip: mirror training clips at random (needs `data['x_flip']`).
    validate: evaluate on `split`'s validation indices every epoch and keep
      the best epoch (`config.monitor`); False trains `config.num_epochs`
      epochs and keeps the last.

  Returns:
    (fit_states [R], history {name: [R, epochs]}).
  """
  if flip and 'x_flip' not in data:
    raise ValueError("flip=True needs data['x_flip'] (vision.pose_batch_data(..., flip=True)).")
  num_runs = int(np.shape(split.train_idx)[0])
  stage = trainer.make_stage(
    model, config, flip_loss if flip else plain_loss, make_eval_fn if validate else None
  )
  fit_states = stage.init(_run_keys(key, 'init', num_runs), data['x'][:1], data['mask'][:1])
  fit_states, history = trainer.fit_runs(
    stage.fit, fit_states, _run_keys(key, 'fit', num_runs), data, split,
    num_epochs=config.num_epochs,
  )  # fmt: skip
  trainer.check_finite(fit_states, f'sign {kind_of(model)}')
  return fit_states, history


@functools.partial(jax.jit, static_argnames=('model', 'beam_width', 'method'))
def _apply_runs(model, params, batch_stats, x, frame_mask, beam_width, method):
  def one(p, s):
    if method == 'embed':
      return trainer.apply_model(model, p, s, x, frame_mask, train=False, method='embed')[0]
    out, _ = trainer.apply_model(model, p, s, x, frame_mask, train=False)
    if kind_of(model) == 'bilstm':
      return jnp.argmax(out, -1).astype(jnp.int32)
    return ctc_classes(out, frame_mask, beam_width)

  return jax.vmap(one)(params, batch_stats)


def predict_runs(model, fit_states, data, idx, beam_width: int = 10) -> np.ndarray:
  """Predicted classes [R, n] of clips `idx` by each run's best model."""
  idx = np.asarray(idx)
  x, fm = data['x'][idx], data['mask'][idx]
  fs = fit_states
  with timing.phase('predict'):
    return np.asarray(
      _apply_runs(model, fs.best_params, fs.best_batch_stats, x, fm, beam_width, None)
    )


def embed_runs(model, fit_states, data, idx) -> np.ndarray:
  """Clip embeddings [R, n, dim] (`model.embed`) by each run's best model."""
  idx = np.asarray(idx)
  x, fm = data['x'][idx], data['mask'][idx]
  fs = fit_states
  with timing.phase('predict'):
    return np.asarray(_apply_runs(model, fs.best_params, fs.best_batch_stats, x, fm, 1, 'embed'))


def run_accuracies(predictions, labels, test_rows) -> tuple[list, np.ndarray]:
  """Accuracy of each run on its own test rows.

  Args:
    predictions: [R, sum of the runs' test sizes] classes predicted by every
      run for the concatenated test rows of all runs (`predict_runs`).
    labels: [N] true classes.
    test_rows: R index arrays, run r's test clips.

  Returns:
    ([R] accuracies, [N] bool: whether the run that tested a clip got it right;
    clips no run tested are False).
  """
  labels = np.asarray(labels)
  hits = np.zeros(len(labels), bool)
  accs, start = [], 0
  for r, rows in enumerate(test_rows):
    ok = np.asarray(predictions)[r, start : start + len(rows)] == labels[rows]
    hits[rows] = ok
    start += len(rows)
    accs.append(float(ok.mean()))
  return accs, hits


# ------------------------------------------------------- lexicon tasks


def language_classes(lexicon) -> tuple[np.ndarray, tuple]:
  """Task (a)'s labels: ([N] int32 language index of each clip, the sorted language names)."""
  names = tuple(sorted(set(np.asarray(lexicon.language).tolist())))
  labels = np.searchsorted(np.array(names), lexicon.language).astype(np.int32)
  return labels, names


def language_task(lexicon, num_folds: int = 5, *, key) -> Task:
  """Task (a): which of the 19 sign languages a clip is signed in.

  Every clip of a letter is in the same test fold (the letters are dealt into
  `num_folds` groups, `evaluation.subject_folds` with letters as the
  groups), so the model never saw the test letters, in any language.

  Args:
    lexicon: the fingerspelling lexicon (`.language`, `.letter` [N] str).
    num_folds: k of the leave-letters-out folds.
    key: jax.random key of the letters' assignment to folds.
  """
  labels, names = language_classes(lexicon)
  return Task(labels, names, evaluation.subject_folds(lexicon.letter, num_folds, key=key))


def letter_task(lexicon, min_languages: int = 14, num_base: int = 13) -> tuple[Task, Task]:
  """Task (b): letters signed in at least `min_languages` languages, split in base and novel.

  Returns:
    (base, novel): two `Task`s over all clips (label -1 outside the task);
    the first `num_base` of those letters (alphabetical) train the embedding,
    the others are the unseen classes of the few-shot episodes. Each letter
    has one clip per language, so an episode's support and queries are the
    same letter signed in different languages.
  """
  letters, counts = np.unique(lexicon.letter, return_counts=True)
  common = letters[counts >= min_languages]
  if len(common) <= num_base:
    raise ValueError(
      f'{len(common)} letters are signed in >= {min_languages} languages; need > {num_base}.'
    )
  tasks = []
  for names in (common[:num_base], common[num_base:]):
    labels = np.full(len(lexicon.letter), -1, np.int32)
    for k, name in enumerate(names):
      labels[lexicon.letter == name] = k
    tasks.append(Task(labels, tuple(names.tolist()), None))
  return tasks[0], tasks[1]


def mean_features(data: dict) -> jax.Array:
  """The untrained baseline embedding: each clip's features averaged over its real frames."""
  w = data['mask'][..., None].astype(jnp.float32)
  return (data['x'] * w).sum(1) / w.sum(1)


def few_shot_letters(key, embeddings, labels, *, n_way, k_shot, n_query, num_episodes):
  """N-way K-shot episodes on embeddings of the novel letters (prototype classifier).

  Args:
    key: `jax.random.key`.
    embeddings: [n, dim] embeddings of the novel-letter clips.
    labels: [n] int letter ids.
    n_way, k_shot, n_query, num_episodes: the episodes (`fewshot.evaluate_episodes`);
      support and queries come from one pool, disjoint, K distinct supports.

  Returns:
    (accuracy [num_episodes], f1 [num_episodes]) float arrays.
  """
  res = evaluate_episodes(
    key,
    embeddings,
    labels,
    classifier=prototype_classifier,
    n_way=n_way,
    k_shot=k_shot,
    n_query=n_query,
    num_episodes=num_episodes,
    support_replace=False,
  )
  accuracy = (res.predictions == res.episodes.query_labels).mean(-1)
  return np.asarray(accuracy), np.asarray(res.f1)


# ----------------------------------------------------------- AUTSL rows


class AUTSLSplit(NamedTuple):
  """AUTSL's rows for its one run: what trains, what selects, what is reported.

  Attributes:
    train: [n_train] rows the models train on: the training split's clips of
      the signers not held out.
    select: [n_select] rows the epoch is chosen on: the training split's
      clips of the held-out signers.
    held_out: the held-out training signers, sorted.
    reported: {table: rows}: the validation split (`TABLE1`) and, when its
      labels are given, the test split (`TABLE1_TEST`); no selection sees them.
  """

  train: np.ndarray
  select: np.ndarray
  held_out: tuple
  reported: dict


def held_out_signers(signers, share: float, *, key) -> np.ndarray:
  """A random `share` of the signers, held out of training to choose the epoch.

  Args:
    signers: [n] the signer of each training clip.
    share: in (0, 1): k = round(share * S) of the S distinct signers, at
      least 1 and at most S - 1 (one is left to train on).
    key: `jax.random` key of the draw.

  Returns:
    [k] the held-out signer ids, sorted.
  """
  ids = np.unique(np.asarray(signers))
  if len(ids) < 2:
    raise ValueError(
      f'holding training signers out for selection needs 2 or more, got {ids.tolist()}.'
    )
  k = min(max(1, round(share * len(ids))), len(ids) - 1)
  return np.sort(ids[np.asarray(jax.random.permutation(key, len(ids)))[:k]])


def autsl_split(key, config: Config, data: SignData) -> AUTSLSplit:
  """AUTSL's training, selection and reported rows (`data.split`, `data.signers`).

  The epoch is chosen on clips of training signers held out of training
  (`held_out_signers` with `config.held_out_signers`, drawn from the key
  named 'selection signers' below `key`), never on the validation or test
  rows whose accuracy is reported.

  Args:
    key: the run's root key.
    config: `Config`.
    data: `SignData` with `split` (train, validation[, test] rows) and `signers`.
  """
  if data.split is None or data.signers is None:
    raise ValueError('autsl_split needs data.split (AUTSL rows) and data.signers.')
  if len(data.split) not in (2, 3):
    raise ValueError(f'data.split must be (train, val[, test]) rows, got {len(data.split)} parts.')
  train, val, *test = (np.asarray(r).reshape(-1) for r in data.split)
  signers = np.asarray(data.signers)
  if signers.shape != np.shape(data.features['y']):
    raise ValueError(f'data.signers {signers.shape} must be [N] like the labels.')
  reported = {TABLE1: val, **({TABLE1_TEST: test[0]} if test else {})}
  for table, rows in reported.items():
    if np.intersect1d(rows, train).size:
      raise ValueError(f'the rows of table {table!r} overlap the training split.')
  selection_key = named_key(key, 'selection signers')
  held = held_out_signers(signers[train], config.held_out_signers, key=selection_key)
  out = np.isin(signers[train], held)
  return AUTSLSplit(train[~out], train[out], tuple(held.tolist()), reported)


# ---------------------------------------------------- failure analysis


def hand_presence_analysis(presence, correct) -> dict:
  """Section 5, Figure 6: dominant-hand presence of correctly and wrongly recognised clips.

  Args:
    presence: [N] fraction of each evaluated clip's frames in which the
      dominant hand is found (`vision.dominant_hand_presence`).
    correct: [N] bool, whether each clip was recognised correctly.

  Returns:
    {'presence': [N] the fractions, 'correct': [n_c], 'incorrect': [n_i]
     those fractions by group, 'mean_correct', 'mean_incorrect': their means
     (the paper: 85.13 % vs 79.78 %), 'ranksum':
     `evaluation.wilcoxon_ranksum(correct, incorrect)` as a dict (statistic,
     pvalue, n_x, n_y), or None if a group is empty}.
  """
  presence = evaluation.checks.check_array('presence', presence, ndim=1)
  presence = np.asarray(presence, np.float64)
  correct = np.asarray(correct, bool)
  if correct.shape != presence.shape:
    raise ValueError(f'correct must be [{len(presence)}] like presence, got {correct.shape}.')
  good, bad = presence[correct], presence[~correct]
  test = evaluation.wilcoxon_ranksum(good, bad) if good.size and bad.size else None
  return {
    'presence': presence,
    'correct': good,
    'incorrect': bad,
    'mean_correct': float(good.mean()) if good.size else None,
    'mean_incorrect': float(bad.mean()) if bad.size else None,
    'ranksum': test._asdict() if test is not None else None,
  }


# ------------------------------------------------------------- the tables


def _select(features: dict, columns) -> dict:
  """`features` with the columns outside a feature set zeroed (module doc)."""
  keep = jnp.asarray(columns, jnp.float32)
  return {k: v * keep if k in ('x', 'x_flip') else v for k, v in features.items()}


def table1_cells(config: Config, data: SignData) -> dict:
  """{cell: [(table kind, row)]}: the models Table 1 trains and the rows each one reports.

  A cell is a Holistic feature set ('points', 'limbs', 'points+limbs': rows
  of the feature-set table, kind 'ablation'), a paper row with inputs of its
  own ('OpenPose', 'OpenPose+Holistic'; kind 'paper'), or an image-feature
  row; the paper's Holistic row is the 'points+limbs' cell's model.
  """
  cells = {}
  for fs in config.feature_sets:
    cells.setdefault(fs, []).append(('ablation', ROWS[fs]))
  for row in config.rows:
    if row == 'Holistic':
      cells.setdefault(HOLISTIC_CELL, []).append(('paper', row))
    elif row in data.columns:
      cells.setdefault(row, []).append(('paper', row))
  for name in data.frame_features or {}:
    cells.setdefault(FRAME_ROW.format(name), []).append(('paper', FRAME_ROW.format(name)))
  return cells


def _cell_input(config: Config, data: SignData, kind: str, cell: str):
  """(features dict, flip) a team trains on in a cell (module doc, `Config.team1_upper_body`)."""
  frames = {FRAME_ROW.format(n): f for n, f in (data.frame_features or {}).items()}
  if cell in frames:
    # Image features cannot be mirrored: the mirrored copy is the clip itself, so the step (and
    # its compiled program, for inputs of one shape) is the pose rows' and the flip a no-op.
    x = jnp.asarray(frames[cell]['x'])
    out = {'x': x, 'mask': jnp.asarray(frames[cell]['mask']), 'y': data.features['y']}
    return ({**out, 'x_flip': x} if config.flip else out), config.flip
  columns = np.asarray(data.columns[cell], bool)
  if kind == 'transformer' and config.team1_upper_body:
    if data.upper_body is None:
      raise ValueError('team1_upper_body needs SignData.upper_body (the upper-body columns).')
    return _select(data.features, columns & np.asarray(data.upper_body, bool)), False
  return _select(data.features, columns), config.flip


def table1(key, config: Config, data: SignData, split, reported, *, validate: bool):
  """Accuracy of every team and Table 1 cell (`table1_cells`) on each run's reported rows.

  Args:
    key: the run's root key (cells' keys by name, module doc).
    config, data: `Config`, `SignData`.
    split: `trainer.Split` [R] the models train on; with `validate` its
      validation rows choose the epoch.
    reported: {table: R row arrays}: the rows each run is scored on, per
      table (`TABLE1`, `TABLE1_TEST`); each cell's rows go to that table
      (the paper's rows) or to `ablation_table(table)` (Holistic feature
      sets).
    validate: early stopping on `split`'s validation rows (else fixed epochs).

  Returns:
    ({table: {row: {team: [R] accuracies}}}, {(kind, cell): [N] bool
    correct, over every reported row}, {'kind cell': [R] the epoch of
    each run's kept model}, {cell name: seconds}, {(kind, cell): [N]
    int32 class predicted by the run reporting each row, -1 elsewhere}).
  """
  scores, correct, epochs, timings, predicted = {}, {}, {}, {}, {}
  labels = np.asarray(data.features['y'])
  rows = np.concatenate([np.concatenate(r) for r in reported.values()])
  frame_cells = {FRAME_ROW.format(n) for n in data.frame_features or {}}
  for kind in config.kinds:
    model = make_model(config, kind, num_classes=len(data.class_names))
    for cell, shows in table1_cells(config, data).items():
      if cell in frame_cells and kind not in config.frame_feature_kinds:
        continue
      if kind == 'transformer' and config.team1_upper_body:
        shows = [s for s in shows if s[0] == 'paper']  # Team 1 reads one input per row
        if not shows:
          continue
      with timing.stage(f'table1 {kind} {cell}') as timings[f'table1 {kind} {cell}']:
        selected, flip = _cell_input(config, data, kind, cell)
        states, _ = train_runs(
          named_key(key, 'table1', kind, cell), model, selected, split,
          config=fit_config(config, kind, validate), flip=flip, validate=validate,
        )  # fmt: skip
        pred = predict_runs(model, states, selected, rows, config.beam_width)
      hits, start = np.zeros(len(labels), bool), 0
      classes, column = np.full(len(labels), -1, np.int32), 0
      for runs_rows in reported.values():
        for r, run_rows in enumerate(runs_rows):
          classes[run_rows] = pred[r, column : column + len(run_rows)]
          column += len(run_rows)
      predicted[(kind, cell)] = classes
      for table, runs_rows in reported.items():
        width = sum(len(r) for r in runs_rows)
        accs, ok = run_accuracies(pred[:, start : start + width], labels, runs_rows)
        start += width
        hits |= ok
        for where, row in shows:
          name = table if where == 'paper' else ablation_table(table)
          scores.setdefault(name, {}).setdefault(row, {})[TEAMS[kind]] = accs
      correct[(kind, cell)] = hits
      epochs[f'{kind} {cell}'] = np.asarray(states.best_epoch).tolist()
  return scores, correct, epochs, timings, predicted


def confusion_pairs(labels, predicted, class_names, top: int = 10) -> list[tuple[str, str, int]]:
  """The `top` most frequent confusions (true class, predicted class, clips), by name.

  Args:
    labels: [n] true classes.
    predicted: [n] predicted classes (same shape).
    class_names: the names of the classes, `class_names[k]` of class k.
    top: at most this many pairs.

  Returns:
    [(true name, predicted name, count)] for true != predicted, most clips
    first, ties in class order.
  """
  labels, predicted = np.asarray(labels), np.asarray(predicted)
  if labels.shape != predicted.shape or labels.ndim != 1:
    raise ValueError(f'labels {labels.shape} and predicted {predicted.shape} must be [n] alike.')
  evaluation.checks.check_int('top', top)
  k = len(class_names)
  if labels.size and (
    min(labels.min(), predicted.min()) < 0 or max(labels.max(), predicted.max()) >= k
  ):
    raise ValueError(f'classes must lie in [0, {k}) ({k} class names).')
  cm = evaluation.confusion_matrix(labels, predicted, k)
  cm = np.asarray(cm).copy()
  np.fill_diagonal(cm, 0)
  order = np.argsort(-cm, axis=None, kind='stable')[:top]
  pairs = [(int(i // k), int(i % k)) for i in order]
  return [(class_names[t], class_names[p], int(cm[t, p])) for t, p in pairs if cm[t, p] > 0]


def few_shot(key, config: Config, data: SignData, like) -> dict:
  """Task (b): episodes on the novel letters, trained BiLSTMs vs untrained mean features.

  One BiLSTM per run of the Table 1 split, trained on the base letters with
  Table 1's number of outputs and, where the base letters fit Table 1's
  split widths, its shapes (split padded), so the Team 2 training program
  compiled for Table 1 is reused (the full setting's folds are narrower than
  the base letters: there it compiles its own).

  Returns:
    {'letters': the novel letters, 'accuracy': {embedding: {'N-way K-shot':
    [runs x episodes] accuracies}}}.
  """
  base, novel = letter_task(data.lexicon, config.min_languages, config.num_base)
  if len(base.class_names) > len(data.class_names):
    raise ValueError(
      f"task (b) trains {len(base.class_names)} base letters on Table 1's model with "
      f'{len(data.class_names)} outputs; lower num_base.'
    )
  rows = [np.flatnonzero(base.labels >= 0)] * like.train_idx.shape[0]
  split = trainer.make_split(rows, rows)
  if all(a.shape[1] <= b.shape[1] for a, b in zip(split, like)):
    split = pad_split(split, like)  # Table 1's shapes: its compiled program
  model = make_model(config, 'bilstm', num_classes=len(data.class_names))
  features = dict(data.features, y=jnp.asarray(np.maximum(base.labels, 0)))
  states, _ = train_runs(
    named_key(key, 'few_shot', 'train'), model, features, split,
    config=fit_config(config, 'bilstm', False), flip=config.flip,
  )  # fmt: skip
  idx = np.flatnonzero(novel.labels >= 0)
  trained = f'BiLSTM trained on {base.class_names[0]}..{base.class_names[-1]}'
  embeddings = {
    'mean features (no training)': np.asarray(mean_features(data.features))[idx][None],
    trained: embed_runs(model, states, data.features, idx),
  }
  table = {}
  for name, runs in embeddings.items():
    for k in config.shots:
      episodes_key = named_key(key, 'few_shot', 'episodes', k)
      acc = [
        few_shot_letters(
          episodes_key, emb, novel.labels[idx], n_way=config.n_way, k_shot=k,
          n_query=config.n_query, num_episodes=config.episodes,
        )[0]
        for emb in runs
      ]  # fmt: skip
      table.setdefault(name, {})[f'{config.n_way}-way {k}-shot'] = np.concatenate(acc).tolist()
  return {'letters': list(novel.class_names), 'accuracy': table}


def _table1_words(config: Config, data: SignData, num_runs: int, autsl: AUTSLSplit | None):
  """({table: estimator}, selection) of Table 1 (and its test-split table on AUTSL)."""
  epochs = f'{config.epochs} epochs (BiLSTM) / {config.ctc_epochs} (transformer)'
  if autsl is None:
    estimator = (
      f"accuracy of each fold's model on the clips of its held-out letters ({data.source}; "
      f'which of {len(data.class_names)} sign languages); mean and std (ddof 1) over the '
      f'{num_runs} leave-letters-out folds'
    )
    selection = f"none: fixed {epochs}, the last epoch's model; all teams and feature sets reported"
    return _with_ablation({TABLE1: estimator}, config), selection
  names = {TABLE1: 'validation', TABLE1_TEST: 'test'}
  estimators = {
    table: f'accuracy on the {len(rows)} clips of the {names[table]} split of one model per '
    f'cell ({data.source})'
    for table, rows in autsl.reported.items()
  }
  signers = ', '.join(str(s) for s in autsl.held_out)
  n_train = len(np.unique(np.asarray(data.signers)[autsl.train]))
  selection = (
    f'epochs: early stopping on the loss (patience {config.patience}, at most {epochs}) on the '
    f'{len(autsl.select)} training-split clips of {len(autsl.held_out)} training signers held out '
    f"of training ({signers}; drawn with the key named 'selection signers'; the models train on "
    f"the other {n_train} signers' {len(autsl.train)} clips); the "
    f'{" and ".join(names[t] for t in autsl.reported)} split(s) reported are never seen by '
    'selection; all teams and feature sets reported'
  )
  return _with_ablation(estimators, config), selection


def _with_ablation(estimators: dict, config: Config) -> dict:
  """Table 1's estimators with its inputs named, and the Holistic feature-set tables'."""
  team1 = (
    "Team 1 reads the upper-body coordinates of the row's pose systems (normalised points "
    'above the hips, no limbs, no flip; section 3.1)'
    if config.team1_upper_body
    else 'both teams read the same input'
  )
  inputs = (
    "; rows: the pose system's normalised points and limb angles and lengths per frame "
    '(section 3.2), OpenPose+Holistic both side by side; frame-feature rows: the given image '
    f'features; {team1}; flip augmentation: {"on" if config.flip else "off"} for pose inputs'
    f'{", poses interpolated (pose-format)" if config.interpolate else ""}'
  )
  out = {}
  for table, estimator in estimators.items():
    out[table] = estimator + inputs
    out[ablation_table(table)] = (
      estimator + "; Holistic inputs by feature set (the points+limbs row is Table 1's Holistic "
      'row, the same models)'
    )
  return out


def _presence_records(res: dict, cell, selection: str, tested: str) -> list:
  """Section 5's numbers as records (`hand_presence_analysis`'s output)."""
  team, fs = TEAMS[cell[0]], ROWS.get(cell[1], cell[1])
  groups = f'clips Table 1 tested with {team}, {fs} ({tested})'
  share = "share of a clip's frames in which its dominant hand is estimated"
  sel = (
    f"none: the paper's model and input ({team}, {fs}), fixed in advance; its models: {selection}"
  )
  out = []
  for group, count_row in zip(('correct', 'incorrect'), COUNT_ROWS):
    n = len(res[group])
    out.append(records_lib.record(
      PRESENCE, count_row, 'value', n, estimator=f'number of {group}ly recognised {groups}', selection=sel,
    ))  # fmt: skip
    if n:
      out.append(records_lib.record(
        PRESENCE, f'mean presence, {group}', 'value', res[f'mean_{group}'],
        estimator=f'{share}; mean over the {group}ly recognised {groups}', selection=sel, n=n,
      ))  # fmt: skip
  test = res['ranksum']
  if test is not None:
    words = (
      f'Wilcoxon rank-sum test (normal approximation, scipy.stats.ranksums) of the presence, '
      f'correct ({test["n_x"]}) vs incorrect ({test["n_y"]}) clips'
    )
    for row, value in (('rank-sum z', test['statistic']), ('rank-sum p-value', test['pvalue'])):
      what = 'z statistic' if row.endswith('z') else 'two-sided p-value'
      out.append(records_lib.record(
        PRESENCE, row, 'value', value, estimator=f'{what} of the {words}', selection=sel,
      ))  # fmt: skip
  return out


def _few_shot_records(config: Config, res: dict, selection: str) -> list:
  letters = ', '.join(res['letters'])
  estimator = (
    f'accuracy of the queries of one {config.n_way}-way K-shot episode on the novel letters '
    f'{letters} ({config.n_query} queries per class, prototype classifier on the embedding); '
    f"mean and std (ddof 1) over {config.episodes} episodes x the embedding's models "
    '(the same episodes for every embedding)'
  )
  sel = f'none: every embedding and K listed reported; the trained BiLSTMs: {selection}'
  summary = reports.summarize(res['accuracy'], 'mean_std')
  return records_lib.from_summary(FEW_SHOT, summary, estimator=estimator, selection=sel)


def _folds(key, config: Config, data: SignData):
  """(train rows [R], validation rows [R] of the Split, {table: test rows [R]}, AUTSLSplit or None).

  On the lexicon the Split's validation rows are the folds' test rows, never
  read (fixed epochs), so the few-shot BiLSTMs share Table 1's shapes.
  """
  if data.split is not None:
    autsl = autsl_split(key, config, data)
    reported = {table: [rows] for table, rows in autsl.reported.items()}
    return [autsl.train], [autsl.select], reported, autsl
  task = language_task(data.lexicon, config.folds, key=named_key(key, 'folds'))
  if not np.array_equal(task.labels, np.asarray(data.features['y'])):
    raise ValueError("features['y'] must be the lexicon's language classes (language_classes).")
  test = [f.test for f in task.folds]
  return [f.train for f in task.folds], test, {TABLE1: test}, None


def run(key, config: Config, data: SignData, *, progress: Callable | None = None) -> Results:
  """Table 1, the section 5 analysis and (on the lexicon) the few-shot letters table.

  Args:
    key: the run's root jax.random key (keys by name, module doc).
    config: `Config`.
    data: `SignData`.
    progress: called once after Table 1, the analysis and task (b), or None.

  Returns:
    `Results`.
  """
  tick = progress or (lambda: None)
  train_rows, val_rows, reported, autsl = _folds(key, config, data)
  split = trainer.make_split(train_rows, val_rows)
  validate = autsl is not None
  scores, correct, epochs, timings, predicted = table1(
    key, config, data, split, reported, validate=validate
  )
  tick()
  num_runs = len(train_rows)
  estimators, selection = _table1_words(config, data, num_runs, autsl)
  recs = []
  for table, estimator in estimators.items():
    if table not in scores:
      continue
    summary = reports.summarize(scores[table], 'mean_std') if num_runs > 1 else {
      row: {team: accs[0] for team, accs in cols.items()} for row, cols in scores[table].items()
    }  # fmt: skip
    recs += records_lib.from_summary(table, summary, estimator=estimator, selection=selection)

  cell = PRESENCE_CELL if PRESENCE_CELL in correct else next(iter(correct))
  evaluated = np.concatenate(reported[TABLE1])
  presence = np.asarray(data.presence)[evaluated]
  hits = correct[cell][evaluated]
  tested = 'each once, by the fold holding it out' if autsl is None else 'the validation split'
  recs += _presence_records(hand_presence_analysis(presence, hits), cell, selection, tested)
  labels = np.asarray(data.features['y'])[evaluated]
  classes = predicted[cell][evaluated]
  for true, pred, count in confusion_pairs(labels, classes, data.class_names):
    recs.append(records_lib.record(
      CONFUSIONS, f'{true} -> {pred}', 'clips', count, selection=selection,
      estimator=f"number of clips of the row's true class recognised as its predicted class by "
      f'{TEAMS[cell[0]]}, '
      f'{ROWS.get(cell[1], cell[1])}; clips: {tested}, {len(labels)} in all',
    ))  # fmt: skip
  tick()

  few = None
  if data.lexicon is not None and config.shots:
    with timing.stage('few_shot') as timings['few_shot']:
      few = few_shot(key, config, data, split)
    recs += _few_shot_records(config, few, selection)
  tick()
  presence = {'presence': presence, 'correct': hits, 'label': labels, 'predicted': classes}
  accuracies, test_accuracies = (
    {**scores.get(t, {}), **scores.get(ablation_table(t), {})} for t in (TABLE1, TABLE1_TEST)
  )
  return Results(
    recs, timings, accuracies, presence, few, epochs, test_accuracies or None,
    dict(data.absent or {}),
  )  # fmt: skip
