"""Where a run's time goes, per stage, and what a setting would take (`--estimate`).

Stages. An experiment wraps each stage (data, features, a table, a method)
in `with stage(name) as times:`; when the block ends, `times` holds

    wall_s      the stage's wall seconds
    compile_s   seconds XLA spent compiling programs, or loading them from the
                persistent compilation cache (`fewshot.compiles`)
    compiles    programs compiled
    loaded      programs loaded from the persistent compilation cache
    train_s     seconds in `trainer.fit_runs`, less compiling
    predict_s   seconds in blocks marked `with phase('predict'):`, less compiling
    other_s     the rest: data, features, host work, scoring

Stages may nest: a phase's seconds count in every open stage. Stages are
per thread: a stage opened in a thread books what that thread compiles,
trains and predicts; a function wrapped by `carried` runs in another thread
inside the stages open where it was wrapped (so a run's 'total' counts the
work of every thread, and stages of two threads may overlap in time).

Estimates. Inside `with estimating():` every `trainer.fit_runs` call
compiles its program as usual but trains only probes: every run 1 epoch
(twice: the first call includes compiling), then k >= 2 epochs, k chosen to
train about `PROBE_SECONDS` (fewer epochs than k where the call has fewer).
One epoch costs the difference of the last two calls over k - 1, and the
call's fixed cost (dispatch, the last validation) the one-epoch time less
one epoch; the full call would take `fixed + num_epochs x per_epoch`. Where
one epoch already takes `PROBE_SECONDS` or more, there is no third probe and
the full call is `num_epochs x` the one-epoch time. Each stage then reports

    estimate_s  wall_s - train_s + (the estimated seconds of its fits)

A call of a program with the same arguments' shapes as one already probed
in this `estimating()` block (the next checkpoint chunk of a stage, the
next nu of equal shapes) is not probed again: it is booked from that probe
(fixed cost and per-epoch cost) and trains no epoch, so a stage of N chunks
costs its probes once, not N times.

It assumes every run trains all `num_epochs` epochs of each call (no early
stopping, no smaller `max_epochs` budget): an upper bound. The rest of the
run (data, features, compiling, prediction on the probe models, scoring) is
measured, not estimated, so an estimate costs the run's data, compile and
prediction time plus about four epochs of every training call. Only the timing is meant: the probe models' scores are not results.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable

import jax
import numpy as np

from fewshot import compiles

KEYS = ('wall_s', 'compile_s', 'compiles', 'loaded', 'train_s', 'predict_s', 'other_s')
PHASES = ('train', 'predict')
PROBE_SECONDS = 1.0  # the second probe trains about this long (at least 2 epochs)

_local = threading.local()  # per thread: `open`, the counters of its open stages
# (outermost first), and `compile_s`, the seconds it spent compiling
_lock = threading.Lock()
_estimating = [False]
_probed: dict = {}  # within estimating(): program key -> (fixed s, s per epoch)


class Stage:
  """A stage's clock, started now: `stop()` ends it and returns its times (`stage`).

  For a stage that no `with` block fits (a script's whole run); prefer `stage`.
  """

  def __init__(self, name: str):
    if not isinstance(name, str) or not name:
      raise ValueError(f'stage name must be a non-empty string, got {name!r}')
    self.name = name
    self.times = {}
    self._counters = dict.fromkeys(('train', 'predict', 'estimate', 'compile'), 0.0)
    self._counters.update(events=0, loaded=0)
    self._start = time.perf_counter()
    self._stack = _stack()  # the opening thread's: `stop` may run in another
    self._stack.append(self._counters)

  def stop(self) -> dict:
    """Ends the stage (once) and returns its times: `KEYS`, and 'estimate_s' when estimating."""
    stack = self._stack
    if any(c is self._counters for c in stack):
      stack[:] = [c for c in stack if c is not self._counters]
      wall = time.perf_counter() - self._start
      with _lock:
        c = dict(self._counters)
      self.times.update(
        wall_s=wall,
        compile_s=c['compile'],
        compiles=c['events'] - c['loaded'],
        loaded=c['loaded'],
        train_s=c['train'],
        predict_s=c['predict'],
        other_s=max(0.0, wall - c['compile'] - c['train'] - c['predict']),
      )
      if _estimating[0]:
        self.times['estimate_s'] = wall - c['train'] + c['estimate']
    return self.times


@contextlib.contextmanager
def stage(name: str):
  """Times the block as stage `name`; yields the dict that holds its times when it ends.

  Raises:
    ValueError: on an empty name.
  """
  clock = Stage(name)
  try:
    yield clock.times
  finally:
    clock.stop()


def _stack() -> list[dict]:
  """The counters of the stages open in this thread, outermost first."""
  if not hasattr(_local, 'open'):
    _local.open = []
  return _local.open


def _book(kind: str, amount: float) -> None:
  with _lock:
    for counters in _stack():
      counters[kind] += amount


def _compiled_here() -> float:
  """Seconds this thread has spent compiling (or loading programs from the cache)."""
  return getattr(_local, 'compile_s', 0.0)


def _on_compile(event: str, duration_secs: float, **_) -> None:
  # JAX compiles in the thread that needs the program, so the event books there.
  if event == compiles.EVENT:
    _local.compile_s = _compiled_here() + float(duration_secs)
    _book('compile', float(duration_secs))
    _book('events', 1)


def _on_cache_hit(event: str, **_) -> None:
  if event == compiles.CACHE_HIT:
    _book('loaded', 1)


jax.monitoring.register_event_duration_secs_listener(_on_compile)
jax.monitoring.register_event_listener(_on_cache_hit)


def carried(fn: Callable) -> Callable:
  """`fn`, to be called in another thread, inside the stages open in this thread now.

  What the call compiles, trains and predicts is booked to those stages as
  well as to the stages it opens itself; use it for work handed to a worker
  thread (e.g. `concurrent.futures`), so that a run's totals count it.
  """
  outer = list(_stack())

  def run(*args, **kwargs):
    saved = _stack()
    _local.open = list(outer)
    try:
      return fn(*args, **kwargs)
    finally:
      _local.open = saved

  return run


@contextlib.contextmanager
def phase(kind: str):
  """Books the block's seconds, less compiling, as `kind` ('train' or 'predict') in every open stage.

  The block must wait for its results (`np.asarray`, `jax.block_until_ready`):
  JAX dispatches asynchronously.
  """
  if kind not in PHASES:
    raise ValueError(f'phase must be one of {PHASES}, got {kind!r}')
  start, compiled = time.perf_counter(), _compiled_here()
  try:
    yield
  finally:
    _book(kind, time.perf_counter() - start - (_compiled_here() - compiled))


@contextlib.contextmanager
def estimating(on: bool = True):
  """Within the block (when `on`), `trainer.fit_runs` trains probes and books estimates (module doc)."""
  before, probed = _estimating[0], dict(_probed)
  _estimating[0] = bool(on)
  _probed.clear()
  try:
    yield
  finally:
    _estimating[0] = before
    _probed.clear()
    _probed.update(probed)


def is_estimating() -> bool:
  """True inside `estimating()`."""
  return _estimating[0]


def threads(asked: int) -> int:
  """The threads a protocol may run its stages in: `asked` (1 or 2), or 1 inside
  `estimating()`, whose probes time each stage alone."""
  if asked not in (1, 2):
    raise ValueError(f'threads must be 1 or 2, got {asked!r}')
  return 1 if _estimating[0] else asked


def _timed(call: Callable, limit) -> tuple[object, float]:
  start = time.perf_counter()
  out = jax.block_until_ready(call(limit))
  return out, time.perf_counter() - start


def train(call: Callable, limit, num_epochs: int, start, program=None):
  """`call(limit)` (a `fit_runs` program on [R] epoch limits), timed as 'train'; probed when estimating.

  Args:
    call: runs the program on [R] limits (the absolute epoch each run ends at).
    limit: [R] ints.
    num_epochs: the most epochs the call trains.
    start: [R] ints, the epochs the runs have trained (`FitState.epoch`).
    program: a hashable key of the program and its arguments' shapes, or
      None; when estimating, a call whose key was probed before in the
      `estimating()` block is booked from that probe and trains no epoch.

  Returns:
    `call`'s output: of the full call, or when estimating of the last probe
    (of a call booked from an earlier probe: the state it started from).
  """
  with phase('train'):
    if not _estimating[0]:
      return jax.block_until_ready(call(limit))
    start = np.asarray(start, np.int32)
    if program is not None and program in _probed:
      fixed, per_epoch = _probed[program]
      _book('estimate', fixed + num_epochs * per_epoch)
      return jax.block_until_ready(call(start))  # no epoch: the while loop ends at once
    _timed(call, start + 1)  # compiles (counted apart by `phase`)
    out, one = _timed(call, start + 1)
    if num_epochs <= 1 or one >= PROBE_SECONDS:
      # A long epoch: its fixed cost is small beside it, so no third probe (the
      # full setting's long epochs would train two more); `num_epochs x one`
      # counts the fixed cost once per epoch, still an upper bound.
      fixed, per_epoch = 0.0, one
    else:
      probe = int(min(num_epochs, max(2, math.ceil(PROBE_SECONDS / max(one, 1e-3)))))
      out, more = _timed(call, start + probe)
      per_epoch = max(0.0, (more - one) / (probe - 1))
      fixed = max(0.0, one - per_epoch)
    if program is not None:
      _probed[program] = (fixed, per_epoch)
    _book('estimate', fixed + num_epochs * per_epoch)
    return out


def compile_summary(times: dict) -> dict:
  """{'count', 'loaded', 'seconds'} of a stage's programs (results.json's `compile`)."""
  return {'count': times['compiles'], 'loaded': times['loaded'], 'seconds': times['compile_s']}


def compile_line(times: dict) -> str:
  """'compiled N programs [, loaded M from the cache,] in S s (of W s in all)' of a stage."""
  loaded = f', loaded {times["loaded"]} from the cache,' if times['loaded'] else ''
  return (
    f'compiled {times["compiles"]} programs{loaded} in {times["compile_s"]:.1f} s '
    f'(of {times["wall_s"]:.1f} s in all)'
  )
