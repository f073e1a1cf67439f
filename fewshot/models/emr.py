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
of both cross-entropies trains the domain classifier to tell the domains
apart and the feature extractor to make them indistinguishable, while the
emotion classifier learns from both domains' labels.

`EMRNet` here: a small CNN, shared by the facial parts (the two
eye-and-brow regions and the mouth; `vision.megc.emr.FACE_PARTS`), reads
each part's onset-to-apex flow [S, S, 2]: 3 x 3 convolution with 16
filters, ReLU, 2 x 2 max pooling, 3 x 3 convolution with 32 filters, ReLU,
2 x 2 max pooling, a dense layer of 64 units with ReLU; the parts' features
are concatenated in part order (192) and go to the emotion classifier
(dense, 3 logits) and, through the GRL, to the domain classifier (dense 64,
ReLU, dense 2). The layer sizes and the sharing are this library's choices
(the EMR paper's network could not be checked here, docs/megc2019.md).

Parameters at S = 24: extractor 2 * 9 * 16 + 16 = 304, 16 * 9 * 32 + 32 =
4,640 and 6 * 6 * 32 * 64 + 64 = 73,792; emotion 192 * 3 + 3 = 579; domain
192 * 64 + 64 = 12,352 and 64 * 2 + 2 = 130: 91,797.

Called as `model.apply(variables, x, mask, train=...)` like the other Table
IV networks (`x: [B, P, S, S, 2]`, `mask: [B] bool`, ignored: no batch
statistics) -> emotion logits [B, 3]; with `domain=True` -> (emotion logits,
domain logits [B, 2]).
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax

from fewshot.models.layers import PatchConv

NUM_CLASSES = 3  # negative, positive, surprise
NUM_DOMAINS = 2  # micro, macro
MICRO, MACRO = 0, 1


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


class PartCNN(nn.Module):
  """The feature extractor of one facial part: [B, S, S, 2] flow -> [B, features]."""

  features: int = 64

  @nn.compact
  def __call__(self, x):
    for j, filters in enumerate((16, 32)):
      x = nn.relu(PatchConv(filters, 3, name=f'conv{j + 1}')(x))
      x = nn.max_pool(x, (2, 2), strides=(2, 2))  # (B, S / 2^(j+1), ., filters)
    return nn.relu(nn.Dense(self.features, name='fc')(x.reshape(x.shape[0], -1)))


class EMRNet(nn.Module):
  """Part-based flow network with an emotion head and a gradient-reversed domain head (module doc).

  Attributes:
    num_classes: emotion classes (3).
    parts: facial parts P of the input.
    grl_weight: lambda of the gradient reversal layer.
    features: units per part's features.
  """

  num_classes: int = NUM_CLASSES
  parts: int = 3
  grl_weight: float = 1.0
  features: int = 64

  @nn.compact
  def __call__(self, x, mask=None, train: bool = False, domain: bool = False):
    """x: [B, P, S, S, 2] part flows -> emotion logits [B, C] (and domain logits [B, 2])."""
    del mask, train  # no batch statistics, no dropout
    if x.ndim != 5 or x.shape[1] != self.parts or x.shape[-1] != 2:
      raise ValueError(f'EMRNet takes [B, {self.parts}, S, S, 2] part flows, got {x.shape}.')
    b, p = x.shape[:2]
    # One extractor for every part (parts folded into the batch: one
    # convolution stack to compile and a part's features learnt from all
    # parts' motion); the parts' features stay apart, in part order.
    h = PartCNN(self.features, name='part')(x.reshape(b * p, *x.shape[2:]))  # (B * P, features)
    h = h.reshape(b, p * self.features)  # (B, P * features)
    logits = nn.Dense(self.num_classes, name='emotion')(h)
    if not domain:
      return logits
    d = gradient_reversal(h, float(self.grl_weight))
    d = nn.relu(nn.Dense(64, name='domain_fc')(d))
    return logits, nn.Dense(NUM_DOMAINS, name='domain')(d)


def emr_network(num_classes: int = NUM_CLASSES, parts: int = 3, grl_weight: float = 1.0) -> EMRNet:
  """An `EMRNet`, checked."""
  if int(num_classes) < 2:
    raise ValueError(f'num_classes must be >= 2, got {num_classes}.')
  if int(parts) < 1:
    raise ValueError(f'parts must be >= 1, got {parts}.')
  weight = float(grl_weight)
  if not weight >= 0:
    raise ValueError(f'grl_weight must be >= 0, got {grl_weight}.')
  return EMRNet(int(num_classes), int(parts), weight)
