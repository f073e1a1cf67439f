"""Layers shared by the papers' models: a fast bidirectional LSTM, a masked batch norm.

`BiLSTM` computes exactly what Flax's `nn.Bidirectional(nn.RNN(
nn.OptimizedLSTMCell(H)), nn.RNN(nn.OptimizedLSTMCell(H)))` computes, with the
same parameters (names, shapes, initialisers, hence the same values from the
same key), so checkpoints of either load into the other. It is organised for
speed and for short compile times:

* the input projections x W_i of all time steps and both directions are one
  matmul before the recurrence (they do not depend on the state);
* both directions advance in one `lax.scan`: the backward direction reads its
  inputs reversed within each sequence, so step t of the scan is time t of
  the forward direction and time L - 1 - t of the backward one;
* the four gates of both directions are one batched matmul per step
  (h [2, B, H] times W_h [2, H, 4H]);
* the backward pass is written by hand (`jax.custom_vjp`): the reverse loop
  carries only (dh, dc) and emits the gate gradients, and the recurrent
  kernel's gradient is one matmul over all steps afterwards, instead of a
  second matmul and a carried sum in every step of autodiff's reverse scan.
  The gradients equal autodiff of Flax's layer (tests/test_fewshot_models.py).

Padded sequences: with `lengths`, steps at or after a sequence's length leave
its state unchanged and output zeros, and the backward direction starts at
the sequence's last valid step, so padding changes no output.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

GATES = ('i', 'f', 'g', 'o')  # input, forget, cell candidate, output (flax's order)


class _DenseParams(nn.Module):
  """The parameters of one `nn.Dense` (as Flax's LSTM cells create them), unapplied."""

  features: int
  use_bias: bool
  kernel_init: nn.initializers.Initializer

  @nn.compact
  def __call__(self, in_features: int):
    kernel = self.param('kernel', self.kernel_init, (in_features, self.features))
    bias = (
      self.param('bias', nn.initializers.zeros_init(), (self.features,)) if self.use_bias else None
    )
    return kernel, bias


class _LSTMCellParams(nn.Module):
  """`nn.OptimizedLSTMCell`'s parameters, fused: W_i [D, 4H], W_h [H, 4H], b [4H] (gates i, f, g, o)."""

  features: int

  @nn.compact
  def __call__(self, in_features: int):
    h = self.features
    w_i = [
      _DenseParams(h, False, nn.initializers.lecun_normal(), name=f'i{g}')(in_features)[0]
      for g in GATES
    ]
    hidden = [_DenseParams(h, True, nn.initializers.orthogonal(), name=f'h{g}')(h) for g in GATES]
    w_h = jnp.concatenate([k for k, _ in hidden], axis=-1)
    b = jnp.concatenate([b for _, b in hidden], axis=-1)
    return jnp.concatenate(w_i, axis=-1), w_h, b


def _reverse_index(batch: int, time: int, lengths):
  """[B, T] index that reverses each sequence within its length (an involution), and the [B, T] mask."""
  t = jnp.arange(time)
  if lengths is None:
    return jnp.broadcast_to(time - 1 - t, (batch, time)), jnp.ones((batch, time), bool)
  lengths = jnp.asarray(lengths)[:, None]
  valid = t < lengths
  return jnp.where(valid, lengths - 1 - t, t), valid


def _gates(z):
  """Gate activations from pre-activations z [..., 4H]: sigma(i), sigma(f), tanh(g), sigma(o)."""
  i, f, g, o = jnp.split(z, 4, axis=-1)
  return jax.nn.sigmoid(i), jax.nn.sigmoid(f), jnp.tanh(g), jax.nn.sigmoid(o)


def _recurrence_scan(proj, w_h, keep, save: bool):
  """The LSTM recurrence of both directions; with `save`, also what the backward pass reads."""

  def step(carry, inputs):
    h, c = carry  # (2, B, H) each: forward and backward state
    z, m = inputs  # (2, B, 4H), (B,)
    i, f, g, o = _gates(z + jnp.einsum('dbh,dhg->dbg', h, w_h))  # one matmul: 2 directions, 4 gates
    c_new = f * c + i * g
    tanh_c = jnp.tanh(c_new)
    y = m[None, :, None] * (o * tanh_c)  # padding outputs zeros ...
    m = m[None, :, None] > 0
    h_next, c_next = jnp.where(m, o * tanh_c, h), jnp.where(m, c_new, c)  # ... and keeps the state
    return (h_next, c_next), (y, (h, c, i, f, g, o, tanh_c) if save else None)

  zeros = jnp.zeros(proj.shape[1:-1] + (w_h.shape[1],), proj.dtype)
  (h, _), (ys, saved) = jax.lax.scan(step, (zeros, zeros), (proj, keep))
  return ys, h, saved


@jax.custom_vjp
def _recurrence(proj, w_h, keep):
  """Runs the recurrence.

  Args:
    proj: [T, 2, B, 4H] input projections x W_i + b of both directions.
    w_h: [2, H, 4H] recurrent kernels.
    keep: [T, B] float 1 for valid steps, 0 for padding.

  Returns:
    ys [T, 2, B, H] outputs (zero at padding) and h [2, B, H] the final states.
  """
  ys, h, _ = _recurrence_scan(proj, w_h, keep, save=False)
  return ys, h


def _recurrence_fwd(proj, w_h, keep):
  ys, h, saved = _recurrence_scan(proj, w_h, keep, save=True)
  return (ys, h), (w_h, keep, saved)


def _recurrence_bwd(res, cotangents):
  """Backpropagation through time with the weight gradient outside the loop.

  Autodiff of the scan would accumulate dW_h += h_{t-1}^T dz_t inside the
  reverse loop (a second matmul per step, and a carried [2, H, 4H] sum);
  here the loop only carries (dh, dc) and emits dz_t, and dW_h is one
  matmul over all steps afterwards. dz_t is also the cotangent of proj.
  """
  w_h, keep, (h_prev, c_prev, i, f, g, o, tanh_c) = res
  d_ys, d_h_last = cotangents

  def step(carry, inputs):
    dh, dc = carry  # gradients w.r.t. the state after step t
    dy, m, c0, i, f, g, o, tanh_c = inputs
    m = m[None, :, None]
    dh_new = m * (dh + dy)  # the step's own h (valid steps only)
    dc_new = m * dc + dh_new * o * (1.0 - tanh_c * tanh_c)
    dz = jnp.concatenate(
      [
        dc_new * g * i * (1.0 - i),
        dc_new * c0 * f * (1.0 - f),
        dc_new * i * (1.0 - g * g),
        dh_new * tanh_c * o * (1.0 - o),
      ],
      axis=-1,
    )  # (2, B, 4H)
    dh_prev = (1.0 - m) * dh + jnp.einsum('dbg,dhg->dbh', dz, w_h)
    dc_prev = (1.0 - m) * dc + dc_new * f
    return (dh_prev, dc_prev), dz

  zeros = jnp.zeros_like(d_h_last)
  _, dz = jax.lax.scan(
    step, (d_h_last, zeros), (d_ys, keep, c_prev, i, f, g, o, tanh_c), reverse=True
  )
  d_w_h = jnp.einsum('tdbh,tdbg->dhg', h_prev, dz)
  return dz, d_w_h, jnp.zeros_like(keep)


_recurrence.defvjp(_recurrence_fwd, _recurrence_bwd)


class BiLSTM(nn.Module):
  """One bidirectional LSTM layer over `[batch, time, features]`.

  Attributes:
    features: LSTM units per direction.
    return_sequences: if True return `[batch, time, 2 * features]` (forward
      then backward units, in time order), else the final states of both
      directions `[batch, 2 * features]` (forward after the last valid step,
      backward after the first step).
  """

  features: int
  return_sequences: bool = True

  @nn.compact
  def __call__(self, x, lengths=None):
    """Runs both directions.

    Args:
      x: [batch, time, in_features] float.
      lengths: optional [batch] int valid steps per sequence (the rest is padding).

    Returns:
      [batch, time, 2H] or [batch, 2H] (see the class docstring).
    """
    batch, time, in_features = x.shape
    params = (
      _LSTMCellParams(self.features, name='OptimizedLSTMCell_0')(in_features),  # forward
      _LSTMCellParams(self.features, name='OptimizedLSTMCell_1')(in_features),  # backward
    )
    if lengths is None:
      x_rev = x[:, ::-1]
    else:
      rev, valid = _reverse_index(batch, time, lengths)
      x_rev = jnp.take_along_axis(x, rev[..., None], axis=1)
    w_i, w_h, b = (jnp.stack(p) for p in zip(*params))  # (2, D, 4H), (2, H, 4H), (2, 4H)
    # Input projections of every step and both directions, outside the recurrence.
    proj = jnp.einsum('dbtk,dkg->tdbg', jnp.stack([x, x_rev]), w_i) + b[:, None]  # (T, 2, B, 4H)

    keep = jnp.ones((time, batch), proj.dtype) if lengths is None else valid.T.astype(proj.dtype)
    ys, h = _recurrence(proj, w_h, keep)
    if not self.return_sequences:
      return jnp.concatenate([h[0], h[1]], axis=-1)  # (B, 2H)
    forward = jnp.swapaxes(ys[:, 0], 0, 1)  # (B, T, H)
    backward = jnp.swapaxes(ys[:, 1], 0, 1)  # in reversed time
    if lengths is None:
      backward = backward[:, ::-1]
    else:
      backward = jnp.take_along_axis(backward, rev[..., None], axis=1)
    return jnp.concatenate([forward, backward], axis=-1)


class MaskedBatchNorm(nn.Module):
  """Batch norm per channel (last axis) over all other axes, ignoring padded examples.

  Training pads batches to a common shape across vmapped runs; the padding
  must not enter the batch statistics, so they are means weighted by the
  example mask. Training uses the masked batch mean and biased variance and
  updates running statistics with momentum 0.9 (PyTorch's 0.1); evaluation
  uses the running statistics. Works for [B, T, C] sequences and
  [B, H, W, C] images alike.
  """

  momentum: float = 0.9
  epsilon: float = 1e-5

  @nn.compact
  def __call__(self, x, mask, train: bool):
    """x: [B, ..., C]; mask: [B] bool real examples. Returns x normalised."""
    c = x.shape[-1]
    scale = self.param('scale', nn.initializers.ones, (c,))
    bias = self.param('bias', nn.initializers.zeros, (c,))
    ra_mean = self.variable('batch_stats', 'mean', jnp.zeros, (c,))
    ra_var = self.variable('batch_stats', 'var', jnp.ones, (c,))
    if train:
      axes = tuple(range(x.ndim - 1))
      w = mask.astype(x.dtype).reshape((-1,) + (1,) * (x.ndim - 1))  # (B, 1, ..., 1)
      per_example = 1
      for d in x.shape[1:-1]:
        per_example *= d
      count = jnp.maximum(w.sum() * per_example, 1.0)
      mean = (x * w).sum(axis=axes) / count
      var = (jnp.square(x - mean) * w).sum(axis=axes) / count
      if not self.is_initializing():
        ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
        ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var
    else:
      mean, var = ra_mean.value, ra_var.value
    return (x - mean) * jax.lax.rsqrt(var + self.epsilon) * scale + bias


class PatchConv(nn.Module):
  """A 2-D convolution (cross-correlation) as image patches times a kernel matrix.

  Same parameters as `nn.Conv(features, (k, k), padding=...)` ('kernel'
  [k, k, C, F], 'bias' [F]) and the same output. Under `jax.vmap` over runs
  (one kernel per LOSO fold) `nn.Conv` becomes a grouped convolution, which
  XLA:CPU compiles and runs slowly; here only the patch extraction is a
  convolution (with a fixed identity kernel, shared by all runs) and the
  learned part is a matmul, which vmaps into a batched matmul.

  Attributes:
    features: output channels F.
    kernel_size: k (square kernels).
    padding: 'SAME', 'VALID' or an int of zero padding on every side.
  """

  features: int
  kernel_size: int
  padding: str | int = 'SAME'

  @nn.compact
  def __call__(self, x):
    """x: [B, H, W, C] -> [B, H', W', F]."""
    k, c = self.kernel_size, x.shape[-1]
    kernel = self.param('kernel', nn.initializers.lecun_normal(), (k, k, c, self.features))
    bias = self.param('bias', nn.initializers.zeros, (self.features,))
    pad = self.padding if isinstance(self.padding, str) else [(self.padding, self.padding)] * 2
    patches = jax.lax.conv_general_dilated_patches(
      x, (k, k), (1, 1), pad, dimension_numbers=('NHWC', 'HWIO', 'NHWC')
    )  # (B, H', W', C * k * k), channel-major
    w = jnp.transpose(kernel, (2, 0, 1, 3)).reshape(c * k * k, self.features)
    return patches @ w + bias
