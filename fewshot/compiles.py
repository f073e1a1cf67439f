"""How many XLA programs a run compiled and how long compiling took.

One `jax.monitoring` listener on the backend-compile event
('/jax/core/compile/backend_compile_duration'), registered once per process
on first use, counts every program compiled (jit, eager op, pmap) and sums
its compile seconds. An experiment takes a `snapshot()` when it starts and
reports `since(snapshot)` at the end.
"""

from __future__ import annotations

import threading

import jax

EVENT = '/jax/core/compile/backend_compile_duration'

_lock = threading.Lock()
_totals = {'count': 0, 'seconds': 0.0}
_registered = False


def _listener(event: str, duration_secs: float, **_) -> None:
  if event == EVENT:
    with _lock:
      _totals['count'] += 1
      _totals['seconds'] += float(duration_secs)


def snapshot() -> dict:
  """{'count': programs compiled so far in this process, 'seconds': their compile time}.

  Registers the listener on first call (compiles before it are not counted).
  """
  global _registered
  with _lock:
    if not _registered:
      jax.monitoring.register_event_duration_secs_listener(_listener)
      _registered = True
    return dict(_totals)


def since(start: dict) -> dict:
  """{'count', 'seconds'} compiled since the `snapshot()` `start`."""
  now = snapshot()
  return {'count': now['count'] - start['count'], 'seconds': now['seconds'] - start['seconds']}
