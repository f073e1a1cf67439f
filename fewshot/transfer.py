"""Transfer learning of the base model (Sec. II-D): fine-tuning and AdaBatch.

Both restrict the optimisation space Phi* of eq. (12) with optax: either
`optax.multi_transform` routes each parameter to Adam (`'trainable'`) or to
`optax.set_to_zero()` (`'frozen'`) by static labels (`masked_adam`,
`fine_tune_tx`, `adabatch_tx`: frozen parameters get exactly zero updates and
no Adam moments), or `trainable_adam` carries the trainable mask as data in
its state, so that runs freezing different layers, or none (DL from scratch),
share one compiled program; its update equals `masked_adam`'s on trainable
parameters (bit for bit on jax 0.12; XLA on jax 0.10 rounds it up to 1 ulp
apart) and is exactly zero on frozen ones.

* Fine-tuning (II-D.1, Table VI): the named BiLSTM layers of the transferred
  feature extractor are frozen; the other layers and the new head train.
* AdaBatch (II-D.2): everything except the BatchNorm layers is frozen; their
  scale and bias train and their running statistics are re-estimated on the new
  task. The new classifier head of eq. (11) must train as well (it starts
  random), so it is trainable in both schemes.
"""

from __future__ import annotations

import functools
from typing import Any
from typing import NamedTuple
from typing import Sequence

import jax
import jax.numpy as jnp
import optax
from flax import traverse_util

from evaluation import checks

# Table VI: the frozen-layer settings compared for fine-tuning.
FROZEN_SETTINGS: dict[str, tuple[str, ...]] = {
  '1': ('bilstm_1',),
  '1-2': ('bilstm_1', 'bilstm_2'),
  '1-2-3': ('bilstm_1', 'bilstm_2', 'bilstm_3'),
}

TRAINABLE, FROZEN = 'trainable', 'frozen'


def _path_labels(params, is_trainable):
  flat = traverse_util.flatten_dict(params)
  labels = {path: TRAINABLE if is_trainable(path) else FROZEN for path in flat}
  return traverse_util.unflatten_dict(labels)


def _check_layers(params, layers: Sequence[str]) -> None:
  names = {name for path in traverse_util.flatten_dict(params) for name in path}
  unknown = [layer for layer in layers if layer not in names]
  if unknown:
    raise ValueError(
      f'cannot freeze unknown layer(s) {unknown}; the model has '
      f'{sorted(n for n in names if n.startswith(("bilstm", "fc", "bn")))}'
    )


def fine_tune_labels(params, frozen_layers: Sequence[str]):
  """'frozen' for every parameter under one of `frozen_layers`, else 'trainable'.

  Args:
    params: model parameters (nested dict).
    frozen_layers: module names, e.g. `('bilstm_1', 'bilstm_2')`.

  Returns:
    A pytree of labels with the structure of `params`.
  """
  frozen = set(frozen_layers)
  return _path_labels(params, lambda path: not frozen.intersection(path))


def adabatch_labels(params):
  """'trainable' for BatchNorm scale/bias, the classifier head and the siamese
  head (`head`, `sim_fc_*`, `sim_out`); 'frozen' for everything else."""

  def trainable(path):
    return any(name.startswith(('bn_', 'head', 'sim_fc_', 'sim_out')) for name in path)

  return _path_labels(params, trainable)


def masked_adam(labels_fn, learning_rate: float) -> optax.GradientTransformation:
  """Adam on the 'trainable' parameters, zero updates on the 'frozen' ones.

  Args:
    labels_fn: `params -> labels` pytree (e.g. `fine_tune_labels` partial).
    learning_rate: Adam step size.
  """
  return optax.multi_transform(
    {TRAINABLE: optax.adam(learning_rate), FROZEN: optax.set_to_zero()}, labels_fn
  )


def fine_tune_tx(frozen_layers: Sequence[str], learning_rate: float):
  """Optimizer for fine-tuning with `frozen_layers` frozen (Table VI).

  One object per (layers, rate), so the stages built with it
  (`trainer.make_stage`, cached on its `tx`) share their compiled programs.
  """
  return _fine_tune_tx(tuple(frozen_layers), float(learning_rate))


@functools.lru_cache(maxsize=64)
def _fine_tune_tx(layers: tuple[str, ...], learning_rate: float):
  return masked_adam(lambda p: fine_tune_labels(p, layers), learning_rate)


@functools.lru_cache(maxsize=64)
def adabatch_tx(learning_rate: float):
  """Optimizer for AdaBatch: only BN parameters and the new head(s) train (one object per rate)."""
  return masked_adam(adabatch_labels, learning_rate)


def check_frozen_layers(params, frozen_layers: Sequence[str]) -> None:
  """Host-side check that every layer to freeze exists in `params`."""
  _check_layers(params, frozen_layers)


def transfer_variables(new_variables, base_variables, shared: str = 'embedder'):
  """New model variables whose `shared` submodule is copied from the base model.

  Implements the weight transfer of eq. (11) (and of Table II, rows 1-6): the
  feature extractor's parameters and BN statistics come from the model trained
  on C^1; everything else (a new head sized to C^2, or the siamese head) keeps
  its fresh initialisation.

  Args:
    new_variables: `{'params', ['batch_stats']}` of the freshly initialised model.
    base_variables: `{'params', ['batch_stats']}` of the trained base model.
    shared: name of the submodule to copy.

  Returns:
    Variables like `new_variables` with `shared` replaced.
  """
  out = {}
  for collection, tree in new_variables.items():
    tree = dict(tree)
    base = base_variables.get(collection, {})
    if shared in tree:
      if shared not in base:
        raise ValueError(f'base variables have no {collection}/{shared} to transfer')
      src, dst = base[shared], tree[shared]
      if jax.tree.structure(src) != jax.tree.structure(dst):
        raise ValueError(
          f'{collection}/{shared} of the base and the new model '
          'differ in structure (different hidden sizes or BN flag?)'
        )
      for a, b in zip(jax.tree.leaves(src), jax.tree.leaves(dst)):
        if a.shape != b.shape:
          raise ValueError(f'{collection}/{shared} shapes differ: {a.shape} vs {b.shape}')
      tree[shared] = src
    out[collection] = tree
  return out


# ---------------------------------------------------------------------------
# Trainable masks carried as data: one optimizer (and one compiled program) for
# runs that freeze different layers, or none.


class MaskedAdamState(NamedTuple):
  """State of `trainable_adam`: which parameters train, and Adam's state.

  Attributes:
    trainable: a pytree like the parameters with one [] bool per leaf (a
      leading [R] axis when batched over runs): True trains the leaf.
    inner: `optax.adam`'s state over all parameters (a frozen leaf's moments
      stay zero: its gradients are masked before Adam).
  """

  trainable: Any
  inner: Any


def trainable_adam(learning_rate: float) -> optax.GradientTransformation:
  """Adam on the parameters its state marks trainable, exactly zero updates on the others.

  The trainable mask is data in the optimizer state (`MaskedAdamState`), not
  static labels as in `masked_adam`, so runs that freeze different layers (or
  none: DL from scratch) share one stage and one compiled program; set each
  run's mask with `with_trainable`. `init` marks every parameter trainable.

  Adam is elementwise, so masking the gradients before it and the updates
  after it gives, for a trainable parameter, `masked_adam`'s update (the same
  Adam arithmetic on the same leaf; bit for bit on jax 0.12, up to 1 ulp of
  XLA rounding on jax 0.10) and, for a frozen one,
  exactly zero, as `optax.set_to_zero` does. One object per rate (cached), so
  stages built with it are shared.
  """
  return _trainable_adam(checks.check_positive_float('learning_rate', float(learning_rate)))


@functools.lru_cache(maxsize=64)
def _trainable_adam(learning_rate: float) -> optax.GradientTransformation:
  adam = optax.adam(learning_rate)

  def init(params):
    trainable = jax.tree.map(lambda _: jnp.ones((), bool), params)
    return MaskedAdamState(trainable, adam.init(params))

  def update(updates, state, params=None):
    keep = lambda m, u: jnp.where(m, u, jnp.zeros_like(u))
    grads = jax.tree.map(keep, state.trainable, updates)
    updates, inner = adam.update(grads, state.inner, params)
    return jax.tree.map(keep, state.trainable, updates), MaskedAdamState(state.trainable, inner)

  return optax.GradientTransformation(init, update)


def trainable_mask(labels):
  """`fine_tune_labels` / `adabatch_labels` -> one [] bool per leaf (True: 'trainable')."""
  return jax.tree.map(lambda label: jnp.asarray(label == TRAINABLE), labels)


def with_trainable(opt_state: MaskedAdamState, trainable) -> MaskedAdamState:
  """`opt_state` (of `trainable_adam`) with its trainable mask replaced by `trainable`
  (same structure; [] bools, or [R] with a run axis)."""
  if jax.tree.structure(opt_state.trainable) != jax.tree.structure(trainable):
    raise ValueError('the trainable mask does not have the structure of the parameters')
  return opt_state._replace(trainable=jax.tree.map(lambda m: jnp.asarray(m, bool), trainable))
