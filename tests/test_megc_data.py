"""CASME II, SAMM and SMIC-HS loaders on fixtures built in the databases' own layouts."""

import os

import cv2
import numpy as np
import pandas as pd
import pytest

import evaluation
import vision
from vision.megc import data


def _frames(folder, names, seed=0):
  """Writes tiny images whose pixel value encodes their position in `names`."""
  os.makedirs(folder, exist_ok=True)
  for i, name in enumerate(names):
    img = np.full((6, 8, 3), 10 * i + seed, np.uint8)
    assert cv2.imwrite(os.path.join(folder, name), img)


def _casme2(root, rows=None):
  """sub01/EP02_01f (img46..img55), sub02/EP03_02 (img1..img8) and the coding sheet."""
  _frames(os.path.join(root, 'sub01', 'EP02_01f'), [f'img{n}.jpg' for n in range(46, 56)])
  _frames(os.path.join(root, 'sub02', 'EP03_02'), [f'img{n}.jpg' for n in range(1, 9)])
  rows = rows or [
    # Subject, Filename, Onset, Apex, Offset, AUs, Emotion (CASME II's columns)
    (1, 'EP02_01f', 46, 50, 55, '4', 'disgust'),
    (2, 'EP03_02', 1, '/', 8, '12', 'happiness'),  # '/': no apex annotated
    (2, 'EP03_02', 2, 5, 7, '1+2', 'others'),
  ]
  sheet = pd.DataFrame(
    rows,
    columns=[
      'Subject', 'Filename', 'OnsetFrame', 'ApexFrame', 'OffsetFrame', 'Action Units',
      'Estimated Emotion',
    ],
  )  # fmt: skip
  path = os.path.join(root, 'CASME2-coding-20140508.xlsx')
  sheet.to_excel(path, index=False, engine='openpyxl')
  return path


def _samm(root, rows=None):
  """006/006_1_2 (006_05562..006_05571) and SAMM's sheet with title lines above the header."""
  _frames(os.path.join(root, '006', '006_1_2'), [f'006_{n:05d}.jpg' for n in range(5562, 5572)])
  rows = rows or [(6, '006_1_2', 1, 5562, 5566, 5571, 'R12', 'Happiness')]
  header = [
    'Subject', 'Filename', 'Inducement Code', 'Onset Frame', 'Apex Frame', 'Offset Frame',
    'Action Units', 'Estimated Emotion',
  ]  # fmt: skip
  table = [['SAMM Micro-Movement FACS codes'] + [None] * 7, [None] * 8, header, *map(list, rows)]
  path = os.path.join(root, 'SAMM_Micro_FACS_Codes_v2.xlsx')
  pd.DataFrame(table).to_excel(path, index=False, header=False, engine='openpyxl')
  return path


def _smic(root):
  """HS/s1/micro/{negative,surprise}/<clip>/image*.bmp and s2/positive (no 'micro' level)."""
  _frames(
    os.path.join(root, 's1', 'micro', 'negative', 's1_ne_01'),
    ['image0654.bmp', 'image0655.bmp', 'image0656.bmp'],
  )
  _frames(
    os.path.join(root, 's1', 'micro', 'surprise', 's1_sur_01'),
    [f'image{n:04d}.bmp' for n in (9, 10, 11, 12)],
  )
  _frames(os.path.join(root, 's2', 'positive', 's2_po_01'), [f'image{n:04d}.bmp' for n in (1, 2)])


def test_casme2_clips_carry_frame_indices_and_emotions(tmp_path):
  _casme2(str(tmp_path))
  clips = vision.load_casme2(str(tmp_path))
  assert [(c.subject, c.name, c.emotion) for c in clips] == [
    ('sub01', 'EP02_01f', 'disgust'),
    ('sub02', 'EP03_02', 'happiness'),
    ('sub02', 'EP03_02', 'others'),
  ]
  first = clips[0]
  assert (first.onset, first.apex, first.offset) == (0, 4, 9)  # img46, img50, img55
  assert first.fps == 200.0 and first.database == 'CASME II'
  assert clips[1].apex is None and vision.apex_index(clips[1]) == (0 + 7) // 2
  # Frames are read in frame-number order (img9 would sort after img10 as text).
  frames = vision.clip_frames(first, [0, 4, 9])
  assert frames.shape == (3, 6, 8, 3)
  np.testing.assert_array_equal(frames[:, 0, 0, 0], [0, 40, 90])
  # 'others' is a CASME II emotion that the composite database leaves out.
  comp = evaluation.composite_database(
    [c.database for c in clips], [c.subject for c in clips], [c.emotion for c in clips]
  )
  assert comp.index.tolist() == [0, 1]
  assert comp.labels.tolist() == [0, 1]  # negative, positive


def test_casme2_frame_numbers_sort_numerically(tmp_path):
  folder = tmp_path / 'sub01' / 'EP01_01'
  _frames(str(folder), ['img10.jpg', 'img9.jpg', 'img11.jpg'])
  files = data.frame_files(str(folder), 'clip')
  assert [os.path.basename(f) for f in files] == ['img9.jpg', 'img10.jpg', 'img11.jpg']


@pytest.mark.parametrize(
  'row, message',
  [
    ((1, 'EP09_09', 46, 50, 55, '4', 'disgust'), r'CASME II sub01/EP09_09: folder .* does not exist'),
    ((1, 'EP02_01f', 52, 50, 48, '4', 'disgust'), r'CASME II sub01/EP02_01f: onset frame 52 is after offset frame 48'),
    ((1, 'EP02_01f', 46, 50, 55, '4', 'boredom'), r"CASME II sub01/EP02_01f: .*no emotion\(s\) \['boredom'\]"),
    ((1, 'EP02_01f', 46, 50, 99, '4', 'disgust'), r'CASME II sub01/EP02_01f: offset frame 99 is not among its frames'),
    ((1, 'EP02_01f', 46, 'x', 55, '4', 'disgust'), None),  # a non-number apex is 'not annotated'
  ],
)  # fmt: skip
def test_casme2_errors_name_the_clip(tmp_path, row, message):
  _casme2(str(tmp_path), rows=[row])
  if message is None:
    assert vision.load_casme2(str(tmp_path))[0].apex is None
    return
  with pytest.raises(ValueError, match=message):
    vision.load_casme2(str(tmp_path))


def test_casme2_clip_without_frames_is_an_error(tmp_path):
  _casme2(str(tmp_path))
  empty = tmp_path / 'sub01' / 'EP05_05'
  empty.mkdir()
  (empty / 'notes.txt').write_text('no frames here')
  _casme2(str(tmp_path), rows=[(1, 'EP05_05', 1, 2, 3, '4', 'disgust')])
  with pytest.raises(ValueError, match=r'CASME II sub01/EP05_05: folder .* holds no frames'):
    vision.load_casme2(str(tmp_path))


def test_missing_or_ambiguous_spreadsheet(tmp_path):
  with pytest.raises(ValueError, match='does not exist'):
    vision.load_casme2(str(tmp_path), coding=str(tmp_path / 'missing.xlsx'))
  (tmp_path / 'sub01').mkdir()
  with pytest.raises(ValueError, match='found 0 candidates'):
    vision.load_casme2(str(tmp_path))


def test_samm_header_below_title_lines_and_frame_numbers(tmp_path):
  _samm(str(tmp_path))
  (clip,) = vision.load_samm(str(tmp_path))
  assert (clip.subject, clip.name, clip.emotion) == ('006', '006_1_2', 'Happiness')
  assert (clip.onset, clip.apex, clip.offset) == (0, 4, 9)
  assert evaluation.map_emotions([clip.emotion], 'SAMM').tolist() == [1]


def test_samm_unknown_emotion_names_the_clip(tmp_path):
  _samm(str(tmp_path), rows=[(6, '006_1_2', 1, 5562, 5566, 5571, 'R12', 'Boredom')])
  with pytest.raises(ValueError, match=r'SAMM 006/006_1_2: .*boredom'):
    vision.load_samm(str(tmp_path))


def test_smic_class_folders_with_and_without_micro_level(tmp_path):
  _smic(str(tmp_path))
  clips = vision.load_smic(str(tmp_path))
  assert [(c.subject, c.name, c.emotion) for c in clips] == [
    ('s1', 's1_ne_01', 'negative'),
    ('s1', 's1_sur_01', 'surprise'),
    ('s2', 's2_po_01', 'positive'),
  ]
  sur = clips[1]
  assert (sur.onset, sur.apex, sur.offset, sur.fps) == (0, None, 3, 100.0)
  assert vision.apex_index(sur) == 1  # the middle frame (Zhou et al.)


def test_smic_errors(tmp_path):
  with pytest.raises(ValueError, match='does not exist'):
    vision.load_smic(str(tmp_path / 'HS'))
  _frames(str(tmp_path / 's1' / 'micro' / 'anger' / 's1_an_01'), ['image0001.bmp'])
  with pytest.raises(ValueError, match=r"SMIC s1: unknown emotion folder 'anger'"):
    vision.load_smic(str(tmp_path))
  os.rename(tmp_path / 's1' / 'micro' / 'anger', tmp_path / 's1' / 'micro' / 'negative')
  (tmp_path / 's1' / 'micro' / 'negative' / 's1_ne_02').mkdir()
  with pytest.raises(ValueError, match='SMIC s1/s1_ne_02: folder .* holds no frames'):
    vision.load_smic(str(tmp_path))


def test_load_databases_finds_all_three(tmp_path):
  _casme2(str(tmp_path / 'CASME2'))
  _samm(str(tmp_path / 'SAMM'))
  _smic(str(tmp_path / 'SMIC' / 'HS'))
  clips = vision.load_databases(str(tmp_path))
  assert sorted({c.database for c in clips}) == ['CASME II', 'SAMM', 'SMIC']
  assert len(clips) == 3 + 1 + 3
  with pytest.raises(ValueError, match='asked for and not found'):
    vision.load_databases(str(tmp_path / 'SAMM' / '006'))


def test_clip_frames_rejects_bad_indices():
  clip = data.MEClip(
    'SMIC', 's1', 'c', 'negative', np.zeros((3, 2, 2, 3), np.uint8), 0, None, 2, 100.0
  )
  with pytest.raises(ValueError, match=r'frame indices \[5\] outside 0..2'):
    vision.clip_frames(clip, [5])


# ------------------------------------------------- the releases as unpacked


def _move(path, folder):
  """Moves a written spreadsheet to `folder` (the level the release keeps it at)."""
  os.makedirs(folder, exist_ok=True)
  os.replace(path, os.path.join(folder, os.path.basename(path)))


@pytest.mark.parametrize(
  'inner, sheet_at',
  [
    ('CASME2/CASME2_RAW_selected', 'CASME2'),  # sheet beside the clip folder
    ('CASME2-RAW/CASME2-RAW', 'CASME2-RAW'),  # the zip's doubled folder
    ('CASME2/CASME2/CASME2-RAW', 'CASME2'),  # sheet two levels up
  ],
)
def test_casme2_found_in_the_release_nestings(tmp_path, inner, sheet_at):
  _move(_casme2(str(tmp_path / inner)), str(tmp_path / sheet_at))
  top = str(tmp_path / inner.split('/')[0])
  assert vision.find_clip_root('CASME II', top) == str(tmp_path / inner)
  clips = vision.load_casme2(top)
  assert [(c.subject, c.name) for c in clips][:2] == [('sub01', 'EP02_01f'), ('sub02', 'EP03_02')]
  assert clips[0].frames[0].startswith(str(tmp_path / inner / 'sub01' / 'EP02_01f'))
  # The same under a data root, with the other two databases nested as released.
  _move(_samm(str(tmp_path / 'SAMM' / 'SAMM')), str(tmp_path / 'SAMM'))
  _smic(str(tmp_path / 'SMIC_all_cropped' / 'HS'))
  _frames(str(tmp_path / 'SMIC_all_cropped' / 'NIR' / 's1' / 'micro' / 'anger' / 'x'), ['a1.bmp'])
  found = vision.locate_databases(str(tmp_path))
  assert found == {
    'SMIC': str(tmp_path / 'SMIC_all_cropped' / 'HS'),  # NIR passed over
    'CASME II': str(tmp_path / inner),
    'SAMM': str(tmp_path / 'SAMM' / 'SAMM'),
  }
  clips = vision.load_databases(str(tmp_path))
  assert [sum(c.database == d for c in clips) for d in ('SMIC', 'CASME II', 'SAMM')] == [3, 3, 1]


def test_samm_and_smic_release_nestings(tmp_path):
  _move(_samm(str(tmp_path / 'SAMM' / 'SAMM_CROP')), str(tmp_path / 'SAMM'))
  (clip,) = vision.load_samm(str(tmp_path / 'SAMM'))
  assert (clip.subject, clip.name, clip.apex) == ('006', '006_1_2', 4)
  _smic(str(tmp_path / 'SMIC' / 'SMIC_all_raw' / 'SMIC_all_raw' / 'HS'))
  clips = vision.load_smic(str(tmp_path / 'SMIC'))
  assert [c.name for c in clips] == ['s1_ne_01', 's1_sur_01', 's2_po_01']


def test_explicit_folders_and_spreadsheets(tmp_path):
  """Folders and sheets anywhere, one database asked for, the others absent."""
  sheet = _casme2(str(tmp_path / 'mine' / 'casme'))
  _move(sheet, str(tmp_path / 'sheets'))
  os.rename(tmp_path / 'sheets' / os.path.basename(sheet), tmp_path / 'sheets' / 'labels.xlsx')
  folders = {'CASME II': str(tmp_path / 'mine')}
  codings = {'CASME II': str(tmp_path / 'sheets' / 'labels.xlsx')}
  clips = vision.load_databases(None, ('CASME II',), folders=folders, codings=codings)
  assert {c.database for c in clips} == {'CASME II'} and len(clips) == 3
  # Without the sheet, none is found from mine/ down to the clip folder.
  with pytest.raises(ValueError, match='CASME II: pass the coding spreadsheet explicitly; found 0'):
    vision.load_databases(None, ('CASME II',), folders=folders)
  with pytest.raises(ValueError, match=r"folders given for \['SAMM'\]"):
    vision.load_databases(None, ('CASME II',), folders={**folders, 'SAMM': str(tmp_path)})
  with pytest.raises(ValueError, match=r"spreadsheets given for \['SMIC'\]"):
    vision.load_databases(None, ('SMIC',), codings={'SMIC': 'x.xlsx'})


def test_database_asked_for_and_missing_is_an_error(tmp_path):
  """Today's silent skip: CASME II present, SAMM and SMIC asked for and absent."""
  _casme2(str(tmp_path / 'CASME2' / 'CASME2_RAW_selected'))
  (tmp_path / 'SAMM').mkdir()  # unpacked elsewhere: an empty folder
  with pytest.raises(ValueError, match='asked for and not found') as err:
    vision.load_databases(str(tmp_path))
  msg = str(err.value)
  assert '(2 of 3)' in msg and 'CASME II' not in msg
  assert f'SMIC: {tmp_path} has no folder named like SMIC' in msg
  assert f"SAMM: no folder holding subject folders like '006' in {tmp_path / 'SAMM'}" in msg
  assert len(vision.load_databases(str(tmp_path), ('CASME II',))) == 3
  # Raw and cropped side by side: the one to use must be named.
  _casme2(str(tmp_path / 'CASME2' / 'Cropped'))
  with pytest.raises(ValueError, match=r'CASME II: 2 folders holding subject folders'):
    vision.load_databases(str(tmp_path), ('CASME II',))
  folders = {'CASME II': str(tmp_path / 'CASME2' / 'Cropped')}
  assert len(vision.load_databases(str(tmp_path), ('CASME II',), folders=folders)) == 3


def test_experiment_computes_inputs_only_for_kept_clips(tmp_path, monkeypatch):
  """The script's data step on a CASME II fixture: the 'others' clip gets no flow, no LBP-TOP."""
  from experiments import cli
  from experiments import megc_recognition as script
  from experiments.configs import megc_recognition as configs

  inner = tmp_path / 'CASME2-RAW' / 'CASME2-RAW'
  _frames(str(inner / 'sub02' / 'EP04_01'), ['img1.jpg', 'img2.jpg', 'img3.jpg'])
  rows = [
    (1, 'EP02_01f', 46, 50, 55, '4', 'disgust'),
    (2, 'EP03_02', 1, 4, 8, '1', 'others'),
    (2, 'EP04_01', 1, 2, 3, '12', 'happiness'),
  ]
  _casme2(str(inner), rows)
  seen = {}

  def fake_flow(clips, *args, **kwargs):
    seen['flow'] = [(c.subject, c.emotion) for c in clips]
    z = np.zeros((len(clips), 28, 28, 3), np.float32)
    return vision.RecognitionInputs(z, z[..., :2], np.zeros(len(clips), int), z[..., :2])

  def fake_apex(clips, size, *args, **kwargs):
    seen['apex'] = [(c.subject, c.emotion) for c in clips]
    return np.zeros((len(clips), size, size, 1), np.float32)

  def fake_lbp(clips, *args, **kwargs):
    seen['lbp'] = [(c.subject, c.emotion) for c in clips]
    return np.zeros((len(clips), 4))

  monkeypatch.setattr(vision, 'recognition_inputs', fake_flow)
  monkeypatch.setattr(vision, 'onset_apex_crops', lambda clips, sizes, *args: dict.fromkeys(sizes))
  monkeypatch.setattr(vision, 'lbp_top_features', fake_lbp)

  def fake_emr(clips, macro, *args, **kwargs):
    seen['emr'] = [(c.subject, c.emotion) for c in clips]
    return {
      'emr': np.zeros((len(clips), 28, 28, 2), np.float32),
      'macro_emr': np.zeros((3, 28, 28, 2), np.float32),
      'macro_label': np.arange(3), 'macro_subject': np.array(['SYN/a'] * 3),
    }  # fmt: skip

  monkeypatch.setattr(vision, 'apex_inputs', fake_apex)
  monkeypatch.setattr(vision, 'emr_domain_inputs', fake_emr)
  monkeypatch.setattr(vision, 'emr_macro_source', lambda *args: None)
  argv = ['--casme2', str(tmp_path / 'CASME2-RAW'), '--set', "databases=('CASME II',)"]
  args, cfg = cli.parse(argv, '', out='x', get_config=configs.get_config, data=script.DATA_FLAGS)
  assert script.data_source(cfg, args) == f'CASME II (CASME II folder {tmp_path / "CASME2-RAW"})'
  data = script.prepare(cfg, str(tmp_path), args, progress=False)
  kept = [('sub01', 'disgust'), ('sub02', 'happiness')]
  assert seen == {'flow': kept, 'lbp': kept, 'apex': kept, 'emr': kept}
  assert data.biwoof.shape == (2, 5 * 5 * 8) and data.apex.shape == (2, 224, 224, 1)
  assert data.emr.shape == (2, 28, 28, 2) and data.macro_emr.shape == (3, 28, 28, 2)
  assert data.emotion.tolist() == ['disgust', 'others', 'happiness']
  assert data.rows.tolist() == [0, 2] and data.lbp_top.shape == (2, 4)
  # By default all three databases are asked for: SAMM and SMIC are missing.
  args, cfg = cli.parse(
    argv[:2], '', out='x', get_config=configs.get_config, data=script.DATA_FLAGS
  )
  with pytest.raises(ValueError, match=r'\(2 of 3\):\n- SMIC: no folder given and no data root'):
    script.prepare(cfg, str(tmp_path / 'other'), args, progress=False)
