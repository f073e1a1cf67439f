"""The sEMG base model (Table I) and the siamese model (Table II) in Flax linen.

Input layout. The library's preprocessing (`signals.semg_features`) gives one
observation as `[2, 61]`: two sEMG channels by 61 decimated SampEn steps
(Sec. II-B, eq. (7)). The BiLSTM layers scan over time with the channels as
features, so the models transpose to `[batch, 61, 2]` inside (the `(61, 2)`
input row of Table I) and callers keep the library layout.

Units per direction. Table I gives the *output* shapes of the BiLSTM layers:
`(61, 256)`, `(61, 128)`, `(128)`. A bidirectional layer concatenates its two
directions, so we read these as 128, 64 and 64 units per direction; the last
layer returns only its final states (forward state after the last step, backward
state after the first step), concatenated to a 128-vector. `hidden` below is
therefore per direction, default `(128, 64, 64)`.

Activations. Table I does not name them; the fully connected layers use ReLU
(the Keras default for hidden dense layers in this kind of model) and the
classifier head and the siamese output return logits (softmax / sigmoid at use).

Batch normalization (AdaBatch, Sec. II-D.2). With `batch_norm=True` a BatchNorm
layer follows every BiLSTM layer and every hidden FC layer (before its ReLU).
Transfer by AdaBatch then trains only their scale/bias (and re-estimates their
statistics); see `fewshot.transfer`. The layers are
`fewshot.models.layers.MaskedBatchNorm`: every call takes the batch's example
mask [B], and masked slots (the padding of ragged last batches and of runs
padded to a common shape) never enter the batch means, variances or running
averages, so a padded run trains exactly as it would alone. Their variables
keep `nn.BatchNorm`'s names (params `scale`, `bias`; batch_stats `mean`,
`var`, under `bn_lstm_i` / `bn_fc_i`) and its semantics (biased batch
variance, epsilon 1e-5, running averages with `bn_momentum`).
"""

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from fewshot.models.layers import BiLSTM
from fewshot.models.layers import MaskedBatchNorm

# Table I: 128, 64, 64 LSTM units per direction; FC 64; FC 32 (the embedding).
PAPER_HIDDEN = (128, 64, 64)
PAPER_FC = (64, 32)


class SEMGEmbedder(nn.Module):
  """Feature extractor of eq. (10): layers 0-6 of Table I, `[B, 2, 61] -> [B, 32]`.

  Attributes:
    hidden: LSTM units per direction of each stacked BiLSTM layer (Table I:
      (128, 64, 64); Table IV varies the depth).
    fc: widths of the fully connected layers; the last is the embedding.
    batch_norm: add BatchNorm after every hidden layer (AdaBatch variant).
    bn_momentum: BatchNorm's running-average momentum. 0.9 (PyTorch's
      default) averages over the last ~10 steps. Flax's default 0.99 weighs
      the initial statistics (mean 0, variance 1) by 0.99^n after n steps:
      still 5% after the quick base model's 288 steps, more where early
      stopping ends training sooner, so evaluation-mode BatchNorm (and
      AdaBatch on top of it) used statistics the model never trained with.
  """

  hidden: Sequence[int] = PAPER_HIDDEN
  fc: Sequence[int] = PAPER_FC
  batch_norm: bool = False
  bn_momentum: float = 0.9

  @nn.compact
  def __call__(self, x, mask=None, train: bool = False):
    """Embeds a batch.

    Args:
      x: [batch, 2, 61] float32 preprocessed sEMG (channels, time).
      mask: [batch] bool, the real examples (None: all); with `batch_norm`
        in training only they enter the batch statistics. The outputs of
        masked slots are computed but meaningless to the real ones.
      train: batch statistics (True) or running averages (False) in BatchNorm.

    Returns:
      [batch, fc[-1]] float32 embedding.
    """
    if mask is None:
      mask = jnp.ones(x.shape[:1], bool)
    h = jnp.swapaxes(x, -1, -2)  # (B, T, C): time-major for the LSTM scan.
    for i, units in enumerate(self.hidden):
      last = i == len(self.hidden) - 1
      h = BiLSTM(units, return_sequences=not last, name=f'bilstm_{i + 1}')(h)
      if self.batch_norm:  # statistics over (B, T) for sequences, B for the last state
        h = MaskedBatchNorm(momentum=self.bn_momentum, name=f'bn_lstm_{i + 1}')(h, mask, train)
    for i, width in enumerate(self.fc):
      h = nn.Dense(width, name=f'fc_{i + 1}')(h)
      if self.batch_norm:
        h = MaskedBatchNorm(momentum=self.bn_momentum, name=f'bn_fc_{i + 1}')(h, mask, train)
      h = nn.relu(h)
    return h


class SEMGClassifier(nn.Module):
  """Base DL model f_phi of eq. (8), Table I: embedder plus a classifier head.

  Parameters are `{'embedder': ..., 'head': ...}` so that transfer learning
  (eq. (11)) swaps only `'head'` and the siamese model reuses `'embedder'`.

  Attributes:
    num_classes: |C|, the classes of the task it is trained on.
    hidden, fc, batch_norm, bn_momentum: see `SEMGEmbedder`.
  """

  num_classes: int
  hidden: Sequence[int] = PAPER_HIDDEN
  fc: Sequence[int] = PAPER_FC
  batch_norm: bool = False
  bn_momentum: float = 0.9

  def setup(self):
    self.embedder = SEMGEmbedder(self.hidden, self.fc, self.batch_norm, self.bn_momentum)
    self.head = nn.Dense(self.num_classes)

  def __call__(self, x, mask=None, train: bool = False):
    """Class logits.

    Args:
      x: [batch, 2, 61] float32.
      mask: [batch] bool real examples (None: all); see `SEMGEmbedder`.
      train: see `SEMGEmbedder`.

    Returns:
      [batch, num_classes] float32 logits.
    """
    return self.head(self.embedder(x, mask, train))

  def embed(self, x, mask=None, train: bool = False):
    """The 32-d feature embedding of eq. (10): [batch, 2, 61] -> [batch, 32]."""
    return self.embedder(x, mask, train)


class SiameseNet(nn.Module):
  """Siamese similarity model of Table II and eq. (22).

  Both inputs go through the same `embedder` (shared weights, the transferred
  f-bar of eq. (10)); the absolute difference of the embeddings passes through
  FC 32, FC 16 and one output unit. The output is a logit; sigmoid(logit) is
  the similarity in [0, 1] of the paper's SL map.
  """

  hidden: Sequence[int] = PAPER_HIDDEN
  fc: Sequence[int] = PAPER_FC
  batch_norm: bool = False
  head_fc: Sequence[int] = (32, 16)
  bn_momentum: float = 0.9

  def setup(self):
    self.embedder = SEMGEmbedder(self.hidden, self.fc, self.batch_norm, self.bn_momentum)
    self.sim_fc = [nn.Dense(w, name=f'sim_fc_{i + 1}') for i, w in enumerate(self.head_fc)]
    self.sim_out = nn.Dense(1)

  def __call__(self, a, b, mask=None, train: bool = False):
    """Similarity logits of pairs.

    Args:
      a: [batch, 2, 61] float32.
      b: [batch, 2, 61] float32.
      mask: [batch] bool, the real pairs (None: all); each twin's batch
        statistics use only them (see `SEMGEmbedder`).
      train: see `SEMGEmbedder`.

    Returns:
      [batch] float32 logits; sigmoid gives the same-class probability.
    """
    return self.compare(self.embedder(a, mask, train), self.embedder(b, mask, train))

  def embed(self, x, mask=None, train: bool = False):
    """[batch, 2, 61] -> [batch, 32] twin embedding; `mask` [batch] as in `SEMGEmbedder`."""
    return self.embedder(x, mask, train)

  def compare(self, ea, eb, train: bool = False):
    """Similarity logits from embeddings: [batch, 32] x [batch, 32] -> [batch].

    `train` is accepted for a uniform call signature; the head has no BN.
    """
    del train
    h = jnp.abs(ea - eb)  # Table II layer 6-7: absolute difference.
    for layer in self.sim_fc:
      h = nn.relu(layer(h))
    return self.sim_out(h)[..., 0]
