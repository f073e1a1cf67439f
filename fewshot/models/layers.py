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
* the four gates of a direction are one matmul h W_h ([H, 4H]), the two
  directions one batched matmul.

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
    # Input projections of every step, outside the recurrence: (T, B, 4H) per direction.
    proj = tuple(
      jnp.swapaxes(jnp.dot(xs, w_i) + b, 0, 1) for xs, (w_i, _, b) in zip((x, x_rev), params)
    )

    def cell(h, c, z, w_h):
      i, f, g, o = jnp.split(z + jnp.dot(h, w_h), 4, axis=-1)
      c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
      return jax.nn.sigmoid(o) * jnp.tanh(c), c

    def step(carry, inputs):
      z, m = inputs  # ((B, 4H), (B, 4H)), (B,) or None
      new = [cell(h, c, z_k, p[1]) for (h, c), z_k, p in zip(carry, z, params)]
      if m is not None:
        keep = m[:, None]
        new = [
          (jnp.where(keep, h, h0), jnp.where(keep, c, c0)) for (h, c), (h0, c0) in zip(new, carry)
        ]
      out = tuple(h for h, _ in new)
      if m is not None:
        out = tuple(jnp.where(m[:, None], h, 0.0) for h in out)
      return tuple(new), out

    zeros = jnp.zeros((batch, self.features), proj[0].dtype)
    mask = None if lengths is None else valid.T
    carry, (y_f, y_b) = jax.lax.scan(step, ((zeros, zeros), (zeros, zeros)), (proj, mask))
    if not self.return_sequences:
      return jnp.concatenate([carry[0][0], carry[1][0]], axis=-1)  # (B, 2H)
    forward = jnp.swapaxes(y_f, 0, 1)  # (B, T, H)
    backward = jnp.swapaxes(y_b, 0, 1)  # in reversed time
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
