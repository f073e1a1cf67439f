"""A padded or ragged run trains exactly as the same run alone, for the HAR and MEGC batch-norm models.

The sEMG models (tests/test_semg_batch_norm.py) and Team 2's sign BiLSTM
(tests/test_sign_padding.py) have their own tests; here the harAGE CNN
fusion model and STSTNet are trained through their protocols' losses: a
24-example run padded to 40 slots beside a 40-example run, batches of 16 (so
every epoch also ends in a ragged batch), against the same run alone.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fewshot import trainer
from fewshot.models import megc as megc_models
from fewshot.protocols import har
from fewshot.protocols import megc_recognition

N = 40


def _max_diff(a, b):
  pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b))
  return max((float(jnp.abs(u - v).max()) for u, v in pairs), default=0.0)


def _variables(model, key, x):
  """Variables initialised on examples `x` (an array or a dict of modalities) in eval mode."""
  n = jax.tree.leaves(x)[0].shape[0]
  return model.init({'params': key, 'dropout': key}, x, jnp.ones((n,), bool), train=False)


def _run(padded_and_alone, model, loss, data, example):
  cfg = trainer.FitConfig(num_epochs=2, batch_size=16, learning_rate=1e-2)
  return padded_and_alone(model, cfg, data, loss, example, variables=_variables)


def _check(padded, alone, init):
  assert int(padded.step) == int(alone.step) == 4  # all-masked batches take no step
  assert padded.batch_stats, 'the model has batch statistics'
  assert _max_diff(padded.params, alone.params) < 1e-5
  assert _max_diff(padded.batch_stats, alone.batch_stats) < 1e-5
  assert _max_diff(padded.params, init.params) > 1e-3  # it did train


def test_har_cnn_fusion_padded_run_trains_as_alone(padded_and_alone):
  model = har.make_model(har.Config(), 'cnn:steps*hr*acc', num_classes=3)
  rng = np.random.default_rng(0)
  y = np.arange(N) % 3
  inputs = {
    m: jnp.asarray(rng.normal(size=(N, 20, c)) + y[:, None, None], jnp.float32)
    for m, c in (('steps', 1), ('hr', 1), ('acc', 3))
  }
  example = ({m: v[:2] for m, v in inputs.items()},)
  data = {'inputs': inputs, 'y': jnp.asarray(y)}
  _check(*_run(padded_and_alone, model, har.loss_fn, data, example))


@pytest.mark.parametrize('name', ['STSTNet'])
def test_megc_network_padded_run_trains_as_alone(name, padded_and_alone):
  model = megc_models.network(name)
  rng = np.random.default_rng(0)
  y = np.arange(N) % 3
  channels = megc_models.INPUT_CHANNELS[name]
  x = jnp.asarray(rng.normal(size=(N, 28, 28, channels)) + y[:, None, None, None], jnp.float32)
  example = (x[:2],)
  data = {'x': x, 'y': jnp.asarray(y)}
  _check(*_run(padded_and_alone, model, megc_recognition.loss_fn, data, example))
