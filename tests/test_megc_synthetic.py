"""Synthetic micro-expressions made from real faces: sources, motions, clips and long videos."""

import jax
import numpy as np
import pytest

import evaluation
import vision
from vision.megc import synthetic


def test_eleven_real_faces_make_three_databases():
  srcs = synthetic.source_faces()
  assert len(srcs) == 11 and len({s.subject for s in srcs}) == 11
  assert {s.database for s in srcs} == {'SMIC', 'CASME II', 'SAMM'}
  for s in srcs:
    x, y, w, h = s.box
    assert s.image.shape == (synthetic.SIZE, synthetic.SIZE, 3)
    assert 0 <= x and 0 <= y and x + w <= synthetic.SIZE and y + h <= synthetic.SIZE
    assert 0.45 * synthetic.SIZE < w < 0.8 * synthetic.SIZE  # the face fills about 0.56


def test_profile_rises_to_one_at_the_apex_and_is_zero_outside():
  p = synthetic.profile(20, onset=4, apex=8, offset=14)
  assert p[8] == 1.0 and np.all(p[:4] == 0) and np.all(p[15:] == 0)
  assert np.all(np.diff(p[4:9]) > 0) and np.all(np.diff(p[8:15]) < 0)
  held = synthetic.profile(20, onset=2, apex=5, offset=15, hold=4)
  np.testing.assert_array_equal(held[5:10], 1.0)


@pytest.mark.parametrize(
  'aus, region, sign',
  [(('AU1+2',), 'brow_l', -1), (('AU4',), 'inner_brow_l', 1), (('AU6+12',), 'lip_corner_l', -1)],
)
def test_action_units_move_their_region_the_documented_way(aus, region, sign):
  box = np.array([40.0, 40.0, 110.0, 110.0])
  field = synthetic._expression_field(box, aus, 2.0, (192, 192), np.random.default_rng(0))
  u, v = synthetic.REGIONS[region]
  cx, cy = int(40 + u * 110), int(40 + v * 110)
  dx, dy = field[cy, cx]
  assert np.sign(dy) == sign  # brows up / down, lip corner up
  assert 1.0 < np.hypot(dx, dy) < 3.5  # about the 2-pixel amplitude
  assert np.abs(field[5, 5]).max() < 1e-3  # nothing moves far from the face


def test_synthetic_apex_flow_points_where_the_action_unit_moves():
  """TV-L1 between onset and apex of a surprise clip finds the brows moving up by pixels."""
  face = synthetic.source_faces()[5]  # a CASME II-like colour portrait
  frames, onset, apex, offset = synthetic.micro_expression_clip(jax.random.key(3), face, 'surprise')
  assert 0.2 <= (offset - onset) / 100.0 <= 0.5 + 1e-9
  assert onset < apex < offset < len(frames)
  flow = vision.optical_flow(frames[onset], frames[apex])
  x, y, w, h = face.box
  u, v = synthetic.REGIONS['brow_r']
  cx, cy = int(x + u * w), int(y + v * h)
  brow = flow[cy - 4 : cy + 5, cx - 4 : cx + 5]
  chin = flow[int(y + 0.95 * h) - 4 : int(y + 0.95 * h) + 5, cx - 4 : cx + 5]
  rigid = np.median(chin, axis=(0, 1))  # the chin does not move in surprise
  assert np.abs(rigid).max() < 1.0  # head drift only: under a pixel
  assert np.median(brow[..., 1]) - rigid[1] < -0.7  # up, by most of a pixel or more


def test_synthetic_megc_is_a_valid_composite_database():
  counts = {'negative': 1, 'positive': 1, 'surprise': 1, 'omitted': 1}
  clips = vision.synthetic_megc(jax.random.key(1), clips_per_subject=counts, subjects=1)
  assert len({c.subject for c in clips}) == 3  # one face per database
  smic = [c for c in clips if c.database == 'SMIC']
  assert len(smic) == 3 and all(c.apex is None for c in smic)  # SMIC: no apex, no 'others'
  casme = [c for c in clips if c.database == 'CASME II']
  assert len(casme) == 4 and all(c.onset < c.apex < c.offset for c in casme)
  comp = evaluation.composite_database(
    [c.database for c in clips], [c.subject for c in clips], [c.emotion for c in clips]
  )
  assert len(comp.index) == len(clips) - 2  # the CASME II / SAMM 'others' are left out
  assert np.bincount(comp.labels).tolist() == [3, 3, 3]
  assert len(comp.folds) == 3


def test_clips_are_deterministic_given_the_key():
  face = synthetic.source_faces()[0]
  a = synthetic.micro_expression_clip(jax.random.key(7), face, 'negative')
  b = synthetic.micro_expression_clip(jax.random.key(7), face, 'negative')
  np.testing.assert_array_equal(a[0], b[0])
  assert a[1:] == b[1:]


def test_long_videos_drawn_in_threads_are_each_their_own_key():
  # Video v depends on named_key(key, 'video', v) only: the two videos of a
  # call for two are the first two of a call for three, drawn in other threads.
  kw = dict(seconds=2.5, size=96, events=(1, 0, 0))
  two = vision.synthetic_long_videos(jax.random.key(3), 'SAMM', 2, **kw)
  three = vision.synthetic_long_videos(jax.random.key(3), 'SAMM', 3, **kw)
  for a, b in zip(two, three):
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.micro, b.micro)
  assert not np.array_equal(three[1].frames, three[2].frames)


def test_long_video_events_do_not_overlap_and_fit():
  video = vision.synthetic_long_videos(
    jax.random.key(2), 'CAS(ME)^2', videos=1, seconds=10.0, size=160
  )[0]
  assert video.frames.shape == (300, 160, 160, 3) and video.fps == 30.0
  assert (len(video.micro), len(video.macro), len(video.blinks)) == (3, 1, 2)
  spans = np.concatenate([video.micro, video.macro, video.blinks])
  spans = spans[np.argsort(spans[:, 0])]
  assert spans[0, 0] >= 15 and spans[-1, 1] < 300 - 15 + 1  # 0.5 s margins
  assert np.all(spans[1:, 0] - spans[:-1, 1] > 15)  # at least 0.5 s apart
  micro_len = (video.micro[:, 1] - video.micro[:, 0] + 1) / 30.0
  macro_len = (video.macro[:, 1] - video.macro[:, 0] + 1) / 30.0
  assert np.all((micro_len > 0.18) & (micro_len < 0.55)) and np.all(macro_len > 0.75)


def test_bad_arguments():
  with pytest.raises(ValueError, match='clips_per_subject key'):
    vision.synthetic_megc(jax.random.key(0), clips_per_subject={'happy': 1})
  with pytest.raises(ValueError, match='database'):
    vision.synthetic_long_videos(jax.random.key(0), 'CASME II')
  with pytest.raises(ValueError, match=r'too short for events \(3, 1, 2\): need 8.20 s'):
    vision.synthetic_long_videos(jax.random.key(0), seconds=6.0)
  with pytest.raises(ValueError, match='do not fit'):
    synthetic.random_events(jax.random.key(0), 20, 30.0, 100.0, micro=3)
