"""Randomness conventions: keys derived by name, and NumPy generators from keys.

Every public function of the library that draws randomness takes a
`jax.random` key named `key`, first or keyword-only. A script turns its int
seed into one key once (`jax.random.key(seed)`); every stage, cell, fold or
seed below it derives its own key by name with `named_key`, never by
splitting inside a loop, so a result does not depend on the order in which
the other stages ran. Host-side NumPy code turns its key into a
`np.random.Generator` with `numpy_rng`.
"""

from __future__ import annotations

import zlib

import jax
import numpy as np

__all__ = ['as_key', 'named_key', 'numpy_rng', 'seed_key']


def _name_hash(name) -> int:
  if isinstance(name, bool) or not isinstance(name, (str, int, np.integer)):
    raise TypeError(f'key names must be str or int, got {type(name).__name__}: {name!r}')
  if isinstance(name, str):
    return zlib.crc32(name.encode('utf-8'))
  value = int(name)
  if not 0 <= value < 2**32:
    raise ValueError(f'integer key names must be in [0, 2**32), got {value}')
  return value


def as_key(key) -> jax.Array:
  """A typed `jax.random` key from a typed key or a legacy uint32 [2] key."""
  if isinstance(key, (int, np.integer)) or isinstance(key, bool):
    raise TypeError(
      f'expected a jax.random key, got the int {key!r}; turn a seed into a key once with '
      'jax.random.key(seed)'
    )
  if not isinstance(key, (jax.Array, np.ndarray)):
    raise TypeError(f'expected a jax.random key, got {type(key).__name__}: {key!r}')
  key = jax.numpy.asarray(key)
  if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
    return key
  if key.dtype == np.uint32 and key.shape[-1:] == (2,):
    return jax.random.wrap_key_data(key)
  raise TypeError(f'expected a jax.random key, got an array of {key.dtype} {key.shape}')


def named_key(key, *names) -> jax.Array:
  """The key of the stage or cell `names` below `key`, independent of any other.

  `named_key(k, 'table7', 'nu5', 3)` folds in a stable hash of each name
  (CRC32 of a string, an int as itself), so the key of a cell depends on its
  name only, never on how many keys were drawn before it.

  Args:
    key: a `jax.random` key (typed, or legacy uint32 [2]).
    *names: str or non-negative int names, outermost first.

  Returns:
    a typed key of the same shape as `key`.
  """
  key = as_key(key)
  for name in names:
    key = jax.random.fold_in(key, _name_hash(name))
  return key


def seed_key(value: int) -> jax.Array:
  """The root key of a run from a config's int seed `value` (scripts call this once)."""
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise TypeError(f'seed must be an int, got {type(value).__name__}: {value!r}')
  return jax.random.key(int(value))


def numpy_rng(key, *names) -> np.random.Generator:
  """A NumPy Generator for host-side code, seeded from `key` (and `names`).

  The same key gives the same stream, on every device and process.
  """
  data = np.asarray(jax.random.key_data(named_key(key, *names)), dtype=np.uint32).ravel()
  return np.random.default_rng([int(v) for v in data])
