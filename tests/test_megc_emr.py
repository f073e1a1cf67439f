"""EMR (Liu et al. [16]): gradient reversal, Eulerian magnification, flows, macro sources, CDE LOSO."""

import os

import cv2
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evaluation
import vision
from fewshot import trainer
from fewshot.models import emr as emr_models
from fewshot.models.megc import parameter_count
from fewshot.protocols import megc_recognition as protocol
from vision.megc import ckplus
from vision.megc import emr
from vision.megc import synthetic
from vision.megc.flow import optical_flow

# ------------------------------------------------------------ gradient reversal


@pytest.mark.parametrize('weight', [1.0, 0.3])
def test_gradient_reversal_is_identity_forward_and_negates_gradients(weight):
  x = jax.random.normal(jax.random.key(0), (4, 5))
  g = jax.random.normal(jax.random.key(1), (4, 5))
  y, vjp = jax.vjp(lambda t: emr_models.gradient_reversal(t, weight), x)
  np.testing.assert_array_equal(y, x)
  np.testing.assert_allclose(vjp(g)[0], -weight * g, rtol=1e-6)
  # Through a downstream function, under jit: d/dx f(GRL(x)) = -weight * f'(x).
  f = lambda t: jnp.sum(jnp.sin(t) * t)
  grad = jax.jit(jax.grad(lambda t: f(emr_models.gradient_reversal(t, weight))))(x)
  np.testing.assert_allclose(grad, -weight * jax.grad(f)(x), rtol=1e-5)


def test_emr_network_shapes_and_parameters():
  model = emr_models.emr_network()
  init = lambda x: model.init({'params': jax.random.key(0)}, x, None, domain=True)
  x = jax.ShapeDtypeStruct((2, 28, 28, 2), jnp.float32)
  v = jax.eval_shape(init, x)  # shapes only: nothing to compile
  # conv 2*9*16+16 = 304, conv 16*9*32+32 = 4,640; part layers 3*7*32*64+64
  # and 4*7*32*64+64 (the 7 x 7 map's top 3 and bottom 4 rows); classifiers
  # 128*3+3 and 2 x (64*3+3); domain 128*64+64, 64*32+32, 32+1.
  assert parameter_count(v['params']) == emr_models.PARAMETERS == 116_570
  assert v['params']['fc_top']['kernel'].shape == (3 * 7 * 32, 64)
  assert v['params']['fc_bottom']['kernel'].shape == (4 * 7 * 32, 64)
  out = jax.eval_shape(lambda v, x: model.apply(v, x, None, domain=True), v, x)
  assert out.emotion.shape == out.top.shape == out.bottom.shape == (2, 3)
  assert out.domain.shape == (2,)
  assert jax.eval_shape(model.apply, v, x).shape == (2, 3)
  with pytest.raises(ValueError, match='flows'):
    jax.eval_shape(model.apply, v, jax.ShapeDtypeStruct((2, 28, 28, 3), jnp.float32))


# ----------------------------------------------------------- magnification


def _reference_magnify(onset, frame, alpha, sigma):
  """A naive NumPy loop: frame + alpha * (Gaussian of radius ceil(3 sigma), mirrored borders) of the change."""
  r = int(np.ceil(3 * sigma))
  t = np.arange(-r, r + 1)
  k1 = np.exp(-(t**2) / (2 * sigma**2))
  k2 = np.outer(k1, k1) / k1.sum() ** 2
  change = np.pad(frame.astype(np.float64) - onset, r, mode='reflect')
  h, w = onset.shape
  blurred = np.zeros((h, w))
  for i in range(h):
    for j in range(w):
      blurred[i, j] = np.sum(change[i : i + 2 * r + 1, j : j + 2 * r + 1] * k2)
  return frame + alpha * blurred


def _blob(shape, cy, cx, s=3.0):
  yy, xx = np.mgrid[: shape[0], : shape[1]]
  return 200.0 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s**2))


def _centroid(img):
  yy, xx = np.mgrid[: img.shape[0], : img.shape[1]]
  return np.array([np.sum(yy * img), np.sum(xx * img)]) / np.sum(img)


def test_eulerian_magnification_matches_a_numpy_reference_and_scales_the_motion():
  onset = _blob((24, 30), 11.0, 13.0)
  frame = _blob((24, 30), 11.4, 13.8)  # moved by (0.4, 0.8) pixels
  for alpha, sigma in ((1.0, 1.0), (-0.6, 1.5), (2.0, 0.7)):
    out = emr.eulerian_magnify(onset, frame, alpha, sigma)
    np.testing.assert_allclose(out, _reference_magnify(onset, frame, alpha, sigma), atol=1e-3)
    # Blurring keeps the change's first moment, so the centroid moves (1 + alpha) times as far.
    moved = _centroid(out) - _centroid(onset)
    np.testing.assert_allclose(moved, (1 + alpha) * np.array([0.4, 0.8]), atol=2e-3)
  # One alpha per pair equals the pairs one by one.
  both = emr.eulerian_magnify(np.stack([onset, onset]), np.stack([frame, frame]), [1.0, -0.5], 1.0)
  np.testing.assert_allclose(both[1], emr.eulerian_magnify(onset, frame, -0.5, 1.0), atol=1e-5)
  with pytest.raises(ValueError, match='> -1'):
    emr.eulerian_magnify(onset, frame, -1.0)
  with pytest.raises(ValueError, match='one shape'):
    emr.eulerian_magnify(onset, frame[:-1], 1.0)


def test_authors_farneback_recovers_a_shift():
  rng = np.random.default_rng(0)
  img = cv2.GaussianBlur((rng.random((64, 64)) * 255).astype(np.uint8), (7, 7), 2)
  moved = np.roll(img, 1, axis=1)  # content moves 1 pixel right: u = 1
  flow = emr.authors_farneback(img[None], moved[None])[0]
  assert flow.shape == (64, 64, 2)
  np.testing.assert_allclose(np.median(flow[16:48, 16:48], axis=(0, 1)), [1.0, 0.0], atol=0.15)
  with pytest.raises(ValueError, match='uint8'):
    emr.authors_farneback(img[None].astype(float), moved[None])


def test_face_flow_resizes_by_area_in_percent_of_the_crop():
  flows = np.zeros((2, 56, 56, 2), np.float32)
  flows[0, ..., 0] = 0.56  # 0.56 pixels of a 56-pixel crop: 1 percent
  flows[1, :2, :2, 1] = 5.6  # one output pixel's 2 x 2 area
  out = emr.face_flow(flows, size=28)
  assert out.shape == (2, 28, 28, 2)
  np.testing.assert_allclose(out[0, ..., 0], 1.0, rtol=1e-5)
  assert out[1, 0, 0, 1] == pytest.approx(10.0) and np.count_nonzero(out[1]) == 1
  with pytest.raises(ValueError, match='N, S, S, 2'):
    emr.face_flow(np.zeros((1, 20, 24, 2), np.float32))


def test_middle_frame_apex_is_the_authors_reduction():
  clip = synthetic.MEClip(
    'CK+', 'S005', 'S005_001', 'disgust', tuple('abcdefghijk'), 0, 10, 10, 30.0
  )
  (mid,) = emr.middle_frame_apex([clip])
  assert (mid.onset, mid.apex, mid.offset) == (0, 5, 10) and mid.name == clip.name


# ------------------------------------------------------------ macro sources


def _motion(frames, a, b, box):
  """99th percentile of the Farneback flow magnitude from frame a to b inside the face box."""
  grey = [cv2.cvtColor(frames[i], cv2.COLOR_BGR2GRAY) for i in (a, b)]
  f = optical_flow(grey[0], grey[1], 'farneback')
  x, y, w, h = (int(v) for v in box)
  return np.percentile(np.hypot(f[..., 0], f[..., 1])[y : y + h, x : x + w], 99)


def test_synthetic_macro_expressions_are_labelled_larger_and_end_at_the_apex():
  clips = synthetic.synthetic_macro_expressions(jax.random.key(0), 1, subjects=1)
  faces = [f for f in synthetic.source_faces()]
  first = {db: next(f for f in faces if f.database == db) for db in ('SMIC', 'CASME II', 'SAMM')}
  assert [(c.database, c.subject) for c in clips] == [
    (db, first[db].subject) for db in ('SMIC', 'CASME II', 'SAMM') for _ in range(3)
  ]
  np.testing.assert_array_equal(emr.macro_labels(clips), [0, 1, 2] * 3)
  for c in clips:
    assert c.apex == c.offset == len(c.frames) - 1 and c.fps == synthetic.MACRO_FPS
    assert (
      ckplus.MEGC_CLASS[c.emotion] == ('negative', 'positive', 'surprise')[emr.macro_labels([c])[0]]
    )
  # EMR's inputs: magnification (alpha = 1) moves the flow up, the middle frame down.
  three = clips[:3]
  size = lambda x: np.abs(x).mean(axis=(1, 2, 3))
  plain = size(emr.emr_inputs(three, 0.0, face_size=64, progress=False))
  both = emr.emr_domain_inputs(three, three, 1.0, face_size=64, progress=False)
  # The micro clips' faces, found once for the flow inputs, give the same inputs.
  faces = vision.onset_apex_crops(three, (64,))[64]
  again = emr.emr_domain_inputs(three, three, 1.0, face_size=64, progress=False, micro_faces=faces)
  for k in ('emr', 'macro_emr'):
    np.testing.assert_array_equal(again[k], both[k])
  assert both['emr'].shape == both['macro_emr'].shape == (3, 28, 28, 2)
  np.testing.assert_array_equal(both['macro_label'], [0, 1, 2])
  assert set(both['macro_subject']) == {f'SMIC/{first["SMIC"].subject}'}
  assert np.all(1.4 < size(both['emr']) / plain)
  # over the classes: the middle frame is part way to the peak
  assert size(both['macro_emr']).mean() < 0.8 * plain.mean()
  face = first['CASME II']
  w = face.box[2]
  for i in range(2):
    key = jax.random.key(10 + i)
    frames, onset, apex, amp = synthetic.macro_expression_clip(key, face, 'positive')
    lo = synthetic.MACRO_GAIN[0] * synthetic.MICRO_AMPLITUDE[0] * w
    hi = synthetic.MACRO_GAIN[1] * synthetic.MICRO_AMPLITUDE[1] * w
    assert lo <= amp <= hi
    assert (apex - onset) / synthetic.MACRO_FPS >= 0.3 * synthetic.MACRO_SECONDS[0] - 1 / 30
    micro, m_on, m_apex, _ = synthetic.micro_expression_clip(key, face, 'positive')
    assert _motion(frames, onset, apex, face.box) > 2.5 * _motion(micro, m_on, m_apex, face.box)


def _write_ckplus(root, sequences):
  """sequences: {(subject, seq): (frame count, emotion code or None)} in CK+'s published layout."""
  for (subject, seq), (n, code) in sequences.items():
    fdir = root / 'cohn-kanade-images' / subject / seq
    fdir.mkdir(parents=True)
    for i in range(1, n + 1):
      img = np.full((12, 12), 10 * i, np.uint8)
      cv2.imwrite(str(fdir / f'{subject}_{seq}_{i:08d}.png'), img)
    edir = root / 'Emotion' / subject / seq
    edir.mkdir(parents=True)
    if code is not None:
      (edir / f'{subject}_{seq}_{n:08d}_emotion.txt').write_text(f'   {code:.7e}\n')


def test_ckplus_loader_reads_the_published_layout(tmp_path):
  _write_ckplus(
    tmp_path / 'CK+',
    {('S005', '001'): (11, 3), ('S010', '002'): (4, None), ('S011', '001'): (3, 5)},
  )
  clips = ckplus.load_ckplus(str(tmp_path))  # found one level down
  assert emr.macro_source(None, str(tmp_path)) == clips  # EMR's source with a CK+ folder
  assert [(c.database, c.subject, c.name, c.emotion) for c in clips] == [
    ('CK+', 'S005', 'S005_001', 'disgust'),
    ('CK+', 'S011', 'S011_001', 'happiness'),
  ]
  c = clips[0]
  assert (c.onset, c.apex, c.offset, c.fps) == (0, 10, 10, 30.0)
  # Frames in number order (00000002 before 00000010), the last one the peak.
  assert [os.path.basename(f)[-6:-4] for f in c.frames[:3]] == ['01', '02', '03']
  assert c.frames[-1].endswith('S005_001_00000011.png')
  np.testing.assert_array_equal(emr.macro_labels(clips), [0, 1])
  np.testing.assert_array_equal(emr.clip_subjects(clips), ['CK+/S005', 'CK+/S011'])


def test_ckplus_loader_errors(tmp_path):
  with pytest.raises(FileNotFoundError, match='not a folder'):
    ckplus.load_ckplus(str(tmp_path / 'nothing'))
  (tmp_path / 'cohn-kanade-images' / 'S005').mkdir(parents=True)
  with pytest.raises(FileNotFoundError, match="'Emotion'"):
    ckplus.load_ckplus(str(tmp_path))
  _write_ckplus(tmp_path / 'b', {('S005', '001'): (3, 9)})
  with pytest.raises(ValueError, match='not one of 1..7'):
    ckplus.load_ckplus(str(tmp_path / 'b'))


# ------------------------------------------------------------------ CDE LOSO


def _flow_data(labels, rng, amplitude):
  """Class 0 moves the top rows right, class 1 the bottom rows up, class 2 the top rows up; noise."""
  x = rng.normal(0, 0.3, size=(len(labels), 28, 28, 2)).astype(np.float32)
  for i, c in enumerate(labels):
    rows = slice(16, 28) if c == 1 else slice(0, 12)
    x[i, rows, :, 0 if c == 0 else 1] += amplitude * (1 if c == 0 else -1)
  return x


def test_emr_learns_separable_flows_above_chance_and_leaves_out_held_out_macro_clips():
  subjects = (('SMIC', 's1'), ('SMIC', 's2'), ('CASME II', 'sub01'))
  names = {
    'SMIC': ('negative', 'positive', 'surprise'),
    'CASME II': ('disgust', 'happiness', 'surprise'),
  }
  dbs, subj, emo = zip(*[(d, s, names[d][i % 3]) for d, s in subjects for i in range(6)])
  comp = evaluation.composite_database(dbs, subj, emo)
  rng = np.random.default_rng(0)
  x = _flow_data(comp.labels, rng, 1.0)
  macro_y = np.tile([0, 1, 2], 4)
  macro_x = _flow_data(macro_y, rng, 1.5)
  macro_subject = np.array(['SMIC/s1'] * 3 + ['CK+/S005'] * 9)
  rows = protocol.emr_training_rows(comp, macro_subject)
  n = len(comp.labels)
  for fold, r, held in zip(comp.folds, rows, ('CASME II/sub01', 'SMIC/s1', 'SMIC/s2')):
    assert str(comp.subject[fold.test[0]]) == held
    macro_rows = r[r >= n] - n
    assert held not in macro_subject[macro_rows]
    assert len(macro_rows) == (9 if held == 'SMIC/s1' else 12)
  cfg = protocol.EMRConfig(fit=trainer.FitConfig(num_epochs=8, batch_size=16, learning_rate=3e-3))
  res = protocol.cde_emr(jax.random.key(0), x, comp, macro_x, macro_y, macro_subject, cfg)
  assert res.y_pred.shape == (18,)
  assert res.scores['Full']['UAR'] > 0.6  # chance: 1/3


def test_run_asks_for_emr_inputs():
  dbs, subj, emo = ['SMIC'] * 4, ['s1', 's1', 's2', 's2'], ['negative', 'positive'] * 2
  data = protocol.Inputs(
    np.zeros((4, 28, 28, 3), np.float32), np.zeros((4, 28, 28, 2), np.float32),
    np.zeros((4, 5)), np.array(dbs), np.array(subj), np.array(emo),
  )  # fmt: skip
  config = protocol.Config(methods=('LBP-TOP', 'EMR'), databases=('SMIC',))
  with pytest.raises(ValueError, match='EMR needs Inputs.emr, macro_emr'):
    protocol.run(jax.random.key(0), config, data)
  assert 'synthetic macro-expressions' in protocol._selection(config, 'EMR')
  ck = protocol.Config(emr=protocol.EMRConfig(ckplus='/data/CK+'))
  assert 'CK+ (/data/CK+)' in protocol._selection(ck, 'EMR')
