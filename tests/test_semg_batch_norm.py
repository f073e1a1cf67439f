"""Batch norm of the sEMG models respects the example mask (AdaBatch base, CS^3_AB).

Padded slots (ragged last batches, runs padded to a common shape beside
longer ones) must enter neither the batch statistics nor the loss: a padded
run trains exactly as the same run alone. Before the mask reached the
BatchNorm layers, the base model with batch norm below ended 3 epochs with
parameters 0.068 away from the same run alone when padded, and the siamese
losses averaged over masked triplets too.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fewshot import siamese
from fewshot import trainer
from fewshot import transfer
from fewshot.models import semg as models
from fewshot.models.layers import MaskedBatchNorm
from fewshot.protocols import semg as protocol

HIDDEN, FC = (3, 3), (4, 4)
N = 48


@pytest.fixture(scope='module')
def data():
  y = jnp.arange(N) % 4
  x = jax.random.normal(jax.random.key(0), (N, 2, 61)) + y[:, None, None] * 1.0
  return {'x': x, 'y': y}


def _max_diff(a, b):
  pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b))
  return max((float(jnp.abs(u - v).max()) for u, v in pairs), default=0.0)


@pytest.mark.parametrize('shape', [(6, 5, 3), (6, 3)], ids=['sequence', 'vector'])
def test_masked_batch_norm_with_all_real_is_flax_batch_norm(shape):
  # The layer the sEMG models used before: same names, outputs and running
  # statistics (momentum as Flax's: ra <- m ra + (1 - m) batch; epsilon 1e-5;
  # biased batch variance), in training and in evaluation.
  x = jax.random.normal(jax.random.key(1), shape) * 3.0 + 1.0
  ours, ref = MaskedBatchNorm(momentum=0.8), nn.BatchNorm(momentum=0.8)
  v = ours.init(jax.random.key(0), x, jnp.ones(shape[0], bool), False)
  v_ref = ref.init(jax.random.key(0), x, use_running_average=True)
  assert jax.tree.structure(v) == jax.tree.structure(v_ref)
  v = jax.tree.map(lambda a: a + 0.1, v)  # non-trivial scale, bias and statistics
  out, st = ours.apply(v, x, jnp.ones(shape[0], bool), True, mutable=['batch_stats'])
  out_ref, st_ref = ref.apply(v, x, use_running_average=False, mutable=['batch_stats'])
  np.testing.assert_allclose(out, out_ref, rtol=1e-5, atol=1e-5)
  assert _max_diff(st, st_ref) < 1e-6
  np.testing.assert_allclose(
    ours.apply(v, x, jnp.ones(shape[0], bool), False),
    ref.apply(v, x, use_running_average=True),
    rtol=1e-6,
    atol=1e-6,
  )


@pytest.mark.parametrize('siamese_net', [False, True], ids=['classifier', 'siamese'])
def test_masked_slots_change_no_output_or_statistic(data, siamese_net):
  """8 slots, 5 real: the real outputs and the new running statistics are those
  of the 5 examples alone, whatever the masked slots hold."""
  x, mask = data['x'][:16].reshape(2, 8, 2, 61), jnp.arange(8) < 5  # 2 twins' inputs
  if siamese_net:  # both twins see the pair mask
    model = models.SiameseNet(hidden=HIDDEN, fc=FC, batch_norm=True)
    v = model.init(jax.random.key(1), x[0], x[1])
    run = lambda x, m: model.apply(v, x[0], x[1], m, train=True, mutable=['batch_stats'])
  else:
    model = models.SEMGClassifier(4, hidden=HIDDEN, fc=FC, batch_norm=True)
    v = model.init(jax.random.key(1), x[0])
    run = lambda x, m: model.apply(v, x[0], m, train=True, mutable=['batch_stats'])
  junk = jnp.where(mask[:, None, None], x, 1e3)
  out_a, st_a = jax.jit(run)(x, mask)
  out_b, st_b = jax.jit(run)(junk, mask)
  alone = run(x[:, :5], None)
  for out, st in ((out_a, st_a), (out_b, st_b)):
    np.testing.assert_allclose(out[:5], alone[0], rtol=1e-5, atol=1e-6)
    assert _max_diff(st, alone[1]) < 1e-6
  assert _max_diff(st_a, v['batch_stats']) > 1e-3  # training mode did update them


def test_bn_classifier_padded_and_ragged_run_trains_as_alone(data, padded_and_alone):
  # Batches of 16 from 24 examples: the last batch of each epoch is ragged
  # (8 real, 8 masked). Alone its masked slots repeat a real example; padded
  # to 40 they hold the padding index, and a third, all-masked batch follows.
  # Without batch norm nothing but this same masked loss depends on the batch.
  model = models.SEMGClassifier(4, hidden=HIDDEN, fc=FC, batch_norm=True)
  cfg = trainer.FitConfig(num_epochs=3, batch_size=16, learning_rate=1e-2)
  padded, alone, init = padded_and_alone(
    model, cfg, data, protocol.classifier_loss, (data['x'][:2],)
  )
  assert int(padded.step) == int(alone.step) == 6  # the all-masked batches took no step
  # Before the mask reached BatchNorm: 0.068 apart (parameters); now equal
  # to float32 rounding.
  assert _max_diff(padded.params, alone.params) < 1e-5
  assert _max_diff(padded.batch_stats, alone.batch_stats) < 1e-5
  assert _max_diff(padded.params, init.params) > 1e-2  # it did train


@pytest.mark.parametrize('kind', [siamese.CONTRASTIVE, siamese.TRIPLET])
def test_siamese_loss_ignores_masked_triplets(data, kind):
  """A batch of 8 triplet slots with 5 real: loss, gradients and new batch
  statistics are those of the 5 real triplets alone, whatever the others hold."""
  model = models.SiameseNet(hidden=HIDDEN, fc=FC, batch_norm=True)
  x = data['x']
  v = model.init(jax.random.key(1), x[:2], x[:2])
  loss_fn = siamese.siamese_loss_fn(model, kind, 1.0 if kind == siamese.CONTRASTIVE else 0.5)
  triplet = {'anchor': x[0:8], 'positive': x[8:16], 'negative': x[16:24]}
  mask = jnp.arange(8) < 5
  junk = jax.tree.map(lambda a: jnp.where(mask[:, None, None], a, -1e3), triplet)
  real = jax.tree.map(lambda a: a[:5], triplet)
  grad = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))
  run = lambda t, m: grad(v['params'], v['batch_stats'], None, trainer.Batch(t, m))
  (l_alone, st_alone), g_alone = run(real, jnp.ones(5, bool))
  for t in (triplet, junk):
    (loss, st), g = run(t, mask)
    np.testing.assert_allclose(loss, l_alone, rtol=1e-5, atol=1e-7)
    assert _max_diff(g, g_alone) < 1e-5
    assert _max_diff(st, st_alone) < 1e-6
  # The batch statistics are those of the 15 real examples (5 anchors,
  # positives, negatives) in one BatchNorm batch.
  assert _max_diff(st_alone, v['batch_stats']) > 1e-3


def test_bn_siamese_padded_run_trains_as_alone(data, padded_and_alone):
  # CS^3_AB's twins (AdaBatch: only BN and the head train). Triplets are
  # sampled from each run's own examples, so the padded run draws the same
  # triplets and must end with the same parameters and statistics.
  model = models.SiameseNet(hidden=HIDDEN, fc=FC, batch_norm=True)
  cfg = trainer.FitConfig(num_epochs=3, steps_per_epoch=4, batch_size=8, learning_rate=1e-2)
  loss, _ = protocol.siamese_objective(siamese.TRIPLET)
  padded, alone, init = padded_and_alone(
    model, cfg, data, loss, (data['x'][:2], data['x'][:2]), batches_fn=siamese.siamese_batches
  )
  assert int(padded.step) == int(alone.step) == 12
  assert _max_diff(padded.params, alone.params) < 1e-5
  assert _max_diff(padded.batch_stats, alone.batch_stats) < 1e-5
  assert _max_diff(padded.params, init.params) > 1e-3  # it did train


@pytest.mark.parametrize('siamese_net', [False, True], ids=['classifier', 'siamese'])
def test_adabatch_finds_the_masked_batch_norm_layers(data, siamese_net):
  """AdaBatch (`transfer.adabatch_tx`) trains exactly the BN scales and biases and
  the head; transfer copies the BN statistics with the embedder."""
  x = data['x'][:2]
  if siamese_net:
    model = models.SiameseNet(hidden=HIDDEN, fc=FC, batch_norm=True)
    variables = model.init(jax.random.key(0), x, x)
    heads = {'sim_fc_1', 'sim_fc_2', 'sim_out'}
  else:
    model = models.SEMGClassifier(3, hidden=HIDDEN, fc=FC, batch_norm=True)
    variables = model.init(jax.random.key(0), x)
    heads = {'head'}
  bn = {'bn_lstm_1', 'bn_lstm_2', 'bn_fc_1', 'bn_fc_2'}
  params = variables['params']
  assert set(params['embedder']) == bn | {'bilstm_1', 'bilstm_2', 'fc_1', 'fc_2'}
  assert set(variables['batch_stats']['embedder']) == bn
  labels = transfer.adabatch_labels(params)
  for layer, sub in labels['embedder'].items():
    want = transfer.TRAINABLE if layer in bn else transfer.FROZEN
    assert set(jax.tree.leaves(sub)) == {want}, layer
    if layer in bn:
      assert set(sub) == {'scale', 'bias'}
  assert set(labels) == {'embedder'} | heads
  for head in heads:
    assert set(jax.tree.leaves(labels[head])) == {transfer.TRAINABLE}
  # The base classifier's embedder (parameters and statistics) transfers.
  base = models.SEMGClassifier(4, hidden=HIDDEN, fc=FC, batch_norm=True)
  base_vars = base.init(jax.random.key(1), x)
  base_vars['batch_stats'] = jax.tree.map(lambda a: a + 0.5, base_vars['batch_stats'])
  moved = transfer.transfer_variables(variables, base_vars)
  assert _max_diff(moved['batch_stats']['embedder'], base_vars['batch_stats']['embedder']) == 0
  assert _max_diff(moved['params']['embedder'], base_vars['params']['embedder']) == 0
