"""End-to-end: the harAGE fusion experiment on tiny synthetic data and on BasicMotions."""

import dataclasses
import json
import os

import numpy as np
import pytest

from experiments import har_fusion
from experiments.configs import har_fusion as configs
from fewshot.protocols.har import train_config

TINY = configs.Config(
  participants=3,
  block_seconds=30.0,
  rest_seconds=20.0,
  tasks=(2,),
  extractors=('cnn',),
  combos=((('steps', 'hr'), 'outer'),),
  basicmotions_combos=((('acc', 'gyro'), 'concat'), (('acc', 'gyro'), 'outer')),
  basicmotions_groups=4,
  train=train_config(batch_size=16, max_epochs=2, patience=1, inner_folds=2),
)


def test_grid_uses_each_data_sets_combos():
  quick = configs.get_config(quick=True)
  bm = har_fusion.grid(quick, {'4 classes': None}, configs.BASICMOTIONS_MODALITIES)
  assert [c['model'] for c in bm] == ['f_xyz', 'f_gyro', 'f_xyz⊕gyro', 'f_xyz⊗gyro']
  full = har_fusion.grid(configs.get_config(), {'2 classes': None}, configs.HARAGE_MODALITIES)
  assert len(full) == 2 * (3 + 3 * 2 + 2)  # RNN and CNN: 3 unimodal, 3 pairs and 1 triple x 2


def _lines(path):
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


@pytest.mark.slow
def test_synthetic_run_writes_tables_and_resumes(tmp_path):
  out = str(tmp_path / 'syn')
  res = har_fusion.run(TINY, out, 'synthetic', progress=False)
  recs = _lines(os.path.join(out, 'results.jsonl'))
  assert [r['model'] for r in recs] == ['f_steps⊗hr']
  assert len(recs[0]['fold_uar']) == 3 and recs[0]['class_names'] == ['static', 'dynamic']
  assert os.path.exists(os.path.join(out, 'confusion_2.png'))
  tables = open(os.path.join(out, 'tables.md')).read()
  assert 'f_steps⊗hr' in tables and 'CNN pooled' in tables and 'classes present' in tables
  # The pooled UAR is the balanced accuracy of the pooled confusion matrix.
  cm = np.asarray(recs[0]['confusion'], float)
  present = cm.sum(1) > 0
  pooled = np.mean(np.diag(cm)[present] / cm.sum(1)[present])
  assert recs[0]['pooled_uar'] == pytest.approx(pooled, abs=1e-6)
  assert res['pooled']['2 classes']['f_steps⊗hr']['CNN'] == recs[0]['pooled_uar']
  assert res['best']['2 classes']['model'] == 'f_steps⊗hr'
  # Resumable: a rerun finds the finished cell and trains nothing.
  before = os.path.getmtime(os.path.join(out, 'results.jsonl'))
  har_fusion.run(TINY, out, 'synthetic', progress=False)
  assert os.path.getmtime(os.path.join(out, 'results.jsonl')) == before
  with pytest.raises(ValueError, match='other settings'):
    har_fusion.run(dataclasses.replace(TINY, seed=1), out, 'synthetic', progress=False)


@pytest.mark.slow
def test_basicmotions_run_both_fusions_beats_chance(tmp_path):
  out = str(tmp_path / 'bm')
  # Real recordings, 4 classes (chance UAR 0.25); enough epochs to learn.
  cfg = dataclasses.replace(
    TINY,
    train=train_config(batch_size=16, learning_rate=3e-3, max_epochs=15, patience=5, inner_folds=2),
  )
  har_fusion.run(cfg, out, 'basicmotions', progress=False)
  recs = _lines(os.path.join(out, 'results.jsonl'))
  assert [r['model'] for r in recs] == ['f_xyz⊕gyro', 'f_xyz⊗gyro']
  for r in recs:
    assert len(r['fold_uar']) == 4 and r['task'] == '4 classes'
    assert sum(map(sum, r['confusion'])) == 80  # every recording tested once
  best = max(sum(r['fold_uar']) / 4 for r in recs)
  assert best > 0.5, [r['fold_uar'] for r in recs]
  assert os.path.exists(os.path.join(out, 'confusion_4.png'))
