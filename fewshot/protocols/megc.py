"""MEGC 2019 recognition (section III): composite-database LOSO of the Table IV methods.

Composite Database Evaluation (CDE): the clips of SMIC, CASME II and SAMM
with their emotions mapped to negative / positive / surprise form one set
(`evaluation.megc.composite_database`); leave-one-subject-out over all its
subjects (68 in the paper). Every held-out subject's clips are predicted by
the model trained on all other subjects, so each clip gets exactly one
prediction; UF1 and UAR pool TP / FP / FN over all folds (eq. 3-5), which
equals scoring the concatenated predictions (`scores_by_database`, Table IV's
Full / SMIC / CASME II / SAMM columns).

Networks (STSTNet, OFF-ApexNet, Dual-Inception; `fewshot.models.megc`) train
on the library's trainer with the LOSO folds as runs: one `trainer.Split` per
fold (training subjects / held-out subject) and `trainer.fit_runs`, which
vmaps the folds into one program (or trains them one after another on the
same shapes). Training is a fixed number of epochs of Adam on the masked
cross-entropy, without validation: LOSO leaves no validation subject, and
the released implementations also train a fixed schedule (STSTNet: Adam,
5e-5, batches of 256, 800 epochs). The held-out subject is used only for the
predictions after training.

The hand-crafted baseline, LBP-TOP [25] with a linear SVM (scikit-learn's
`LinearSVC`), uses the same folds; the SVM runs on the host, fold by fold.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from evaluation import checks
from evaluation import megc as megc_eval
from fewshot import trainer
from fewshot.models import megc as megc_models


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
  """Training of one Table IV network under CDE LOSO.

  Attributes:
    fit: epochs, batch size and Adam learning rate (no validation, so
      `patience` and `monitor` play no part).
    vmap_folds: folds as one vmapped program (True) or one after another
      (False; same results up to float rounding, cheaper on a small CPU).
    eval_chunk: clips per forward pass when predicting.
  """

  fit: trainer.FitConfig = trainer.FitConfig(num_epochs=800, batch_size=256, learning_rate=5e-5)
  vmap_folds: bool = True
  eval_chunk: int = 256

  def __post_init__(self):
    checks.check_int('eval_chunk', self.eval_chunk)


class CDEResult(NamedTuple):
  """Held-out predictions of one method over all LOSO folds.

  y_true, y_pred: [n] MEGC labels of the composite database's clips, in its order.
  scores: `evaluation.megc.scores_by_database` (Full, SMIC, CASME II, SAMM).
  fold_of: [n] index of the fold that held each clip out.
  """

  y_true: np.ndarray
  y_pred: np.ndarray
  scores: dict
  fold_of: np.ndarray


def _fold_rows(comp: megc_eval.CompositeDatabase):
  train = [f.train for f in comp.folds]
  test = [f.test for f in comp.folds]
  fold_of = np.empty(len(comp.labels), np.int64)
  for i, t in enumerate(test):
    fold_of[t] = i
  return train, test, fold_of


def _result(comp, y_pred, fold_of) -> CDEResult:
  scores = megc_eval.scores_by_database(comp.labels, y_pred, comp.database)
  return CDEResult(np.asarray(comp.labels), np.asarray(y_pred), scores, fold_of)


def _check_inputs(name: str, x, comp: megc_eval.CompositeDatabase, ndim: int):
  x = checks.check_array(name, x, ndim=ndim, kind='float')
  if len(x) <= int(np.max(comp.index)):
    raise ValueError(
      f'{name} has {len(x)} rows but the composite database indexes row {int(np.max(comp.index))}.'
    )
  if len(comp.folds) < 2:
    raise ValueError(f'LOSO needs at least 2 subjects, got {len(comp.folds)}.')
  return np.asarray(x)[comp.index]


# --------------------------------------------------------------- networks


def loss_fn(model):
  """Masked cross-entropy of a batch of clips; dropout from the step key."""

  def loss(params, batch_stats, key, batch: trainer.Batch):
    logits, batch_stats = trainer.apply_model(
      model, params, batch_stats, batch.data['x'], batch.mask, train=True, rngs={'dropout': key}
    )
    return trainer.cross_entropy_loss(logits, batch.data['y'], batch.mask), batch_stats

  return loss


@functools.lru_cache(maxsize=16)
def _stage(model, cfg: NetworkConfig, channels: int):
  """(fit, init, predict) of one network and setting, built once (the compile cache keys on them)."""
  tx = optax.adam(cfg.fit.learning_rate)
  fit = trainer.make_fit(loss_fn(model), tx, cfg.fit)

  def init(key):
    variables = megc_models.init_variables(model, key, channels)
    return trainer.init_fit_state(variables, tx, cfg.fit.mode)

  def predict(fs, x, idx):
    n = idx.shape[0]
    chunks = jnp.pad(idx, (0, (-n) % cfg.eval_chunk)).reshape(-1, cfg.eval_chunk)

    def one(ix):
      logits, _ = trainer.apply_model(
        model, fs.train.params, fs.train.batch_stats, x[ix], None, train=False
      )
      return jnp.argmax(logits, axis=-1)

    return jax.lax.map(one, chunks).reshape(-1)[:n]

  return fit, jax.jit(jax.vmap(init)), jax.jit(jax.vmap(predict, in_axes=(0, None, 0)))


def cde_network(
  name: str, x, comp: megc_eval.CompositeDatabase, key, cfg: NetworkConfig = NetworkConfig()
) -> CDEResult:
  """CDE LOSO of one network (module doc).

  Args:
    name: 'STSTNet', 'OFF-ApexNet' or 'Dual-Inception'.
    x: [N, 28, 28, C] float32 inputs of all clips (STSTNet: C = 3, the others
      2; `vision.recognition_inputs`); the composite database selects rows.
    comp: `evaluation.megc.composite_database(...)` of the same clips.
    key: jax.random key (initialisation, shuffling, dropout of every fold).
    cfg: NetworkConfig.

  Returns:
    CDEResult.
  """
  model = megc_models.make_model(name)
  x = _check_inputs('x', x, comp, ndim=4)
  channels = megc_models.INPUT_CHANNELS[name]
  if x.shape[1:] != (28, 28, channels):
    raise ValueError(f'{name} takes [N, 28, 28, {channels}] inputs, got {x.shape}.')
  train, test, fold_of = _fold_rows(comp)
  split = trainer.make_split(train, test, num_examples=len(x))
  data = {'x': jnp.asarray(x, jnp.float32), 'y': jnp.asarray(comp.labels, jnp.int32)}
  fit, init, predict = _stage(model, cfg, channels)
  k_init, k_train = jax.random.split(key)
  fs = init(jax.random.split(k_init, len(train)))
  fs, _ = trainer.fit_runs(
    fit,
    fs,
    jax.random.split(k_train, len(train)),
    data,
    split,
    num_epochs=cfg.fit.num_epochs,
    vmapped=cfg.vmap_folds,
  )
  trainer.check_finite(fs, f'{name} CDE LOSO')
  pred = np.asarray(predict(fs, data['x'], split.val_idx))  # (F, max_test)
  y_pred = np.empty(len(comp.labels), np.int64)
  for f, rows in enumerate(test):
    y_pred[rows] = pred[f, : len(rows)]
  return _result(comp, y_pred, fold_of)


# ------------------------------------------------------------- LBP-TOP + SVM


@dataclasses.dataclass(frozen=True)
class SVMConfig:
  """The linear SVM of the LBP-TOP baseline (scikit-learn `LinearSVC`).

  Features are standardised with the mean and deviation of each fold's
  training clips (scikit-learn `StandardScaler`): raw LBP-TOP histogram bins
  are small numbers of very different spread, on which the SVM solver
  converges slowly.

  Attributes:
    c: regularisation C.
    class_weight: None (scikit-learn's default) or 'balanced'.
    max_iter: solver iterations.
  """

  c: float = 1.0
  class_weight: str | None = None
  max_iter: int = 10_000


def cde_lbp_top_svm(
  features, comp: megc_eval.CompositeDatabase, cfg: SVMConfig = SVMConfig(), seed: int = 0
) -> CDEResult:
  """CDE LOSO of LBP-TOP features with a linear SVM, fold by fold on the host.

  Args:
    features: [N, D] LBP-TOP descriptors of all clips (`vision.lbp_top_features`).
    comp: the composite database of the same clips.
    cfg: SVMConfig.
    seed: the solver's random_state.

  Returns:
    CDEResult.
  """
  from sklearn.pipeline import make_pipeline  # host-side baseline only
  from sklearn.preprocessing import StandardScaler
  from sklearn.svm import LinearSVC

  feats = _check_inputs('features', features, comp, ndim=2)
  train, test, fold_of = _fold_rows(comp)
  y = np.asarray(comp.labels)
  y_pred = np.empty(len(y), np.int64)
  for tr, te in zip(train, test):
    classes = np.unique(y[tr])
    if len(classes) == 1:  # a fold can lack classes in tiny sets: predict the only one
      y_pred[te] = classes[0]
      continue
    svm = make_pipeline(
      StandardScaler(),
      LinearSVC(C=cfg.c, class_weight=cfg.class_weight, max_iter=cfg.max_iter, random_state=seed),
    )
    y_pred[te] = svm.fit(feats[tr], y[tr]).predict(feats[te])
  return _result(comp, y_pred, fold_of)
