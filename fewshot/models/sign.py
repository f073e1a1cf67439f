"""The two sign-recognition models of the pose paper (pose_sign_language.txt, section 3).

Both take a padded batch of per-frame feature vectors `x: [B, T, F]` (from
`vision.pose_features`: flat normalised points, limb angles and lengths) and a
frame mask `frame_mask: [B, T]` (True for real frames, padding at the end).
Padding never changes an output: batch-norm statistics, the LSTMs, attention
and pooling only see real frames (tests pad and compare). Batches padded with
masked examples (fold padding, ragged last batches) pass the example mask
`mask: [B]` in training, so masked examples never enter the BiLSTM's batch
statistics (the transformer has none: layer norm is per frame).

* `SignBiLSTM`, Team 2 (section 3.2, Figure 2): 20% dropout on the input,
  1-D batch normalisation, a dense projection to 512, two BiLSTM layers of
  256 units, max-pooling over the real frames, a linear layer to the classes
  (softmax in the cross-entropy loss). The paper names no activation after
  the 512 projection; it is linear here.
* `SignTransformer`, Team 1 (section 3.1, Figure 1, after Camgoz et al.
  2020): a linear projection to the hidden size, sinusoidal positional
  encoding added, N blocks of multi-head self-attention and feed-forward,
  each "added to the input and normalized" (post-norm residual + layer norm),
  a linear layer to the classes plus the CTC blank (symbol 0). Trained with
  CTC (`fewshot.ctc.ctc_class_loss`), decoded with `fewshot.ctc_beam_search`.
  The paper gives no sizes ("the number of layers, heads, hidden size, and
  dropout rate" were tuned); the defaults below are common transformer
  settings, not the paper's.

`embed` gives one vector per clip (the pooled BiLSTM output; the masked mean
of the transformer's last block) for the few-shot episodes.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from fewshot.models.layers import BiLSTM
from fewshot.models.layers import MaskedBatchNorm

__all__ = ['SignBiLSTM', 'SignTransformer', 'sinusoidal_encoding']


class SignBiLSTM(nn.Module):
  """Team 2's sequence classifier (section 3.2).

  Attributes:
    num_classes: number of signs.
    hidden: width of the dense projection (paper: 512).
    lstm: units per direction of each BiLSTM layer (paper: 256, 256).
    dropout: input dropout rate (paper: 0.2).
  """

  num_classes: int
  hidden: int = 512
  lstm: Sequence[int] = (256, 256)
  dropout: float = 0.2

  def setup(self):
    self.input_dropout = nn.Dropout(self.dropout)
    self.norm = MaskedBatchNorm(momentum=0.9, epsilon=1e-5)  # PyTorch BatchNorm1d's defaults
    self.project = nn.Dense(self.hidden)
    self.bilstms = [BiLSTM(units, return_sequences=True) for units in self.lstm]
    self.head = nn.Dense(self.num_classes)

  def embed(self, x, frame_mask, train: bool = False, mask=None):
    """Max-pooled BiLSTM features of each clip.

    Args:
      x: [B, T, F] float per-frame features.
      frame_mask: [B, T] bool, True for real frames (a prefix of each row).
      train: dropout on and batch statistics (True) or running averages.
      mask: optional [B] bool, the real examples of a padded batch (None: all).

    Returns:
      [B, 2 * lstm[-1]] float.
    """
    valid = frame_mask[..., None]  # (B, T, 1)
    h = self.input_dropout(x, deterministic=not train)
    # 1-D batch norm over features, statistics over the real frames of the real examples only
    real = frame_mask if mask is None else frame_mask & mask[:, None]  # (B, T)
    h = self.norm(h, real, train)
    h = self.project(h)  # (B, T, hidden)
    lengths = frame_mask.sum(-1).astype(jnp.int32)
    for layer in self.bilstms:
      h = layer(h, lengths=lengths)  # (B, T, 2 * units)
    return jnp.max(jnp.where(valid, h, -jnp.inf), axis=1)  # max over real frames only

  def __call__(self, x, frame_mask, train: bool = False, mask=None):
    """Class logits [B, num_classes] (softmax gives the probabilities); args as `embed`."""
    return self.head(self.embed(x, frame_mask, train, mask))


def sinusoidal_encoding(length: int, dim: int) -> np.ndarray:
  """Positional encoding of Vaswani et al. 2017: sin/cos of position / 10000^(2i/dim).

  Returns:
    [length, dim] float32; even columns sin, odd columns cos.
  """
  pos = np.arange(length)[:, None]
  rate = np.exp(-np.log(10000.0) * (np.arange(0, dim, 2) / dim))  # (dim / 2,)
  enc = np.zeros((length, dim), np.float32)
  enc[:, 0::2] = np.sin(pos * rate)
  enc[:, 1::2] = np.cos(pos * rate)[:, : dim // 2]
  return enc


class _Block(nn.Module):
  dim: int
  heads: int
  ff: int
  dropout: float

  @nn.compact
  def __call__(self, h, attn_mask, train: bool):
    drop = lambda y: nn.Dropout(self.dropout)(y, deterministic=not train)
    a = nn.MultiHeadDotProductAttention(
      num_heads=self.heads, dropout_rate=self.dropout, deterministic=not train, name='attention'
    )(h, h, mask=attn_mask)
    h = nn.LayerNorm(name='norm_attention')(h + drop(a))  # "added to the input and normalized"
    f = nn.Dense(self.ff, name='ff_in')(h)
    f = nn.Dense(self.dim, name='ff_out')(drop(nn.relu(f)))
    return nn.LayerNorm(name='norm_ff')(h + drop(f))


class SignTransformer(nn.Module):
  """Team 1's transformer with a CTC head (section 3.1).

  Attributes:
    num_classes: number of signs K; the output has K + 1 symbols, blank = 0,
      class c = symbol c + 1.
    dim: hidden size.
    heads: attention heads.
    layers: number of attention + feed-forward blocks.
    ff: feed-forward width.
    dropout: dropout rate (attention weights, residual branches, encoding).
  """

  num_classes: int
  dim: int = 256
  heads: int = 8
  layers: int = 2
  ff: int = 1024
  dropout: float = 0.1

  def setup(self):
    self.project = nn.Dense(self.dim)
    self.input_dropout = nn.Dropout(self.dropout)
    self.blocks = [
      _Block(self.dim, self.heads, self.ff, self.dropout, name=f'block_{i}')
      for i in range(self.layers)
    ]
    self.head = nn.Dense(self.num_classes + 1)

  def encode(self, x, frame_mask, train: bool = False):
    """Hidden states [B, T, dim] of the last block."""
    t = x.shape[1]
    h = self.project(x) + sinusoidal_encoding(t, self.dim)[None]
    h = self.input_dropout(h, deterministic=not train)
    # Every query attends to the real frames only (padded keys masked out).
    attn_mask = frame_mask[:, None, None, :]  # (B, 1, 1, T)
    for block in self.blocks:
      h = block(h, attn_mask, train)
    return h

  def embed(self, x, frame_mask, train: bool = False):
    """Mean of the last block's states over the real frames: [B, dim]."""
    h = self.encode(x, frame_mask, train)
    w = frame_mask[..., None].astype(h.dtype)
    return (h * w).sum(1) / jnp.maximum(w.sum(1), 1)

  def __call__(self, x, frame_mask, train: bool = False):
    """Per-frame logits [B, T, num_classes + 1] over the blank and the classes.

    Args:
      x: [B, T, F] float.
      frame_mask: [B, T] bool, True for real frames.
      train: dropout on (True) or off.
    """
    return self.head(self.encode(x, frame_mask, train))
