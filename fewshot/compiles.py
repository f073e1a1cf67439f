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

import importlib.util
import os
import pkgutil
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


# Where only XLA:CPU compiles: LLVM -O1 (XLA's default is -O3).
FAST_CPU_FLAG = '--xla_backend_optimization_level=1'


def _accelerator_plugin() -> bool:
  """True where a GPU or TPU backend is installed (a `jax_plugins` module, or libtpu)."""
  if importlib.util.find_spec('libtpu') is not None:
    return True
  spec = importlib.util.find_spec('jax_plugins')
  locations = [] if spec is None else list(spec.submodule_search_locations or [])
  return any(True for _ in pkgutil.iter_modules(locations))


def _backend_started() -> bool:
  """True once JAX has started its backends (XLA has read XLA_FLAGS); JAX-internal, so
  where it is missing this says False."""
  try:
    from jax._src import xla_bridge  # no public equivalent
  except ImportError:
    return False
  started = getattr(xla_bridge, 'backends_are_initialized', None)
  return bool(started is not None and started())


def fast_cpu_compiles() -> bool:
  """Asks XLA to compile at LLVM -O1 (`FAST_CPU_FLAG` in `XLA_FLAGS`) where only the CPU runs.

  The sEMG script (the README's main job) calls it first thing in `main`.
  Measured on the 2-core CPU (docs/performance.md): one program alone
  compiles within the noise of -O3, but the whole sEMG quick run took 173 s
  against 208 s at -O3 (compile seconds 169 against 226), training as fast.
  It is another program: float rounding differs and can grow over training
  into other early-stopping epochs. XLA reads `XLA_FLAGS` once, when JAX starts its backend,
  so call it before any computation. It adds nothing once JAX has started,
  where `XLA_FLAGS` already sets the level, where `JAX_PLATFORMS` names a
  platform other than cpu, or where a GPU or TPU backend is installed (their
  compilers read the same flag; unmeasured there).

  Returns:
    True if it added the flag.
  """
  flags = os.environ.get('XLA_FLAGS', '')
  platforms = os.environ.get('JAX_PLATFORMS', '').strip().lower()
  if 'xla_backend_optimization_level' in flags or _backend_started():
    return False
  if platforms and platforms != 'cpu':
    return False
  if not platforms and _accelerator_plugin():
    return False
  os.environ['XLA_FLAGS'] = f'{flags} {FAST_CPU_FLAG}'.strip()
  return True
