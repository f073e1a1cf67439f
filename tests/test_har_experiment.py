"""End-to-end: the harAGE fusion experiment on tiny synthetic data and on BasicMotions."""

import dataclasses
import json
import os
import types

import numpy as np
import pytest

from evaluation import records as records_lib
from experiments import har_fusion
from experiments.configs import har_fusion as configs
from fewshot.protocols import har as protocol

TINY = [
  '--quick',
  '--no-progress',
  '--set', 'participants=3',
  '--set', 'block_seconds=30.0',
  '--set', 'rest_seconds=20.0',
  '--set', 'tasks=(2,)',
  '--set', "combos=('steps*hr',)",
  '--set', "basicmotions_combos=('acc+gyro', 'acc*gyro')",
  '--set', 'basicmotions_groups=4',
  '--set', 'train.fit.batch_size=16',
  '--set', 'train.fit.num_epochs=2',
  '--set', 'train.fit.patience=1',
  '--set', 'train.inner_folds=2',
]  # fmt: skip


def _tasks(*modalities):
  return {'4 classes': types.SimpleNamespace(inputs=dict.fromkeys(modalities), class_names=())}


def test_grid_uses_each_data_sets_combos():
  quick = configs.get_config(quick=True)
  bm = protocol.grid(quick, _tasks(*protocol.BASICMOTIONS_MODALITIES))
  assert [c.name for c in bm] == ['cnn:acc', 'cnn:gyro', 'cnn:acc+gyro', 'cnn:acc*gyro']
  assert [protocol.paper_name(c.name)[1] for c in bm] == [
    'f_xyz',
    'f_gyro',
    'f_xyz⊕gyro',
    'f_xyz⊗gyro',
  ]
  harage = _tasks(*protocol.HARAGE_MODALITIES)
  assert [c.name for c in protocol.grid(quick, harage)][-1] == 'cnn:steps*hr*acc'
  full = protocol.grid(configs.get_config(), harage)
  assert len(full) == 2 * (3 + 3 * 2 + 2)  # RNN and CNN: 3 unimodal, 3 pairs and 1 triple x 2
  assert len({c.id for c in full}) == len(full)
  with pytest.raises(ValueError, match='no modality'):
    protocol.grid(
      dataclasses.replace(quick, basicmotions_combos=('acc*hr',)), _tasks('acc', 'gyro')
    )


@pytest.mark.slow
def test_synthetic_run_writes_records_and_resumes(tmp_path):
  out = str(tmp_path / 'syn')
  assert har_fusion.main([*TINY, '--out', out]) == 0
  with open(os.path.join(out, 'results.json')) as f:
    results = json.load(f)
  for r in results['records']:
    assert set(records_lib.FIELDS[:6]) <= set(r) and r['estimator'] and r['selection']
  recs = records_lib.read(out)
  assert {r.table for r in recs} == {
    'Table 2 (2 classes)', 'Table 2 (2 classes), pooled', protocol.BEST_TABLE
  }  # fmt: skip
  mean = next(r for r in recs if r.table == 'Table 2 (2 classes)' and r.statistic == 'mean')
  assert (mean.row, mean.column, mean.n) == ('f_steps⊗hr', 'CNN', 3)
  cell = results['cells']['2 classes/cnn:steps*hr']
  assert mean.value == pytest.approx(np.mean(cell['fold_uar']))
  assert (
    'selected on the test split'
    in next(r for r in recs if r.table == protocol.BEST_TABLE).selection
  )
  # The pooled UAR is the balanced accuracy of the pooled confusion matrix.
  cm = np.asarray(cell['confusion'], float)
  present = cm.sum(1) > 0
  pooled = next(r for r in recs if r.table.endswith('pooled')).value
  assert pooled == pytest.approx(np.mean(np.diag(cm)[present] / cm.sum(1)[present]), abs=1e-6)
  tables = open(os.path.join(out, 'tables.md')).read()
  assert 'f_steps⊗hr' in tables and 'CNN μ' in tables and 'Selected by: epochs' in tables
  assert os.path.exists(os.path.join(out, 'confusion_2.png'))
  # Resumable: a rerun finds the finished cell, trains nothing, reports the same.
  lines = open(os.path.join(out, 'cells.jsonl')).read()
  assert har_fusion.main([*TINY, '--out', out]) == 0
  assert open(os.path.join(out, 'cells.jsonl')).read() == lines
  diffs = records_lib.compare(recs, records_lib.read(out))
  assert len(diffs) == len(recs) and all(d.a == d.b and not d.changed_meaning for d in diffs)
  with pytest.raises(ValueError, match='other settings'):
    har_fusion.main([*TINY, '--out', out, '--seed', '1'])


@pytest.mark.slow
def test_basicmotions_run_both_fusions_beats_chance(tmp_path):
  out = str(tmp_path / 'bm')
  # Real recordings, 4 classes (chance UAR 0.25); enough epochs to learn.
  more = ['--set', 'train.fit.learning_rate=3e-3', '--set', 'train.fit.num_epochs=15']
  more += ['--set', 'train.fit.patience=5']
  har_fusion.main([*TINY, *more, '--out', out, '--data', 'basicmotions'])
  with open(os.path.join(out, 'results.json')) as f:
    cells = json.load(f)['cells']
  assert list(cells) == ['4 classes/cnn:acc+gyro', '4 classes/cnn:acc*gyro']
  for c in cells.values():
    assert len(c['fold_uar']) == 4
    assert sum(map(sum, c['confusion'])) == 80  # every recording tested once
  best = max(np.mean(c['fold_uar']) for c in cells.values())
  assert best > 0.5, [c['fold_uar'] for c in cells.values()]
  assert os.path.exists(os.path.join(out, 'confusion_4.png'))
