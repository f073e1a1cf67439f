"""Supervised training of the sEMG models: pure jitted steps and a scanned epoch loop.

The training state is a pytree (`TrainState`: params, batch statistics,
optimizer state, step) and one step is a pure function
`state, metrics = step(state, key, batch)`. The epoch loop (`make_fit`) runs a
fixed number of epochs under `lax.scan` and keeps the parameters with the best
validation loss with `jnp.where`, so it has no Python control flow on values
and the runs of many seeds can be `jax.vmap`-ed into one compiled program
(`fit_many`). Validation-based early stopping (Sec. III: "the validation set is
used to prevent overfitting") is kept under scan by freezing the state once the
validation loss has not improved for `patience` epochs: later epochs are
computed but discarded, and the returned parameters are those of the best
epoch (Keras' `EarlyStopping(restore_best_weights=True)` behaviour).

Data layout. Every run of a vmapped batch must have arrays of the same shape,
but the runs of a table differ in how many training examples they get (nu = 1
... 50 per class, Table VII). A run's training set is therefore an index array
`train_idx: [max_train]` into a shared example array, of which the first
`n_train` entries are valid. An epoch is `steps_per_epoch` batches read off a
random permutation of the valid entries, wrapping around when
`steps_per_epoch * batch_size > n_train`; with `n_train = max_train` this is an
ordinary epoch.

Loss. Eq. (9) names "binary cross entropy"; with |C| = 3, 4 or 7 classes and a
softmax head we use the categorical cross-entropy, its multi-class form.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any
from typing import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

PyTree = Any


class TrainState(NamedTuple):
  """Everything a training step updates.

  Attributes:
    params: model parameters.
    batch_stats: BatchNorm running statistics (`{}` for models without BN).
    opt_state: optax state.
    step: [] int32 number of steps taken.
  """

  params: PyTree
  batch_stats: PyTree
  opt_state: PyTree
  step: jax.Array


class FitState(NamedTuple):
  """A `TrainState` plus what early stopping tracks.

  Attributes:
    train: the current `TrainState`.
    best_params: parameters at the epoch with the lowest validation loss.
    best_batch_stats: batch statistics at that epoch.
    best_val_loss: [] float32 lowest validation loss so far (inf at start).
    bad_epochs: [] int32 epochs since the last improvement.
    epoch: [] int32 epochs run.
    nonfinite: [] bool whether any training loss was NaN/inf.
  """

  train: TrainState
  best_params: PyTree
  best_batch_stats: PyTree
  best_val_loss: jax.Array
  bad_epochs: jax.Array
  epoch: jax.Array
  nonfinite: jax.Array


class Split(NamedTuple):
  """One run's training and validation examples, as indices into shared arrays.

  Attributes:
    train_idx: [max_train] int32; the first `n_train` entries are used.
    n_train: [] int32 number of valid training indices (>= 1).
    val_idx: [n_val] int32 validation indices.
  """

  train_idx: jax.Array
  n_train: jax.Array
  val_idx: jax.Array


@dataclasses.dataclass(frozen=True)
class FitConfig:
  """Static settings of a training run.

  Attributes:
    num_epochs: maximum number of epochs.
    steps_per_epoch: optimizer steps per epoch.
    batch_size: examples per step.
    patience: epochs without validation improvement before training stops.
    learning_rate: Adam step size.
  """

  num_epochs: int = 50
  steps_per_epoch: int = 20
  batch_size: int = 32
  patience: int = 10
  learning_rate: float = 1e-3

  def __post_init__(self):
    for name in ('num_epochs', 'steps_per_epoch', 'batch_size', 'patience'):
      v = getattr(self, name)
      if int(v) != v or v < 1:
        raise ValueError(f'FitConfig.{name} must be a positive integer, got {v}')
    if not self.learning_rate > 0:
      raise ValueError(f'FitConfig.learning_rate must be > 0, got {self.learning_rate}')


def cross_entropy_loss(logits, labels):
  """Mean categorical cross-entropy (eq. (9), multi-class form).

  Args:
    logits: [batch, classes] float32.
    labels: [batch] int32 in [0, classes).

  Returns:
    [] float32.
  """
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def init_train_state(variables, tx: optax.GradientTransformation) -> TrainState:
  """A fresh `TrainState` from Flax variables `{'params', ['batch_stats']}`."""
  params = variables['params']
  return TrainState(
    params=params,
    batch_stats=variables.get('batch_stats', {}),
    opt_state=tx.init(params),
    step=jnp.zeros((), jnp.int32),
  )


def init_fit_state(train: TrainState) -> FitState:
  """Wraps a `TrainState` with empty early-stopping bookkeeping."""
  return FitState(
    train=train,
    best_params=train.params,
    best_batch_stats=train.batch_stats,
    best_val_loss=jnp.asarray(jnp.inf, jnp.float32),
    bad_epochs=jnp.zeros((), jnp.int32),
    epoch=jnp.zeros((), jnp.int32),
    nonfinite=jnp.zeros((), bool),
  )


def apply_model(model, params, batch_stats, *args, train: bool, method=None):
  """Runs `model`, returning `(output, new_batch_stats)`.

  In training mode BatchNorm uses and updates batch statistics; otherwise the
  running averages are used and returned unchanged.
  """
  variables = {'params': params}
  if batch_stats:
    variables['batch_stats'] = batch_stats
  if train and batch_stats:
    out, updates = model.apply(variables, *args, train=True, method=method, mutable=['batch_stats'])
    return out, updates['batch_stats']
  return model.apply(variables, *args, train=train, method=method), batch_stats


def make_train_step(loss_fn: Callable, tx: optax.GradientTransformation):
  """Builds `step(state, key, batch) -> (state, metrics)`.

  Args:
    loss_fn: `loss_fn(params, batch_stats, key, batch) -> (loss, new_batch_stats)`.
    tx: the optimizer (possibly a `optax.multi_transform` that freezes layers).

  Returns:
    A pure function; jit it (or a loop around it) at the call site.
  """

  def step(state: TrainState, key, batch):
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (loss, batch_stats), grads = grad_fn(state.params, state.batch_stats, key, batch)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    new = TrainState(params, batch_stats, opt_state, state.step + 1)
    return new, {'loss': loss}

  return step


def classifier_loss_fn(model):
  """`loss_fn` for supervised training of a classifier on `(x, y)` batches."""

  def loss_fn(params, batch_stats, key, batch):
    del key  # the base model has no dropout.
    x, y = batch
    logits, batch_stats = apply_model(model, params, batch_stats, x, train=True)
    return cross_entropy_loss(logits, y), batch_stats

  return loss_fn


def classifier_val_fn(model):
  """`val_fn(params, batch_stats, data, split) -> loss` on the validation split."""

  def val_fn(params, batch_stats, data, split):
    x, y = data
    logits, _ = apply_model(model, params, batch_stats, x[split.val_idx], train=False)
    return cross_entropy_loss(logits, y[split.val_idx])

  return val_fn


def epoch_positions(key, n_train, max_train: int, steps: int, batch_size: int):
  """Positions into `train_idx` for one epoch: [steps, batch_size] int32.

  A uniformly random permutation of the valid positions `0..n_train-1`, read in
  order and wrapped around.
  """
  valid = jnp.arange(max_train) < n_train
  # Invalid positions sort last, so the first n_train entries permute the valid ones.
  order = jnp.argsort(jnp.where(valid, jax.random.uniform(key, (max_train,)), 2.0))
  pos = jnp.arange(steps * batch_size) % jnp.maximum(n_train, 1)
  return order[pos].reshape(steps, batch_size)


def supervised_batches(key, data, split: Split, steps: int, batch_size: int):
  """One epoch of `(x, y)` batches: x [steps, batch, ...], y [steps, batch]."""
  x, y = data
  pos = epoch_positions(key, split.n_train, split.train_idx.shape[0], steps, batch_size)
  idx = split.train_idx[pos]
  return x[idx], y[idx]


def make_fit(
  loss_fn: Callable,
  val_fn: Callable,
  batches_fn: Callable,
  tx: optax.GradientTransformation,
  config: FitConfig,
):
  """Builds the epoch loop `fit(fit_state, key, data, split, first_epoch, num_epochs)`.

  Args:
    loss_fn: see `make_train_step`.
    val_fn: `val_fn(params, batch_stats, data, split) -> [] loss`.
    batches_fn: `batches_fn(key, data, split, steps, batch_size)` -> a pytree of
      batches with a leading `[steps]` axis (one epoch).
    tx: the optimizer.
    config: `FitConfig`.

  Returns:
    `fit(fit_state, key, data, split, first_epoch, num_epochs) -> (fit_state,
    history)` running epochs `first_epoch .. first_epoch + num_epochs - 1`;
    `num_epochs` is static. Epoch `e` draws its randomness from
    `fold_in(key, e)`, so running 0..9 at once or 0..4 then 5..9 (resuming from
    a checkpoint) gives the same result. `history` holds per-epoch
    `train_loss` and `val_loss` [num_epochs].
  """
  step = make_train_step(loss_fn, tx)

  def one_epoch(fs: FitState, key, data, split):
    key_batches, key_steps = jax.random.split(key)
    batches = batches_fn(key_batches, data, split, config.steps_per_epoch, config.batch_size)

    def body(state, inputs):
      i, batch = inputs
      return step(state, jax.random.fold_in(key_steps, i), batch)

    train, metrics = jax.lax.scan(body, fs.train, (jnp.arange(config.steps_per_epoch), batches))
    train_loss = metrics['loss'].mean()
    stopped = fs.bad_epochs >= config.patience
    # Once stopped, the epoch's work is discarded (early stopping under scan).
    train = jax.tree.map(lambda old, new: jnp.where(stopped, old, new), fs.train, train)
    val_loss = val_fn(train.params, train.batch_stats, data, split)
    improved = (val_loss < fs.best_val_loss) & ~stopped
    pick = lambda new, old: jax.tree.map(lambda a, b: jnp.where(improved, a, b), new, old)
    fs = FitState(
      train=train,
      best_params=pick(train.params, fs.best_params),
      best_batch_stats=pick(train.batch_stats, fs.best_batch_stats),
      best_val_loss=jnp.where(improved, val_loss, fs.best_val_loss),
      bad_epochs=jnp.where(improved, 0, fs.bad_epochs + 1),
      epoch=fs.epoch + 1,
      nonfinite=fs.nonfinite | ~jnp.all(jnp.isfinite(metrics['loss'])),
    )
    return fs, {'train_loss': train_loss, 'val_loss': val_loss}

  def fit(fs: FitState, key, data, split: Split, first_epoch, num_epochs: int):
    def body(fs, e):
      return one_epoch(fs, jax.random.fold_in(key, e), data, split)

    return jax.lax.scan(body, fs, first_epoch + jnp.arange(num_epochs))

  return fit


@functools.lru_cache(maxsize=64)
def vmap_fit(fit):
  """Vmaps a `make_fit` loop over runs: fit state, key and split get a leading
  [runs] axis, the shared example arrays `data` do not. Jitted, with
  `num_epochs` static; cached per `fit`, so every caller shares one compiled
  program."""
  vfit = jax.vmap(fit, in_axes=(0, 0, None, 0, None, None))
  return jax.jit(vfit, static_argnums=(5,))


def check_finite(fs: FitState, what: str = 'training') -> None:
  """Host-side fail-fast on NaN/inf losses (checked after a fit, not per step)."""
  bad = np.asarray(fs.nonfinite)
  if bad.any():
    runs = np.flatnonzero(bad.reshape(-1)).tolist()
    raise FloatingPointError(f'{what}: non-finite training loss in run(s) {runs}')


def validate_split(split: Split, num_examples: int) -> None:
  """Host-side checks of a (possibly batched) `Split` before tracing."""
  train_idx = np.asarray(split.train_idx)
  n_train = np.asarray(split.n_train)
  val_idx = np.asarray(split.val_idx)
  if train_idx.size == 0 or val_idx.size == 0:
    raise ValueError(
      'training and validation index arrays must be non-empty, got '
      f'shapes {train_idx.shape} and {val_idx.shape}'
    )
  if np.any(n_train < 1) or np.any(n_train > train_idx.shape[-1]):
    raise ValueError(f'n_train must lie in [1, {train_idx.shape[-1]}], got {n_train}')
  for name, idx in (('train_idx', train_idx), ('val_idx', val_idx)):
    if not np.issubdtype(idx.dtype, np.integer):
      raise ValueError(f'{name} must be integer indices, got {idx.dtype}')
    if idx.min() < 0 or idx.max() >= num_examples:
      raise ValueError(f'{name} out of range [0, {num_examples}): [{idx.min()}, {idx.max()}]')


def validate_examples(x, y=None, num_classes: int | None = None) -> None:
  """Host-side checks of an example array `[n, 2, T]` and its labels."""
  x = np.asarray(x)
  if x.ndim != 3 or x.shape[0] == 0:
    raise ValueError(f'examples must be [n > 0, channels, time], got {x.shape}')
  if not np.all(np.isfinite(x)):
    raise ValueError('examples contain NaN or inf')
  if y is not None:
    y = np.asarray(y)
    if y.shape != (x.shape[0],):
      raise ValueError(f'labels must be [{x.shape[0]}], got {y.shape}')
    if num_classes is not None and (y.min() < 0 or y.max() >= num_classes):
      raise ValueError(f'labels must lie in [0, {num_classes}), got [{y.min()}, {y.max()}]')


def predict(model, params, batch_stats, x):
  """Class predictions `[n]` int32 for examples `x: [n, 2, T]` (eval mode)."""
  logits, _ = apply_model(model, params, batch_stats, x, train=False)
  return jnp.argmax(logits, axis=-1)


def embed(model, params, batch_stats, x):
  """Embeddings `[n, 32]` of `x: [n, 2, T]` through `model.embed` (eval mode)."""
  out, _ = apply_model(model, params, batch_stats, x, train=False, method='embed')
  return out


@functools.partial(jax.jit, static_argnums=(0,))
def predict_many(model, params, batch_stats, x):
  """`predict` vmapped over runs: params/batch_stats [runs, ...] -> [runs, n]."""
  return jax.vmap(lambda p, b: predict(model, p, b, x))(params, batch_stats)


@functools.partial(jax.jit, static_argnums=(0,))
def embed_many(model, params, batch_stats, x):
  """`embed` vmapped over runs: -> [runs, n, 32]."""
  return jax.vmap(lambda p, b: embed(model, p, b, x))(params, batch_stats)
