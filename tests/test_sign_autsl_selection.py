"""AUTSL: the epoch is chosen on held-out training signers, never on the reported splits (issue 21, item 7).

The fixture is a miniature AUTSL folder (the challenge's layout, see
`vision.sign.data`) whose clips are real Holistic poses of the lexicon:
three languages stand for three signs, 5 training signers, 2 validation and
2 test signers.
"""

import csv
import dataclasses
import json
import shutil

import jax
import numpy as np
import pytest

import vision
from evaluation import records
from experiments import sign_recognition
from fewshot import trainer
from fewshot.protocols import sign as protocol

SPLITS = {'train': (0, 1, 2, 3, 4), 'val': (10, 11), 'test': (20, 21)}  # signers
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
)


def _write_autsl(root, clips):
  """AUTSL's label CSVs and `poses/{split}/{id}.pose` from lexicon `clips` {sign: [paths]}."""
  taken = {sign: iter(paths) for sign, paths in clips.items()}
  for split, signers in SPLITS.items():
    lines = []
    for s in signers:
      for m in range(PER_SIGNER):
        sample, sign = f'signer{s}_sample{m + 1}', m % 3
        target = root / 'poses' / split / f'{sample}.pose'
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(next(taken[sign]), target)
        lines.append(f'{sample},{sign}\n')
    (root / f'{split}_labels.csv').write_text(''.join(lines))
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
def test_autsl_run_writes_the_test_table_and_the_selected_epochs(autsl_root, tmp_path):
  sets = [f'{f.name}={getattr(CFG, f.name)!r}' for f in dataclasses.fields(CFG)]
  argv = ['--out', str(tmp_path), '--no-progress', '--data-root', str(autsl_root)]
  assert sign_recognition.main(argv + [a for s in sets for a in ('--set', s)]) == 0
  text = (tmp_path / 'tables.md').read_text()
  assert 'Table 1 layout on the test split' in text and 'held out of training' in text
  saved = json.loads((tmp_path / 'results.json').read_text())
  assert saved['selected_epochs']['bilstm points+limbs'][0] >= 1
  assert saved['test_accuracies']['Holistic points+limbs']['Team 2 (BiLSTM)'][0] >= 0
  tables = {r.table for r in records.read(tmp_path)}
  assert {protocol.TABLE1, protocol.TABLE1_TEST, protocol.PRESENCE} <= tables
