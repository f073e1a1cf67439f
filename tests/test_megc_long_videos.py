"""CAS(ME)^2 and SAMM long-video loaders on tiny fixtures in the published layouts, and the missing-database error."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pandas as pd
import pytest

from vision.megc import long_videos


def _frames(folder, names, side=8):
  os.makedirs(folder)
  for i, name in enumerate(names):
    cv2.imwrite(os.path.join(folder, name), np.full((side, side + 4, 3), 10 * i, np.uint8))


def _casme_sq(top):
  """CASME_sq/rawpic/s15/15_0101disgustingteeth/img1.jpg ... and CAS(ME)^2code_final.xlsx."""
  raw = os.path.join(top, 'CASME_sq', 'rawpic')
  _frames(os.path.join(raw, 's15', '15_0101disgustingteeth'), [f'img{i}.jpg' for i in range(1, 13)])
  _frames(
    os.path.join(raw, 's16', '16_0402beatingpregnantwoman'), [f'img{i}.jpg' for i in range(1, 11)]
  )
  main = [
    [1, 'disgust1_1', 3, 5, 8, '4+7', 'negative', 'micro-expression', 'disgust'],
    [1, 'disgust1_2', 2, 6, 0, '12', 'positive', 'macro-expression', 'happy'],
  ]
  with pd.ExcelWriter(os.path.join(top, 'CASME_sq', 'CAS(ME)^2code_final.xlsx')) as w:
    pd.DataFrame(main).to_excel(w, sheet_name='CASFEcode_final', header=False, index=False)
    pd.DataFrame([[15, 's15', 1], [16, 's16', 2]]).to_excel(
      w, sheet_name='naming rule1', header=False, index=False
    )
    pd.DataFrame([['0101', 'disgust1'], ['0402', 'anger2']]).to_excel(
      w, sheet_name='naming rule2', header=False, index=False
    )


def _samm(top):
  """SAMMLV/SAMM_longvideos/006_1/006_1_0001.jpg ... and SAMM_LongVideos_V1_Release.xlsx."""
  root = os.path.join(top, 'SAMMLV', 'SAMM_longvideos')
  _frames(os.path.join(root, '006_1'), [f'006_1_{i:04d}.jpg' for i in range(1, 13)])
  _frames(os.path.join(root, '007_3'), [f'007_3_{i:04d}.jpg' for i in range(1, 9)])
  header = ['Subject', 'Filename', 'Inducement Code', 'Onset', 'Apex', 'Offset', 'Duration',
            'Type', 'Action Units', 'Notes']  # fmt: skip
  rows = [
    ['SAMM Long Videos'] + [''] * 9,
    [''] * 10,
    header,
    ['006', '006_1_1', 1, 3, 5, 7, 5, 'Micro - 1/2', 'R12', ''],
    ['006', '006_1_2', 1, 8, -1, 11, 4, 'Macro', '4', ''],
  ]
  pd.DataFrame(rows).to_excel(
    os.path.join(top, 'SAMMLV', 'SAMM_LongVideos_V1_Release.xlsx'),
    sheet_name='FACS_Movement_Only', header=False, index=False,
  )  # fmt: skip


def test_long_video_loaders_read_the_published_layouts(tmp_path):
  _casme_sq(str(tmp_path))
  _samm(str(tmp_path))
  found = long_videos.load_long_videos(str(tmp_path))  # both, found under the data root
  cas, samm = found['CAS(ME)^2'], found['SAMM']
  assert [(v.subject, v.name, len(v.files), v.fps) for v in cas] == [
    ('s15', '15_0101disgustingteeth', 12, 30.0),
    ('s16', '16_0402beatingpregnantwoman', 10, 30.0),
  ]
  np.testing.assert_array_equal(cas[0].micro, [[2, 7]])  # img3..img8
  np.testing.assert_array_equal(cas[0].micro_apex, [4])
  np.testing.assert_array_equal(cas[0].macro, [[1, 5]])  # offset 0: the apex (img6) ends it
  assert cas[1].micro.shape == cas[1].macro.shape == (0, 2)
  assert [(v.subject, v.name, v.fps) for v in samm] == [
    ('006', '006_1', 200.0),
    ('007', '007_3', 200.0),
  ]
  np.testing.assert_array_equal(samm[0].micro, [[2, 6]])
  np.testing.assert_array_equal(samm[0].macro, [[7, 10]])
  np.testing.assert_array_equal(samm[0].macro_apex, [-1])  # apex -1: not coded
  frames = long_videos.read_long_video(samm[1], max_side=6)
  assert frames.shape == (8, 4, 6, 3) and frames.dtype == np.uint8
  # The folders one by one: the inner folder itself, the sheet given explicitly.
  sheet = os.path.join(str(tmp_path), 'SAMMLV', 'SAMM_LongVideos_V1_Release.xlsx')
  inner = os.path.join(str(tmp_path), 'SAMMLV', 'SAMM_longvideos')
  again = long_videos.load_long_videos(None, ['SAMM'], {'SAMM': inner}, {'SAMM': sheet})
  np.testing.assert_array_equal(again['SAMM'][0].micro, samm[0].micro)
  # Table II's columns: the config's databases under the root; cropped SAMM beside full frames.
  cols = long_videos.table_ii_videos(
    str(tmp_path), ['SAMM'], codings={'SAMM': sheet}, samm_cropped=inner
  )
  assert list(cols) == ['SAMM^f', 'SAMM^c'] and len(cols['SAMM^c']) == 2
  assert list(long_videos.table_ii_videos(str(tmp_path), ['CAS(ME)^2'])) == ['CAS(ME)^2']


def test_a_long_video_database_asked_for_and_missing_is_an_error(tmp_path):
  _casme_sq(str(tmp_path))
  with pytest.raises(ValueError, match=r'SAMM long videos asked for but not found.*searched \['):
    long_videos.load_long_videos(str(tmp_path), ['CAS(ME)^2', 'SAMM'])
  with pytest.raises(ValueError, match='no folder given'):
    long_videos.load_long_videos(None, ['SAMM'])
  # An annotated frame that is not on disk names the video and the frame.
  os.remove(
    os.path.join(str(tmp_path), 'CASME_sq', 'rawpic', 's15', '15_0101disgustingteeth', 'img8.jpg')
  )
  with pytest.raises(ValueError, match=r'15_0101disgustingteeth micro-expression 3-8: frame 8'):
    long_videos.load_long_videos(str(tmp_path), ['CAS(ME)^2'])
