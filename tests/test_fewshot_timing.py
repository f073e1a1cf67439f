"""fewshot.timing: per-stage times, and the probe estimate of a fit's full time."""

import concurrent.futures
import threading
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evaluation import reports
from fewshot import timing
from fewshot import trainer
from tests.test_fewshot_stage import Tiny
from tests.test_fewshot_stage import loss


def _setup(num_epochs):
  cfg = trainer.FitConfig(num_epochs=num_epochs, batch_size=4, learning_rate=0.05)
  stage = trainer.make_stage(Tiny(), cfg, loss)
  x = np.random.default_rng(0).standard_normal((12, 5)).astype(np.float32)
  data = {'x': jnp.asarray(x), 'y': jnp.asarray((np.arange(12) % 3).astype(np.int32))}
  keys = jax.random.split(jax.random.key(0), 2)
  return stage, stage.init(keys, x[:2]), keys, data, trainer.make_split([np.arange(12)] * 2)


def test_stage_books_training_compiles_and_the_rest():
  stage, fs, keys, data, split = _setup(40)  # the estimate test's program: compiled once
  with timing.stage('outer') as outer:
    with timing.stage('fit') as fit:
      trainer.fit_runs(stage.fit, fs, keys, data, split, num_epochs=40)
    time.sleep(0.05)
  assert set(fit) == set(timing.KEYS) and 'estimate_s' not in fit
  assert fit['compiles'] >= 1 and fit['compile_s'] > 0 and fit['train_s'] > 0
  for t in (fit, outer):  # the parts add up to the wall time
    parts = t['compile_s'] + t['train_s'] + t['predict_s'] + t['other_s']
    assert parts == pytest.approx(t['wall_s'], abs=1e-6)
  assert outer['train_s'] == pytest.approx(fit['train_s'])  # a nested stage's phase counts in both
  assert outer['other_s'] >= 0.05
  md = reports.timings_markdown({'fit': fit, 'data': 1.25})
  assert '| fit |' in md and '| data | 1.2 |' in md


def test_estimating_trains_a_probe_of_a_few_epochs():
  stage, fs, keys, data, split = _setup(40)
  with timing.estimating(), timing.stage('fit') as times:
    out, hist = trainer.fit_runs(stage.fit, fs, keys, data, split, num_epochs=40)
  assert not timing.is_estimating()
  probe = np.asarray(out.epoch)
  assert probe[0] == probe[1] and 2 <= probe[0] <= 40
  assert hist['train_loss'].shape == (2, 40)
  full = time.perf_counter()
  trainer.fit_runs(stage.fit, fs, keys, data, split, num_epochs=40)
  full = time.perf_counter() - full
  assert times['estimate_s'] > 0
  # the estimate bounds the compiled program's 40 epochs within a loose factor (timing noise)
  assert times['estimate_s'] - times['wall_s'] + times['train_s'] < 20 * full + 0.05


def test_estimate_is_the_fixed_cost_plus_epochs_times_the_epoch_cost():
  fixed, per_epoch = 0.05, 0.3  # a fake program that sleeps as a fit would train

  def call(limit):
    time.sleep(fixed + per_epoch * int(np.max(limit - start)))
    return limit

  start = np.array([4, 4])
  with timing.estimating(), timing.stage('fake') as times:
    out = timing.train(call, np.array([100, 100]), 30, start)
  np.testing.assert_array_equal(out, start + 3)  # 1 epoch took 0.35 s: the probe trains 3
  expected = fixed + 30 * per_epoch
  estimated = times['estimate_s'] - times['wall_s'] + times['train_s']
  assert estimated == pytest.approx(expected, rel=0.25)


def test_a_long_epoch_is_probed_once():
  # One epoch of at least PROBE_SECONDS: no third probe; the call is estimated
  # as num_epochs one-epoch calls (an upper bound: the fixed cost each epoch).
  fixed, per_epoch = 0.05, timing.PROBE_SECONDS
  calls = []

  def call(limit):
    calls.append(limit)
    time.sleep(fixed + per_epoch * int(np.max(limit)))
    return limit

  with timing.estimating(), timing.stage('fake') as times:
    out = timing.train(call, np.array([100]), 30, np.array([0]))
  assert len(calls) == 2 and int(out[0]) == 1
  estimated = times['estimate_s'] - times['wall_s'] + times['train_s']
  assert estimated == pytest.approx(30 * (fixed + per_epoch), rel=0.1)


def test_a_probed_program_is_not_probed_again():
  # The next chunk of a stage (same program, same shapes) is booked from the
  # first call's probes and trains no epoch; another program is probed anew.
  fixed, per_epoch = 0.02, 0.05
  calls = []

  def call(limit):
    calls.append(int(np.max(limit)))
    time.sleep(fixed + per_epoch * (int(np.max(limit)) - start))
    return limit

  start = 0
  with timing.estimating(), timing.stage('fake') as times:
    timing.train(call, np.array([100]), 10, np.array([0]), program='a')
    probes = len(calls)
    start = 10
    out = timing.train(call, np.array([100]), 10, np.array([10]), program='a')
    assert len(calls) == probes + 1 and calls[-1] == 10 and int(out[0]) == 10  # no epoch
    timing.train(call, np.array([100]), 10, np.array([10]), program='b')
    assert len(calls) > probes + 2
  estimated = times['estimate_s'] - times['wall_s'] + times['train_s']
  assert estimated == pytest.approx(3 * (fixed + 10 * per_epoch), rel=0.25)
  with timing.estimating():  # a new block probes again
    timing.train(call, np.array([100]), 10, np.array([10]), program='a')
  assert len(calls) > probes + 4


def test_stages_are_per_thread_and_a_carried_call_books_to_the_outer_stages():
  # A stage in a worker thread books its own compiling and training, and (through
  # `carried`) the stages open where the work was handed over; a stage opened
  # meanwhile in the main thread books none of it.
  stage, fs, keys, data, split = _setup(7)  # a program no other test compiles
  started = threading.Event()

  def worker():
    with timing.stage('worker') as times:
      started.set()
      trainer.fit_runs(stage.fit, fs, keys, data, split, num_epochs=7)
    return times

  with timing.stage('total') as total:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
      done = pool.submit(timing.carried(worker))
      started.wait()
      with timing.stage('main') as main:
        time.sleep(0.05)
      inner = done.result()
  assert inner['compiles'] >= 1 and inner['compile_s'] > 0 and inner['train_s'] > 0
  assert main['compiles'] == 0 and main['compile_s'] == 0 and main['train_s'] == 0
  assert total['train_s'] == pytest.approx(inner['train_s'])
  assert total['compiles'] == inner['compiles']
  assert total['compile_s'] == pytest.approx(inner['compile_s'])
  # Training two run sets in two threads at once gives the results of one after another.
  alone = [
    trainer.fit_runs(stage.fit, fs, k, data, split, num_epochs=7) for k in (keys, keys[::-1])
  ]
  with concurrent.futures.ThreadPoolExecutor(2) as pool:
    both = list(pool.map(lambda k: trainer.fit_runs(stage.fit, fs, k, data, split, num_epochs=7),
                         (keys, keys[::-1])))  # fmt: skip
  for a, b in zip(alone, both):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
      np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_bad_stage_and_phase_names():
  with pytest.raises(ValueError, match='non-empty'):
    with timing.stage(''):
      pass
  with pytest.raises(ValueError, match="one of \\('train', 'predict'\\)"):
    with timing.phase('fit'):
      pass
