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
  '--set', 'train.fit.steps_per_epoch=3',
  '--set', 'seeds=2',
]  # fmt: skip


def _tasks(*modalities):
  return {'4 classes': types.SimpleNamespace(inputs=dict.fromkeys(modalities), class_names=())}


def test_grid_uses_each_data_sets_combos():
  quick = configs.get_config(quick=True)
  bm = protocol.grid(quick, _tasks(*protocol.BASICMOTIONS_MODALITIES))
  assert [c.name for c in bm] == ['cnn:acc+gyro', 'cnn:acc*gyro']
  assert [protocol.paper_name(c.name)[1] for c in bm] == ['f_xyz⊕gyro', 'f_xyz⊗gyro']
  every = dataclasses.replace(quick, basicmotions_combos=None)
  bm = protocol.grid(every, _tasks(*protocol.BASICMOTIONS_MODALITIES))
  assert [c.name for c in bm] == ['cnn:acc', 'cnn:gyro', 'cnn:acc+gyro', 'cnn:acc*gyro']
  harage = _tasks(*protocol.HARAGE_MODALITIES)
  assert [c.name for c in protocol.grid(quick, harage)] == ['cnn:steps+hr+acc', 'cnn:steps*hr*acc']
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
  table = 'Table 2 (2 classes)'
  assert {r.table for r in recs} == {
    table, f'{table}, pooled', f'{table}, convergence and baseline', f'{table}, training loss',
    protocol.FIGURE_TABLE,
  }  # fmt: skip
  mean = next(r for r in recs if r.table == table and r.statistic == 'mean')
  assert (mean.row, mean.column, mean.n) == ('f_steps⊗hr', 'CNN', 3 * 2)  # folds x seeds
  cell = results['cells']['2 classes/cnn:steps*hr']
  assert mean.value == pytest.approx(np.mean(cell['fold_uar']))
  # The budget was fixed in the config, every outer model took it, and the
  # records say so; the convergence table holds the training UAR and loss
  # of every model beside the logistic-regression baseline.
  assert np.shape(cell['steps']) == (2, 3) and np.all(np.asarray(cell['steps']) == 2 * 3)
  assert np.shape(cell['inner_epochs']) == (2, 3, 0)
  assert 'fixed budget' in mean.selection and '6 Adam steps' in mean.selection
  fit = {
    (r.row, r.column): r
    for r in recs
    if r.table.endswith('convergence and baseline') and r.statistic == 'mean'
  }
  assert set(fit) == {
    ('CNN f_steps⊗hr', 'test UAR'), ('CNN f_steps⊗hr', 'training UAR'),
    (protocol.BASELINE_ROW, 'test UAR'), (protocol.BASELINE_ROW, 'training UAR'),
  }  # fmt: skip
  assert fit['CNN f_steps⊗hr', 'training UAR'].value == pytest.approx(np.mean(cell['train_uar']))
  assert fit['CNN f_steps⊗hr', 'test UAR'].value == pytest.approx(mean.value)
  base = results['baselines']['2 classes']
  assert fit[protocol.BASELINE_ROW, 'test UAR'].value == pytest.approx(np.mean(base['fold_uar']))
  assert fit[protocol.BASELINE_ROW, 'test UAR'].n == 3
  assert fit[protocol.BASELINE_ROW, 'test UAR'].selection.startswith('none: C = 1')
  loss = [r for r in recs if r.table.endswith('training loss') and r.statistic == 'mean']
  assert {r.row for r in loss} == {'CNN f_steps⊗hr', protocol.BASELINE_ROW}
  assert all(r.value > 0 for r in loss)
  # The figure's model is fixed in advance (a task without a paper figure: the grid's last cell).
  fig = next(r for r in recs if r.table == protocol.FIGURE_TABLE)
  assert 'fixed in advance' in fig.selection and 'test split' not in fig.selection
  assert not any('selected on the test split' in r.selection for r in recs)
  # The pooled UAR is the balanced accuracy of the pooled confusion matrix.
  cm = np.asarray(cell['confusion'], float)
  present = cm.sum(1) > 0
  pooled = next(r for r in recs if r.table.endswith('pooled')).value
  assert pooled == pytest.approx(np.mean(np.diag(cm)[present] / cm.sum(1)[present]), abs=1e-6)
  tables = open(os.path.join(out, 'tables.md')).read()
  assert 'f_steps⊗hr' in tables and 'CNN μ' in tables and 'Selected by: epochs' in tables
  assert protocol.BASELINE_ROW in tables and 'training UAR' in tables
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
  more += ['--set', 'seeds=1', '--set', 'train.fit.steps_per_epoch=10']
  har_fusion.main([*TINY, *more, '--out', out, '--data', 'basicmotions'])
  with open(os.path.join(out, 'results.json')) as f:
    results = json.load(f)
  cells = results['cells']
  assert list(cells) == ['4 classes/cnn:acc+gyro', '4 classes/cnn:acc*gyro']
  for c in cells.values():
    assert np.shape(c['fold_uar']) == (1, 4)
    assert sum(map(sum, c['confusion'])) == 80  # every recording tested once
  # Pseudo-participants are not people: every record says so.
  assert all('not subject-independent' in r['estimator'] for r in results['records'])
  assert np.shape(results['baselines']['4 classes']['fold_uar']) == (4,)
  best = max(np.mean(c['fold_uar']) for c in cells.values())
  assert best > 0.5, [c['fold_uar'] for c in cells.values()]
  assert os.path.exists(os.path.join(out, 'confusion_4.png'))


def test_figure_model_is_fixed_in_advance():
  from types import SimpleNamespace

  cells = {
    ('concat', 'CNN'): SimpleNamespace(name='cnn:steps+hr+acc'),
    ('outer', 'CNN'): SimpleNamespace(name='cnn:steps*hr*acc'),
  }
  # The paper's Figures 3-5, whatever the scores; the grid's last cell elsewhere.
  assert protocol.figure_model('2 classes', cells) == (cells['concat', 'CNN'], True)
  assert protocol.figure_model('7 classes', cells) == (cells['outer', 'CNN'], True)
  assert protocol.figure_model('4 classes', cells) == (cells['outer', 'CNN'], False)
  other = {('x', 'CNN'): SimpleNamespace(name='cnn:steps+hr')}
  assert protocol.figure_model('10 classes', other) == (other['x', 'CNN'], False)
