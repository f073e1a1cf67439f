"""End-to-end: the MEGC recognition and spotting experiments on tiny settings write records, tables and figures."""

import dataclasses
import inspect
import json
import os

import jax
import numpy as np
import pytest

from evaluation import records
from experiments import megc_recognition
from experiments import megc_spotting
from experiments import megc_spotting_amplitude
from experiments.configs import megc_spotting as spot_configs
from fewshot import timing
from fewshot.protocols import megc_spotting as spot_protocol
from vision.megc import spotting
from vision.megc import synthetic

# Seconds of training on one face per database, not a finding. STSTNet's
# setting is tests/test_megc_recognition_protocol.py's (same shapes too), so the
# suite compiles that training program once.
REC_TINY = [
  "clips_per_subject=(('negative', 2), ('positive', 1), ('surprise', 1))",
  'subjects=1',
  'face_size=48',
  'flow_method=farneback',
  'workers=1',
  'lbp_face_size=24',
  'lbp_grid=(2, 2)',
  "methods=('LBP-TOP', 'STSTNet')",
  'ststnet.fit.num_epochs=30',
  'ststnet.fit.batch_size=8',
  'ststnet.fit.learning_rate=1e-2',
]
SPOT_TINY = ["databases=(('CAS(ME)^2', 1, 10.0),)", 'ps=(0.1, 0.3)', 'size=128']


def _sets(assignments):
  return [a for s in assignments for a in ('--set', s)]


def test_spotting_settings_fit_their_events():
  assert spot_configs.get_config(quick=True).figure_p in spot_configs.get_config().ps
  for cfg in (spot_configs.get_config(), spot_configs.get_config(quick=True)):
    for _, _, seconds in cfg.databases:  # every setting's videos fit their events
      assert seconds >= synthetic.min_video_seconds()


def _check_records(out):
  stored = json.load(open(os.path.join(out, 'results.json')))
  for item in stored['records']:
    assert set(records.FIELDS[:6]) <= set(item), item
    assert item['estimator'].strip() and item['selection'].strip()
  # every stage's times, and the run's compile count ('total')
  assert stored['timings'] and all(t['wall_s'] >= 0 for t in stored['timings'].values())
  assert set(timing.KEYS) <= set(stored['timings']['total'])
  assert stored['compile']['count'] == stored['timings']['total']['compiles']
  return stored, records.read(out)


@pytest.mark.slow
def test_recognition_writes_table_iv_and_confusion_matrices(tmp_path):
  out = str(tmp_path / 'rec')
  argv = ['--out', out, '--no-progress', *_sets(REC_TINY)]
  assert megc_recognition.main(argv) == 0
  for name in ('tables.md', 'results.json', 'inputs.npz', 'confusion_LBP-TOP.png',
               'confusion_STSTNet.png', 'config.json'):  # fmt: skip
    assert os.path.getsize(os.path.join(out, name)) > 0, name
  stored, recs = _check_records(out)
  assert {r.row for r in recs if r.table == 'IV'} == {'LBP-TOP', 'STSTNet'}
  full = {(r.row, r.column): r.value for r in recs if r.column.startswith('Full')}
  assert len(full) == 4 and all(0.0 <= v <= 1.0 for v in full.values())
  for m in ('LBP-TOP', 'STSTNet'):  # 3 faces x 4 clips, every clip predicted once
    assert np.sum(stored['confusion'][m]) == 12
  assert stored['parameters']['STSTNet'] == 1683
  table = open(os.path.join(out, 'tables.md')).read()
  assert 'Full UF1' in table and 'SAMM UAR' in table and '| STSTNet |' in table
  assert 'Estimator:' in table and 'Selected by:' in table
  # Table III: the synthetic composite's counts (3 faces, 12 clips) and what differs.
  iii = records.to_summary(recs, 'III')
  assert iii['Full']['clips'] == 12 and iii['Full']['subjects'] == 3
  assert 'TABLE III layout' in table and 'differs from Table III' in table
  assert 'SMIC negative: 2 clips here, 70 in Table III (-68)' in table
  assert stored['composite_check']['differences']
  # The inputs are cached; a run with other settings in the same folder is refused.
  with pytest.raises(ValueError, match='other settings'):
    megc_recognition.main([*argv, '--seed', '1'])
  # --estimate: the same run on probes of a few epochs in a temporary folder; the run folder keeps its results.
  before = open(os.path.join(out, 'results.json')).read()
  assert megc_recognition.main([*argv, '--estimate']) == 0
  assert open(os.path.join(out, 'results.json')).read() == before
  estimate = json.load(open(os.path.join(out, 'estimate.json')))
  assert estimate['estimate_s'] == estimate['timings']['total']['estimate_s'] > 0
  assert estimate['timings']['STSTNet']['estimate_s'] > 0 and '--estimate' not in estimate['argv']


@pytest.mark.slow
def test_spotting_writes_table_ii_and_the_curve(tmp_path):
  out = str(tmp_path / 'spot')
  assert megc_spotting.main(['--out', out, '--no-progress', *_sets(SPOT_TINY)]) == 0
  _, recs = _check_records(out)
  cells = records.to_summary(recs, spot_protocol.table_name('CAS(ME)^2'))
  assert set(cells) == {'LBP-χ² p=0.1', 'LBP-χ² p=0.3', 'LTP-ML'}
  # Table II's layout: both methods' F1 per database.
  assert set(records.to_summary(recs, spot_protocol.SUMMARY_TABLE)) == {'LBP-χ² p=0.1', 'LTP-ML'}
  for cell in cells.values():
    assert cell['TP'] + cell['FN'] == 3  # one video, 3 micro-expressions; the other has none
    assert 0 <= cell['FP on macro/blinks'] <= cell['FP']
  assert os.path.getsize(os.path.join(out, 'spotting_CASME2.png')) > 0
  table = open(os.path.join(out, 'tables.md')).read()
  assert '| LBP-χ² p=0.1 |' in table and 'Precision' in table and 'Selected by' in table
  assert '1 videos scored, 1 without micro-expressions left out, as in the paper' in table


def test_spotting_curves_only_for_the_videos_table_ii_scores(tmp_path):
  # With the paper's rule ('skip') the video without a micro-expression gets
  # no LBP-chi^2 curve (it trains LTP-ML only); with 'count' it gets its own,
  # and the scored video's is the same either way.
  cfg = spot_protocol.Config(databases=(('CAS(ME)^2', 1, 10.0),), ps=(0.1,), size=128, ltp_ml=False)
  data = {}
  for rule in ('skip', 'count'):
    out = tmp_path / rule
    out.mkdir()
    data[rule] = megc_spotting.prepare(
      dataclasses.replace(cfg, empty_videos=rule), str(out), False
    )[0]
  skip, count = data['skip']['CAS(ME)^2'], data['count']['CAS(ME)^2']
  assert [len(m) for m in skip.micro] == [3, 0]
  assert list(skip.spotted[0.1][1]) == [] and len(count.spotted[0.1][1]) > 0
  np.testing.assert_array_equal(skip.spotted[0.1][0], count.spotted[0.1][0])


def test_spotting_protocol_scores_known_intervals():
  micro = [np.array([[10, 20], [50, 60]])]
  distractors = [np.array([[80, 95]])]
  spotted = {0.1: [np.array([[11, 21], [82, 92], [120, 130]])], 0.5: [np.zeros((0, 2), int)]}
  data = {'SAMM': spot_protocol.Database(micro, distractors, spotted)}
  cfg = spot_protocol.Config(databases=(('SAMM', 1, 10.0),), ps=(0.1, 0.5))
  res = spot_protocol.run(jax.random.key(0), cfg, data)
  cells = records.to_summary(res.records, 'II SAMM')
  assert cells['LBP-χ² p=0.1']['TP'] == 1 and cells['LBP-χ² p=0.1']['FP'] == 2
  assert cells['LBP-χ² p=0.1']['FP on macro/blinks'] == 1  # [82, 92] lies on the distractor
  assert cells['LBP-χ² p=0.5']['FN'] == 2 and cells['LBP-χ² p=0.5']['Recall'] == 0
  assert res.counts == {
    'SAMM': {'videos': 1, 'micro': 2, 'videos without micro-expressions': 0, 'rule': 'skip'}
  }


def test_spotting_scores_videos_with_micro_expressions_unless_told_otherwise():
  """The paper scores only videos with a micro-expression; 'count' adds the others' detections as FP."""
  micro = [np.array([[10, 20]]), np.zeros((0, 2), int)]
  distractors = [np.zeros((0, 2), int), np.array([[40, 60]])]
  spotted = {0.1: [np.array([[11, 21]]), np.array([[45, 55], [90, 100]])]}
  data = {'SAMM': spot_protocol.Database(micro, distractors, spotted)}
  cells, recs = {}, {}
  for rule in ('skip', 'count'):
    cfg = spot_protocol.Config(databases=(('SAMM', 2, 10.0),), ps=(0.1,), empty_videos=rule)
    res = spot_protocol.run(jax.random.key(0), cfg, data)
    cells[rule] = records.to_summary(res.records, 'II SAMM')['LBP-χ² p=0.1']
    recs[rule] = res.records[0]
    assert res.counts['SAMM']['videos without micro-expressions'] == 1
  assert cells['skip'] == {**cells['skip'], 'TP': 1, 'FP': 0, 'FN': 0, 'F1': 1.0}
  assert cells['count'] == {**cells['count'], 'TP': 1, 'FP': 2, 'FN': 0, 'FP on macro/blinks': 1}
  assert cells['count']['Precision'] == pytest.approx(1 / 3)
  assert (
    '1 videos with micro-expressions; its 1 videos without one left out' in recs['skip'].estimator
  )
  assert 'all 2 of the database' in recs['count'].estimator
  assert 'no p and no spotter setting' in recs['skip'].selection
  with pytest.raises(ValueError, match='empty_videos'):
    spot_protocol.Config(empty_videos='all')


def test_spotting_config_defaults_are_the_spotters():
  """The protocol restates vision's defaults (fewshot does not import vision): they must agree."""
  assert spot_protocol.DEFAULT_P == spotting.DEFAULT_P
  assert spot_protocol.SPOTTER_DEFAULTS == {
    'seconds': spotting.MICRO_SECONDS,
    'blocks': spotting.BLOCKS,
    'top_fraction': spotting.TOP_FRACTION,
    'peak_distance': spotting.PEAK_DISTANCE,
  }
  sig = inspect.signature(spotting.analyse).parameters
  assert {
    k: sig[k].default for k in spot_protocol.SPOTTER_DEFAULTS
  } == spot_protocol.SPOTTER_DEFAULTS


@pytest.mark.slow
def test_amplitude_sweep_writes_records_tables_and_plot(tmp_path):
  out = str(tmp_path / 'amp')
  argv = [
    '--out',
    out,
    '--no-progress',
    *_sets(['amplitudes=(1.0, 5.0)', 'videos=0', 'fold_scales=(0.0,)']),
  ]
  assert megc_spotting_amplitude.main(argv) == 0
  _, recs = _check_records(out)
  cells = records.to_summary(recs, 'amplitude real clip folds x0 p=0.1')
  assert set(cells) == {'1 px', '5 px'}
  for cell in cells.values():
    assert cell['TP'] + cell['FN'] == 3 and cell['FP per video'] == cell['FP']
  assert cells['5 px']['Recall'] >= cells['1 px']['Recall']
  assert os.path.getsize(os.path.join(out, 'amplitude.png')) > 0
  assert '| 5 px |' in open(os.path.join(out, 'tables.md')).read()
