"""AUTSL as distributed, end to end; the epoch is chosen on held-out training signers, never on the reported splits.

The fixture is a miniature AUTSL folder in the published layouts (see
`vision.sign.data`: the challenge's `train_labels.csv`, OpenHands'
`validation_labels.csv`, sign-language-datasets' `autsl_test_labels.csv` and
`holistic/{train,validation}` poses, the `SignList_ClassId_TR_EN.csv` names)
whose clips are real Holistic poses of the lexicon: three languages stand for
three signs, 5 training signers, 2 validation and 2 test signers.
"""

import csv
import dataclasses
import json
import shutil

import jax
import numpy as np
import pytest
from sign_openpose_fixture import openpose_pose_file

import vision
from evaluation import records
from experiments import sign_recognition
from fewshot import trainer
from fewshot.protocols import sign as protocol

SPLITS = {'train': (0, 1, 2, 3, 4), 'val': (10, 11), 'test': (20, 21)}  # signers
# Where each split's labels and poses are, as the published copies name them.
LABELS = {
  'train': 'train_labels.csv',
  'val': 'validation_labels.csv',
  'test': 'autsl_test_labels.csv',
}
POSES = {'train': 'holistic/train', 'val': 'holistic/validation', 'test': 'poses/test'}
PER_SIGNER = 6  # clips: 2 of each of the 3 signs
CFG = protocol.Config(
  max_frames=8,
  feature_sets=('points+limbs',),
  kinds=('bilstm',),
  epochs=4,
  patience=4,
  batch_size=8,
  bilstm=(16, (8,), 0.0),
  held_out_signers=0.4,  # 2 of the 5 training signers
  shots=(),
  rows=('Holistic',),  # the end-to-end run adds the OpenPose rows
)


def _write_autsl(root, clips):
  """AUTSL's label CSVs, sign names and `.pose` files (`LABELS`, `POSES`) from lexicon `clips` {sign: [paths]}.

  Each clip also gets its OpenPose BODY_135 pose, as sign-language-datasets lays AUTSL's out
  (`openpose/{train,validation,test}`), made by pose-format of the clip's OpenPose JSON
  (`sign_openpose_fixture`).
  """
  taken = {sign: iter(paths) for sign, paths in clips.items()}
  for split, signers in SPLITS.items():
    lines = []
    for s in signers:
      for m in range(PER_SIGNER):
        sample, sign = f'signer{s}_sample{m + 1}', m % 3
        target = root / POSES[split] / f'{sample}.pose'
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(next(taken[sign]), target)
        folder = POSES[split].replace('holistic', 'openpose').replace('poses', 'openpose')
        openpose = root / folder / f'{sample}.pose'
        openpose_pose_file(target, openpose, root / 'json' / split / sample, body_135=True)
        lines.append(f'{sample},{sign}\n')
    (root / LABELS[split]).write_text(''.join(lines))
  names = ''.join(f'{k},isaret{k},sign {k}\n' for k in range(vision.sign.data.AUTSL_NUM_CLASSES))
  (root / 'SignList_ClassId_TR_EN.csv').write_text('ClassId,TR,EN\n' + names, encoding='utf-8-sig')
  return root


@pytest.fixture(scope='module')
def autsl_root(tmp_path_factory):
  lexicon = vision.fingerspelling_lexicon_dir()
  with open(lexicon / 'data.csv', newline='', encoding='utf-8') as f:
    rows = list(csv.DictReader(f))
  clips = {
    sign: [lexicon / r['path'] for r in rows if r['signed_language'] == language]
    for sign, language in enumerate(('ase', 'bzs', 'psr'))
  }
  return _write_autsl(tmp_path_factory.mktemp('autsl'), clips)


@pytest.fixture(scope='module')
def data(autsl_root):
  return sign_recognition.autsl_data(CFG, autsl_root)


def _poisoned(data):
  """The reported splits' features NaN and their labels shifted: selection must not notice."""
  _, val, test = data.split
  rows = np.concatenate([val, test])
  f = dict(data.features)
  for name in ('x', 'x_flip'):
    f[name] = np.asarray(f[name]).copy()
    f[name][rows] = np.nan
  f['y'] = np.asarray(f['y']).copy()
  f['y'][rows] = (f['y'][rows] + 1) % 3
  return data._replace(features=f)


def test_selection_rows_are_held_out_training_signers(data):
  train, val, test = data.split
  assert len(train) == 30 and len(val) == len(test) == 12
  key = jax.random.key(0)
  autsl = protocol.autsl_split(key, CFG, data)
  signers = np.asarray(data.signers)
  assert len(autsl.held_out) == 2 and set(autsl.held_out) < set(SPLITS['train'])
  assert set(signers[autsl.select]) == set(autsl.held_out)
  assert not set(signers[autsl.train]) & set(autsl.held_out)  # signer-disjoint
  np.testing.assert_array_equal(np.sort(np.concatenate([autsl.train, autsl.select])), train)
  assert set(autsl.reported) == {protocol.TABLE1, protocol.TABLE1_TEST}
  np.testing.assert_array_equal(autsl.reported[protocol.TABLE1], val)
  np.testing.assert_array_equal(autsl.reported[protocol.TABLE1_TEST], test)
  # Drawn from the key named 'selection signers': the same for the same key.
  assert protocol.autsl_split(key, CFG, data).held_out == autsl.held_out
  draws = {protocol.autsl_split(jax.random.key(k), CFG, data).held_out for k in range(6)}
  assert len(draws) > 1
  with pytest.raises(ValueError, match='2 or more'):
    protocol.held_out_signers([3, 3, 3], 0.5, key=key)
  with pytest.raises(ValueError, match='overlap'):
    protocol.autsl_split(key, CFG, data._replace(split=(train, train[:3])))
  with pytest.raises(ValueError, match='held_out_signers'):
    dataclasses.replace(CFG, held_out_signers=1.0)


def test_poisoned_reported_splits_change_no_selection_and_no_model(data):
  key = jax.random.key(0)
  autsl = protocol.autsl_split(key, CFG, data)
  split = trainer.make_split([autsl.train], [autsl.select])
  model = protocol.make_model(CFG, 'bilstm', num_classes=len(data.class_names))
  fit = protocol.fit_config(CFG, 'bilstm', validate=True)
  states = [
    protocol.train_runs(key, model, d.features, split, config=fit, validate=True)
    for d in (data, _poisoned(data))
  ]
  for a, b in zip(jax.tree.leaves(states[0]), jax.tree.leaves(states[1])):
    np.testing.assert_array_equal(a, b)  # the same model, epoch by epoch
  history = states[0][1]
  assert np.isfinite(np.asarray(history['val_loss'])).all()

  # The whole run: the same selected epochs; the reported accuracies see the poison.
  clean, poisoned = (protocol.run(key, CFG, d) for d in (data, _poisoned(data)))
  assert clean.selected_epochs == poisoned.selected_epochs
  assert 1 <= clean.selected_epochs['bilstm points+limbs'][0] <= CFG.epochs
  cell = ('Holistic points+limbs', 'Team 2 (BiLSTM)')
  changed = [
    clean.accuracies[cell[0]][cell[1]] != poisoned.accuracies[cell[0]][cell[1]],
    clean.test_accuracies[cell[0]][cell[1]] != poisoned.test_accuracies[cell[0]][cell[1]],
  ]
  assert all(changed)
  table1 = [r for r in clean.records if r.table in (protocol.TABLE1, protocol.TABLE1_TEST)]
  assert len(table1) == 2
  for r in table1:
    assert 'held out of training' in r.selection and 'never seen by selection' in r.selection
    assert 'validation' in r.selection and 'test' in r.selection


@pytest.mark.slow
def test_autsl_run_writes_the_test_table_and_the_selected_epochs(autsl_root, data, tmp_path):
  # Per-clip frame features [T, D]: here each clip's own OpenPose+Holistic features (of the
  # shape the pose rows train on, so the run reuses their compiled step).
  frames = tmp_path / 'poses'
  frames.mkdir()
  ids = vision.load_autsl_splits(autsl_root, ('train', 'val', 'test'), CFG.max_frames)[0].ids
  lengths = np.asarray(data.features['mask']).sum(1)
  for i, sample in enumerate(ids):
    np.save(frames / f'{sample}.npy', np.asarray(data.features['x'][i, : lengths[i]]))
  sets = [f'{f.name}={getattr(CFG, f.name)!r}' for f in dataclasses.fields(CFG)]
  sets += [f'rows={protocol.PAPER_ROWS!r}', "frame_feature_kinds=('bilstm',)"]
  argv = [
    '--quick',
    '--out',
    str(tmp_path / 'run'),
    '--no-progress',
    '--data-root',
    str(autsl_root),
  ]
  argv += ['--no-extract', '--workers', '2', '--frame-features', f'poses={frames}']
  assert sign_recognition.main(argv + [a for s in sets for a in ('--set', s)]) == 0
  tmp_path = tmp_path / 'run'
  text = (tmp_path / 'tables.md').read_text()
  assert 'Table 1 on the test split' in text and 'held out of training' in text
  assert 'Not run' not in text and 'OpenPose poses (openpose_135)' in text
  assert (tmp_path / 'confusion.png').stat().st_size > 5000  # the confused signs, by name
  confusions = [r for r in records.read(tmp_path) if r.table == protocol.CONFUSIONS]
  for r in confusions:  # the sign names of SignList_ClassId_TR_EN.csv, not class ids
    true, pred = r.row.split(' -> ')
    assert true in {'sign 0', 'sign 1', 'sign 2'} and pred.startswith('sign ')
    assert f'| {r.row} | {r.value:.0f} |' in text
  saved = json.loads((tmp_path / 'results.json').read_text())
  assert saved['selected_epochs']['bilstm points+limbs'][0] >= 1
  assert saved['test_accuracies']['Holistic points+limbs']['Team 2 (BiLSTM)'][0] >= 0
  assert saved['absent_rows'] == {}
  recs = records.read(tmp_path)
  tables = {r.table for r in recs}
  assert {protocol.TABLE1, protocol.TABLE1_TEST, protocol.PRESENCE} <= tables
  rows = {*protocol.PAPER_ROWS, 'frame features: poses'}
  for table in (protocol.TABLE1, protocol.TABLE1_TEST):  # the paper's rows, validation and test
    summary = records.to_summary(recs, table)
    assert set(summary) == rows and all(set(v) == {'Team 2 (BiLSTM)'} for v in summary.values())
  for cell in ('OpenPose', 'OpenPose+Holistic', 'frame features: poses'):
    assert saved['selected_epochs'][f'bilstm {cell}'][0] >= 1
  # OpenPose poses for only some samples: named, not silently dropped.
  root = tmp_path.parent / 'partial'
  (root / 'openpose' / 'train').mkdir(parents=True)
  shutil.copy(autsl_root / 'train_labels.csv', root)
  shutil.copytree(autsl_root / 'holistic', root / 'holistic')
  shutil.copy(autsl_root / 'openpose/train/signer0_sample1.pose', root / 'openpose/train')
  with pytest.raises(FileNotFoundError, match='1 of 2 train samples have no OpenPose.*sample2'):
    vision.load_autsl(root, 'train', limit=2)
  assert vision.load_autsl(root, 'train', limit=1).openpose.points.shape[2:] == (65, 2)


# ------------------------------------------------- AUTSL as distributed


class _PoseBytes:
  def __init__(self, path):
    self.path = path

  def write(self, f):
    f.write(self.path.read_bytes())


def lexicon_clip(video, config):
  """Stands in for Holistic (`video_fn`): every 'video' gets the lexicon's first clip."""
  lexicon = vision.fingerspelling_lexicon_dir()
  with open(lexicon / 'data.csv', newline='', encoding='utf-8') as f:
    return _PoseBytes(lexicon / next(csv.DictReader(f))['path'])


def test_labels_found_under_each_published_name_or_given(autsl_root, tmp_path):
  assert vision.autsl_labels_file(autsl_root, 'val').name == 'validation_labels.csv'
  assert vision.autsl_labels_file(autsl_root, 'test').name == 'autsl_test_labels.csv'
  assert vision.autsl_labels_file(tmp_path, 'test') is None
  with pytest.raises(
    FileNotFoundError, match="none of.*'val_labels.csv', 'validation_labels.csv', "
  ):
    vision.load_autsl(tmp_path, 'val')
  for name in vision.sign.data.LABEL_FILES['val']:
    (tmp_path / name).parent.mkdir(exist_ok=True)
    (tmp_path / name).write_text('signer1_sample1,3\n')
  assert vision.autsl_labels_file(tmp_path, 'val').name == 'val_labels.csv'  # all equal
  (tmp_path / 'autsl_validation_labels.csv').write_text('signer1_sample1,4\n')
  with pytest.raises(ValueError, match='different val label files.*autsl_validation_labels'):
    vision.autsl_labels_file(tmp_path, 'val')
  given = tmp_path / 'autsl_validation_labels.csv'
  assert vision.autsl_labels_file(tmp_path, 'val', given) == given
  with pytest.raises(FileNotFoundError, match='mine.csv'):
    vision.autsl_labels_file(tmp_path, 'val', tmp_path / 'mine.csv')


def test_limit_applies_before_extraction_and_missing_poses_are_named(tmp_path):
  root = tmp_path
  samples = [f'signer0_sample{m}' for m in range(1, 6)]
  (root / 'train_labels.csv').write_text(''.join(f'{s},1\n' for s in samples))
  clip = lexicon_clip(None, {}).path
  (root / 'poses' / 'train').mkdir(parents=True)
  shutil.copy(clip, root / 'poses' / 'train' / f'{samples[0]}.pose')
  # Neither poses nor videos for sample 2: named, with where its pose and video were looked for.
  with pytest.raises(FileNotFoundError) as err:
    vision.load_autsl(root, 'train', limit=2, extract=True, workers=0, video_fn=lexicon_clip)
  message = str(err.value)
  assert '1 of 2 train samples' in message and 'signer0_sample2.pose' in message
  assert str(root / 'holistic' / 'train') in message and 'Nor is its video' in message
  assert str(root / 'train' / 'train') in message and 'no videos given' not in message
  # The videos, as the archive unpacks them (ROOT/train/train): not extracted when told not to ...
  videos = root / 'train' / 'train'
  videos.mkdir(parents=True)
  for s in samples:
    (videos / f'{s}_color.mp4').write_bytes(b'')
  with pytest.raises(FileNotFoundError, match='signer0_sample2.*is there: extract the poses'):
    vision.load_autsl(root, 'train', limit=2)
  # ... and with extraction, only the samples within the limit are extracted.
  data = vision.load_autsl(root, 'train', limit=2, extract=True, workers=0, video_fn=lexicon_clip)
  assert list(data.ids) == samples[:2]
  assert sorted(p.name for p in (root / 'poses' / 'train').iterdir()) == [
    'signer0_sample1.pose',
    'signer0_sample2_color.pose',
  ]
  np.testing.assert_array_equal(data.poses.points[1], vision.read_pose_arrays(clip).points)
  # A video recorded as failed is named as such, and not retried unless asked.
  failures = {'signer0_sample3_color.pose': {'video': 'x', 'error': 'worker process died'}}
  (root / 'poses' / 'train' / 'extraction_failures.json').write_text(json.dumps(failures))
  with pytest.raises(FileNotFoundError, match='sample3.*failed \\(recorded earlier.*died'):
    vision.load_autsl(root, 'train', limit=3, extract=True, workers=0, video_fn=lexicon_clip)
  again = vision.load_autsl(
    root, 'train', limit=3, extract=True, workers=0, video_fn=lexicon_clip, retry_failed=True
  )
  assert len(again.ids) == 3 and vision.read_failures(root / 'poses' / 'train') == {}


def test_class_names_read_from_the_sign_list(autsl_root, data, tmp_path):
  names = vision.autsl_class_names(autsl_root)
  assert len(names) == 226 and names[:2] == ('sign 0', 'sign 1')
  assert data.class_names == names
  assert vision.autsl_class_names(tmp_path) is None
  rows = [f'{k},tr{k},{"same" if k < 2 else f"en{k}"}' for k in range(4)]
  path = tmp_path / 'names.csv'
  path.write_text('\n'.join(['ClassId,TR,EN', *rows]))
  assert vision.autsl_class_names(path, num_classes=4) == ('same (tr0)', 'same (tr1)', 'en2', 'en3')
  path.write_text('\n'.join(['ClassId,TR,EN', *rows[:3]]))
  with pytest.raises(ValueError, match='names 3 of 4 classes'):
    vision.autsl_class_names(path, num_classes=4)
  path.write_text('id,name\n0,a\n')
  with pytest.raises(ValueError, match='ClassId,TR,EN'):
    vision.autsl_class_names(path, num_classes=4)


def test_confusion_pairs_count_like_a_loop():
  rng = np.random.default_rng(0)
  labels, predicted = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
  names = tuple('abcde')
  pairs = protocol.confusion_pairs(labels, predicted, names, top=30)
  naive = {}
  for t, p in zip(labels, predicted):
    if t != p:
      naive[(names[t], names[p])] = naive.get((names[t], names[p]), 0) + 1
  assert {(t, p): c for t, p, c in pairs} == naive and len(pairs) == 20
  assert [c for *_, c in pairs] == sorted(naive.values(), reverse=True)
  assert protocol.confusion_pairs(labels, predicted, names, top=3) == pairs[:3]
  assert protocol.confusion_pairs([1, 2], [1, 2], names) == []
  with pytest.raises(ValueError, match='lie in'):
    protocol.confusion_pairs([0, 5], [0, 1], names)
