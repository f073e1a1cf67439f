"""Keys derived by name: stable, order-independent, distinct per name."""

import jax
import numpy as np
import pytest

from evaluation import keys


def _data(k):
  return np.asarray(jax.random.key_data(k))


def test_named_key_is_fold_in_of_crc32():
  import zlib

  root = jax.random.key(3)
  want = jax.random.fold_in(jax.random.fold_in(root, zlib.crc32(b'table7')), 5)
  np.testing.assert_array_equal(_data(keys.named_key(root, 'table7', 5)), _data(want))


def test_named_key_does_not_depend_on_other_draws():
  root = jax.random.key(0)
  a = keys.named_key(root, 'stage', 'b')
  _ = [keys.named_key(root, 'stage', n) for n in 'xyz']
  b = keys.named_key(root, 'stage', 'b')
  np.testing.assert_array_equal(_data(a), _data(b))
  assert not np.array_equal(_data(a), _data(keys.named_key(root, 'stage', 'c')))


def test_legacy_uint32_key_gives_the_same_key():
  typed = jax.random.key(7)
  raw = jax.random.key_data(typed)
  np.testing.assert_array_equal(_data(keys.named_key(raw, 'a')), _data(keys.named_key(typed, 'a')))


def test_numpy_rng_is_reproducible_and_name_dependent():
  root = jax.random.key(1)
  a = keys.numpy_rng(root, 'x').integers(0, 1 << 30, 5)
  b = keys.numpy_rng(root, 'x').integers(0, 1 << 30, 5)
  c = keys.numpy_rng(root, 'y').integers(0, 1 << 30, 5)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)


@pytest.mark.parametrize('bad', [3, True, 1.5, None, np.zeros(3)])
def test_bad_keys_are_named(bad):
  with pytest.raises(TypeError, match='jax.random key'):
    keys.named_key(bad, 'a')


@pytest.mark.parametrize('bad', [True, 1.5, None, -1])
def test_bad_names_are_named(bad):
  with pytest.raises((TypeError, ValueError), match='key names'):
    keys.named_key(jax.random.key(0), bad)


def test_seed_key_rejects_non_int():
  with pytest.raises(TypeError, match='seed must be an int'):
    keys.seed_key('0')
