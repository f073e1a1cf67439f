"""Bi-WOOF descriptors and CapsuleNet (MEGC 2019 Table IV rows [20] and [19])."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evaluation
from evaluation import records
from fewshot import trainer
from fewshot.models import megc as megc_models
from fewshot.models import megc_capsule as caps
from fewshot.protocols import megc_recognition as protocol
from vision.megc import biwoof

# ------------------------------------------------------------------ Bi-WOOF


def _naive_strain(flow):
  u, v = flow[..., 0].astype(np.float64), flow[..., 1].astype(np.float64)
  u_y, u_x = np.gradient(u)
  v_y, v_x = np.gradient(v)
  return np.sqrt(u_x**2 + v_y**2 + 0.5 * (u_y + v_x) ** 2)


def _naive_biwoof(flow, grid, bins):
  """Pixel by pixel, block by block: the module doc's formulas."""
  strain = _naive_strain(flow)
  rows = np.array_split(np.arange(flow.shape[0]), grid[0])
  cols = np.array_split(np.arange(flow.shape[1]), grid[1])
  feat = []
  for r in rows:
    for c in cols:
      hist = np.zeros(bins)
      for y in r:
        for x in c:
          u, v = float(flow[y, x, 0]), float(flow[y, x, 1])
          b = min(int(math.floor((math.atan2(v, u) + math.pi) / (2 * math.pi) * bins)), bins - 1)
          hist[b] += math.hypot(u, v)
      if hist.sum() > 0:
        hist /= hist.sum()
      feat.append(hist * strain[np.ix_(r, c)].mean())
  feat = np.concatenate(feat)
  return feat / np.linalg.norm(feat) if np.linalg.norm(feat) > 0 else feat


def _hand_flow(h=13, w=11, seed=0):
  """A smooth swirl plus noise, and a still block (top-left) with no motion."""
  rng = np.random.default_rng(seed)
  y, x = np.mgrid[0:h, 0:w].astype(np.float32)
  flow = np.stack([np.sin(y / 3.0) + 0.3 * x / w, np.cos(x / 2.5) - 0.2 * y / h], -1)
  flow += 0.05 * rng.normal(size=flow.shape)
  flow[:4, :4] = 0.0  # block (0, 0) of a 4 x 3 grid
  return flow.astype(np.float32)


def test_biwoof_equals_a_naive_loop():
  flows = np.stack([_hand_flow(seed=0), _hand_flow(seed=1)[::-1].copy()])
  got = biwoof.biwoof_features(flows, grid=(4, 3), bins=8)
  assert got.shape == (2, 4 * 3 * 8)
  for i in range(2):
    np.testing.assert_allclose(got[i], _naive_biwoof(flows[i], (4, 3), 8), rtol=1e-4, atol=1e-6)
  assert np.all(got[0, :8] == 0)  # the still block has no histogram
  np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)


def test_biwoof_bins_and_strain_weight():
  """Motion to the right is bin 4 (0 rad), up (v < 0) bin 2; a rigid shift has no strain, so no feature."""
  assert int(biwoof.orientation_bin(1.0, 0.0)) == 4 and int(biwoof.orientation_bin(0.0, -1.0)) == 2
  assert int(biwoof.orientation_bin(-1.0, 0.0)) == 7  # atan2 = pi falls in the last bin
  np.testing.assert_array_equal(biwoof.biwoof_features(np.ones((1, 10, 10, 2), np.float32)), 0.0)
  with pytest.raises(ValueError, match=r'\[N, H, W, 2\]'):
    biwoof.biwoof_features(np.zeros((1, 10, 10, 3), np.float32))
  with pytest.raises(ValueError, match='more blocks'):
    biwoof.biwoof_features(np.zeros((1, 4, 4, 2), np.float32), grid=(5, 5))


# --------------------------------------------------------------- CapsuleNet


def test_squash_and_margin_loss_equal_numpy():
  s = np.random.default_rng(0).normal(size=(4, 5, 8)).astype(np.float32)
  n = np.linalg.norm(s, axis=-1, keepdims=True)
  np.testing.assert_allclose(caps.squash(s), n**2 / (1 + n**2) * s / (n + 1e-8), rtol=1e-5)
  lengths = np.array([[0.9, 0.2, 0.0], [0.1, 0.995, 0.5], [0.3, 0.3, 0.3]], np.float32)
  y, mask = np.array([0, 1, 2]), np.array([True, True, False])
  t = np.eye(3)[y]
  per = t * np.maximum(0, 0.99 - lengths) ** 2 + 0.5 * (1 - t) * np.maximum(0, lengths - 0.01) ** 2
  want = per.sum(1)[:2].mean()
  assert float(caps.margin_loss(lengths, y, mask)) == pytest.approx(want, rel=1e-5)


def test_dynamic_routing_equals_a_numpy_loop():
  u_hat = np.random.default_rng(1).normal(size=(2, 3, 7, 4)).astype(np.float32)
  v, c = caps.dynamic_routing(jnp.asarray(u_hat), 3)
  b = np.zeros((2, 3, 7))
  for r in range(3):
    cc = np.exp(b) / np.exp(b).sum(axis=1, keepdims=True)
    s = np.einsum('bji,bjid->bjd', cc, u_hat)
    n = np.linalg.norm(s, axis=-1, keepdims=True)
    vv = n**2 / (1 + n**2) * s / (n + 1e-8)
    if r < 2:
      b = b + np.einsum('bjd,bjid->bji', vv, u_hat)
  np.testing.assert_allclose(v, vv, rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(c, cc, rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(np.sum(c, axis=1), 1.0, rtol=1e-5)  # each input capsule's coupling
  # Gradients reach u_hat only through the last iteration (the others see it stopped).
  g = jax.grad(lambda u: caps.dynamic_routing(u, 3)[0].sum())(jnp.asarray(u_hat))
  c_last = jax.lax.stop_gradient(c)
  g_last = jax.grad(lambda u: caps.squash(jnp.einsum('bji,bjid->bjd', c_last, u)).sum())(
    jnp.asarray(u_hat)
  )
  np.testing.assert_allclose(g, g_last, rtol=1e-4, atol=1e-6)


def test_parameter_count_and_shapes_match_the_released_network():
  shapes = caps.init_shapes(caps.CapsuleNet(), 224, 3)
  p = shapes['params']
  count = lambda tree: megc_models.parameter_count(tree)  # noqa: E731
  conv = lambda k, i, o, bias=False: k * k * i * o + (o if bias else 0)  # noqa: E731
  block = lambda i, o, down: (
    conv(3, i, o) + conv(3, o, o) + 4 * o + (conv(1, i, o) + 2 * o if down else 0)
  )  # noqa: E731
  assert count(p['conv1']) + count(p['bn1']) == 9_408 + 128
  assert count(p['layer1_0']) + count(p['layer1_1']) == 2 * block(64, 64, False) == 147_968
  assert (
    count(p['layer2_0']) + count(p['layer2_1'])
    == block(64, 128, True) + block(128, 128, False)
    == 525_568
  )
  assert (
    count(p['layer3_0']) + count(p['layer3_1'])
    == block(128, 256, True) + block(256, 256, False)
    == 2_099_712
  )
  assert count(p['caps_conv']) == count(p['primary']) == conv(9, 256, 256, True) == 5_308_672
  assert p['output_caps']['weight'].shape == (3, 32 * 6 * 6, 16, 8)
  assert count(p) == caps.PAPER_PARAMETERS == 13_842_496


def test_forward_shapes():
  """Any apex size whose last feature map fits the capsule kernels; lengths [B, classes]."""
  model = caps.CapsuleNet(width=8, caps_kernel=1)
  for size, channels, n_caps in ((16, 1, 32), (32, 3, 4 * 32)):  # 2 x 2 -> 1 x 1; 4 x 4 -> 2 x 2
    x = jax.ShapeDtypeStruct((5, size, size, channels), jnp.float32)
    v = jax.eval_shape(lambda x: caps.init_variables(jax.random.key(0), model, x), x)
    assert v['params']['output_caps']['weight'].shape == (3, n_caps, 16, 8)
    out = jax.eval_shape(lambda v, x: model.apply(v, x, jnp.ones(5, bool), train=False), v, x)
    assert out.shape == (5, 3)
  with pytest.raises(ValueError, match='too small'):
    caps.init_shapes(caps.CapsuleNet(width=8, caps_kernel=3), 16)


def test_resnet18_weights_load_from_an_npz_round_trip(tmp_path):
  shapes = caps.init_shapes(caps.CapsuleNet(caps_kernel=1), 16)
  zeros = jax.tree.map(lambda s: np.zeros(s.shape, np.float32), shapes)
  rng = np.random.default_rng(0)
  archive = {}
  for key in caps.resnet18_keys():  # torchvision's layouts: convolutions [out, in, kh, kw]
    coll, path, leaf = caps._flax_path(key)
    shape = zeros[coll]
    for p in path:
      shape = shape[p]
    shape = shape[leaf].shape
    torch_shape = shape if len(shape) != 4 else (shape[3], shape[2], shape[0], shape[1])
    archive[key] = rng.standard_normal(torch_shape, np.float32)
  archive['fc.weight'] = np.zeros((3, 512), np.float32)  # other keys are ignored
  path = str(tmp_path / 'resnet18.npz')
  np.savez(path, **archive)
  loaded = caps.load_resnet18(zeros, path)
  np.testing.assert_allclose(
    loaded['params']['conv1']['kernel'], archive['conv1.weight'].transpose(2, 3, 1, 0), rtol=1e-6
  )
  np.testing.assert_allclose(
    loaded['params']['layer2_0']['downsample_conv']['kernel'][0, 0],
    archive['layer2.0.downsample.0.weight'][:, :, 0, 0].T, rtol=1e-6,
  )  # fmt: skip
  np.testing.assert_allclose(
    loaded['params']['layer3_1']['bn2']['scale'], archive['layer3.1.bn2.weight'], rtol=1e-6
  )
  np.testing.assert_allclose(
    loaded['batch_stats']['bn1']['var'], archive['bn1.running_var'], rtol=1e-6
  )
  assert not np.any(loaded['params']['output_caps']['weight'])  # capsule layers untouched
  assert not np.any(zeros['params']['conv1']['kernel'])  # the input is not modified
  # The protocol's initialisation (jitted in `trainer.make_stage`) loads them; the records say so.
  init = protocol._capsule_variables(path)
  v = init(caps.CapsuleNet(caps_kernel=1), jax.random.key(0), jnp.zeros((1, 16, 16, 1)))
  np.testing.assert_allclose(
    v['batch_stats']['layer1_1']['bn1']['mean'], archive['layer1.1.bn1.running_mean'], rtol=1e-6
  )
  assert np.any(v['params']['output_caps']['weight'])  # random capsule layers
  cfg = protocol.Config(capsule=protocol.CapsuleConfig(resnet_weights=path))
  assert f'initialised from the weights in {path}' in protocol._selection(cfg, 'CapsuleNet')
  del archive['layer1.0.conv2.weight']
  np.savez(path, **archive)
  with pytest.raises(ValueError, match=r'lacks 1 ResNet18 keys.*layer1.0.conv2.weight'):
    caps.load_resnet18(zeros, path)
  small = jax.tree.map(
    lambda s: np.zeros(s.shape), caps.init_shapes(caps.CapsuleNet(width=8, caps_kernel=1), 16)
  )
  archive['layer1.0.conv2.weight'] = rng.normal(size=(64, 64, 3, 3))
  np.savez(path, **archive)
  with pytest.raises(ValueError, match='width 64'):
    caps.load_resnet18(small, path)


# ------------------------------------------------- both rows under CDE LOSO

EMOTIONS = {
  'SMIC': ('negative', 'positive', 'surprise'),
  'CASME II': ('disgust', 'happiness', 'surprise'),
  'SAMM': ('anger', 'happiness', 'surprise'),
}


def _clips(n_per_subject=4):
  """(database, subject, emotion) of one subject per database, classes cycling."""
  subjects = (('SMIC', 's1'), ('CASME II', 'sub01'), ('SAMM', '006'))
  rows = [(d, s, EMOTIONS[d][i % 3]) for d, s in subjects for i in range(n_per_subject)]
  return [np.array(c) for c in zip(*rows)]


def _apex_images(labels, size, rng):
  """Class c brightens a class-specific quarter of the face; noise elsewhere."""
  x = rng.uniform(0, 0.3, size=(len(labels), size, size, 1)).astype(np.float32)
  h = size // 2
  for i, c in enumerate(labels):
    x[i, (c // 2) * h : (c // 2) * h + h, (c % 2) * h : (c % 2) * h + h] += 0.7
  return x


def _class_flows(labels, rng, size=20):
  """Class c: an expanding motion in block row c (strain there), noise elsewhere."""
  flows = 0.02 * rng.normal(size=(len(labels), size, size, 2)).astype(np.float32)
  y, x = np.mgrid[0:size, 0:size].astype(np.float32)
  for i, c in enumerate(labels):
    rows = slice(6 * c + 1, 6 * c + 7)
    flows[i, rows, :, 0] += 0.1 * (x[rows] - size / 2)
    flows[i, rows, :, 1] += 0.1 * (y[rows] - (6 * c + 4))
  return flows


TINY_CAPS = protocol.CapsuleConfig(
  trainer.FitConfig(num_epochs=15, batch_size=8, learning_rate=1e-2), lr_decay=1.0, size=16,
  width=8, caps_kernel=1,
)  # fmt: skip


def test_both_rows_learn_separable_clips_through_run():
  meta = _clips()
  comp = evaluation.composite_database(*meta)
  rng = np.random.default_rng(0)
  n = len(comp.labels)
  data = protocol.Inputs(
    np.zeros((n, 28, 28, 3), np.float32), np.zeros((n, 28, 28, 2), np.float32),
    rng.normal(size=(n, 4)), *meta,
    biwoof=biwoof.biwoof_features(_class_flows(comp.labels, rng), grid=(3, 3)),
    apex=_apex_images(comp.labels, 16, rng),
  )  # fmt: skip
  cfg = protocol.Config(methods=('Bi-WOOF', 'CapsuleNet'), capsule=TINY_CAPS)
  res = protocol.run(jax.random.key(0), cfg, data)
  iv = records.to_summary(res.records, 'IV')
  assert iv['Bi-WOOF']['Full UAR'] > 0.9, iv['Bi-WOOF']
  assert iv['CapsuleNet']['Full UAR'] > 0.6, iv['CapsuleNet']  # chance: 1/3
  sel = {r.row: r.selection for r in res.records if r.table == 'IV'}
  assert 'trained from scratch' in sel['CapsuleNet'] and '5 x 5 blocks' in sel['Bi-WOOF']
  with pytest.raises(ValueError, match=r'Inputs.biwoof has 11 rows but Inputs.rows names 12'):
    protocol.run(jax.random.key(0), cfg, data._replace(rows=np.arange(n), biwoof=data.biwoof[1:]))
  with pytest.raises(ValueError, match=r'CapsuleNet needs Inputs.apex, which is None'):
    protocol.run(jax.random.key(0), cfg, data._replace(apex=None))
  with pytest.raises(ValueError, match=r'takes \[N, 16, 16, 1 or 3\]'):
    protocol.run(jax.random.key(0), cfg, data._replace(apex=np.zeros((n, 8, 8, 1), np.float32)))
