"""`fewshot.compiles` counts the programs compiled between two snapshots."""

import os

import jax
import jax.numpy as jnp
import pytest

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


@pytest.mark.parametrize(
  'flags, platforms, plugin, added',
  [
    ('', '', False, True),  # a CPU-only install
    ('--xla_cpu_foo=1', 'cpu', True, True),  # JAX_PLATFORMS=cpu: the accelerator is not used
    ('--xla_backend_optimization_level=3', '', False, False),  # the user's level stays
    ('', 'cuda', False, False),
    ('', '', True, False),  # a GPU or TPU backend installed: its compiler reads the flag too
  ],
)
def test_fast_cpu_compiles_only_where_xla_cpu_alone_compiles(
  monkeypatch, flags, platforms, plugin, added
):
  monkeypatch.setenv('XLA_FLAGS', flags)
  monkeypatch.setenv('JAX_PLATFORMS', platforms)
  monkeypatch.setattr(compiles, '_accelerator_plugin', lambda: plugin)
  monkeypatch.setattr(compiles, '_backend_started', lambda: False)
  assert compiles.fast_cpu_compiles() is added
  expected = f'{flags} {compiles.FAST_CPU_FLAG}'.strip() if added else flags
  assert os.environ['XLA_FLAGS'] == expected
  # Once JAX has started (as in this process), XLA has read its flags: too late.
  monkeypatch.setattr(compiles, '_backend_started', lambda: True)
  monkeypatch.setenv('XLA_FLAGS', flags)
  assert compiles.fast_cpu_compiles() is False and os.environ['XLA_FLAGS'] == flags


def test_the_backend_has_started_in_this_process():
  jnp.zeros(1).block_until_ready()
  assert compiles._backend_started()
