"""`fewshot.compiles` counts the programs compiled between two snapshots."""

import jax
import jax.numpy as jnp

from fewshot import compiles


def test_counts_a_new_program_and_not_a_cached_one():
  start = compiles.snapshot()
  f = jax.jit(lambda x: x * 3 + 1)
  f(jnp.arange(7.0)).block_until_ready()
  one = compiles.since(start)
  assert one['count'] >= 1 and one['seconds'] > 0
  again = compiles.snapshot()
  f(jnp.arange(7.0)).block_until_ready()  # cached: nothing compiles
  assert compiles.since(again) == {'count': 0, 'loaded': 0, 'seconds': 0.0}
