"""Every public loader names the file when it is missing, an empty folder,
unreadable, or of the wrong shape (issue 13). Cases already covered beside
each loader's own tests (test_semg_data, test_sign_data, test_megc_data,
test_har_data) are not repeated here."""

import csv
import json

import numpy as np
import pytest

import signals
import vision
from signals.semg.data import SEMGDataset
from signals.semg.data import save_semg_dataset

GARBAGE = b'\x00\xff\xfe garbage, not this format \x89PNG\r\n'


# ------------------------------------------------------------------ HAR JSON


def _participant(**acc):
  acc = {'timestamps': [0.0, 0.04], 'x': [0, 1], 'y': [0, 1], 'z': [9, 9], **acc}
  msg = {'activity': 'walking', 'intensity': 'low', 'acc': acc}
  return {'participant': 'P1', 'messages': [msg]}


def test_har_participants_missing_empty_unreadable_wrong_shape(tmp_path):
  with pytest.raises(ValueError, match='nowhere.*does not exist'):
    signals.load_participants(tmp_path / 'nowhere')
  with pytest.raises(ValueError, match=f'no \\*.json participant files in {tmp_path}'):
    signals.load_participants(tmp_path)
  bad = tmp_path / 'p1.json'
  bad.write_bytes(GARBAGE)
  with pytest.raises(ValueError, match='p1.json is not a readable JSON file'):
    signals.load_participants(tmp_path)
  bad.write_text(json.dumps(_participant(y=[0, 1, 2])))
  with pytest.raises(ValueError, match=r'p1.json message 0: acc y has 3 values, x has 2'):
    signals.load_participants(tmp_path)
  bad.write_text(json.dumps(_participant(x=[[0, 1], [1, 2]])))
  with pytest.raises(ValueError, match=r'p1.json message 0: acc x must be a flat list'):
    signals.load_participants(tmp_path)
  doc = _participant()
  del doc['messages'][0]['acc']['timestamps']
  bad.write_text(json.dumps(doc))
  with pytest.raises(ValueError, match=r"p1.json message 0: acc lacks 'timestamps'"):
    signals.load_participants(tmp_path)


# ---------------------------------------------------------------------- sEMG


def _semg(n=2):
  x = np.random.default_rng(0).normal(size=(n, 2, 50)).astype(np.float32)
  z = np.zeros(n, np.int32)
  return SEMGDataset(x, z, z, z, ('C1',), 1000.0)


def test_semg_unreadable_files_are_named(tmp_path):
  npz = tmp_path / 'd.npz'
  npz.write_bytes(GARBAGE)
  with pytest.raises(ValueError, match='d.npz.*not a readable'):
    signals.load_semg_dataset(npz)
  folder = save_semg_dataset(_semg(), tmp_path / 'f')
  rec = sorted((tmp_path / 'f').glob('*.npy'))[0]
  rec.write_bytes(GARBAGE)
  with pytest.raises(ValueError, match=f'{rec.name}.*not a readable'):
    signals.load_semg_dataset(folder)
  folder = save_semg_dataset(_semg(), tmp_path / 'g')
  (tmp_path / 'g' / 'meta.json').write_bytes(GARBAGE)
  with pytest.raises(ValueError, match='meta.json is not a readable JSON file'):
    signals.load_semg_dataset(folder)
  with pytest.raises(FileNotFoundError, match='manifest.csv'):
    (tmp_path / 'empty').mkdir()
    signals.load_semg_dataset(tmp_path / 'empty')


# ---------------------------------------------------------------------- sign


def test_lexicon_empty_folder_and_wrong_shape_pose_are_named(tmp_path):
  with pytest.raises(FileNotFoundError, match='data.csv'):
    vision.load_fingerspelling_lexicon(root=tmp_path)
  from pose_format import Pose

  root = vision.fingerspelling_lexicon_dir()
  with open(root / 'data.csv', newline='', encoding='utf-8') as f:
    row = next(csv.DictReader(f))
  with open(root / row['path'], 'rb') as f:
    pose = Pose.read(f.read())
  body_only = pose.get_components(['POSE_LANDMARKS'])  # no hands: wrong shape
  with open(tmp_path / 'clip.pose', 'wb') as f:
    body_only.write(f)
  (tmp_path / 'data.csv').write_text('path,signed_language,words\nclip.pose,ase,a\n')
  with pytest.raises(ValueError, match='clip.pose: no LEFT_HAND_LANDMARKS component'):
    vision.load_fingerspelling_lexicon(root=tmp_path)
  (tmp_path / 'clip.pose').write_bytes(GARBAGE)
  with pytest.raises(ValueError, match='clip.pose is not a readable .pose file'):
    vision.load_fingerspelling_lexicon(root=tmp_path)


def test_autsl_unreadable_or_empty_labels_are_named(tmp_path):
  (tmp_path / 'train_labels.csv').write_bytes(GARBAGE)
  with pytest.raises(ValueError, match='train_labels.csv'):
    vision.load_autsl(tmp_path, 'train')
  (tmp_path / 'train_labels.csv').write_text('')
  with pytest.raises(ValueError, match='train_labels.csv holds no samples'):
    vision.load_autsl(tmp_path, 'train')


# ---------------------------------------------------------------------- MEGC


def test_megc_unreadable_or_wrong_spreadsheet_is_named(tmp_path):
  sheet = tmp_path / 'coding.xlsx'
  sheet.write_bytes(GARBAGE)
  with pytest.raises(ValueError, match='coding.xlsx.*not a readable'):
    vision.load_casme2(str(tmp_path), coding=str(sheet))
  import pandas as pd

  pd.DataFrame({'Subject': [1], 'Filename': ['EP01']}).to_excel(sheet, index=False)
  with pytest.raises(ValueError, match='coding.xlsx: no header row'):
    vision.load_casme2(str(tmp_path), coding=str(sheet))
  with pytest.raises(ValueError, match='SMIC: .*subject folders'):
    vision.load_smic(str(tmp_path))
