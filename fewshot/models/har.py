"""harAGE end-to-end models (paper Section 4.2): extractors, fusion, classifier.

* Per-modality extractors producing 16 features each (4.2.1): a one-layer
  bidirectional GRU with 8 hidden units (last forward state, last backward
  state), or a 1-D CNN: convolution with 8 filters, kernel 2, stride 1, batch
  norm, ReLU, adaptive average pooling to 2 values per filter.
* Fusion (4.2.2): concatenation (16 m features) or the outer product of the
  modality features each with a 1 appended ((16 + 1)^m features: 4913 for
  m = 3), one einsum for any m. Unimodal models skip fusion.
* Classifier (4.2.3): dropout 0.3, dense 16 + ReLU, dense to the classes
  (the softmax is in the loss).

Models take a `mask: [batch] bool` that marks real examples: training pads
batches to a common shape across vmapped folds, and the CNN's batch norm
must not see the padding (its statistics are masked means).
"""

from __future__ import annotations

import math
import string
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from evaluation import checks
from fewshot.models.layers import MaskedBatchNorm

FEATURES = 16  # per modality, both extractors (4.2.1)
EXTRACTORS = ('rnn', 'cnn')
FUSIONS = ('concat', 'outer')


# ------------------------------------------------------------------ fusion


@jax.jit
def _concat(features):
  return jnp.concatenate(features, axis=-1)


def _check_features(features) -> tuple:
  # jnp.concatenate / einsum would report a mismatch as an internal error.
  features = tuple(checks.as_array(f) for f in features)
  for i, f in enumerate(features):
    if f.ndim < 1 or f.shape[:-1] != features[0].shape[:-1]:
      raise ValueError(
        f'features[{i}] has shape {tuple(f.shape)}, but fusion needs the same leading '
        f'(batch) dims as features[0] of shape {tuple(features[0].shape)}: [..., d_i].'
      )
  return features


def concat_fusion(features: Sequence[jax.Array]) -> jax.Array:
  """Concatenation fusion, f_1 (+) ... (+) f_m (4.2.2).

  Args:
    features: m arrays [..., d_i].

  Returns:
    [..., sum(d_i)].
  """
  features = _check_features(features)
  if not features:
    raise ValueError('concat_fusion takes at least one modality, got none.')
  return _concat(features)


@jax.jit
def _outer(features):
  m = len(features)
  aug = [jnp.concatenate([f, jnp.ones(f.shape[:-1] + (1,), f.dtype)], axis=-1) for f in features]
  letters = string.ascii_lowercase[:m]
  spec = ','.join('...' + c for c in letters) + '->...' + letters  # '...a,...b->...ab'
  out = jnp.einsum(spec, *aug)
  return out.reshape(out.shape[:-m] + (math.prod(f.shape[-1] + 1 for f in features),))


def outer_fusion(features: Sequence[jax.Array]) -> jax.Array:
  """Outer-product (tensor) fusion with a 1 appended to each modality (4.2.2).

  After Zadeh et al. (2017): with [f_i, 1] the product keeps every single
  modality (edges of the cube), every pair (faces) and the full m-way
  interaction (inside). The 1 is appended last, so the flattened result is
  `np.kron([f_1, 1], np.kron([f_2, 1], ...))` per example.

  Args:
    features: m >= 1 arrays [..., d_i] with equal leading dims.

  Returns:
    [..., prod(d_i + 1)] (4913 for three modalities of 16 features).
  """
  features = _check_features(features)
  m = len(features)
  if m == 0 or m > 20:
    raise ValueError(f'outer_fusion takes 1 to 20 modalities, got {m}.')
  return _outer(features)


def fused_size(num_modalities: int, fusion: str, features: int = FEATURES) -> int:
  if num_modalities == 1:
    return features
  return features * num_modalities if fusion == 'concat' else (features + 1) ** num_modalities


# -------------------------------------------------------------- extractors


def adaptive_avg_pool_bounds(length: int, out: int) -> list[tuple[int, int]]:
  """PyTorch AdaptiveAvgPool1d bins: [floor(i L / o), ceil((i + 1) L / o))."""
  return [(i * length // out, -(-(i + 1) * length // out)) for i in range(out)]


def adaptive_avg_pool(x: jax.Array, out: int) -> jax.Array:
  """Adaptive average pooling over time.

  Args:
    x: [batch, time, channels].
    out: number of output bins.

  Returns:
    [batch, out, channels].
  """
  bins = adaptive_avg_pool_bounds(x.shape[1], out)
  return jnp.stack([x[:, a:b].mean(axis=1) for a, b in bins], axis=1)


class CNNExtractor(nn.Module):
  """Conv1d(8, kernel 2, stride 1) -> batch norm -> ReLU -> adaptive pool to 2 (4.2.1)."""

  filters: int = 8
  kernel: int = 2
  pooled: int = 2

  @nn.compact
  def __call__(self, x, mask, train: bool):
    """x: [batch, time, channels] -> [batch, filters * pooled] (16)."""
    # The convolution as a sum of per-tap matmuls: under vmap over folds (one
    # kernel per fold) this stays a batched matmul, where lax.conv would turn
    # into a grouped convolution that XLA:CPU compiles and runs slowly.
    c = x.shape[-1]
    bound = 1.0 / np.sqrt(c * self.kernel)  # torch Conv1d's default init range
    w = self.param('kernel', nn.initializers.uniform(2 * bound), (self.kernel, c, self.filters))
    b = self.param('bias', nn.initializers.uniform(2 * bound), (self.filters,))
    w, b = w - bound, b - bound
    t_out = x.shape[1] - self.kernel + 1  # stride 1, no padding
    h = sum(jnp.einsum('btc,cf->btf', x[:, k : k + t_out], w[k]) for k in range(self.kernel)) + b
    h = nn.relu(MaskedBatchNorm()(h, mask, train))
    h = adaptive_avg_pool(h, self.pooled)  # (B, 2, 8)
    # Filter-major flattening, as torch's flatten of (B, 8, 2).
    return jnp.swapaxes(h, 1, 2).reshape(h.shape[0], -1)


class GRUExtractor(nn.Module):
  """One-layer bidirectional GRU, 8 hidden units per direction (4.2.1)."""

  hidden: int = 8

  @nn.compact
  def __call__(self, x, mask, train: bool):
    """x: [batch, time, channels] -> [batch, 2 * hidden] (16): last states."""
    del mask, train  # each example runs alone; nothing batch-dependent
    h_fwd, _ = nn.RNN(nn.GRUCell(self.hidden), return_carry=True, name='forward')(x)
    h_bwd, _ = nn.RNN(
      nn.GRUCell(self.hidden), return_carry=True, reverse=True, keep_order=True, name='backward'
    )(x)
    return jnp.concatenate([h_fwd, h_bwd], axis=-1)  # (B, 16)


class HARFusionModel(nn.Module):
  """Extractor per modality -> fusion -> classifier (paper Figure 2).

  Attributes:
    modalities: names of the input modalities, in fusion order.
    extractor: 'rnn' or 'cnn'.
    fusion: 'concat' or 'outer' (ignored for one modality).
    num_classes: number of output classes.
    dropout: dropout rate before the classifier (0.3).
    hidden: width of the first dense layer (16).
  """

  modalities: tuple
  extractor: str
  fusion: str
  num_classes: int
  dropout: float = 0.3
  hidden: int = 16

  @nn.compact
  def __call__(self, inputs: dict, mask, train: bool):
    """Logits.

    Args:
      inputs: modality -> [batch, time, channels] float32.
      mask: [batch] bool, real examples.
      train: dropout and batch statistics on.

    Returns:
      [batch, num_classes] logits.
    """
    missing = [m for m in self.modalities if m not in inputs]
    if missing:
      raise ValueError(
        f'inputs[{missing[0]!r}] is missing: the model fuses {self.modalities}, '
        f'inputs has {tuple(inputs)}.'
      )
    cls = GRUExtractor if self.extractor == 'rnn' else CNNExtractor
    feats = [cls(name=f'extract_{m}')(inputs[m], mask, train) for m in self.modalities]
    if len(feats) == 1:
      z = feats[0]
    elif self.fusion == 'concat':
      z = concat_fusion(feats)
    else:
      z = outer_fusion(feats)
    z = nn.Dropout(self.dropout, deterministic=not train)(z)
    z = nn.relu(nn.Dense(self.hidden)(z))
    return nn.Dense(self.num_classes)(z)
