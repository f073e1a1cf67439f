"""Training and evaluation protocols of the pose sign-language paper (pose_sign_language.txt).

* Training (section 3) on the library's one trainer (`fewshot.trainer`):
  Team 2's BiLSTM with cross-entropy, Team 1's transformer with the CTC loss
  of one class per clip, Adam with its defaults, the horizontal flip as the
  only augmentation (each training clip is mirrored with probability 1/2 at
  every step). Clips are padded; frame masks keep padding out of every
  output (see `fewshot.models.sign`). Runs (folds, seeds) are a vmapped axis.
* Prediction: the BiLSTM's argmax; the transformer's CTC beam-search
  decoding (`fewshot.ctc.ctc_classes`). During training the transformer's
  validation accuracy uses the cheaper read-out of the class with the most
  probability over the frames (only for monitoring).
* Feature sets (rows of our Table 1): the model input is always the full
  379-column vector of `vision.pose_features`; a feature set zeroes the
  columns it does not use (`vision.feature_columns`). A zero column is zero
  after batch norm (BiLSTM) and adds nothing through the projection, so
  this is the smaller input up to the initial weight scale (the fan-in of the
  first layer counts the zeroed columns), and all rows share one compiled
  program per model.
* The two tasks on the fingerspelling lexicon (`vision.load_fingerspelling_lexicon`):
  which sign language a clip is signed in, with whole letters held out
  (`language_task`), and few-shot letter recognition across languages with
  N-way K-shot episodes on embeddings (`letter_task`, `few_shot_letters`).
* The hand-presence analysis of section 5 (`hand_presence_analysis`).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

import evaluation
from fewshot import trainer
from fewshot.classifiers import prototype_classifier
from fewshot.ctc import ctc_class_loss
from fewshot.ctc import ctc_classes
from fewshot.episodes import evaluate_episodes
from fewshot.models.sign import SignBiLSTM
from fewshot.models.sign import SignTransformer

KINDS = ('transformer', 'bilstm')  # Team 1, Team 2


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


# ------------------------------------------------------------------ data


# ------------------------------------------------------------- training


def make_model(
  kind: str, num_classes: int, bilstm=(512, (256, 256), 0.2), transformer=(256, 8, 2, 1024, 0.1)
):
  """Team 2's `SignBiLSTM` (hidden, lstm units, dropout) or Team 1's `SignTransformer`
  (dim, heads, layers, ff, dropout) for `num_classes` classes."""
  evaluation.checks.check_choice('kind', kind, KINDS)
  if kind == 'bilstm':
    hidden, lstm, dropout = bilstm
    return SignBiLSTM(num_classes, hidden=hidden, lstm=tuple(lstm), dropout=dropout)
  dim, heads, layers, ff, dropout = transformer
  return SignTransformer(num_classes, dim=dim, heads=heads, layers=layers, ff=ff, dropout=dropout)


def _forward(model, kind, params, batch_stats, x, frame_mask, train, key=None):
  rngs = {'dropout': key} if key is not None else None
  return trainer.apply_model(model, params, batch_stats, x, frame_mask, train=train, rngs=rngs)


def _loss(kind, out, frame_mask, y, mask):
  if kind == 'bilstm':
    return trainer.cross_entropy_loss(out, y, mask)
  return trainer.masked_mean(ctc_class_loss(out, frame_mask, y), mask)


def make_loss_fn(model, kind: str, flip: bool):
  """`loss_fn(params, batch_stats, key, batch)` of the trainer for one model."""
  evaluation.checks.check_choice('kind', kind, KINDS)

  def loss_fn(params, batch_stats, key, batch):
    d = batch.data
    key_flip, key_drop = jax.random.split(key)
    x = d['x']
    if flip:  # the paper's only augmentation, per clip with probability 1/2
      mirror = jax.random.bernoulli(key_flip, 0.5, x.shape[:1])
      x = jnp.where(mirror[:, None, None], d['x_flip'], x)
    out, stats = _forward(model, kind, params, batch_stats, x, d['mask'], True, key_drop)
    return _loss(kind, out, d['mask'], d['y'], batch.mask), stats

  return loss_fn


def _monitor_classes(kind, out, frame_mask):
  if kind == 'bilstm':
    return jnp.argmax(out, -1)
  probs = jnp.where(frame_mask[..., None], jax.nn.softmax(out, -1)[..., 1:], 0)
  return jnp.argmax(probs.sum(1), -1)


def make_eval_fn(model, kind: str):
  """`eval_fn(params, batch_stats, data, split)` -> {'val_loss', 'val_acc'} for early stopping."""

  def eval_fn(params, batch_stats, data, split):
    idx, m = split.val_idx, split.val_mask
    x, fm, y = data['x'][idx], data['mask'][idx], data['y'][idx]
    out, _ = _forward(model, kind, params, batch_stats, x, fm, False)
    correct = (_monitor_classes(kind, out, fm) == y).astype(jnp.float32)
    return {'val_loss': _loss(kind, out, fm, y, m), 'val_acc': trainer.masked_mean(correct, m)}

  return eval_fn


@functools.lru_cache(maxsize=8)
def adam(learning_rate: float = 1e-3):
  """Adam with its defaults (the paper's optimizer), one object per rate so compiled fits are reused."""
  return optax.adam(learning_rate)


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


@functools.partial(jax.jit, static_argnames='model')
def _init_runs(model, keys, x, frame_mask):
  return jax.vmap(lambda k: model.init(k, x, frame_mask))(keys)


def init_runs(model, key, data, num_runs: int):
  """Flax variables of `num_runs` independently initialised models (leading [R] axis)."""
  keys = jax.random.split(key, num_runs)
  return _init_runs(model, keys, data['x'][:1], data['mask'][:1])


def train_runs(model, kind, data, split, *, tx, config, key, flip=True, validate=False):
  """Trains one model per run of `split` (runs vmapped) on the one trainer.

  Args:
    model: `SignBiLSTM` or `SignTransformer`.
    kind: 'bilstm' or 'transformer'.
    data: from `vision.pose_batch_data` (optionally `vision.mask_features`).
    split: `trainer.Split` with a leading [R] axis (`trainer.make_split`).
    tx: optax optimizer (the paper: `optax.adam(1e-3)`, Adam's defaults).
    config: `trainer.FitConfig`.
    key: a `jax.random.key`.
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
  key_init, key_fit = jax.random.split(key)
  variables = init_runs(model, key_init, data, num_runs)
  fit_states = jax.vmap(lambda v: trainer.init_fit_state(v, tx))(variables)
  fit = _make_fit(model, kind, tx, config, flip, validate)
  keys = jax.random.split(key_fit, num_runs)
  fit_states, history = trainer.fit_runs(
    fit, fit_states, keys, data, split, num_epochs=config.num_epochs
  )
  trainer.check_finite(fit_states, f'sign {kind}')
  return fit_states, history


@functools.lru_cache(maxsize=16)
def _make_fit(model, kind, tx, config, flip, validate):
  # One fit per (model, settings): fit_runs caches its compiled program per fit.
  eval_fn = make_eval_fn(model, kind) if validate else None
  return trainer.make_fit(make_loss_fn(model, kind, flip), tx, config, eval_fn=eval_fn)


@functools.partial(jax.jit, static_argnames=('model', 'kind', 'beam_width', 'method'))
def _apply_runs(model, kind, params, batch_stats, x, frame_mask, beam_width, method):
  def one(p, s):
    if method == 'embed':
      return trainer.apply_model(model, p, s, x, frame_mask, train=False, method='embed')[0]
    out, _ = trainer.apply_model(model, p, s, x, frame_mask, train=False)
    if kind == 'bilstm':
      return jnp.argmax(out, -1).astype(jnp.int32)
    return ctc_classes(out, frame_mask, beam_width)

  return jax.vmap(one)(params, batch_stats)


def predict_runs(model, kind, fit_states, data, idx, beam_width: int = 10) -> np.ndarray:
  """Predicted classes [R, n] of clips `idx` by each run's best model."""
  idx = np.asarray(idx)
  x, fm = data['x'][idx], data['mask'][idx]
  fs = fit_states
  return np.asarray(
    _apply_runs(model, kind, fs.best_params, fs.best_batch_stats, x, fm, beam_width, None)
  )


def embed_runs(model, kind, fit_states, data, idx) -> np.ndarray:
  """Clip embeddings [R, n, dim] (`model.embed`) by each run's best model."""
  idx = np.asarray(idx)
  x, fm = data['x'][idx], data['mask'][idx]
  fs = fit_states
  return np.asarray(
    _apply_runs(model, kind, fs.best_params, fs.best_batch_stats, x, fm, 1, 'embed')
  )


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


def language_task(lexicon, num_folds: int = 5, seed: int = 0) -> Task:
  """Task (a): which of the 19 sign languages a clip is signed in.

  Every clip of a letter is in the same test fold (the letters are dealt into
  `num_folds` groups, `evaluation.subject_folds` with letters as the
  groups), so the model never saw the test letters, in any language.
  """
  names = tuple(sorted(set(lexicon.language.tolist())))
  labels = np.searchsorted(np.array(names), lexicon.language).astype(np.int32)
  return Task(
    labels, names, evaluation.subject_folds(lexicon.letter, num_folds, key=jax.random.key(seed))
  )


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
