"""Runs and episodes over many devices: 8 forced CPU devices and two processes give one device's numbers.

The multi-device programs run in subprocesses (the rest of the suite keeps
one CPU device): one with `--xla_force_host_platform_device_count=8`, and two
processes joined by `jax.distributed.initialize` on localhost with gloo CPU
collectives. Each writes its results to an .npz file that this process
compares with its own one-device results of the same computations.
"""

import os
import socket
import subprocess
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fewshot
from fewshot import trainer

RUNS, N = 5, 40  # 5 runs over 8 (or 2) devices: the run axis is padded
CFG = trainer.FitConfig(num_epochs=3, steps_per_epoch=3, batch_size=8, patience=3)
EPISODES = 12  # over 8 devices: padded to 16


class _Net(nn.Module):
  @nn.compact
  def __call__(self, x, train=False):
    return nn.Dense(3)(nn.relu(nn.Dense(8)(x)))


def _loss(model):
  def loss_fn(params, batch_stats, key, batch):
    logits, _ = trainer.apply_model(model, params, batch_stats, batch.data['x'], train=True)
    return trainer.cross_entropy_loss(logits, batch.data['y'], batch.mask), batch_stats

  return loss_fn


def _eval(model):
  def eval_fn(params, batch_stats, data, split):
    logits, _ = trainer.apply_model(
      model, params, batch_stats, data['x'][split.val_idx], train=False
    )
    return {
      'val_loss': trainer.cross_entropy_loss(logits, data['y'][split.val_idx], split.val_mask)
    }

  return eval_fn


def compute() -> dict:
  """The runs and episodes every variant computes; NumPy results by name."""
  model = _Net()
  y = jnp.arange(N) % 3
  x = jax.random.normal(jax.random.key(0), (N, 6)) + y[:, None]
  data = {'x': x, 'y': y}
  # SGD: Adam's sign-like first steps would turn rounding into visible steps.
  tx = optax.sgd(0.1, momentum=0.9)
  fs0 = jax.vmap(lambda k: trainer.init_fit_state(model.init(k, x[:1]), tx))(
    jax.random.split(jax.random.key(1), RUNS)
  )
  split = trainer.make_split([range(4 + 5 * r) for r in range(RUNS)], [range(30, N)] * RUNS)
  fit = trainer.make_fit(_loss(model), tx, CFG, _eval(model))
  keys = jax.random.split(jax.random.key(2), RUNS)
  fs, hist = trainer.fit_runs(fit, fs0, keys, data, split, num_epochs=CFG.num_epochs)
  ev = fewshot.evaluate_episodes(
    jax.random.key(3),
    x[:30],
    y[:30],
    x[30:],
    y[30:],
    classifier=fewshot.prototype_classifier,
    n_way=3,
    k_shot=2,
    n_query=2,
    num_episodes=EPISODES,
  )
  out = {
    'best_metric': fs.best_metric,
    'val_loss': hist['val_loss'],
    'kernel': fs.best_params['Dense_1']['kernel'],
    'f1': ev.f1,
    'predictions': ev.predictions,
    'query': ev.episodes.query,
  }
  devices = {k: len(v.sharding.device_set) for k, v in out.items()}
  out = {k: np.asarray(v) for k, v in out.items()}
  out['devices'] = np.array([devices['best_metric'], devices['f1']])
  return out


def _worker(path: str, process_id: int | None = None, port: int | None = None) -> None:
  """Entry point of the subprocesses."""
  if process_id is not None:
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
    jax.distributed.initialize(f'localhost:{port}', num_processes=2, process_id=process_id)
  out = compute()
  out['global_devices'] = np.array(len(jax.devices()))
  if process_id in (None, 0):
    np.savez(path, **out)


def _spawn(tmp_path, name, env_flags='', process_id=None, port=None):
  env = dict(os.environ)
  env['XLA_FLAGS'] = f'{env.get("XLA_FLAGS", "")} {env_flags}'.strip()
  env['PYTHONPATH'] = os.pathsep.join([os.path.dirname(__file__), os.getcwd()])
  path = str(tmp_path / f'{name}.npz')
  code = f'import test_fewshot_sharding as t; t._worker({path!r}, {process_id!r}, {port!r})'
  proc = subprocess.Popen(
    [sys.executable, '-c', code], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
  )
  return proc, path


def _finish(procs, timeout=240):
  for proc in procs:
    try:
      out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
      for p in procs:
        p.kill()
      pytest.fail('a multi-device subprocess timed out')
    assert proc.returncode == 0, out.decode()[-3000:]


@pytest.fixture(scope='module')
def one_device():
  assert len(jax.devices()) == 1  # the suite itself runs on one device
  out = compute()
  assert list(out['devices']) == [1, 1]
  return out


def _same(got, want):
  for name in ('best_metric', 'val_loss', 'kernel', 'f1'):
    np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6, err_msg=name)
  # Episodes are drawn from (key, index) alone: the same indices and predictions.
  np.testing.assert_array_equal(got['query'], want['query'])
  np.testing.assert_array_equal(got['predictions'], want['predictions'])
  assert np.isfinite(want['best_metric']).all() and want['f1'].mean() > 0.5


def test_eight_devices_spread_runs_and_episodes_and_match_one(tmp_path, one_device):
  proc, path = _spawn(tmp_path, 'eight', '--xla_force_host_platform_device_count=8')
  _finish([proc])
  got = np.load(path)
  assert int(got['global_devices']) == 8
  assert list(got['devices']) == [8, 8]  # runs and episodes spread over all 8
  _same(got, one_device)


def test_two_processes_match_one(tmp_path, one_device):
  with socket.socket() as s:
    s.bind(('localhost', 0))
    port = s.getsockname()[1]
  spawned = [_spawn(tmp_path, f'proc{i}', process_id=i, port=port) for i in range(2)]
  _finish([p for p, _ in spawned])
  got = np.load(spawned[0][1])
  assert int(got['global_devices']) == 2
  _same(got, one_device)
