"""Records: one per reported number; rendering, JSON round trip, comparison."""

import json

import numpy as np
import pytest

from evaluation import records
from evaluation import reports
from experiments import compare


def _summary():
  raw = {
    'DL': {'1': [0.5, 0.6, 0.7], '5': [0.8, 0.9, 1.0]},
    'TL': {'1': [0.6, 0.6, 0.6], '5': [0.9] * 3},
  }
  return reports.summarize(raw)


def test_from_summary_gives_one_record_per_number_and_round_trips():
  summary = _summary()
  recs = records.from_summary(
    'VII', summary, estimator='weighted F1; median over 3 seeds', selection='none'
  )
  assert len(recs) == 2 * 2 * 4  # median, iqr, q1, q3 per cell
  assert {r.statistic for r in recs} == {'median', 'iqr', 'q1', 'q3'}
  back = records.to_summary(recs, 'VII')
  for row in summary:
    for col in summary[row]:
      for k, v in summary[row][col].items():
        assert back[row][col][k] == pytest.approx(v)
  again = records.from_json(json.loads(json.dumps(records.to_json(recs))))
  assert again == recs


def test_table_markdown_renders_from_records_and_names_estimator_and_selection():
  recs = records.from_summary(
    'VII', _summary(), estimator='weighted F1', selection=lambda row, col: f'epochs of {row}'
  )
  md = reports.table_markdown(recs, 'VII', title='TABLE VII')
  assert md == reports.markdown_table(_summary(), title='TABLE VII') + (
    '\nEstimator: weighted F1.\n\nSelected by:\n- DL: epochs of DL.\n- TL: epochs of TL.\n'
  )


def test_record_rejects_bad_values():
  with pytest.raises(ValueError, match='value is nan'):
    records.record('T', 'r', 'c', np.nan, estimator='e', selection='s')
  with pytest.raises(ValueError, match='selection must be a non-empty'):
    records.record('T', 'r', 'c', 1.0, estimator='e', selection='')
  with pytest.raises(ValueError, match='statistic'):
    records.record('T', 'r', 'c', 1.0, estimator='e', selection='s', statistic='mode')
  r = records.record('T', 'r', 'c', 1.0, estimator='e', selection='s')
  with pytest.raises(ValueError, match='same cell'):
    records.to_json([r, r])


def test_write_results_and_compare_runs(tmp_path, capsys):
  a = records.from_summary(
    'IV', {'STSTNet': {'UF1': 0.8, 'UAR': 0.7}}, estimator='UF1', selection='none'
  )
  b = [r._replace(value=r.value + 0.1) if r.column == 'UF1' else r for r in a]
  b.append(records.record('IV', 'LBP-TOP', 'UF1', 0.5, estimator='UF1', selection='none'))
  reports.write_results(tmp_path / 'a', a, timings={'total': 1.0}, data='synthetic')
  reports.write_results(tmp_path / 'b', b, timings={'total': 2.0})
  assert json.loads((tmp_path / 'a' / 'results.json').read_text())['data'] == 'synthetic'
  assert records.read(tmp_path / 'a') == a
  diffs = records.compare(records.read(tmp_path / 'a'), records.read(tmp_path / 'b'))
  assert [(d.cell[1], d.cell[2], d.a, d.b) for d in diffs] == [
    ('STSTNet', 'UF1', 0.8, pytest.approx(0.9)),
    ('STSTNet', 'UAR', 0.7, 0.7),
    ('LBP-TOP', 'UF1', None, 0.5),
  ]
  assert compare.main([str(tmp_path / 'a'), str(tmp_path / 'b')]) == 1
  out = capsys.readouterr().out
  assert '3 cells, 2 differ' in out and 'only in B' in out and '+0.1' in out
  assert compare.main([str(tmp_path / 'a'), str(tmp_path / 'a')]) == 0


def test_compare_flags_changed_selection_and_reads_bad_files(tmp_path):
  a = [records.record('T', 'r', 'c', 1.0, estimator='e', selection='val')]
  b = [a[0]._replace(selection='test')]
  (d,) = records.compare(a, b)
  assert d.changed_meaning == 'selection'
  with pytest.raises(FileNotFoundError, match='no results file'):
    records.read(tmp_path)
  (tmp_path / 'results.json').write_text('{"tables": {}}')
  with pytest.raises(ValueError, match='no "records"'):
    records.read(tmp_path)
