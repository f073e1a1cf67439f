"""Classification metrics as pure jnp functions (jit- and vmap-compatible).

All scores are derived from one confusion matrix, so every metric shares the
same counting and the same policy for absent classes.

Conventions
-----------
* Labels are integer class indices in `[0, num_classes)`; `num_classes` is a
  static Python int, so an episode in which some class never occurs still gets
  a `[num_classes, num_classes]` confusion matrix: a class is never silently
  dropped (the bug of public scripts that assume a 2x2 matrix).
* Rows of the confusion matrix are true classes, columns predicted classes
  (scikit-learn's layout).
* Host validation (lengths, empty inputs, dtype, label range) runs at the
  public boundary when the inputs are concrete arrays. Inside `jax.jit` or
  `jax.vmap` the inputs are tracers: only static shape checks run, and labels
  outside `[0, num_classes)` contribute nothing (their one-hot row is zero).
  Validate once on the host before tracing if the labels are untrusted.

Zero-division policy (absent classes)
-------------------------------------
Per class c with counts TP_c, FP_c, FN_c:

* precision_c = TP_c / (TP_c + FP_c), or `zero_division` if c is never
  predicted;
* recall_c = TP_c / (TP_c + FN_c), or `zero_division` if c never occurs in
  `y_true`;
* F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c) (MEGC 2019 eq. 3), or
  `zero_division` only if c occurs in neither `y_true` nor `y_pred`.

'macro' averages over all `num_classes` classes (absent ones included with
the values above), 'weighted' weights by true support (absent classes weigh
0), 'micro' pools the counts. This reproduces scikit-learn >= 1.3
`f1_score / precision_score / recall_score(y_true, y_pred,
labels=range(num_classes), average=..., zero_division=zero_division)`.

`uar` is the Unweighted Average Recall of harAGE, i.e. balanced accuracy:
the mean recall over classes that occur in `y_true` (MEGC 2019's eq. 5
averages over all C classes instead: `evaluation.megc.uar_over_classes`).
Classes absent from `y_true` have no defined recall and are left out of the
mean (a prediction of such a class still counts as an error for the true
class). This equals scikit-learn `balanced_accuracy_score(y_true, y_pred)`.
`recall(..., average='macro', zero_division=0)` gives the other convention
(absent classes score 0), which equals
`recall_score(labels=range(num_classes), average='macro', zero_division=0)`.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from evaluation import checks as _checks

AVERAGES = (None, 'macro', 'weighted', 'micro')


class PerClassScores(NamedTuple):
  """Per-class scores of one episode; every field is [num_classes]."""

  precision: jax.Array
  recall: jax.Array
  f1: jax.Array
  support: jax.Array  # int32 count of each class in y_true


def _as_labels(y):
  # Lists become host arrays: a list reaching jit would be a pytree of scalars.
  return _checks.as_array(y)


def _safe_div(num, den, zero_division: float):
  # The inner where keeps the untaken branch finite, so gradients/NaN checks
  # never see 0/0.
  ok = den > 0
  return jnp.where(ok, num / jnp.where(ok, den, 1), zero_division)


def _check_average(average):
  if average not in AVERAGES:
    raise ValueError(f'average must be one of {AVERAGES}, got {average!r}.')


# Every public function validates on the host (static shapes always, label
# values when concrete), then calls one module-level jitted core with
# num_classes, average and zero_division static: one compile per shape and
# setting, reused by later calls, and a nested call inside a user's
# jit/vmap (e.g. evaluate_episodes) is inlined into the caller's program.

# ---------------------------------------------------------------- counting


def _confusion(y_true, y_pred, num_classes: int) -> jax.Array:
  # One-hot products instead of a scatter: negative labels would wrap around
  # in `.at[]` indexing, while one_hot maps any out-of-range label to zeros.
  t = jax.nn.one_hot(y_true, num_classes, dtype=jnp.int32)  # (N, C)
  p = jax.nn.one_hot(y_pred, num_classes, dtype=jnp.int32)  # (N, C)
  return jnp.einsum('nc,nd->cd', t, p, preferred_element_type=jnp.int32)


_confusion_jit = jax.jit(_confusion, static_argnames=('num_classes',))


def confusion_matrix(y_true, y_pred, num_classes: int) -> jax.Array:
  """Confusion matrix of one episode.

  Args:
    y_true: [n] int true class indices in [0, num_classes).
    y_pred: [n] int predicted class indices in [0, num_classes).
    num_classes: static number of classes C.

  Returns:
    [C, C] int32, entry (i, j) counts samples of true class i predicted as j.
    Equals `sklearn.metrics.confusion_matrix(y_true, y_pred,
    labels=range(C))`.
  """
  num_classes = _checks.check_int('num_classes', num_classes)
  y_true, y_pred = _as_labels(y_true), _as_labels(y_pred)
  _checks.check_label_pair(y_true, y_pred, num_classes)
  return _confusion_jit(y_true, y_pred, num_classes=num_classes)


def _counts(cm):
  tp = jnp.diagonal(cm)
  fp = cm.sum(axis=0) - tp
  fn = cm.sum(axis=1) - tp
  return tp, fp, fn


def _per_class_from_confusion(cm, zero_division: float) -> PerClassScores:
  tp, fp, fn = _counts(cm)
  tp_f, fp_f, fn_f = (x.astype(jnp.float32) for x in (tp, fp, fn))
  return PerClassScores(
    precision=_safe_div(tp_f, tp_f + fp_f, zero_division),
    recall=_safe_div(tp_f, tp_f + fn_f, zero_division),
    f1=_safe_div(2 * tp_f, 2 * tp_f + fp_f + fn_f, zero_division),  # eq. 3
    support=(tp + fn).astype(jnp.int32),
  )


def _average_scores(per_class, support, average, micro):
  if average is None:
    return per_class
  if average == 'macro':
    return jnp.mean(per_class)  # MEGC eq. 4 (UF1) for F1
  if average == 'weighted':
    w = support.astype(jnp.float32)
    return jnp.sum(per_class * w) / jnp.sum(w)
  return micro  # 'micro'


def _micro(cm, zero_division):
  # Single-label multiclass: pooled TP = trace, pooled TP+FP = TP+FN = n.
  n = cm.sum().astype(jnp.float32)
  return _safe_div(jnp.trace(cm).astype(jnp.float32), n, zero_division)


def _score(cm, field: str, average, zero_division: float):
  """One metric ('precision', 'recall' or 'f1') from a [C, C] matrix, averaged."""
  cm = jnp.asarray(cm)
  s = _per_class_from_confusion(cm, zero_division)
  return _average_scores(getattr(s, field), s.support, average, _micro(cm, zero_division))


_STATIC = ('field', 'average', 'zero_division')
_score_jit = jax.jit(_score, static_argnames=_STATIC)
_per_class_jit = jax.jit(_per_class_from_confusion, static_argnames=('zero_division',))


# ------------------------------------------------------ from a confusion


def per_class_from_confusion(cm, zero_division: float = 0.0) -> PerClassScores:
  """Per-class precision, recall, F1 and support from a [C, C] matrix."""
  _checks.check_confusion(cm)
  zero_division = _checks.check_zero_division(zero_division)
  return _per_class_jit(_checks.as_array(cm), zero_division=zero_division)


def _from_confusion(field, cm, average, zero_division):
  _check_average(average)
  _checks.check_confusion(cm)
  zero_division = _checks.check_zero_division(zero_division)
  return _score_jit(_checks.as_array(cm), field=field, average=average, zero_division=zero_division)


def precision_from_confusion(cm, average=None, zero_division: float = 0.0):
  """Precision from a [C, C] confusion matrix; see module docstring."""
  return _from_confusion('precision', cm, average, zero_division)


def recall_from_confusion(cm, average=None, zero_division: float = 0.0):
  """Recall from a [C, C] confusion matrix; see module docstring."""
  return _from_confusion('recall', cm, average, zero_division)


def f1_from_confusion(cm, average=None, zero_division: float = 0.0):
  """F1 from a [C, C] confusion matrix (MEGC eq. 3; 'macro' is UF1, eq. 4)."""
  return _from_confusion('f1', cm, average, zero_division)


@jax.jit
def _uar(cm) -> jax.Array:
  cm = jnp.asarray(cm)
  tp = jnp.diagonal(cm).astype(jnp.float32)
  n_c = cm.sum(axis=1).astype(jnp.float32)  # samples of class c
  present = n_c > 0
  recall = jnp.where(present, tp / jnp.where(present, n_c, 1), 0.0)
  return jnp.sum(recall) / jnp.maximum(jnp.sum(present), 1)


def uar_from_confusion(cm) -> jax.Array:
  """UAR = mean recall over classes present in the true labels (balanced accuracy)."""
  _checks.check_confusion(cm)
  return _uar(_checks.as_array(cm))


@jax.jit
def _accuracy_from_confusion(cm) -> jax.Array:
  return jnp.trace(cm).astype(jnp.float32) / cm.sum().astype(jnp.float32)


def accuracy_from_confusion(cm) -> jax.Array:
  """Fraction of correct predictions from a [C, C] confusion matrix."""
  _checks.check_confusion(cm)
  return _accuracy_from_confusion(_checks.as_array(cm))


# ------------------------------------------------------------ from labels


def _checked_labels(y_true, y_pred, num_classes, zero_division=0.0):
  num_classes = _checks.check_int('num_classes', num_classes)
  y_true, y_pred = _as_labels(y_true), _as_labels(y_pred)
  _checks.check_label_pair(y_true, y_pred, num_classes)
  zero_division = _checks.check_zero_division(zero_division)
  return y_true, y_pred, num_classes, zero_division


@functools.partial(jax.jit, static_argnames=('num_classes', 'zero_division'))
def _precision_recall_f1(y_true, y_pred, num_classes, zero_division):
  return _per_class_from_confusion(_confusion(y_true, y_pred, num_classes), zero_division)


def precision_recall_f1(
  y_true, y_pred, num_classes: int, zero_division: float = 0.0
) -> PerClassScores:
  """Per-class precision, recall, F1 and support (sEMG paper, Table V).

  Args:
    y_true: [n] int true labels.
    y_pred: [n] int predicted labels.
    num_classes: static number of classes C.
    zero_division: value for an undefined ratio (see module docstring).

  Returns:
    PerClassScores with [C] float32 precision/recall/f1 and [C] int32 support.
  """
  y_true, y_pred, num_classes, zd = _checked_labels(y_true, y_pred, num_classes, zero_division)
  return _precision_recall_f1(y_true, y_pred, num_classes=num_classes, zero_division=zd)


@functools.partial(jax.jit, static_argnames=('num_classes',) + _STATIC)
def _label_score(y_true, y_pred, num_classes, field, average, zero_division):
  return _score(_confusion(y_true, y_pred, num_classes), field, average, zero_division)


def _label_metric(field, y_true, y_pred, num_classes, average, zero_division):
  _check_average(average)
  y_true, y_pred, num_classes, zd = _checked_labels(y_true, y_pred, num_classes, zero_division)
  return _label_score(
    y_true, y_pred, num_classes=num_classes, field=field, average=average, zero_division=zd
  )


def precision(y_true, y_pred, num_classes: int, average=None, zero_division: float = 0.0):
  """Precision per class ([C] float32) or averaged (scalar float32).

  Args:
    y_true: [n] int true labels.
    y_pred: [n] int predicted labels.
    num_classes: static number of classes C.
    average: None (per class), 'macro', 'weighted' or 'micro'.
    zero_division: value for classes never predicted.
  """
  return _label_metric('precision', y_true, y_pred, num_classes, average, zero_division)


def recall(y_true, y_pred, num_classes: int, average=None, zero_division: float = 0.0):
  """Recall per class ([C] float32) or averaged (scalar float32).

  Note `recall(..., average='macro')` counts classes absent from `y_true` as
  `zero_division`; `uar` leaves them out instead.
  """
  return _label_metric('recall', y_true, y_pred, num_classes, average, zero_division)


def f1_score(y_true, y_pred, num_classes: int, average=None, zero_division: float = 0.0):
  """F1 per class ([C] float32) or averaged (scalar float32).

  'macro' is MEGC's unweighted F1 (UF1, eq. 4); 'weighted' is the sEMG
  paper's weighted F1 (per-class F1 weighted by true support).

  Args:
    y_true: [n] int true labels.
    y_pred: [n] int predicted labels.
    num_classes: static number of classes C.
    average: None, 'macro', 'weighted' or 'micro'.
    zero_division: F1 of a class in neither y_true nor y_pred.

  Returns:
    [C] float32 if average is None, else a float32 scalar. Matches
    `sklearn.metrics.f1_score(y_true, y_pred, labels=range(C),
    average=average, zero_division=zero_division)`.
  """
  return _label_metric('f1', y_true, y_pred, num_classes, average, zero_division)


@functools.partial(jax.jit, static_argnames=('num_classes',))
def _label_uar(y_true, y_pred, num_classes):
  return _uar(_confusion(y_true, y_pred, num_classes))


def uar(y_true, y_pred, num_classes: int) -> jax.Array:
  """Unweighted Average Recall (= balanced accuracy) over the classes present in y_true.

  Args:
    y_true: [n] int true labels.
    y_pred: [n] int predicted labels.
    num_classes: static number of classes C.

  Returns:
    float32 scalar: mean over classes present in y_true of TP_c / n_c; equals
    `sklearn.metrics.balanced_accuracy_score(y_true, y_pred)`.
  """
  y_true, y_pred, num_classes, _ = _checked_labels(y_true, y_pred, num_classes)
  return _label_uar(y_true, y_pred, num_classes=num_classes)


@jax.jit
def _accuracy(y_true, y_pred):
  return jnp.mean((y_true == y_pred).astype(jnp.float32))


def accuracy(y_true, y_pred, num_classes: int | None = None) -> jax.Array:
  """Fraction of samples with y_pred == y_true (float32 scalar).

  `num_classes` is optional; when given, labels are also checked to lie in
  [0, num_classes).
  """
  if num_classes is not None:
    num_classes = _checks.check_int('num_classes', num_classes)
  y_true, y_pred = _as_labels(y_true), _as_labels(y_pred)
  _checks.check_label_pair(y_true, y_pred, num_classes)
  return _accuracy(y_true, y_pred)
