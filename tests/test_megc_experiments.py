"""End-to-end: the MEGC recognition and spotting experiments on tiny settings write their tables and figures."""

import json
import os

import pytest

from experiments import megc_recognition
from experiments import megc_spotting
from experiments.configs import megc_recognition as rec_configs
from experiments.configs import megc_spotting as spot_configs
from vision.megc import synthetic


def test_configs_hold_the_documented_settings():
  full = rec_configs.get_config()
  assert full.methods == ('LBP-TOP', 'STSTNet', 'OFF-ApexNet', 'Dual-Inception')
  ststnet = dict(full.networks)['STSTNet'].fit
  assert (ststnet.num_epochs, ststnet.batch_size, ststnet.learning_rate) == (800, 256, 5e-5)
  quick = rec_configs.get_config(quick=True)
  assert set(dict(quick.networks)) == set(full.methods) - {'LBP-TOP'}
  assert spot_configs.get_config(quick=True).figure_p in spot_configs.get_config().ps
  for cfg in (spot_configs.get_config(), spot_configs.get_config(quick=True)):
    for _, _, seconds in cfg.databases:  # every setting's videos fit their events
      assert seconds >= synthetic.min_video_seconds()
  args = megc_recognition.parse_args(['--quick', '--data-root', 'DBS'])
  assert args.quick and args.data_root == 'DBS' and args.out == 'runs/megc_recognition'
  assert megc_spotting.parse_args([]).out == 'runs/megc_spotting'


@pytest.mark.slow
def test_recognition_writes_table_iv_and_confusion_matrices(tmp_path):
  out = str(tmp_path / 'rec')
  cfg = rec_configs.get_tiny_config()
  results = megc_recognition.run(cfg, out, progress=False)
  assert set(results) == {'LBP-TOP', 'STSTNet'}
  assert results['STSTNet']['parameters'] == 1683
  for name in (
    'tables.md',
    'results.json',
    'inputs.npz',
    'confusion_LBP-TOP.png',
    'confusion_STSTNet.png',
  ):
    assert os.path.getsize(os.path.join(out, name)) > 0, name
  table = open(os.path.join(out, 'tables.md')).read()
  assert 'Full UF1' in table and 'SAMM UAR' in table and '| STSTNet |' in table
  stored = json.load(open(os.path.join(out, 'results.json')))
  for m in ('LBP-TOP', 'STSTNet'):
    full = stored['methods'][m]['scores']['Full']
    assert 0.0 <= full['UF1'] <= 1.0 and 0.0 <= full['UAR'] <= 1.0
    assert sum(map(sum, full['confusion'])) == 12  # 3 faces x 4 clips, every clip predicted once
  # The inputs are cached with the clips' labels; a run with other settings is refused.
  inputs, comp, desc = megc_recognition.prepare(cfg, out, None, progress=False)
  assert inputs['ststnet'].shape == (12, 28, 28, 3) and len(comp.folds) == 3
  assert desc.startswith('synthetic composite database')
  with pytest.raises(ValueError, match='other settings'):
    megc_recognition.run(rec_configs.Config(seed=1), out, progress=False)


@pytest.mark.slow
def test_spotting_writes_table_ii_and_the_curve(tmp_path):
  out = str(tmp_path / 'spot')
  results = megc_spotting.run(spot_configs.get_tiny_config(), out, progress=False)
  db = results['CAS(ME)^2']
  assert db['videos'] == 1 and db['micro'] == 3 and db['k'] == 5
  for cell in db['table'].values():
    assert cell['TP'] + cell['FN'] == 3
    assert 0 <= cell['FP on distractors'] <= cell['FP']
  assert os.path.getsize(db['figure']) > 0
  table = open(os.path.join(out, 'tables.md')).read()
  assert '| LBP-χ² p=0.1 |' in table and 'Precision' in table
