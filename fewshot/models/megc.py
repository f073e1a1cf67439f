"""The networks of MEGC 2019 Table IV on onset-to-apex optical flow (megc2019_micro_expressions.txt).

Flax linen versions of the three flow-based methods of section III-C. The
facts of each architecture come from the sources named per class; no code
was copied. Parameter counts are the layer arithmetic of those
architectures (trainable parameters; batch-norm running statistics are not
counted) and `tests/test_megc_models.py` checks them layer by layer.

| model | input | parameters |
|---|---|---|
| STSTNet [17] | [28, 28, 3] (u, v, strain) | 1,683 |
| OFF-ApexNet [26] | [28, 28, 2] (u, v) | 2,664,475 |
| Dual-Inception [18] | [28, 28, 2] (u, v) | 6,449,867 |

Convolutions are `layers.PatchConv` (nn.Conv's parameters and output):
`conv='patch'` computes them as a matmul on image patches, so that folds
vmapped on a CPU train as batched matmuls rather than grouped convolutions;
`conv='native'` as XLA's convolution, faster for folds mapped one after
another (`experiments/bench/megc_conv.py`). Both kinds have the same
variables.

Every model is called as `model.apply(variables, x, mask, train=...)`:
`mask: [B] bool` marks real examples (padded batches of vmapped LOSO folds;
batch norm ignores the padding), and dropout draws from the 'dropout' rng in
training. The outputs are logits (the softmax is in the loss).
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from fewshot.models.layers import CONV_KINDS
from fewshot.models.layers import MaskedBatchNorm
from fewshot.models.layers import PatchConv

NUM_CLASSES = 3  # negative, positive, surprise (section III)


def _real(x, mask):
  return jnp.ones(x.shape[:1], bool) if mask is None else mask


class STSTNet(nn.Module):
  """Shallow Triple Stream Three-dimensional CNN (Liong et al., FG 2019; the paper's [17]).

  Three parallel streams read the same [28, 28, 3] input (the "three-
  dimensional" input cube of optical strain and horizontal and vertical
  flow): 3 x 3 convolutions with 3, 5 and 8 filters, each followed by ReLU,
  batch norm, 3 x 3 max pooling with stride 3 and dropout 0.5; the 16
  feature maps (10 x 10) are concatenated, 2 x 2 average pooled to
  5 x 5 x 16 = 400 features and fed to one dense layer with a softmax over
  the 3 classes. Layer order, the padding of 2 of the convolutions (28 ->
  30), the padding of 1 of the max pooling (30 -> 10) and dropout 0.5 follow
  the authors' own PyTorch port (github.com/christy1206/STSTNet, main.py),
  which they train with Adam at 5e-5, batches of 256, 800 epochs.

  Parameters: 3 convolutions 16 * (3 * 3 * 3 + 1) = 448, batch norm
  2 * 16 = 32, dense 400 * 3 + 3 = 1,203: 1,683.
  """

  num_classes: int = NUM_CLASSES
  dropout: float = 0.5
  conv: str = 'patch'  # `layers.PatchConv.kind`

  @nn.compact
  def __call__(self, x, mask=None, train: bool = False):
    """x: [B, 28, 28, 3] -> logits [B, num_classes]."""
    mask = _real(x, mask)
    streams = []
    for i, filters in enumerate((3, 5, 8)):
      h = PatchConv(filters, 3, padding=2, kind=self.conv, name=f'conv{i + 1}')(x)  # (B, 30, 30, f)
      h = MaskedBatchNorm(name=f'bn{i + 1}')(nn.relu(h), mask, train)
      h = nn.max_pool(h, (3, 3), strides=(3, 3), padding=((1, 1), (1, 1)))  # (B, 10, 10, f)
      streams.append(nn.Dropout(self.dropout, deterministic=not train)(h))
    h = nn.avg_pool(jnp.concatenate(streams, axis=-1), (2, 2), strides=(2, 2))  # (B, 5, 5, 16)
    return nn.Dense(self.num_classes, name='fc')(h.reshape(h.shape[0], -1))


class OFFApexNet(nn.Module):
  """Optical Flow Features from Apex frame Network (Gan et al., Signal Processing: Image
  Communication 2019; the paper's [26]).

  Two streams, one for the horizontal and one for the vertical flow between
  onset and apex ([28, 28, 1] each), each two LeNet-like stages: 5 x 5
  convolution with 6 filters, 2 x 2 max pooling, 5 x 5 convolution with 16
  filters, 2 x 2 max pooling ('same' padding: 28 -> 14 -> 7); the two
  7 x 7 x 16 = 784 feature vectors are concatenated (1,568) and go through
  two fully connected layers of 1,024 units and a softmax over the classes.
  Dropout 0.5 after each fully connected layer and ReLU after every
  convolution and hidden layer are this implementation's choices where the
  description leaves them open (a re-implementation, ECNU-Cross-Innovation-
  Lab/PRICAI2021-Off-TANet models/off_apexnet.py, has the same layer sizes).

  Parameters: per stream 5 * 5 * 6 + 6 = 156 and 5 * 5 * 6 * 16 + 16 = 2,416
  (x 2 = 5,144), dense 1,568 * 1,024 + 1,024 = 1,606,656, 1,024 * 1,024 +
  1,024 = 1,049,600 and 1,024 * 3 + 3 = 3,075: 2,664,475.
  """

  num_classes: int = NUM_CLASSES
  hidden: int = 1024
  dropout: float = 0.5
  conv: str = 'patch'  # `layers.PatchConv.kind`

  @nn.compact
  def __call__(self, x, mask=None, train: bool = False):
    """x: [B, 28, 28, 2] (u, v) -> logits [B, num_classes]."""
    del mask  # nothing here depends on the other examples of the batch
    feats = []
    for i, name in enumerate(('u', 'v')):
      h = x[..., i : i + 1]
      for j, filters in enumerate((6, 16)):
        h = nn.relu(PatchConv(filters, 5, kind=self.conv, name=f'{name}_conv{j + 1}')(h))
        h = nn.max_pool(h, (2, 2), strides=(2, 2))
      feats.append(h.reshape(h.shape[0], -1))  # (B, 784)
    h = jnp.concatenate(feats, axis=-1)  # (B, 1568)
    for j in range(2):
      h = nn.relu(nn.Dense(self.hidden, name=f'fc{j + 1}')(h))
      h = nn.Dropout(self.dropout, deterministic=not train)(h)
    return nn.Dense(self.num_classes, name='out')(h)


class InceptionBlock(nn.Module):
  """Four-branch Inception block (Szegedy et al.; the paper's [23]), `features` per branch.

  Branches: 1 x 1 then 5 x 5; 1 x 1 then 3 x 3; 3 x 3 max pooling (stride 1)
  then 1 x 1; 1 x 1. ReLU after every convolution but the lone 1 x 1 (as in
  the Off-TANet repository's re-implementation); outputs concatenated
  (4 * features channels), then 2 x 2 max pooling.
  """

  features: int
  conv: str = 'patch'  # `layers.PatchConv.kind`

  @nn.compact
  def __call__(self, x):
    f = self.features
    conv = lambda k, name: PatchConv(f, k, kind=self.conv, name=name)
    b1 = nn.relu(conv(5, 'b1_5x5')(nn.relu(conv(1, 'b1_1x1')(x))))
    b2 = nn.relu(conv(3, 'b2_3x3')(nn.relu(conv(1, 'b2_1x1')(x))))
    pooled = nn.max_pool(x, (3, 3), strides=(1, 1), padding='SAME')
    b3 = nn.relu(conv(1, 'b3_1x1')(pooled))
    b4 = conv(1, 'b4_1x1')(x)
    h = jnp.concatenate([b1, b2, b3, b4], axis=-1)
    return nn.max_pool(h, (2, 2), strides=(2, 2))


class DualInception(nn.Module):
  """Dual-Inception network (Zhou, Mao and Xue, FG 2019; the paper's [18]).

  Section III-C: "two identical streams consisting of two stacked Inception
  blocks" on the horizontal and vertical TV-L1 flow between the onset and
  the middle frame; the feature maps are merged and followed by one fully
  connected layer and the softmax. Block widths 6 and 16 filters per branch
  (24 and 64 channels, 28 -> 14 -> 7) and the 1,024-unit fully connected
  layer follow the Off-TANet repository's re-implementation.

  Parameters: per stream 1,284 (first block, from 1 channel) + 10,336
  (second, from 24) = 11,620 (x 2 = 23,240); dense 6,272 * 1,024 + 1,024 =
  6,423,552 and 1,024 * 3 + 3 = 3,075: 6,449,867.
  """

  num_classes: int = NUM_CLASSES
  hidden: int = 1024
  conv: str = 'patch'  # `layers.PatchConv.kind`

  @nn.compact
  def __call__(self, x, mask=None, train: bool = False):
    """x: [B, 28, 28, 2] (u, v) -> logits [B, num_classes]."""
    del mask, train  # no batch norm, no dropout
    feats = []
    for i, name in enumerate(('u', 'v')):
      h = InceptionBlock(6, self.conv, name=f'{name}_block1')(x[..., i : i + 1])  # (B, 14, 14, 24)
      h = InceptionBlock(16, self.conv, name=f'{name}_block2')(h)  # (B, 7, 7, 64)
      feats.append(h.reshape(h.shape[0], -1))
    h = nn.relu(nn.Dense(self.hidden, name='fc')(jnp.concatenate(feats, axis=-1)))
    return nn.Dense(self.num_classes, name='out')(h)


MODELS = {'STSTNet': STSTNet, 'OFF-ApexNet': OFFApexNet, 'Dual-Inception': DualInception}
INPUT_CHANNELS = {'STSTNet': 3, 'OFF-ApexNet': 2, 'Dual-Inception': 2}
PAPER_PARAMETERS = {'STSTNet': 1_683, 'OFF-ApexNet': 2_664_475, 'Dual-Inception': 6_449_867}


def network(name: str, num_classes: int = NUM_CLASSES, conv: str = 'patch') -> nn.Module:
  """A Table IV network by name ('STSTNet', 'OFF-ApexNet', 'Dual-Inception').

  conv: how its convolutions are computed, 'patch' or 'native'
  (`layers.PatchConv.kind`; the same variables either way).
  """
  if name not in MODELS:
    raise ValueError(f'unknown model {name!r}; expected one of {tuple(MODELS)}.')
  if int(num_classes) < 2:
    raise ValueError(f'num_classes must be >= 2, got {num_classes}.')
  if conv not in CONV_KINDS:
    raise ValueError(f'conv must be one of {CONV_KINDS}, got {conv!r}.')
  return MODELS[name](num_classes=int(num_classes), conv=conv)


@functools.partial(jax.jit, static_argnums=(0, 2, 3))
def init_variables(model: nn.Module, key, channels: int, size: int = 28) -> dict:
  """Flax variables of `model` for [size, size, channels] inputs (one compiled program)."""
  x = jnp.zeros((1, size, size, channels), jnp.float32)
  return model.init({'params': key, 'dropout': key}, x, jnp.ones((1,), bool), train=False)


def parameter_count(params) -> int:
  """Number of trainable parameters (sum of the sizes of all leaves; shapes suffice)."""
  return int(sum(np.prod(p.shape) for p in jax.tree.leaves(params)))
