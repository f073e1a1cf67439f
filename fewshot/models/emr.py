"""EMR (Liu et al., FG 2019; MEGC 2019's [16]): a part-based flow network trained adversarially against macro-expressions.

Section III-C, 1 of the MEGC paper: "a part-based deep neural network
approach with two domain adaptation techniques - adversarial domain
adaptation and motion magnification and reduction"; "motivated by [the]
domain-adversarial framework proposed in [21]" (Ganin and Lempitsky, DANN),
"the authors made use of macro-expression samples from CK+ together with
micro-expression samples to minimize the combined loss function".

DANN's construction: a feature extractor feeds an emotion classifier and,
through a gradient reversal layer (GRL: identity forward, -lambda times the
gradient backward), a domain classifier (micro or macro). Minimising the sum
of both losses trains the domain classifier to tell the domains apart and
the feature extractor to make them indistinguishable, while the emotion
classifier learns from both domains' labels.

The layout follows the authors' released code (github
xiaobaishu0097/MEGC2019, commit 0f2c1e2, `Model/Model_VGGFace.py` and
`Train/main.py`; facts only): a CNN's last 7 x 7 feature map of the flow
image is split into its top 3 rows (eyes and brows) and bottom 4 rows (nose
and mouth), each average-pooled and mapped by its own fully connected layer
to 64 features (tanh, dropout 0.1); the emotion classifier reads both parts'
features (128), and each part also has its own classifier; the domain
classifier (128 -> 64 -> 32 -> 1, ReLU and dropout 0.5 between) reads the
128 features through the GRL; the loss is the sum of the three emotion
cross-entropies and the domain's binary cross-entropy.

The backbone differs: the authors fine-tune a pretrained ResNet-18 on
224 x 224 colour-coded flow images; here, without pretrained weights, a
small CNN reads the [28, 28, 2] (u, v) flow: 3 x 3 convolution with 16
filters, ReLU, 2 x 2 max pooling, 3 x 3 convolution with 32 filters, ReLU,
2 x 2 max pooling: a 7 x 7 x 32 map, split as above. Each part's map is
flattened into its dense layer instead of averaged: a ResNet-18 feature sees
the whole face, this backbone's only about 10 of the 28 pixels, so an average
would lose where each motion is (the lip corners moving out, positive, and
in, AU14 / AU23 negative, would pool alike; measured on the quick synthetic
run: with averaging, 3 of 22 positive clips were recognised).

Parameters: convolutions 2 * 9 * 16 + 16 = 304 and 16 * 9 * 32 + 32 = 4,640;
part layers 3 * 7 * 32 * 64 + 64 = 43,072 and 4 * 7 * 32 * 64 + 64 =
57,408; emotion classifiers 128 * 3 + 3 = 387 and 2 x (64 * 3 + 3) = 390;
domain 128 * 64 + 64 = 8,256, 64 * 32 + 32 = 2,080 and 32 + 1 = 33: 116,570.

Called as `model.apply(variables, x, mask, train=...)` like the other Table
IV networks (`x: [B, 28, 28, 2]`, `mask: [B] bool`, ignored: no batch
statistics; dropout from the 'dropout' rng in training) -> emotion logits
[B, 3]; with `domain=True` -> `EMROutputs`.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from fewshot.models.layers import CONV_KINDS
from fewshot.models.layers import PatchConv

NUM_CLASSES = 3  # negative, positive, surprise
MICRO, MACRO = 0, 1  # domain labels


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def gradient_reversal(x, weight: float = 1.0):
  """Gradient reversal layer (Ganin and Lempitsky 2015): identity forward, -weight * grad backward.

  Args:
    x: any array (or pytree of arrays).
    weight: lambda, a Python float (static).

  Returns:
    x unchanged; its cotangent is multiplied by -weight.
  """
  return x


def _grl_fwd(x, weight):
  return x, None


def _grl_bwd(weight, _, g):
  return (jax.tree.map(lambda t: -weight * t, g),)


gradient_reversal.defvjp(_grl_fwd, _grl_bwd)


TOP_ROWS = 3  # of the 7 rows of the last feature map: eyes and brows (the authors' split)
PARAMETERS = 116_570


class EMROutputs(NamedTuple):
  """Outputs of `EMRNet(..., domain=True)`.

  emotion: [B, C] logits from both parts' features; top, bottom: [B, C]
  logits of each part alone; domain: [B] logit of 'macro' (through the GRL).
  """

  emotion: jax.Array
  top: jax.Array
  bottom: jax.Array
  domain: jax.Array


class EMRNet(nn.Module):
  """Part-based flow network with part classifiers and a gradient-reversed domain classifier (module doc).

  Attributes:
    num_classes: emotion classes (3).
    grl_weight: lambda of the gradient reversal layer.
    conv: 'patch' or 'native' convolutions (`layers.PatchConv.kind`; the
      same variables either way).
  """

  num_classes: int = NUM_CLASSES
  grl_weight: float = 1.0
  conv: str = 'patch'

  @nn.compact
  def __call__(self, x, mask=None, train: bool = False, domain: bool = False):
    """x: [B, 28, 28, 2] (u, v) flow -> emotion logits [B, C], or `EMROutputs` with `domain`."""
    del mask  # no batch statistics
    if x.ndim != 4 or x.shape[-1] != 2:
      raise ValueError(f'EMRNet takes [B, H, W, 2] flows, got {x.shape}.')
    h = x
    for j, filters in enumerate((16, 32)):
      h = nn.relu(PatchConv(filters, 3, kind=self.conv, name=f'conv{j + 1}')(h))
      h = nn.max_pool(h, (2, 2), strides=(2, 2))  # (B, 14, 14, 16), (B, 7, 7, 32)
    rows = h.shape[1] * TOP_ROWS // 7
    parts = []
    for name, part in (('top', h[:, :rows]), ('bottom', h[:, rows:])):
      f = nn.Dense(64, name=f'fc_{name}')(part.reshape(part.shape[0], -1))  # (B, 64)
      parts.append(nn.Dropout(0.1, deterministic=not train)(jnp.tanh(f)))
    features = jnp.concatenate(parts, axis=-1)  # (B, 128)
    logits = nn.Dense(self.num_classes, name='classifier')(features)
    if not domain:
      return logits
    top = nn.Dense(self.num_classes, name='classifier_top')(parts[0])
    bottom = nn.Dense(self.num_classes, name='classifier_bottom')(parts[1])
    d = gradient_reversal(features, float(self.grl_weight))
    for j, units in enumerate((64, 32)):
      d = nn.relu(nn.Dense(units, name=f'domain_fc{j + 1}')(d))
      d = nn.Dropout(0.5, deterministic=not train)(d)
    d = nn.Dense(1, name='domain')(d)[:, 0]
    return EMROutputs(logits, top, bottom, d)


def emr_network(
  num_classes: int = NUM_CLASSES, grl_weight: float = 1.0, conv: str = 'patch'
) -> EMRNet:
  """An `EMRNet`, checked."""
  if int(num_classes) < 2:
    raise ValueError(f'num_classes must be >= 2, got {num_classes}.')
  weight = float(grl_weight)
  if not weight >= 0:
    raise ValueError(f'grl_weight must be >= 0, got {grl_weight}.')
  if conv not in CONV_KINDS:
    raise ValueError(f'conv must be one of {CONV_KINDS}, got {conv!r}.')
  return EMRNet(int(num_classes), weight, conv)
