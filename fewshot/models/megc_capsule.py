"""CapsuleNet for micro-expression recognition (Quang, Chun and Tokuyama, FG 2019; MEGC 2019 [19]).

The apex frame goes through the first stages of a ResNet18, then a capsule
network (Sabour et al.'s, the paper's [24]): primary capsules from a
convolution, one output capsule per class, dynamic routing between them
(3 iterations), and the output capsules' lengths as class scores, trained
with the margin loss. The facts come from the authors' released code
(github.com/davidnvq/me_recognition, `capsule/modules/capsule_net.py`,
`capsule_layers.py`, `activations.py`, `loss/losses.py`,
`train_me_loso.py`); no code was copied:

* backbone: torchvision's ResNet18 up to and including `layer3` (conv1 7 x 7
  stride 2, bn1, ReLU, layer1, layer2, layer3; the forward skips the max
  pooling, so a 224 x 224 apex gives [28, 28, 256]);
* a 9 x 9 convolution 256 -> 256 (no padding) and ReLU ([20, 20, 256]);
* primary capsules: a 9 x 9 convolution with stride 2 to 32 x 8 channels
  ([6, 6, 256]), read as 6 * 6 * 32 = 1,152 capsules of 8 dimensions (the 8
  consecutive channels of one map at one pixel), squashed;
* output capsules: one 16-dimensional capsule per class, u_hat_{j|i} =
  W_ij u_i (W: [classes, 1152, 16, 8], no bias, initialised N(0, 0.01^2)),
  routing logits b = 0, 3 iterations of c = softmax_j(b),
  v_j = squash(sum_i c_ij u_hat_{j|i}), b += u_hat_{j|i} . v_j, gradients
  flowing only through the last iteration's u_hat (the others see it
  stopped);
* squash(s) = |s|^2 / (1 + |s|^2) s / (|s| + 1e-8);
* margin loss: sum_j T_j max(0, 0.99 - |v_j|)^2 + 0.5 (1 - T_j) max(0, |v_j| - 0.01)^2
  (m+ = 0.99, m- = 0.01, lambda = 0.5), averaged over the batch;
* training: apex frames of 224 x 224 in [0, 1] (no mean / std
  normalisation), Adam at 1e-4 decayed by 0.9 per epoch, batches of 32, 30
  epochs (`train_me_loso.py`).

Parameters (trainable; batch-norm running statistics not counted), with the
released sizes and a 224 x 224 input: ResNet18 to layer3 2,782,784 (conv1
9,408, bn1 128, layer1 147,968, layer2 525,568, layer3 2,099,712), the 9 x 9
convolution 5,308,672, the primary capsules' convolution 5,308,672 and the
routing weights 3 * 1,152 * 16 * 8 = 442,368: 13,842,496.

This library's choices: grey apex faces, repeated over the 3 input channels
(the flow-based inputs are grey too; SAMM is grey); batch norm is
`MaskedBatchNorm` (padding of vmapped batches ignored, running statistics
with PyTorch's momentum); convolutions are `layers.PatchConv` (the
parameters of `nn.Conv`), patch matmuls (`conv='patch'`) or XLA's own
(`conv='native'`): inside the trainer's epoch loop XLA:CPU trained the
native form of this network's strided convolutions several times slower
(7x or more, `experiments/bench/megc_conv.py`; 12.8 s against 0.7 s for 3
steps of 32 apex frames of 48 x 48, width 16, when first measured); random
initialisation from one normal draw (`init_variables`: He normal for every
convolution, torchvision's rule for ResNet; biases 0); `width` (ResNet18's 64 base channels) and
`caps_kernel` (9) are attributes so that the quick CPU setting can run a
small version on small apex frames (docs/megc2019.md). ImageNet weights
cannot be downloaded here: the backbone trains from scratch unless ResNet18
weights are loaded from a NumPy archive (`load_resnet18`).

Called as `model.apply(variables, x, mask, train=...)` like the other MEGC
networks; the outputs are the capsule lengths [B, classes] (the predicted
class is their argmax).
"""

from __future__ import annotations

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from fewshot.models.layers import MaskedBatchNorm
from fewshot.models.layers import PatchConv

NUM_CLASSES = 3
SQUASH_EPSILON = 1e-8  # capsule/modules/activations.py
MARGIN_POSITIVE, MARGIN_NEGATIVE, MARGIN_LAMBDA = 0.99, 0.01, 0.5  # loss/losses.py
PAPER_PARAMETERS = 13_842_496  # released sizes, 224 x 224 input (module doc)
# torchvision's ResNet initialisation of convolutions: kaiming_normal_(mode='fan_out', 'relu').
KAIMING = nn.initializers.variance_scaling(2.0, 'fan_out', 'normal')
STAGES = (('layer1', 1, 1), ('layer2', 2, 2), ('layer3', 4, 2))  # (name, width factor, stride)


def squash(s, axis: int = -1):
  """Capsule non-linearity squash(s) = |s|^2 / (1 + |s|^2) * s / (|s| + 1e-8) along `axis`."""
  norm = jnp.linalg.norm(s, axis=axis, keepdims=True)
  return (norm**2 / (1.0 + norm**2) / (norm + SQUASH_EPSILON)) * s


def dynamic_routing(u_hat, iterations: int = 3):
  """Routing by agreement (Sabour et al., procedure 1) as the released MECapsule layer runs it.

  Args:
    u_hat: [B, J, I, D] predictions of the I input capsules for the J output capsules.
    iterations: routing iterations (>= 1).

  Returns:
    (v [B, J, D] output capsules, c [B, J, I] the last iteration's coupling
    coefficients, which sum to 1 over J for every input capsule).
  """
  b = jnp.zeros(u_hat.shape[:3], u_hat.dtype)
  detached = jax.lax.stop_gradient(u_hat)
  for r in range(iterations):
    c = jax.nn.softmax(b, axis=1)
    last = r == iterations - 1
    v = squash(jnp.einsum('bji,bjid->bjd', c, u_hat if last else detached))
    if not last:
      b = b + jnp.einsum('bjd,bjid->bji', v, detached)
  return v, c


def margin_loss(lengths, labels, mask=None):
  """Masked mean over the batch of the margin loss of capsule lengths [B, J] and int labels [B]."""
  t = jax.nn.one_hot(labels, lengths.shape[-1], dtype=lengths.dtype)
  per_class = (
    t * jnp.maximum(0.0, MARGIN_POSITIVE - lengths) ** 2
    + MARGIN_LAMBDA * (1 - t) * jnp.maximum(0.0, lengths - MARGIN_NEGATIVE) ** 2
  )
  per_example = per_class.sum(axis=-1)
  if mask is None:
    return per_example.mean()
  w = mask.astype(per_example.dtype)
  return (per_example * w).sum() / jnp.maximum(w.sum(), 1.0)


def _conv(features, k, stride, kind, name):
  return PatchConv(
    features, k, k // 2, stride, use_bias=False, kernel_init=KAIMING, kind=kind, name=name
  )


class BasicBlock(nn.Module):
  """ResNet's basic block: 3 x 3 conv (stride) - BN - ReLU - 3 x 3 conv - BN, plus the shortcut, ReLU.

  The shortcut is a 1 x 1 convolution with the stride and batch norm when
  the shape changes (torchvision's `downsample`), the identity otherwise.
  """

  features: int
  stride: int = 1
  conv: str = 'patch'  # `layers.PatchConv.kind`

  @nn.compact
  def __call__(self, x, mask, train: bool):
    h = _conv(self.features, 3, self.stride, self.conv, 'conv1')(x)
    h = nn.relu(MaskedBatchNorm(name='bn1')(h, mask, train))
    h = _conv(self.features, 3, 1, self.conv, 'conv2')(h)
    h = MaskedBatchNorm(name='bn2')(h, mask, train)
    if self.stride != 1 or x.shape[-1] != self.features:
      x = _conv(self.features, 1, self.stride, self.conv, 'downsample_conv')(x)
      x = MaskedBatchNorm(name='downsample_bn')(x, mask, train)
    return nn.relu(h + x)


class OutputCapsules(nn.Module):
  """One `dim`-dimensional capsule per class from [B, I, d] input capsules, by dynamic routing."""

  num_caps: int
  dim: int = 16
  routings: int = 3

  @nn.compact
  def __call__(self, u):
    """u: [B, I, d] -> v [B, num_caps, dim]."""
    _, i, d = u.shape
    w = self.param(
      'weight', nn.initializers.normal(0.01), (self.num_caps, i, self.dim, d)
    )  # (J, I, D, d)
    u_hat = jnp.einsum('jiDd,bid->bjiD', w, u)  # (B, J, I, D)
    return dynamic_routing(u_hat, self.routings)[0]


class CapsuleNet(nn.Module):
  """Quang et al.'s CapsuleNet on the apex frame (module doc).

  Attributes:
    num_classes: output capsules.
    width: ResNet18's base channels (64; the stages have width, 2 width, 4 width).
    caps_kernel: kernel of the convolution after the backbone and of the
      primary capsules' convolution (9).
    primary_maps, primary_dim: 32 capsule maps of 8 dimensions.
    output_dim: 16 dimensions per output capsule.
    routings: 3 routing iterations.
    conv: 'patch' or 'native' convolutions (`layers.PatchConv.kind`; the
      same variables either way).
  """

  num_classes: int = NUM_CLASSES
  width: int = 64
  caps_kernel: int = 9
  primary_maps: int = 32
  primary_dim: int = 8
  output_dim: int = 16
  routings: int = 3
  conv: str = 'patch'

  @nn.compact
  def __call__(self, x, mask=None, train: bool = False):
    """x: [B, S, S, 1 or 3] apex frames in [0, 1] -> capsule lengths [B, num_classes]."""
    mask = jnp.ones(x.shape[:1], bool) if mask is None else mask
    if x.shape[-1] == 1:
      x = jnp.repeat(x, 3, axis=-1)  # a grey face on ResNet's 3 input channels
    h = _conv(self.width, 7, 2, self.conv, 'conv1')(x)  # (B, S/2, S/2, w)
    h = nn.relu(MaskedBatchNorm(name='bn1')(h, mask, train))
    for name, factor, stride in STAGES:  # (B, S/8, S/8, 4w) after layer3
      h = BasicBlock(self.width * factor, stride, self.conv, name=f'{name}_0')(h, mask, train)
      h = BasicBlock(self.width * factor, 1, self.conv, name=f'{name}_1')(h, mask, train)
    k = self.caps_kernel
    conv = lambda f, s, name: PatchConv(f, k, 0, s, kernel_init=KAIMING, kind=self.conv, name=name)  # noqa: E731
    h = nn.relu(conv(4 * self.width, 1, 'caps_conv')(h))
    h = conv(self.primary_maps * self.primary_dim, 2, 'primary')(h)  # (B, P, P, maps * dim)
    if h.shape[1] < 1 or h.shape[2] < 1:
      raise ValueError(f'apex frames of {x.shape[1:3]} are too small for caps_kernel {k}.')
    u = squash(h.reshape(h.shape[0], -1, self.primary_dim))  # (B, P * P * maps, dim)
    v = OutputCapsules(self.num_classes, self.output_dim, self.routings, name='output_caps')(u)
    return jnp.linalg.norm(v, axis=-1)


def init_variables(key, model: CapsuleNet, x, mask=None) -> dict:
  """Random variables of `model` for inputs like `x`, from one normal draw.

  The distributions are the modules' initialisers (convolutions He normal
  with fan-out as torchvision's ResNet, routing weights N(0, 0.01^2), biases
  and batch-norm shifts 0, scales 1, running statistics 0 and 1), drawn as
  slices of a single `jax.random.normal` vector: XLA compiles one random
  generator instead of one per parameter array (`model.init` with its ~80
  arrays took 30 s to compile on a 2-core CPU, this under a second).

  Args:
    key: jax.random key.
    model: a CapsuleNet.
    x: [B, S, S, C] example input (only its shape is used).
    mask: unused (the `trainer.make_stage` variables signature).

  Returns:
    {'params', 'batch_stats'}.
  """
  del mask
  shapes = jax.eval_shape(lambda x: model.init(jax.random.key(0), x, train=False), x)
  leaves, treedef = jax.tree_util.tree_flatten_with_path(shapes['params'])
  sizes = [int(np.prod(s.shape)) for _, s in leaves]
  z = jax.random.normal(key, (sum(sizes),), jnp.float32)
  offsets = np.cumsum([0] + sizes)
  out = []
  for (path, s), a, b in zip(leaves, offsets[:-1], offsets[1:]):
    name = path[-1].key
    if name == 'kernel':  # (kh, kw, in, out): He normal, fan-out kh * kw * out
      std = np.sqrt(2.0 / (s.shape[0] * s.shape[1] * s.shape[3]))
      out.append(std * z[a:b].reshape(s.shape))
    elif name == 'weight':  # routing weights
      out.append(0.01 * z[a:b].reshape(s.shape))
    elif name == 'scale':
      out.append(jnp.ones(s.shape, s.dtype))
    else:  # biases
      out.append(jnp.zeros(s.shape, s.dtype))
  stats = jax.tree_util.tree_map_with_path(
    lambda p, s: (jnp.ones if p[-1].key == 'var' else jnp.zeros)(s.shape, s.dtype),
    shapes['batch_stats'],
  )
  return {'params': jax.tree_util.tree_unflatten(treedef, out), 'batch_stats': stats}


def init_shapes(model: CapsuleNet, size: int, channels: int = 1):
  """Shapes of `model`'s variables for [size, size, channels] inputs (nothing computed)."""
  x = jax.ShapeDtypeStruct((1, size, size, channels), jnp.float32)
  m = jax.ShapeDtypeStruct((1,), bool)
  return jax.eval_shape(lambda x, m: model.init(jax.random.key(0), x, m, train=False), x, m)


# ------------------------------------------------------------- ResNet18 weights

# torchvision's ResNet18 state_dict names of the stages CapsuleNet uses.
_BN = ('weight', 'bias', 'running_mean', 'running_var')


def resnet18_keys() -> tuple[str, ...]:
  """The archive keys `load_resnet18` needs (torchvision's `resnet18().state_dict()` names).

  conv1.weight [64, 3, 7, 7]; bn1.{weight, bias, running_mean, running_var}
  [64]; layerL.B.conv{1,2}.weight [out, in, 3, 3] and layerL.B.bn{1,2}.*
  for L = 1, 2, 3 and B = 0, 1; layer2.0.downsample.0.weight [128, 64, 1, 1],
  layer2.0.downsample.1.*, and the same for layer3. Convolution weights are
  PyTorch's [out, in, kh, kw]; other keys in the archive (layer4, fc,
  num_batches_tracked) are ignored.
  """
  keys = ['conv1.weight'] + [f'bn1.{p}' for p in _BN]
  for name, _, stride in STAGES:
    for b in range(2):
      for j in (1, 2):
        keys += [f'{name}.{b}.conv{j}.weight'] + [f'{name}.{b}.bn{j}.{p}' for p in _BN]
      if b == 0 and stride != 1:
        keys += [f'{name}.0.downsample.0.weight'] + [f'{name}.0.downsample.1.{p}' for p in _BN]
  return tuple(keys)


def _flax_path(key: str) -> tuple[str, tuple[str, ...], str]:
  """(collection, module path, leaf) of a torchvision key."""
  parts = key.split('.')
  leaf = parts[-1]
  if parts[0].startswith('layer'):
    block = f'{parts[0]}_{parts[1]}'
    mod = (
      parts[2] if parts[2] != 'downsample' else ('downsample_conv', 'downsample_bn')[int(parts[3])]
    )
    path = (block, mod)
  else:
    path = (parts[0],)
  if leaf == 'running_mean':
    return 'batch_stats', path, 'mean'
  if leaf == 'running_var':
    return 'batch_stats', path, 'var'
  if path[-1].startswith(('conv', 'downsample_conv')):
    return 'params', path, 'kernel'
  return 'params', path, {'weight': 'scale', 'bias': 'bias'}[leaf]


def load_resnet18(variables: dict, path: str) -> dict:
  """`variables` of a `CapsuleNet` with its ResNet18 stages replaced by the weights in a .npz archive.

  The archive holds torchvision's ResNet18 state_dict names and layouts
  (`resnet18_keys`), e.g. written with
  `np.savez(path, **{k: v.numpy() for k, v in resnet18(weights=...).state_dict().items()})`
  outside this library (torch is not a dependency). Convolutions are
  converted from [out, in, kh, kw] to Flax's [kh, kw, in, out].

  Args:
    variables: {'params', 'batch_stats'} of a CapsuleNet (width 64).
    path: the .npz file.

  Returns:
    New variables (the capsule layers keep their values); works inside
    `jax.jit` (the archive's arrays enter as constants).
  """
  with np.load(path) as f:
    archive = {k: np.asarray(f[k]) for k in f.files}
  missing = [k for k in resnet18_keys() if k not in archive]
  if missing:
    raise ValueError(
      f'{path} lacks {len(missing)} ResNet18 keys, e.g. {missing[:4]} (expected torchvision '
      'state_dict names, see fewshot.models.megc_capsule.resnet18_keys).'
    )
  where = {}
  for key in resnet18_keys():
    coll, mod_path, leaf = _flax_path(key)
    where[(coll, *mod_path, leaf)] = key

  def replace(path, old):
    key = where.get(tuple(p.key for p in path))
    if key is None:
      return old
    value = archive[key]
    if value.ndim == 4:
      value = value.transpose(2, 3, 1, 0)  # (out, in, kh, kw) -> (kh, kw, in, out)
    if value.shape != old.shape:
      raise ValueError(
        f'{path_name}: {key} has shape {archive[key].shape}, the model expects '
        f'{old.shape} after conversion (a ResNet18 needs width 64).'
      )
    return jnp.asarray(value, old.dtype)

  path_name = path
  variables = flax.core.unfreeze(variables)
  found = {tuple(p.key for p in q) for q, _ in jax.tree_util.tree_flatten_with_path(variables)[0]}
  absent = sorted(set(where) - found)
  if absent:
    raise ValueError(f'the model has no variables {absent[:4]}: is it a CapsuleNet?')
  return jax.tree_util.tree_map_with_path(replace, variables)
