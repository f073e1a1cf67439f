"""How many XLA programs a run compiled and how long compiling took.

One `jax.monitoring` listener on the backend-compile event
('/jax/core/compile/backend_compile_duration'), registered once per process
on first use, counts every program built (jit, eager op, pmap) and sums its
seconds; a second one counts the programs the persistent compilation cache
supplied instead ('/jax/compilation_cache/cache_hits', which the first event
also times). An experiment takes a `snapshot()` when it starts and reports
`since(snapshot)` at the end.
"""

from __future__ import annotations

import os
import threading

import jax

EVENT = '/jax/core/compile/backend_compile_duration'
CACHE_HIT = '/jax/compilation_cache/cache_hits'

_lock = threading.Lock()
_totals = {'built': 0, 'loaded': 0, 'seconds': 0.0}
_registered = False


def _listener(event: str, duration_secs: float, **_) -> None:
  if event == EVENT:
    with _lock:
      _totals['built'] += 1
      _totals['seconds'] += float(duration_secs)


def _hits(event: str, **_) -> None:
  if event == CACHE_HIT:
    with _lock:
      _totals['loaded'] += 1


def _view(totals: dict) -> dict:
  return {
    'count': totals['built'] - totals['loaded'],
    'loaded': totals['loaded'],
    'seconds': totals['seconds'],
  }


def snapshot() -> dict:
  """{'count': programs compiled so far in this process, 'loaded': programs the
  persistent cache supplied, 'seconds': the time spent on both}.

  Registers the listeners on first call (compiles before it are not counted).
  """
  global _registered
  with _lock:
    if not _registered:
      jax.monitoring.register_event_duration_secs_listener(_listener)
      jax.monitoring.register_event_listener(_hits)
      _registered = True
    return _view(_totals)


def since(start: dict) -> dict:
  """{'count', 'loaded', 'seconds'} since the `snapshot()` `start`."""
  now = snapshot()
  return {k: now[k] - start[k] for k in ('count', 'loaded', 'seconds')}


def persistent_cache(path: str) -> None:
  """Keeps every compiled XLA program in `path` (JAX's persistent compilation cache).

  Every program is kept, however fast it compiled, so a second run of the
  same setting and shapes loads them all (counted as 'loaded') instead of compiling.
  """
  os.makedirs(path, exist_ok=True)
  jax.config.update('jax_compilation_cache_dir', os.path.abspath(path))
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
  jax.config.update('jax_persistent_cache_min_entry_size_bytes', 0)
