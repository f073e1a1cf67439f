"""End-to-end: the sign-recognition experiment's quick setting, shrunk, on real lexicon clips."""

import json

import numpy as np
import pytest

from evaluation import records
from experiments import sign_recognition
from experiments.configs import sign_recognition as configs
from fewshot.protocols import sign as protocol

# Four Latin-alphabet languages (26-29 letters each), 2 folds, one feature set,
# one epoch, tiny models, no few-shot part (its pieces have their own tests):
# compiling the two training programs is most of the time.
TINY = [
  "languages=('ase', 'bzs', 'psr', 'swl')",
  'max_frames=8',
  'folds=2',
  "feature_sets=('points+limbs',)",
  'epochs=1',
  'ctc_epochs=1',
  'batch_size=64',
  'bilstm=(16, (8,), 0.2)',
  'transformer=(16, 2, 1, 32, 0.1)',
  'shots=()',
]


def test_quick_setting_keeps_every_row_and_column():
  quick = configs.get_config(quick=True)
  assert quick.kinds == protocol.KINDS and quick.feature_sets == protocol.FEATURE_SETS
  assert configs.get_config(autsl=True).batch_size > quick.batch_size


@pytest.mark.slow
def test_tiny_run_writes_records_tables_and_histogram(tmp_path):
  argv = ['--quick', '--out', str(tmp_path), '--no-progress']
  assert sign_recognition.main(argv + [a for s in TINY for a in ('--set', s)]) == 0
  text = (tmp_path / 'tables.md').read_text()
  for name in (
    'Holistic points+limbs',
    'Team 1 (transformer, CTC)',
    'Team 2 (BiLSTM)',
    'Holistic |',
  ):
    assert name in text
  assert 'rank-sum p-value' in text and 'Few-shot' not in text and 'Selected by' in text
  assert (tmp_path / 'figure6.png').stat().st_size > 5000
  saved = json.loads((tmp_path / 'results.json').read_text())
  for item in saved['records']:
    assert set(records.FIELDS[:6]) <= set(item) and item['estimator'] and item['selection']
  recs = records.read(tmp_path)
  table1 = records.to_summary(recs, protocol.ablation_table(protocol.TABLE1))
  cell = table1['Holistic points+limbs']['Team 2 (BiLSTM)']
  # The paper's layout: its Holistic row is the same models; the OpenPose rows need OpenPose poses.
  paper = records.to_summary(recs, protocol.TABLE1)
  assert set(paper) == {'Holistic'} and paper['Holistic']['Team 2 (BiLSTM)'] == cell
  assert 'Not run: OpenPose (needs OpenPose poses' in text and 'Not run: OpenPose+Holistic' in text
  assert cell['n'] == 2 and 0 <= cell['mean'] <= 1
  accs = saved['accuracies']['Holistic points+limbs']['Team 2 (BiLSTM)']
  assert cell['mean'] == pytest.approx(np.mean(accs))
  presence = np.array(saved['presence']['presence'])
  assert len(presence) == len(saved['presence']['correct']) > 100  # every clip tested once
  assert np.all((presence >= 0) & (presence <= 1))
  section5 = {row: cell['value'] for row, cell in records.to_summary(recs, 'Section 5').items()}
  assert section5['correct clips'] + section5['incorrect clips'] == len(presence)
  for row in protocol.COUNT_ROWS:  # counts print as integers
    assert f'| {row} | {section5[row]:.0f} |' in text
  if 'rank-sum p-value' in section5:
    assert 0 <= section5['rank-sum p-value'] <= 1
  assert saved['few_shot'] is None and saved['timings']['data']['wall_s'] > 0
  cells = [t for name, t in saved['timings'].items() if name.startswith('table1 ')]
  assert cells and all(t['train_s'] > 0 and t['predict_s'] > 0 for t in cells)
  total = saved['timings']['total']  # the suite's persistent cache may supply programs
  assert saved['compile'] == {
    'count': total['compiles'],
    'loaded': total['loaded'],
    'seconds': total['compile_s'],
  }
  assert total['compiles'] + total['loaded'] > 0
  assert set(saved['absent_rows']) == {'OpenPose', 'OpenPose+Holistic'}
