"""End-to-end: the sign-recognition experiment's quick setting, shrunk, on real lexicon clips."""

import dataclasses
import json

import numpy as np
import pytest

from experiments import sign_recognition
from experiments.configs import sign_recognition as configs

# Four Latin-alphabet languages (26-29 letters each), 2 folds, one feature set,
# one epoch, tiny models, no few-shot part (its pieces have their own tests):
# compiling the two training programs is most of the time.
TINY = dataclasses.replace(
  configs.get_config(quick=True),
  languages=('ase', 'bzs', 'psr', 'swl'),
  max_frames=8,
  folds=2,
  feature_sets=('points+limbs',),
  epochs=1,
  ctc_epochs=1,
  batch_size=64,
  bilstm=(16, (8,), 0.2),
  transformer=(16, 2, 1, 32, 0.1),
  shots=(),
)


def test_quick_setting_is_the_documented_one():
  quick = configs.get_config(quick=True)
  assert quick.kinds == ('transformer', 'bilstm') and quick.feature_sets == (
    'points',
    'limbs',
    'points+limbs',
  )
  assert configs.get_config().bilstm == (512, (256, 256), 0.2)  # Team 2's sizes
  assert configs.get_config(autsl=True).batch_size == 512


@pytest.mark.slow
def test_tiny_run_writes_table_histogram_and_test(tmp_path):
  results = sign_recognition.run(TINY, tmp_path)
  text = (tmp_path / 'tables.md').read_text()
  for name in ('Holistic points+limbs', 'Team 1 (transformer, CTC)', 'Team 2 (BiLSTM)'):
    assert name in text
  assert 'Wilcoxon rank-sum' in text and 'Few-shot' not in text
  assert (tmp_path / 'figure6.png').stat().st_size > 5000
  saved = json.loads((tmp_path / 'results.json').read_text())
  accs = saved['table1']['Holistic points+limbs']['Team 2 (BiLSTM)']
  assert len(accs) == 2 and all(0 <= a <= 1 for a in accs)
  presence = saved['hand_presence']
  n = len(presence['presence'])
  assert n == len(presence['correct']) + len(presence['incorrect']) > 100  # every clip tested once
  assert np.all((np.array(presence['presence']) >= 0) & (np.array(presence['presence']) <= 1))
  if presence['ranksum'] is not None:
    assert 0 <= presence['ranksum']['pvalue'] <= 1
  assert saved['few_shot'] is None
  assert results['wall_seconds'] > 0
