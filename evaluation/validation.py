"""Host-side input checks shared by the evaluation package.

The metric functions are meant to be called both eagerly on concrete arrays
and inside `jax.jit` / `jax.vmap` (e.g. over 10,000 episodes). Value checks
(label range, NaN) need the data on the host, which is impossible for tracers
and would be a device round-trip in a hot loop, so they run only when the
input is concrete. Shape checks use static shapes and therefore always run,
traced or not.
"""

from __future__ import annotations

import numbers

import jax
import numpy as np


def is_concrete(*xs) -> bool:
  """True when none of `xs` is a JAX tracer (so values can be inspected)."""
  return not any(isinstance(x, jax.core.Tracer) for x in xs)


def check_num_classes(num_classes) -> int:
  """Returns `num_classes` as a Python int, or raises ValueError."""
  if isinstance(num_classes, jax.core.Tracer):
    raise ValueError(
      'num_classes must be a static Python int, got a traced value; mark it '
      'static (jax.jit(..., static_argnames="num_classes")) or close over it.'
    )
  if isinstance(num_classes, (bool, np.bool_)) or not isinstance(num_classes, numbers.Integral):
    raise ValueError(f'num_classes must be an int, got {num_classes!r}.')
  if int(num_classes) < 1:
    raise ValueError(f'num_classes must be >= 1, got {num_classes}.')
  return int(num_classes)


def check_label_pair(y_true, y_pred, num_classes: int | None) -> None:
  """Validates a pair of label vectors for one episode.

  Shapes and dtype are checked always; the value range only for concrete
  inputs. `num_classes=None` checks only that labels are non-negative.

  Raises:
    ValueError: naming the problem (not 1-D, different lengths, empty,
      non-integer dtype, labels outside [0, num_classes)).
  """
  for name, y in (('y_true', y_true), ('y_pred', y_pred)):
    shape = np.shape(y)
    if len(shape) != 1:
      raise ValueError(
        f'{name} must be a 1-D label vector [n], got shape {shape}; use '
        'jax.vmap to evaluate many episodes at once.'
      )
    if shape[0] == 0:
      raise ValueError(f'{name} is empty; metrics need at least one sample.')
  if np.shape(y_true) != np.shape(y_pred):
    raise ValueError(
      f'y_true and y_pred have different lengths: {np.shape(y_true)[0]} vs {np.shape(y_pred)[0]}.'
    )
  for name, y in (('y_true', y_true), ('y_pred', y_pred)):
    dtype = y.dtype if hasattr(y, 'dtype') else np.asarray(y).dtype
    if not np.issubdtype(dtype, np.integer):
      raise ValueError(
        f'{name} must hold integer class indices, got dtype {dtype}; cast '
        'with .astype(int) after checking the values are whole numbers.'
      )
  if is_concrete(y_true, y_pred):
    for name, y in (('y_true', y_true), ('y_pred', y_pred)):
      y = np.asarray(y)
      bad = y < 0
      if num_classes is not None:
        bad |= y >= num_classes
      if bad.any():
        raise ValueError(
          f'{name} has labels outside [0, {num_classes or "inf"}): '
          f'{sorted(set(y[bad].tolist()))[:10]}.'
        )


def check_confusion(cm) -> None:
  """Validates a [C, C] confusion matrix (values only when concrete)."""
  shape = np.shape(cm)
  if len(shape) != 2 or shape[0] != shape[1] or shape[0] == 0:
    raise ValueError(f'confusion matrix must be square [C, C], got {shape}.')
  if is_concrete(cm):
    a = np.asarray(cm)
    if not np.all(np.isfinite(a)) or (a < 0).any():
      raise ValueError('confusion matrix must hold finite, non-negative counts.')
    if a.sum() == 0:
      raise ValueError('confusion matrix is all zeros (no samples).')


def check_zero_division(zero_division) -> float:
  if isinstance(zero_division, jax.core.Tracer):
    raise ValueError('zero_division must be a static float, not a traced value.')
  try:
    value = float(zero_division)
  except (TypeError, ValueError):
    raise ValueError(f'zero_division must be a float in [0, 1], got {zero_division!r}.') from None
  if not 0.0 <= value <= 1.0:
    raise ValueError(f'zero_division must be in [0, 1], got {zero_division!r}.')
  return value


def check_finite_scores(x, name: str = 'scores') -> None:
  """Rejects empty score arrays always and NaN/inf when concrete."""
  if np.size(x) == 0:
    raise ValueError(f'{name} is empty.')
  if is_concrete(x):
    a = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(a)):
      raise ValueError(f'{name} contains NaN or inf.')
