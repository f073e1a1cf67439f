"""The library's one trainer: pure jitted steps, an on-device epoch loop, runs as a vmap axis.

Every model of the four papers trains here: the sEMG BiLSTM and siamese
networks, the harAGE fusion models, the micro-expression CNNs and the sign
language models. A paper contributes a loss (and optionally a validation
function and a batch sampler); the optimizer is any optax transformation.

State. `TrainState` (params, batch statistics, optimizer state, step) is a
pytree; one step is the pure function `state, metrics = step(state, key,
batch)` (`make_train_step`). `FitState` adds what early stopping tracks: the
best parameters, the best value of the monitored metric, its epoch, the
epochs without improvement, the epochs run and a NaN flag.

Runs. A table trains many runs of one setting (seeds, LOSO folds, shot
counts). They share one set of example arrays `data` (any pytree whose leaves
have a leading example axis N) and differ in their `Split`: padded index
arrays into `data` with masks, so runs with different numbers of examples
have equal shapes and `fit_runs` trains all of them as one `jax.vmap`-ed,
jitted program. Valid entries come first in each index array.

Batches. `Batch(data, mask)`: the gathered examples and a `[B]` mask of the
real ones. Losses average over real examples only, and a step whose batch has
no real example leaves the state unchanged (Adam would otherwise still move on
its momentum), so a ragged run trains exactly as it would alone. With
`FitConfig.steps_per_epoch=None` an epoch is one pass over the run's training
examples in a random order, ceil(max_train / batch_size) steps, the tail
masked; with an integer it is that many full batches read cyclically off a
fresh random permutation (the sEMG protocol's choice for tiny few-shot sets:
a run with 3 examples still takes its steps, on repeated examples).

Epoch loop. `make_fit` returns `fit(fit_state, key, data, split, max_epochs,
*, num_epochs)`: up to `num_epochs` epochs from `fit_state.epoch`, inside one
`lax.while_loop`, so early stopping is decided on the device with no host
round trip. Epoch e draws from `fold_in(key, e)`, so running epochs 0..9 at
once or 0..4 then 5..9 (resuming from a checkpoint) gives the same result.
After each epoch the validation function's metrics are computed;
`FitConfig.monitor` names the one early stopping watches (`mode` 'min' or
'max'); a strict improvement records the parameters as the best, and after
`patience` epochs without one the run stops (Keras'
`EarlyStopping(restore_best_weights=True)`). Without a validation function
every epoch counts as the best, so the final model is kept. A non-finite
training loss stops the run at once and sets `nonfinite`, which
`check_finite` turns into an error on the host. Under vmap the loop runs
until the last run stops; finished runs are frozen.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any
from typing import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax._src import core as jax_core  # trace_state_clean (`_top_level`)

from evaluation import checks
from fewshot import sharding
from fewshot import timing

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
    best_params: parameters at the best epoch.
    best_batch_stats: batch statistics at the best epoch.
    best_metric: [] float32 best (smoothed) value of the monitored metric (+-inf at start).
    best_epoch: [] int32 epochs trained when the best was reached (0: none yet).
    bad_epochs: [] int32 epochs since the last improvement.
    epoch: [] int32 epochs run.
    nonfinite: [] bool whether a training loss was NaN or inf (the run stopped there).
    smoothed: [] float32 the monitored metric's running average
      (`FitConfig.smoothing`; NaN before the first validation).
  """

  train: TrainState
  best_params: PyTree
  best_batch_stats: PyTree
  best_metric: jax.Array
  best_epoch: jax.Array
  bad_epochs: jax.Array
  epoch: jax.Array
  nonfinite: jax.Array
  smoothed: jax.Array


class Split(NamedTuple):
  """One run's training and validation examples, as masked indices into `data`.

  Valid entries come first; padding entries point at example 0 and are masked.

  Attributes:
    train_idx: [max_train] int32.
    train_mask: [max_train] bool.
    val_idx: [max_val] int32 (may hold only padding when a run has no validation set).
    val_mask: [max_val] bool.
  """

  train_idx: jax.Array
  train_mask: jax.Array
  val_idx: jax.Array
  val_mask: jax.Array


class Batch(NamedTuple):
  """A training batch.

  Attributes:
    data: pytree of examples, leaves [B, ...].
    mask: [B] bool, the real examples.
  """

  data: PyTree
  mask: jax.Array


MODES = ('min', 'max')
# jax.default_matmul_precision's names for float32 inputs (full, TF32, one bf16 pass).
MATMUL_PRECISIONS = ('float32', 'tensorfloat32', 'bfloat16')
# XLA options of every stage's `init` program. It runs once per stage, and its
# parameter draws (threefry and the initializers) compile about 10x faster at
# the LLVM backend's -O0 than at XLA:CPU's default -O3 (the sEMG BiLSTM: 3 s
# against 30 s on the shared 2-core CPU), with bit-identical variables
# (tests/test_fewshot_stage.py compares both). Training programs keep XLA's
# defaults.
INIT_COMPILER_OPTIONS = {'xla_backend_optimization_level': 0}


@dataclasses.dataclass(frozen=True)
class FitConfig:
  """Static settings of a training run.

  Attributes:
    num_epochs: maximum number of epochs.
    batch_size: examples per step.
    steps_per_epoch: None for one pass over each run's training examples per
      epoch; an int for that many full batches (see the module docstring).
    patience: epochs without improvement of the monitored metric before a run stops.
    monitor: the validation metric early stopping watches (a key of eval_fn's dict).
    mode: 'min' (a loss) or 'max' (a score such as UAR).
    smoothing: early stopping watches the exponential moving average
      s_e = smoothing * s_{e-1} + (1 - smoothing) * v_e of the monitored
      metric v (s_1 = v_1); 0 watches the raw metric. With a small
      validation set the raw metric jumps from epoch to epoch, and a lucky
      dip would otherwise pick the best epoch and end training early.
    learning_rate: step size of the optimizer the protocols build for this
      stage (the trainer itself takes any optax transformation).
    matmul_precision: precision of every float32 matmul and convolution the
      training program traces (`jax.default_matmul_precision`): 'float32'
      (default) computes them in full float32 on every backend; 'tensorfloat32'
      or 'bfloat16' allow the faster reduced-precision units of NVIDIA GPUs
      and TPUs. JAX's own default on those accelerators is reduced precision
      (TF32 on NVIDIA since Ampere: 10 mantissa bits), whose rounding differs
      between the batched kernels of vmapped runs and the kernels of a single
      run; Adam's first steps are about sign(g), so such differences in
      near-zero gradients become whole steps and early stopping may pick
      another epoch (vmapped and sequential seeds differed by up to 0.10 in
      best validation loss on a GPU). With 'float32' only the reduction order
      differs, and vmapped, sequential and sharded runs agree to float32
      rounding (tested on CPU, see tests/test_fewshot_train_precision.py).
  """

  num_epochs: int = 50
  batch_size: int = 32
  steps_per_epoch: int | None = None
  patience: int = 10
  monitor: str = 'val_loss'
  mode: str = 'min'
  smoothing: float = 0.0
  learning_rate: float = 1e-3
  matmul_precision: str = 'float32'

  def __post_init__(self):
    for name in ('num_epochs', 'batch_size', 'patience'):
      checks.check_int(f'FitConfig.{name}', getattr(self, name))
    if self.steps_per_epoch is not None:
      checks.check_int('FitConfig.steps_per_epoch', self.steps_per_epoch)
    checks.check_choice('FitConfig.mode', self.mode, MODES)
    checks.check_positive_float('FitConfig.learning_rate', self.learning_rate)
    if not 0.0 <= checks.check_positive_float('FitConfig.smoothing', self.smoothing, True) < 1:
      raise ValueError(f'FitConfig.smoothing must lie in [0, 1), got {self.smoothing}.')
    checks.check_choice('FitConfig.matmul_precision', self.matmul_precision, MATMUL_PRECISIONS)

  def steps(self, max_train: int) -> int:
    """Optimizer steps per epoch for runs of at most `max_train` training examples."""
    if self.steps_per_epoch is not None:
      return self.steps_per_epoch
    return max(1, math.ceil(max_train / self.batch_size))


# ---------------------------------------------------------------------------
# Losses and model application.


def row_chunks(idx, max_chunk: int):
  """Row indices [n] as [K, size] chunks for `lax.map`, padded as little as `max_chunk` allows.

  K = ceil(n / max_chunk) chunks of size = ceil(n / K) rows: n = 88 rows take
  one chunk of 88 (not 256), n = 300 two of 150. The tail is padded with
  row 0; the caller keeps the first n results (`.reshape(-1, ...)[:n]`).
  NumPy indices give NumPy chunks (nothing compiles), others jnp.
  """
  n = idx.shape[0]
  size = -(-n // max(1, -(-n // max_chunk))) if n else 1
  xp = np if isinstance(idx, np.ndarray) else jnp  # host indices stay on the host
  return xp.pad(idx, (0, (-n) % size)).reshape(-1, size)


def masked_mean(values, mask=None):
  """Mean of `values` [B] over the real entries of `mask` [B] (0 when there are none)."""
  if mask is None:
    return jnp.mean(values)
  w = mask.astype(values.dtype)
  return jnp.sum(values * w) / jnp.maximum(jnp.sum(w), 1.0)


def cross_entropy_loss(logits, labels, mask=None):
  """Mean categorical cross-entropy over the real examples.

  Args:
    logits: [batch, classes] float32.
    labels: [batch] int32 in [0, classes).
    mask: optional [batch] bool of real examples.

  Returns:
    [] float32.
  """
  return masked_mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels), mask)


def apply_model(model, params, batch_stats, *args, train: bool, method=None, rngs=None, **kwargs):
  """Runs a Flax model, returning `(output, new_batch_stats)`.

  In training mode BatchNorm uses and updates batch statistics; otherwise the
  running averages are used and returned unchanged.
  """
  variables = {'params': params}
  if batch_stats:
    variables['batch_stats'] = batch_stats
  if train and batch_stats:
    out, updates = model.apply(
      variables, *args, train=True, method=method, rngs=rngs, mutable=['batch_stats'], **kwargs
    )
    return out, updates['batch_stats']
  return model.apply(variables, *args, train=train, method=method, rngs=rngs, **kwargs), batch_stats


# ---------------------------------------------------------------------------
# State.


def init_train_state(variables, tx: optax.GradientTransformation) -> TrainState:
  """A fresh `TrainState` from Flax variables `{'params', ['batch_stats']}`."""
  params = variables['params']
  return TrainState(
    params=params,
    batch_stats=variables.get('batch_stats', {}),
    opt_state=tx.init(params),
    step=jnp.zeros((), jnp.int32),
  )


def init_fit_state(variables, tx: optax.GradientTransformation, mode: str = 'min') -> FitState:
  """A fresh `FitState` (empty early-stopping bookkeeping) from Flax variables.

  Args:
    variables: `{'params', ['batch_stats']}`, or an existing `TrainState`.
    tx: the optimizer.
    mode: the monitored metric's direction ('min' starts the best at +inf).
  """
  train = variables if isinstance(variables, TrainState) else init_train_state(variables, tx)
  worst = jnp.inf if checks.check_choice('mode', mode, MODES) == 'min' else -jnp.inf
  return FitState(
    train=train,
    best_params=train.params,
    best_batch_stats=train.batch_stats,
    best_metric=jnp.asarray(worst, jnp.float32),
    best_epoch=jnp.zeros((), jnp.int32),
    bad_epochs=jnp.zeros((), jnp.int32),
    epoch=jnp.zeros((), jnp.int32),
    nonfinite=jnp.zeros((), bool),
    smoothed=jnp.asarray(jnp.nan, jnp.float32),
  )


def best_variables(fs: FitState) -> dict:
  """`{'params', 'batch_stats'}` of the best epoch (batched over runs if fs is)."""
  return {'params': fs.best_params, 'batch_stats': fs.best_batch_stats}


# ---------------------------------------------------------------------------
# Splits and batches.


def _pad_rows(rows, name: str, allow_empty: bool):
  rows = [np.asarray(r, np.int64).reshape(-1) for r in rows]
  if not rows:
    raise ValueError(f'{name}: no runs given.')
  if not allow_empty and min(len(r) for r in rows) == 0:
    raise ValueError(f'{name}: run {[len(r) for r in rows].index(0)} has no example.')
  width = max(1, max(len(r) for r in rows))
  idx = np.zeros((len(rows), width), np.int32)
  mask = np.zeros((len(rows), width), bool)
  for i, r in enumerate(rows):
    idx[i, : len(r)] = r
    mask[i, : len(r)] = True
  return idx, mask


def make_split(train_rows, val_rows=None, num_examples: int | None = None) -> Split:
  """A batched `Split` from per-run index lists of any lengths.

  Args:
    train_rows: R sequences of training example indices (each non-empty).
    val_rows: R sequences of validation indices (may be empty), or None.
    num_examples: if given, every index must lie in [0, num_examples).

  Returns:
    `Split` with leading [R] axes, padded to the longest run, masks marking
    the real entries.
  """
  train_idx, train_mask = _pad_rows(train_rows, 'train_rows', allow_empty=False)
  if val_rows is None:
    val_rows = [[] for _ in train_rows]
  if len(val_rows) != len(train_rows):
    raise ValueError(f'{len(train_rows)} training runs but {len(val_rows)} validation runs.')
  val_idx, val_mask = _pad_rows(val_rows, 'val_rows', allow_empty=True)
  split = Split(train_idx, train_mask, val_idx, val_mask)
  if num_examples is not None:
    validate_split(split, num_examples)
  return jax.tree.map(jnp.asarray, split)


def validate_split(split: Split, num_examples: int) -> None:
  """Host-side checks of a (possibly batched) `Split` before tracing."""
  for name in ('train', 'val'):
    idx = np.asarray(getattr(split, f'{name}_idx'))
    mask = np.asarray(getattr(split, f'{name}_mask'))
    if idx.shape != mask.shape:
      raise ValueError(f'{name}_idx {idx.shape} and {name}_mask {mask.shape} differ in shape.')
    if not np.issubdtype(idx.dtype, np.integer):
      raise ValueError(f'{name}_idx must be integer indices, got {idx.dtype}.')
    if idx.size and (idx.min() < 0 or idx.max() >= num_examples):
      raise ValueError(f'{name}_idx out of range [0, {num_examples}): [{idx.min()}, {idx.max()}].')
    if mask.size and np.any(mask[..., 1:] & ~mask[..., :-1]):
      raise ValueError(f'{name}_mask must mark a prefix (valid entries first).')
  if not np.all(np.asarray(split.train_mask).any(axis=-1)):
    raise ValueError('every run needs at least one training example.')


def epoch_positions(key, train_mask, steps: int, batch_size: int, cycle: bool):
  """Positions into a run's `train_idx` for one epoch, and their mask.

  A uniformly random permutation of the valid positions, read in order;
  `cycle` wraps around it (every batch full), otherwise positions past the
  valid ones are masked.

  Returns:
    (positions, mask): [steps, batch_size] int32 and bool.
  """
  n_train = jnp.sum(train_mask)
  # Invalid positions sort last, so the first n_train entries permute the valid ones.
  order = jnp.argsort(jnp.where(train_mask, jax.random.uniform(key, train_mask.shape), 2.0))
  j = jnp.arange(steps * batch_size)
  if cycle:
    pos, mask = order[j % jnp.maximum(n_train, 1)], jnp.broadcast_to(n_train > 0, j.shape)
  else:
    pos, mask = order[jnp.minimum(j, order.shape[0] - 1)], j < n_train
  return pos.reshape(steps, batch_size), mask.reshape(steps, batch_size)


def supervised_batches(key, data, split: Split, config: FitConfig) -> Batch:
  """One epoch of batches gathered from `data`: leaves [steps, batch, ...], mask [steps, batch]."""
  steps = config.steps(split.train_idx.shape[-1])
  pos, mask = epoch_positions(
    key, split.train_mask, steps, config.batch_size, config.steps_per_epoch is not None
  )
  idx = split.train_idx[pos]
  return Batch(jax.tree.map(lambda a: a[idx], data), mask)


# ---------------------------------------------------------------------------
# Step and epoch loop.


def make_train_step(loss_fn: Callable, tx: optax.GradientTransformation):
  """Builds `step(state, key, batch) -> (state, {'loss': []})`.

  Args:
    loss_fn: `loss_fn(params, batch_stats, key, batch) -> (loss, new_batch_stats)`.
    tx: the optimizer (e.g. an `optax.multi_transform` that freezes layers).

  Returns:
    A pure function; jit it, or a loop around it. A batch with no real
    example (`batch.mask` all False) leaves the state unchanged.
  """

  def step(state: TrainState, key, batch: Batch):
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (loss, batch_stats), grads = grad_fn(state.params, state.batch_stats, key, batch)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    new = TrainState(params, batch_stats, opt_state, state.step + 1)
    keep = jnp.any(batch.mask)
    new = jax.tree.map(lambda n, o: jnp.where(keep, n, o), new, state)
    return new, {'loss': loss, 'real': keep}

  return step


def _stopped(fs: FitState, patience: int):
  return (fs.bad_epochs >= patience) | fs.nonfinite


def make_fit(
  loss_fn: Callable,
  tx: optax.GradientTransformation,
  config: FitConfig,
  eval_fn: Callable | None = None,
  batches_fn: Callable = supervised_batches,
):
  """Builds the epoch loop of one run.

  Args:
    loss_fn: see `make_train_step`.
    tx: the optimizer.
    config: `FitConfig`.
    eval_fn: `eval_fn(params, batch_stats, data, split) -> {name: []}`
      validation metrics, one of them `config.monitor`; None trains without
      validation (the final model is kept), and so does a run whose split has
      no validation example (`split.val_mask` all False).
    batches_fn: `batches_fn(key, data, split, config) -> Batch` with a
      leading [steps] axis (one epoch); default `supervised_batches`.

  Returns:
    `fit(fit_state, key, data, split, max_epochs, *, num_epochs) -> (fit_state,
    history)`: runs epochs `fit_state.epoch ..` until `num_epochs` more have
    run, `max_epochs` (a traced int) is reached or the run stops. `history`
    maps 'train_loss' and every validation metric to [num_epochs] float32,
    NaN for epochs that did not run.
  """
  step = make_train_step(loss_fn, tx)
  better = jnp.less if config.mode == 'min' else jnp.greater

  def one_epoch(fs: FitState, key, data, split):
    key_batches, key_steps = jax.random.split(key)
    batches = batches_fn(key_batches, data, split, config)
    steps = jax.tree.leaves(batches)[0].shape[0]

    def body(state, inputs):
      i, batch = inputs
      return step(state, jax.random.fold_in(key_steps, i), batch)

    train, out = jax.lax.scan(body, fs.train, (jnp.arange(steps), batches))
    real = out['real']
    finite = jnp.all(jnp.isfinite(jnp.where(real, out['loss'], 0.0)))
    metrics = {'train_loss': masked_mean(out['loss'], real)}
    if eval_fn is None:
      value, improved, smoothed = fs.best_metric, finite, fs.smoothed
    else:
      metrics.update(eval_fn(train.params, train.batch_stats, data, split))
      raw = metrics[config.monitor].astype(jnp.float32)
      a = config.smoothing
      smoothed = jnp.where(jnp.isnan(fs.smoothed), raw, a * fs.smoothed + (1 - a) * raw)
      # A run with no validation example trains as without eval_fn (its last
      # finite epoch kept, no early stop), so it can share a validated program.
      val_mask = getattr(split, 'val_mask', None)
      validated = True if val_mask is None else jnp.any(val_mask)
      smoothed = jnp.where(validated, smoothed, fs.smoothed)
      value = jnp.where(validated, smoothed, fs.best_metric)
      improved = jnp.where(validated, better(value, fs.best_metric), True) & finite
    pick = lambda new, old: jax.tree.map(lambda a, b: jnp.where(improved, a, b), new, old)
    epoch = fs.epoch + 1
    fs = FitState(
      train=train,
      best_params=pick(train.params, fs.best_params),
      best_batch_stats=pick(train.batch_stats, fs.best_batch_stats),
      best_metric=jnp.where(improved, value, fs.best_metric),
      best_epoch=jnp.where(improved, epoch, fs.best_epoch),
      bad_epochs=jnp.where(improved, 0, fs.bad_epochs + 1),
      epoch=epoch,
      nonfinite=fs.nonfinite | ~finite,
      smoothed=smoothed,
    )
    return fs, metrics

  def metric_names(fs, data, split):
    if eval_fn is None:
      return ['train_loss']
    names = jax.eval_shape(eval_fn, fs.train.params, fs.train.batch_stats, data, split).keys()
    if config.monitor not in names:
      raise ValueError(
        f'eval_fn returns {sorted(names)}, not the monitored metric {config.monitor!r} '
        '(FitConfig.monitor).'
      )
    return ['train_loss', *names]

  def fit(fs: FitState, key, data, split: Split, max_epochs=None, *, num_epochs: int):
    # Traced under the configured precision: every dot of the step and the
    # validation function (see FitConfig.matmul_precision).
    with jax.default_matmul_precision(config.matmul_precision):
      return _fit(fs, key, data, split, max_epochs, num_epochs=num_epochs)

  def _fit(fs: FitState, key, data, split: Split, max_epochs=None, *, num_epochs: int):
    history = {
      k: jnp.full((num_epochs,), jnp.nan, jnp.float32) for k in metric_names(fs, data, split)
    }
    end = jnp.minimum(fs.epoch + num_epochs, config.num_epochs)
    if max_epochs is not None:
      end = jnp.minimum(end, max_epochs)
    first = fs.epoch

    def cond(carry):
      fs, _ = carry
      return (fs.epoch < end) & ~_stopped(fs, config.patience)

    def body(carry):
      fs, history = carry
      i = fs.epoch - first
      fs, metrics = one_epoch(fs, jax.random.fold_in(key, fs.epoch), data, split)
      history = {k: h.at[i].set(metrics[k].astype(jnp.float32)) for k, h in history.items()}
      return fs, history

    return jax.lax.while_loop(cond, body, (fs, history))

  return fit


class Stage(NamedTuple):
  """One training setting, built once and shared by every call that uses it.

  Attributes:
    tx: the optimizer (Adam at `FitConfig.learning_rate` unless given).
    fit: the epoch loop (`make_fit`); `fit_runs` caches its compiled program on it.
    init: `init(keys [R], *example) -> FitState [R]`, vmapped over the keys;
      `example` are the arrays the model is initialised on (no run axis).
      At top level it runs a program compiled at `INIT_COMPILER_OPTIONS`;
      inside a trace (a caller's jit, `jax.eval_shape`) a plain jit.
  """

  tx: optax.GradientTransformation
  fit: Callable
  init: Callable


@functools.lru_cache(maxsize=64)
def adam(learning_rate: float) -> optax.GradientTransformation:
  """`optax.adam(learning_rate)`, one object per rate (so stages built with it are shared)."""
  return optax.adam(checks.check_positive_float('learning_rate', learning_rate))


def _default_variables(model, key, *example):
  return model.init(key, *example)


def _top_level() -> bool:
  """True outside every JAX trace (jit, vmap, eval_shape): only a top-level jit takes compiler options.

  `trace_state_clean` is internal to JAX (present in 0.10 and 0.12); without
  it every init compiles at XLA's defaults, which is slower, not wrong.
  """
  clean = getattr(jax_core, 'trace_state_clean', None)
  return bool(clean is not None and clean())


@functools.lru_cache(maxsize=128)
def make_stage(
  model,
  config: FitConfig,
  loss: Callable,
  evaluate: Callable | None = None,
  *,
  tx: optax.GradientTransformation | None = None,
  variables: Callable = _default_variables,
  batches_fn: Callable = supervised_batches,
) -> Stage:
  """The fit, init and optimizer of one model and setting, built once (cached).

  Every paper's protocol builds its training stages here, so a stage that
  recurs (a seed, a fold, a table cell with the same model and settings)
  reuses the same `fit` object and hence the same compiled program.

  Args:
    model: the Flax module (hashable: a frozen dataclass).
    config: `FitConfig`; `config.learning_rate` sets the default optimizer.
    loss: `loss(model) -> loss_fn` (see `make_train_step`); a module-level
      factory, so that it is the same object on every call (the cache key).
    evaluate: `evaluate(model) -> eval_fn` (see `make_fit`), or None to train
      without validation.
    tx: an optimizer to use instead of `adam(config.learning_rate)` (e.g. a
      masked Adam for transfer); pass the same object to share the stage.
    variables: `variables(model, key, *example) -> {'params', ['batch_stats']}`;
      default `model.init(key, *example)`.
    batches_fn: see `make_fit`.

  Returns:
    `Stage(tx, fit, init)`.
  """
  tx = adam(config.learning_rate) if tx is None else tx
  fit = make_fit(loss(model), tx, config, None if evaluate is None else evaluate(model), batches_fn)
  return Stage(tx, fit, _stage_init(model, tx, config.mode, variables))


@functools.lru_cache(maxsize=128)
def _stage_init(model, tx, mode: str, variables: Callable) -> Callable:
  """`Stage.init`, built once per (model, optimizer, mode, variables): stages that
  differ only in their loop settings or validation share the compiled init."""

  def one(key, *example):
    return init_fit_state(variables(model, key, *example), tx, mode)

  def init(keys, *example):
    return jax.vmap(one, in_axes=(0,) + (None,) * len(example))(keys, *example)

  fast, plain = jax.jit(init, compiler_options=INIT_COMPILER_OPTIONS), jax.jit(init)

  @functools.wraps(init)
  def init_runs(keys, *example):
    return (fast if _top_level() else plain)(keys, *example)

  return init_runs


RUNS_AS = ('vmap', 'map', 'loop')


def _mapped(fn):
  """`fn` over the leading run axis, one run after another inside the program (`lax.map`)."""

  def over_runs(fit_states, keys, data, split, limit):
    return jax.lax.map(
      lambda run: fn(run[0], run[1], data, run[2], run[3]), (fit_states, keys, split, limit)
    )

  return over_runs


@functools.lru_cache(maxsize=64)
def _compiled(fit, num_epochs: int, runs_as: str, mesh=None):
  fn = functools.partial(fit, num_epochs=num_epochs)
  if runs_as == 'vmap':
    fn = jax.vmap(fn, in_axes=(0, 0, None, 0, 0))
  elif runs_as == 'map':
    fn = _mapped(fn)
  if mesh is not None:
    # Each device trains its block of runs alone (no collective inside the
    # epoch loop: a device's while_loop ends when its own runs have stopped).
    runs, shared = sharding.P(sharding.AXIS), sharding.P()
    fn = jax.shard_map(
      fn, mesh=mesh, in_specs=(runs, runs, shared, runs, runs), out_specs=runs, check_vma=False
    )
  return jax.jit(fn)


def fit_runs(
  fit,
  fit_states: FitState,
  keys,
  data,
  split: Split,
  *,
  num_epochs: int,
  max_epochs=None,
  runs_as: str = 'vmap',
  shard: bool = True,
):
  """Trains R runs of one `make_fit` loop: one vmapped or mapped jitted program, or run after run.

  With several devices (`jax.devices()`, all processes') the vmapped runs are
  split over all of them (`fewshot.sharding`): R is padded to a multiple of
  the device count and each device trains its block; the result is the
  one-device result (same per-run programs), its arrays spread over the
  devices. With one device the plain vmapped program runs.

  Args:
    fit: a loop from `make_fit` (define it once per setting: the compiled
      program is cached on this function object and `num_epochs`).
    fit_states: `FitState` with a leading [R] axis.
    keys: [R] PRNG keys.
    data: the shared example pytree (no run axis).
    split: `Split` with a leading [R] axis.
    num_epochs: epochs to run in this call (static).
    max_epochs: None (the config's num_epochs), an int, or [R] ints: the
      epoch at which each run ends.
    runs_as: how the R runs are laid out, all with equal results up to float
      rounding: 'vmap', one program batched over the runs; 'map', one program
      that trains the runs one after another (`lax.map` over the run axis:
      faster where the batched form is slow, e.g. convolutions with one kernel
      per run, which XLA:CPU runs as slow grouped convolutions); 'loop', the
      single-run program called for each run in turn from Python (for
      comparisons). Sharding over devices applies to 'vmap' only.
    shard: split the runs over all devices when there are several (True), or
      keep them on the default device (False).

  Returns:
    `(fit_states, history)` with leading [R] axes. At top level the call
    waits for its result and books its seconds as 'train' in the open
    `fewshot.timing` stages; inside `timing.estimating()` it trains only a
    probe of a few epochs and books the full call's estimated seconds.
  """
  num_epochs = checks.check_int('num_epochs', num_epochs)
  if runs_as not in RUNS_AS:
    raise ValueError(f'runs_as must be one of {RUNS_AS}, got {runs_as!r}')
  runs = np.shape(split.train_idx)[0]
  limit = np.iinfo(np.int32).max if max_epochs is None else max_epochs
  # On the host when concrete: an eager jnp broadcast would compile a second program.
  xp = np if checks.is_concrete(limit) else jnp
  limit = xp.broadcast_to(xp.asarray(limit, xp.int32), (runs,))
  concrete = checks.is_concrete(*jax.tree.leaves((fit_states, keys, data, split, limit)))
  mesh = sharding.device_mesh() if runs_as == 'vmap' and shard and concrete else None
  fn = _compiled(fit, num_epochs, runs_as, mesh)

  def call(limit):
    if mesh is not None:
      size = sharding.padded_size(runs, mesh)
      args = sharding.shard_items((fit_states, keys), mesh, size)
      sharded_split, limit = sharding.shard_items((split, limit), mesh, size)
      out = fn(*args, sharding.replicate(data, mesh), sharded_split, limit)
      return sharding.take_items(out, runs)
    if runs_as != 'loop':
      return fn(fit_states, keys, data, split, limit)
    take = lambda tree, r: jax.tree.map(lambda a: a[r], tree)
    outs = [fn(take(fit_states, r), keys[r], data, take(split, r), limit[r]) for r in range(runs)]
    return jax.tree.map(lambda *xs: jnp.stack(xs), *outs)

  if not concrete:  # traced by a caller's jit: nothing to time
    return call(limit)
  program = None
  if timing.is_estimating():  # the probes' key: the program and its arguments' shapes
    leaves = jax.tree.leaves((fit_states, keys, data, split))
    program = (fn, runs_as, tuple((np.shape(a), str(getattr(a, 'dtype', type(a)))) for a in leaves))
  return timing.train(call, limit, num_epochs, fit_states.epoch, program)


def check_finite(fs: FitState, what: str = 'training') -> None:
  """Host-side fail-fast on NaN/inf training losses (checked after a fit, not per step)."""
  bad = np.asarray(fs.nonfinite)
  if bad.any():
    runs = np.flatnonzero(bad.reshape(-1)).tolist()
    raise FloatingPointError(
      f'{what}: the training loss became NaN or inf in run(s) {runs}; lower the learning rate or '
      'check the inputs for NaN/inf.'
    )
