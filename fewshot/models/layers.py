"""Layers shared by the papers' models: a fast bidirectional LSTM, a masked batch norm.

`BiLSTM` computes exactly what Flax's `nn.Bidirectional(nn.RNN(
nn.OptimizedLSTMCell(H)), nn.RNN(nn.OptimizedLSTMCell(H)))` computes, with the
same parameters (names, shapes, initialisers, hence the same values from the
same key), so checkpoints of either load into the other. It is organised for
speed on CPU as well as accelerators (each choice was measured on the Table I
training step, `experiments/bench/bilstm.py`):

* time-major inside, each direction in its own [T, B, ...] arrays: the input
  projections x W_i of all steps are one 2-D matmul per direction before the
  recurrence, and the weight gradients are 2-D matmuls over the T * B rows,
  with no transposes (stacking the directions on an axis cost layout copies
  of every [T, 2, B, 4H] array); between stacked layers the [B, T] <-> [T, B]
  transposes cancel;
* both directions advance in one `lax.scan` with one batched gate matmul per
  step (h [2, B, H] times W_h [2, H, 4H]): the backward direction reads its
  inputs reversed within each sequence, so step t of the scan is time t of
  the forward direction and time L - 1 - t of the backward one;
* sigmoid(z) = 0.5 tanh(0.5 z) + 0.5, so one tanh covers all four gates;
* one buffer per direction holds u, then the gates (written in place by the
  forward loop), then their gradients (by the backward loop): on CPU every
  fresh temporary costs page faults on each call;
* the backward pass is written by hand (`jax.custom_vjp`): the reverse loop
  carries only (dh, dc), and the recurrent kernel's and the bias's gradients
  are one matmul over all steps afterwards, instead of a second matmul and a
  carried sum in every step of autodiff's reverse scan.
  The gradients equal autodiff of Flax's layer (tests/test_fewshot_models.py).

Padded sequences: with `lengths`, steps at or after a sequence's length leave
its state unchanged and output zeros, and the backward direction starts at
the sequence's last valid step, so padding changes no output.
"""

from __future__ import annotations

from collections.abc import Callable

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


def _reverse_index(time: int, lengths):
  """[T, B] time index that reverses each sequence within its length (an involution), and the [T, B] mask."""
  t = jnp.arange(time)[:, None]
  lengths = jnp.asarray(lengths)[None, :]
  valid = t < lengths
  return jnp.where(valid, lengths - 1 - t, t), valid


def _reverse_time(x_tm, rev):
  """x_tm [T, B, ...] with each sequence reversed: all T steps (rev None) or by a `_reverse_index`."""
  if rev is None:
    return x_tm[::-1]
  return jnp.take_along_axis(x_tm, rev.reshape(rev.shape + (1,) * (x_tm.ndim - 2)), axis=0)


def _gate_affine(hidden: int):
  """Per-column (scale, shift) [4H] such that the gates are scale * tanh(scale * z) + shift.

  sigmoid(z) = 0.5 tanh(0.5 z) + 0.5, so one tanh over all four gates gives
  sigma(i), sigma(f), tanh(g), sigma(o) (scale 0.5, 0.5, 1, 0.5; shift 0.5,
  0.5, 0, 0.5): one elementwise pass per step, which XLA:CPU runs about 3x
  faster than three sigmoids and a tanh over four slices.
  """
  half, one = jnp.full((hidden,), 0.5), jnp.ones((hidden,))
  scale = jnp.concatenate([half, half, one, half])
  shift = jnp.concatenate([half, half, 1.0 - one, half])
  return scale, shift


def _split_gates(t, scale, shift):
  """Activated gates i, f, g, o [..., H] from t = tanh(scaled pre-activations) [..., 4H]."""
  a = t * scale + shift
  hidden = a.shape[-1] // 4
  return tuple(a[..., k * hidden : (k + 1) * hidden] for k in range(4))


def _recurrence_scan(u_f, u_b, b_s, w_s, keep, save: bool):
  """The LSTM recurrence of both directions; with `save`, also what the backward pass reads.

  u_f, u_b [T, B, 4H], b_s [2, 4H] and w_s [2, H, 4H] are the input
  projections x W_i, the biases and the recurrent kernels, all multiplied by
  the gate scale (`_gate_affine`), so a step's gates are
  scale * tanh(u_t + b_s + h w_s) + shift. With `save`, step t
  overwrites u_f[t] and u_b[t] with its gates t = tanh(...) (the loop carries
  the two arrays and XLA updates them in place): the residual the backward
  pass reads takes no new memory. Every fresh buffer costs page faults on
  each call on CPU, about a fifth of the Table I step before this.
  """
  scale, shift = _gate_affine(w_s.shape[1])

  def step(carry, inputs):
    h, c, u_f, u_b = carry  # h, c: (2, B, H) forward and backward state
    k, m = inputs  # step index, (B,) or None
    u = jnp.stack([u_f[k], u_b[k]]) + b_s[:, None]  # (2, B, 4H)
    t = jnp.tanh(u + jnp.einsum('dbh,dhg->dbg', h, w_s))  # one matmul: 2 directions, 4 gates
    i, f, g, o = _split_gates(t, scale, shift)
    c_new = f * c + i * g
    h_new = o * jnp.tanh(c_new)
    if m is not None:  # padding outputs zeros and keeps the state
      m = m[None, :, None]
      y = m * h_new
      h_new, c_new = jnp.where(m > 0, h_new, h), jnp.where(m > 0, c_new, c)
    else:
      y = h_new
    if not save:
      return (h_new, c_new, u_f, u_b), (y[0], y[1], None)
    u_f, u_b = u_f.at[k].set(t[0]), u_b.at[k].set(t[1])
    # The states before the step, each with a column of ones: one matmul with
    # du then gives the recurrent kernel's and the bias's gradients.
    ones = jnp.ones(h.shape[1:-1] + (1,), h.dtype)
    saved = (jnp.concatenate([h[0], ones], -1), jnp.concatenate([h[1], ones], -1), c)
    return (h_new, c_new, u_f, u_b), (y[0], y[1], saved)

  zeros = jnp.zeros((2,) + u_f.shape[1:-1] + (w_s.shape[1],), u_f.dtype)
  steps = jnp.arange(u_f.shape[0])
  (h, _, t_f, t_b), (ys_f, ys_b, saved) = jax.lax.scan(
    step, (zeros, zeros, u_f, u_b), (steps, keep)
  )
  return (ys_f, ys_b, h), (t_f, t_b) + (saved or ())


@jax.custom_vjp
def _recurrence(u_f, u_b, b_s, w_s, keep):
  """Runs the recurrence of both directions in one scan.

  Args:
    u_f, u_b: [T, B, 4H] scaled input projections x W_i * scale of the
      forward and the backward direction, in step order (step t of the
      backward direction reads its sequence's time L - 1 - t).
    b_s: [2, 4H] scaled biases b * scale.
    w_s: [2, H, 4H] scaled recurrent kernels W_h * scale.
    keep: [T, B] float 1 for valid steps, 0 for padding; None when nothing is padded.

  Returns:
    ys_f, ys_b [T, B, H] outputs in step order (zero at padding), h [2, B, H] the final states.
  """
  outputs, _ = _recurrence_scan(u_f, u_b, b_s, w_s, keep, save=False)
  return outputs


def _recurrence_fwd(u_f, u_b, b_s, w_s, keep):
  outputs, saved = _recurrence_scan(u_f, u_b, b_s, w_s, keep, save=True)
  return outputs, (w_s, keep, saved)


def _recurrence_bwd(res, cotangents):
  """Backpropagation through time with the weight gradient outside the loop.

  Autodiff of the scan would accumulate dW += h_{t-1}^T du_t inside the
  reverse loop (a second matmul per step, and a carried [2, H, 4H] sum);
  here the loop only carries (dh, dc) and writes du_t over the gates t it
  read (in place, no new buffer), and dW is one matmul over the T * B rows
  afterwards, with the bias gradient as its last row (the stored states carry
  a column of ones: XLA:CPU runs a sum over the T * B rows as a slow windowed
  reduction, and a product with a constant block of ones is rewritten into a
  sum that rounds differently under vmap). The step recomputes
  tanh(c_t) rather than storing it. Every [T, B, ...] array keeps its
  directions apart, so the weight gradients and the cotangents of u_f and
  u_b need no transposes.
  """
  w_s, keep, (t_f, t_b, h_prev_f, h_prev_b, c_prev) = res
  d_ys_f, d_ys_b, d_h_last = cotangents
  hidden = w_s.shape[1]
  scale, shift = _gate_affine(hidden)
  # W_s^T laid out once ([2, 4H, H]): a dot that contracts both operands'
  # last axes runs about 2x slower per step on XLA:CPU.
  w_t = jnp.swapaxes(w_s, 1, 2) + 0.0

  def step(carry, inputs):
    dh, dc, t_f, t_b = carry  # dh, dc (2, B, H): gradients w.r.t. the state after step k
    k, dyf, dyb, m, c0 = inputs
    t = jnp.stack([t_f[k], t_b[k]])  # (2, B, 4H)
    i, f, g, o = _split_gates(t, scale, shift)
    tanh_c = jnp.tanh(f * c0 + i * g)
    dh_new = dh + jnp.stack([dyf, dyb])  # the step's own h ...
    if m is not None:
      m = m[None, :, None]
      dh_new = m * dh_new  # ... on valid steps only
    dc_new = dh_new * o * (1.0 - tanh_c * tanh_c) + (dc if m is None else m * dc)
    d_gates = jnp.concatenate([dc_new * g, dc_new * c0, dc_new * i, dh_new * tanh_c], axis=-1)
    du = d_gates * scale * (1.0 - t * t)  # (2, B, 4H); d gate / d u = scale * (1 - t^2)
    dh_prev = jnp.einsum('dbg,dgh->dbh', du, w_t)
    dc_prev = dc_new * f
    if m is not None:
      dh_prev = dh_prev + (1.0 - m) * dh
      dc_prev = dc_prev + (1.0 - m) * dc
    return (dh_prev, dc_prev, t_f.at[k].set(du[0]), t_b.at[k].set(du[1])), None

  steps = jnp.arange(t_f.shape[0])
  inputs = (steps, d_ys_f, d_ys_b, keep, c_prev)
  carry = (d_h_last, jnp.zeros_like(d_h_last), t_f, t_b)
  (_, _, du_f, du_b), _ = jax.lax.scan(step, carry, inputs, reverse=True)
  rows = t_f.shape[0] * t_f.shape[1]
  du_f, du_b = du_f.reshape(rows, 4 * hidden), du_b.reshape(rows, 4 * hidden)
  d_wb = jnp.stack(
    [h_prev_f.reshape(rows, hidden + 1).T @ du_f, h_prev_b.reshape(rows, hidden + 1).T @ du_b]
  )  # (2, H + 1, 4H): the recurrent kernels' gradients, then the biases'
  d_w_s, d_b_s = d_wb[:, :hidden], d_wb[:, hidden]
  d_keep = None if keep is None else jnp.zeros_like(keep)
  return du_f.reshape(t_f.shape), du_b.reshape(t_b.shape), d_b_s, d_w_s, d_keep


_recurrence.defvjp(_recurrence_fwd, _recurrence_bwd)


def _project(x_tm, w_i, scale):
  """x W_i * scale [T, B, 4H] from x_tm [T, B, D]: one 2-D matmul over the T * B rows."""
  time, batch, features = x_tm.shape
  return (x_tm.reshape(time * batch, features) @ (w_i * scale)).reshape(time, batch, -1)


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
    _, time, in_features = x.shape
    fwd = _LSTMCellParams(self.features, name='OptimizedLSTMCell_0')(in_features)
    bwd = _LSTMCellParams(self.features, name='OptimizedLSTMCell_1')(in_features)
    scale, _ = _gate_affine(self.features)
    # Time-major inside: a stack of layers transposes back and forth between
    # them, and XLA cancels those transposes.
    x_tm = jnp.swapaxes(x, 0, 1)  # (T, B, D)
    rev, keep = None, None
    if lengths is not None:
      rev, valid = _reverse_index(time, lengths)
      keep = valid.astype(x.dtype)
    # Input projections of every step, outside the recurrence; the backward
    # direction's in its step order (each sequence reversed).
    u_f = _project(x_tm, fwd[0], scale)
    u_b = _project(_reverse_time(x_tm, rev), bwd[0], scale)
    b_s, w_s = jnp.stack([fwd[2], bwd[2]]) * scale, jnp.stack([fwd[1], bwd[1]]) * scale
    ys_f, ys_b, h = _recurrence(u_f, u_b, b_s, w_s, keep)
    if not self.return_sequences:
      return jnp.concatenate([h[0], h[1]], axis=-1)  # (B, 2H)
    y = jnp.concatenate([ys_f, _reverse_time(ys_b, rev)], axis=-1)  # (T, B, 2H)
    return jnp.swapaxes(y, 0, 1)


class MaskedBatchNorm(nn.Module):
  """Batch norm per channel (last axis) over all other axes, ignoring padded entries.

  Training pads batches to a common shape across vmapped runs; the padding
  must not enter the batch statistics, so they are means weighted by the
  mask. The mask covers the leading axes of x: [B] marks real examples
  ([B, T, C] sequences and [B, H, W, C] images alike), [B, T] real frames of
  real examples (a sign clip's frame mask AND the example mask). Training
  uses the masked batch mean and biased variance and updates running
  statistics with momentum 0.9 (PyTorch's 0.1); evaluation uses the running
  statistics.
  """

  momentum: float = 0.9
  epsilon: float = 1e-5

  @nn.compact
  def __call__(self, x, mask, train: bool):
    """x: [B, ..., C]; mask: bool over x's leading axes ([B], [B, T], ...). Returns x normalised."""
    c = x.shape[-1]
    if not 1 <= mask.ndim < x.ndim or mask.shape != x.shape[: mask.ndim]:
      raise ValueError(f'mask {mask.shape} must cover leading axes of x {x.shape} (not channels).')
    scale = self.param('scale', nn.initializers.ones, (c,))
    bias = self.param('bias', nn.initializers.zeros, (c,))
    ra_mean = self.variable('batch_stats', 'mean', jnp.zeros, (c,))
    ra_var = self.variable('batch_stats', 'var', jnp.ones, (c,))
    if train:
      axes = tuple(range(x.ndim - 1))
      w = mask.astype(x.dtype).reshape(mask.shape + (1,) * (x.ndim - mask.ndim))  # (B, .., 1)
      per_entry = 1  # the entries of x[i] (one channel) that mask entry i stands for
      for d in x.shape[mask.ndim : -1]:
        per_entry *= d
      count = jnp.maximum(w.sum() * per_entry, 1.0)
      mean = (x * w).sum(axis=axes) / count
      var = (jnp.square(x - mean) * w).sum(axis=axes) / count
      if not self.is_initializing():
        ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
        ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var
    else:
      mean, var = ra_mean.value, ra_var.value
    return (x - mean) * jax.lax.rsqrt(var + self.epsilon) * scale + bias


CONV_KINDS = ('native', 'patch')


class PatchConv(nn.Module):
  """A 2-D convolution (cross-correlation), native or as image patches times a kernel matrix.

  Same parameters as `nn.Conv(features, (k, k), (stride, stride), padding,
  use_bias=...)` ('kernel' [k, k, C, F], 'bias' [F]) and the same output
  whichever `kind` computes it, so variables are interchangeable:
  * 'patch': only the patch extraction is a convolution (with a fixed
    identity kernel, shared by all runs) and the learned part is a matmul.
    Under `jax.vmap` over runs (one kernel per LOSO fold) a native
    convolution becomes a grouped convolution, which XLA:CPU compiles and
    runs slowly; this form vmaps into a batched matmul.
  * 'native': `lax.conv_general_dilated`, XLA's own convolution, the faster
    one for a single run (runs mapped one after another with `lax.map`, or
    vmapped on a backend with fast grouped convolutions);
    `experiments/bench/megc_conv.py` times both.

  Attributes:
    features: output channels F.
    kernel_size: k (square kernels).
    padding: 'SAME', 'VALID' or an int of zero padding on every side.
    stride: the same stride along both axes.
    use_bias: add a learned bias [F].
    kernel_init: the kernel's initialiser.
    kind: 'patch' or 'native' (`CONV_KINDS`).
  """

  features: int
  kernel_size: int
  padding: str | int = 'SAME'
  stride: int = 1
  use_bias: bool = True
  kernel_init: Callable = nn.initializers.lecun_normal()
  kind: str = 'patch'

  @nn.compact
  def __call__(self, x):
    """x: [B, H, W, C] -> [B, H', W', F]."""
    if self.kind not in CONV_KINDS:
      raise ValueError(f'kind must be one of {CONV_KINDS}, got {self.kind!r}.')
    k, c = self.kernel_size, x.shape[-1]
    kernel = self.param('kernel', self.kernel_init, (k, k, c, self.features))
    pad = self.padding if isinstance(self.padding, str) else [(self.padding, self.padding)] * 2
    strides, dims = (self.stride, self.stride), ('NHWC', 'HWIO', 'NHWC')
    if self.kind == 'native':
      y = jax.lax.conv_general_dilated(x, kernel, strides, pad, dimension_numbers=dims)
    else:
      patches = jax.lax.conv_general_dilated_patches(
        x, (k, k), strides, pad, dimension_numbers=dims
      )  # (B, H', W', C * k * k), channel-major
      y = patches @ jnp.transpose(kernel, (2, 0, 1, 3)).reshape(c * k * k, self.features)
    if self.use_bias:
      y = y + self.param('bias', nn.initializers.zeros, (self.features,))
    return y
