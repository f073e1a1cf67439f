"""LTP-ML (Table II): local temporal patterns against a NumPy reference, LOSO training, fusion, spotting."""

from __future__ import annotations

import inspect
import os

import cv2
import jax
import numpy as np
import pandas as pd
import pytest

import vision
from evaluation import records
from experiments import megc_spotting
from fewshot.protocols import megc_spotting as protocol
from vision.megc import ltp


def _reference_ltp(x, length):
  """Naive LTP of one ROI: PCA by np.linalg.svd, distances by loops, [11]'s normalisation."""
  xc = x - x.mean(axis=0)
  u, s, _ = np.linalg.svd(xc, full_matrices=False)
  p = u[:, :2] * s[:2]
  n = len(x)
  d = np.zeros((n, length))
  for j in range(n):
    for m in range(1, length + 1):
      if j + m < n:
        d[j, m - 1] = np.linalg.norm(p[j + m] - p[j])
  top = d[:, : length // 2].max()
  return np.concatenate([np.full((n, 1), min(ltp.NORM_CAP, 1 / top)), d / top], axis=1)


def test_clip_ltp_matches_a_naive_numpy_reference():
  """A hand-built window: a region that brightens in a 2-D pattern over frames 3-7, plus noise."""
  rng = np.random.default_rng(0)
  n, p, length = 12, 25, 6
  base = rng.uniform(50, 200, (2, 1, p))
  t = np.arange(n)[:, None]
  move = np.clip(t - 3, 0, 4) / 4.0  # (n, 1): onset at 3, apex held from 7
  x = base + 30 * move * rng.normal(size=(2, 1, p)) + rng.normal(0, 1, (2, n, p))
  got = ltp.clip_ltp(x.astype(np.float32), length)
  assert got.shape == (2, n, 1 + length)
  for r in range(2):
    np.testing.assert_allclose(
      got[r], _reference_ltp(x[r].astype(np.float32), length), rtol=2e-3, atol=2e-4
    )
  # The pattern of the onset frame is an S: it rises for about half of L, then holds.
  d = got[0, 3, 1:]
  assert d[:3].argmax() == 2 and d[3] > 0.9 and abs(d[-1] - d[3]) < 0.2
  # Past the clip's end the distances are 0 (the authors' zero padding).
  assert np.all(got[:, -1, 1:] == 0) and np.all(got[:, -3, 3:] == 0)


def test_video_ltp_takes_each_frame_from_the_clip_holding_its_next_l_frames():
  rng = np.random.default_rng(1)
  frames = rng.integers(0, 255, (47, 40, 40, 3), dtype=np.uint8)
  res = ltp.video_ltp(frames, fps=20.0, placement='box', box=(5, 5, 30, 30))
  assert (res.length, res.clip, res.placement) == (6, 20, 'box')
  np.testing.assert_array_equal(res.starts, [0, 14, 27])  # overlap L; the last clip ends the video
  assert res.features.shape == (47, 12, 7)
  grey = frames @ np.array([0.114, 0.587, 0.299])  # BGR -> grey, as cv2 (up to rounding)
  pixels = ltp.roi_pixels(np.round(grey).astype(np.uint8), res.centres, res.side)
  for j, start in ((0, 0), (13, 0), (14, 14), (26, 14), (27, 27), (46, 27)):
    want = ltp.clip_ltp(pixels[:, start : start + 20], 6)[:, j - start]
    np.testing.assert_allclose(res.features[j], want, rtol=0.05, atol=0.05)
  with pytest.raises(ValueError, match='shorter than L'):
    ltp.video_ltp(frames[:6], fps=20.0, placement='box', box=(5, 5, 30, 30))


def test_protocol_restates_the_ltp_defaults():
  """fewshot does not import vision: the restated defaults and ROI order must agree."""
  sig = inspect.signature(ltp.video_ltp).parameters
  assert {k: sig[k].default for k in protocol.LTP_DEFAULTS} == protocol.LTP_DEFAULTS
  assert protocol.ROI_GROUPS == ltp.ROI_GROUPS
  assert len(ltp.ROI_FACEMESH) == len(ltp.ROI_FACE_BOX) == 12


def _patterns(onsets, rng, t=60, length=8):
  """Hand-built patterns: noise everywhere, an S in region 0 for the 2 frames up to each onset."""
  f = np.concatenate(
    [np.full((t, 12, 1), 5.0), rng.uniform(0, 0.3, (t, 12, length))], axis=2
  ).astype(np.float32)
  s = np.array([0.1, 0.2, 0.5, 0.9, 1.0, 0.98, 0.97, 0.96, 0.95])
  for o in onsets:
    f[o - 1 : o + 1, 0] = s + rng.normal(0, 0.01, s.shape)
  return protocol.LTPPatterns(f, np.array([0, 20, 32]), 28)


def _database(onsets_per_subject, rng):
  micro = [np.array([[o, o + 6] for o in onsets]) for onsets in onsets_per_subject]
  pats = [_patterns(onsets, rng) for onsets in onsets_per_subject]
  return protocol.Database(
    micro, [np.zeros((0, 2), int)] * len(micro), {}, pats, ['A', 'B', 'C'], 30.0
  )


def test_loso_training_never_uses_the_spotted_subject():
  cfg = protocol.LTPConfig()
  assert protocol.loso_folds(['A', 'B', 'A', 'C']) == {'A': [1, 3], 'B': [0, 2, 3], 'C': [0, 1, 2]}
  clean = _database([[10, 30, 50], [12, 45], [25, 40]], np.random.default_rng(0))
  dec, sizes = protocol.loso_predictions(clean, cfg)
  rows = [protocol.training_patterns(p, m, cfg)[1] for p, m in zip(clean.ltp, clean.micro)]
  # 2 ME frames x 1 S-region per onset; C's onsets 25 and 40 share the clip
  # starting at 20, so onset 25 also brings onset 40's ME frames.
  assert [int(r.sum()) for r in rows] == [6, 4, 6]
  for i, s in enumerate('ABC'):  # each fold trains on exactly the others' patterns
    others = [r for j, r in enumerate(rows) if j != i]
    assert sizes[s] == {'ME': sum(int(r.sum()) for r in others),
                        'non-ME': sum(int((r == 0).sum()) for r in others)}  # fmt: skip
  # Poison A's annotations: A's own decisions and fold cannot change; B's fold does.
  poisoned = clean._replace(micro=[np.array([[5, 9], [20, 26]]), *clean.micro[1:]])
  dec2, sizes2 = protocol.loso_predictions(poisoned, cfg)
  np.testing.assert_array_equal(dec2[0], dec[0])
  assert sizes2['A'] == sizes['A'] and sizes2['B'] != sizes['B']
  # The classifier learned the S: it fires on region 0 at the onsets of held-out subjects.
  assert dec[1][0, 11] and dec[1][0, 12] and dec[2][0, 40]
  assert dec[1][1:].sum() == 0


def test_fusion_qualifies_selects_and_merges():
  cfg = protocol.LTPConfig()
  # Temporal qualification: a lone positive is dropped when a denser group exists.
  x = np.zeros(40, bool)
  x[[2, 20, 21, 22, 23]] = True
  np.testing.assert_array_equal(
    np.flatnonzero(protocol.drop_sparse_groups(x, 3, 2)), [20, 21, 22, 23]
  )
  lone = np.zeros(40, bool)
  lone[5] = True  # a single group is kept whatever its size
  np.testing.assert_array_equal(protocol.drop_sparse_groups(lone, 3, 2), lone)
  # A whole video: region 9 fires at frames 20-24, the two nose regions at 60-64.
  t, length = 90, 9
  feats = np.concatenate([np.full((t, 12, 1), 5.0), np.zeros((t, 12, length))], axis=2)
  feats[:, 9, 0] = 1.0  # region 9 moved more than most
  feats[:, 6:8, 0] = 1.0
  feats[:, :, 1:] = 1.0
  dec = np.zeros((12, t), bool)
  dec[9, 20:25] = True
  dec[6:8, 60:65] = True  # head motion: both nose regions
  got = protocol.fuse(dec, feats, 30.0, cfg)
  # Region 9's groups span ceil(9 / 3) + 1 = 4 frames: 20-23 (4 positives) and 24
  # (1, cleared); the interval 20-23 moves forward by ceil(9 / 4) = 3 frames.
  np.testing.assert_array_equal(got, [[23, 26]])
  feats[:, 9, 1:] = 0.5  # below the intensity threshold: nothing is spotted
  assert len(protocol.fuse(dec, feats, 30.0, cfg)) == 0


@pytest.fixture(scope='module')
def videos():
  """Three small synthetic CAS(ME)^2-like videos, one subject each."""
  return vision.synthetic_long_videos(jax.random.key(3), 'CAS(ME)^2', 3, 6.0, 160, events=(3, 0, 1))


def test_ltp_ml_spots_synthetic_micro_expressions_above_chance(videos):
  """On three small synthetic videos (three subjects), LOSO decisions fire on ME onsets more than elsewhere."""
  pats = [ltp.video_ltp(v.frames, v.fps, placement='box') for v in videos]
  db = protocol.Database(
    [v.micro for v in videos], [np.zeros((0, 2), int)] * 3, {},
    [protocol.LTPPatterns(p.features, p.starts, p.clip) for p in pats],
    [v.name.rsplit(' ', 1)[0] for v in videos], videos[0].fps,
  )  # fmt: skip
  assert len(set(db.subjects)) == 3
  cfg = protocol.LTPConfig()
  dec, _ = protocol.loso_predictions(db, cfg)
  hit, base = [], []
  for d, v, p in zip(dec, videos, pats):
    lab = protocol.me_labels(len(v.frames), v.micro, 3)
    fires = d.any(0)
    hit += list(fires[lab])
    base += list(fires[~lab])
  assert np.mean(hit) > 1.5 * np.mean(base), (np.mean(hit), np.mean(base))
  spotted = [protocol.fuse(d, p.features, db.fps, cfg) for d, p in zip(dec, db.ltp)]
  assert all(s.ndim == 2 and s.shape[1] == 2 for s in spotted)


def test_spotting_experiment_reads_real_long_videos(videos, tmp_path):
  """The synthetic videos written in CAS(ME)^2's layout go through --data-root: both methods, Table II."""
  top = tmp_path / 'CASME_sq'
  rows, rule1, rule2 = [], [], []
  for i, v in enumerate(videos[:2], start=1):
    folder = top / 'rawpic' / f's{i:02d}' / f'{i:02d}_010{i}stimulus'
    folder.mkdir(parents=True)
    for t, frame in enumerate(v.frames, start=1):
      cv2.imwrite(str(folder / f'img{t}.jpg'), frame)
    for on, off in v.micro:  # frame numbers are 1-based
      rows.append(
        [i, f'stim{i}_1', on + 1, on + 2, off + 1, '4', 'negative', 'micro-expression', 'x']
      )
    rule1.append([i, f's{i:02d}', i])
    rule2.append([f'010{i}', f'stim{i}'])
  with pd.ExcelWriter(top / 'CAS(ME)^2code_final.xlsx') as w:
    for name, table in (
      ('CASFEcode_final', rows),
      ('naming rule1', rule1),
      ('naming rule2', rule2),
    ):
      pd.DataFrame(table).to_excel(w, sheet_name=name, header=False, index=False)
  out = str(tmp_path / 'run')
  argv = ['--data-root', str(tmp_path), '--out', out, '--no-progress', '--set', 'ps=(0.1,)',
          '--set', "databases=(('CAS(ME)^2', 0, 0.0),)", '--set', 'ltp.placement=box']  # fmt: skip
  assert megc_spotting.main(argv) == 0
  recs = records.read(out)
  cells = records.to_summary(recs, protocol.table_name('CAS(ME)^2'))
  assert set(cells) == {'LBP-χ² p=0.1', 'LTP-ML'}
  assert all(c['TP'] + c['FN'] == 6 for c in cells.values())  # 2 videos x 3 MEs
  assert set(records.to_summary(recs, protocol.SUMMARY_TABLE)) == {'LBP-χ² p=0.1', 'LTP-ML'}
  assert 'real long videos' in open(os.path.join(out, 'tables.md')).read()
