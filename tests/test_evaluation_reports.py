"""Reports and plots: results.json, paper-layout markdown from records, PNG plots."""

import json

import numpy as np
import pytest

import evaluation
from evaluation import megc
from evaluation import plots
from evaluation import records

# Per-seed F1 of two methods at 1, 5 and 10 shots (fractions).
SCORES = {
  'CS_AB^3': {
    '1': [0.70, 0.72, 0.73, 0.71],
    '5': [0.75, 0.76, 0.77, 0.76],
    '10': [0.78, 0.79, 0.80, 0.79],
  },
  'TL': {
    '1': [0.45, 0.50, 0.49, 0.55],
    '5': [0.50, 0.52, 0.51, 0.60],
    '10': [0.66, 0.68, 0.67, 0.70],
  },
}
CONFUSION = [[50, 3, 0], [4, 20, 1], [0, 2, 9]]
CLASSES = ['negative', 'positive', 'surprise']

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def test_example_report_is_written_from_records(tmp_path):
  summary = evaluation.summarize(SCORES)
  recs = records.from_summary('IX', summary, estimator='F1, median over 4 seeds', selection='none')
  path = evaluation.write_results(tmp_path / 'run', recs, timings={'total': 1.0}, raw=SCORES)
  results = json.loads(path.read_text())
  med = [r for r in results['records'] if r['row'] == 'CS_AB^3' and r['column'] == '5']
  med = {r['statistic']: r['value'] for r in med}
  assert med['median'] == pytest.approx(np.median(SCORES['CS_AB^3']['5']))
  assert med['iqr'] == pytest.approx(np.subtract(*np.percentile(SCORES['CS_AB^3']['5'], [75, 25])))
  assert results['raw'] == SCORES and results['timings'] == {'total': 1.0}

  md = evaluation.table_markdown(
    recs, 'IX', title='Median F1 and IQR vs shots', row_header='method'
  )
  md = md.splitlines()
  # sEMG Table IX layout: a median line and an IQR line per method.
  assert md[2] == '| method |  | 1 | 5 | 10 |'
  assert md[4].startswith('| CS_AB^3 | F1 | 71.50 | 76.00 | 79.00 |')
  assert md[5].startswith('|  | IQR | ')
  assert md[6].startswith('| TL | F1 | 49.50 |')
  assert md[-1] == 'Selected by: none.'

  paths = [
    plots.plot_score_vs_shots(SCORES, tmp_path / 'shots.png', title='F1'),
    plots.plot_confusion_matrix(CONFUSION, CLASSES, tmp_path / 'confusion.png'),
  ]
  for p in paths:
    data = p.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 5000


def test_mean_std_columns_layout_and_inline():
  table = evaluation.summarize(
    {'f_steps+hr+xyz': {'RNN': [0.60, 0.65, 0.62], 'CNN': [0.70, 0.69, 0.71]}}, statistic='mean_std'
  )
  md = evaluation.markdown_table(table, row_header='features', digits=1)
  lines = md.splitlines()
  assert lines[0] == '| features | RNN μ | RNN σ | CNN μ | CNN σ |'
  assert lines[2] == '| f_steps+hr+xyz | 62.3 | 2.5 | 70.0 | 1.0 |'
  inline = evaluation.markdown_table(table, layout='inline', digits=1)
  assert '62.3 ± 2.5' in inline


def test_megc_table_iv_scalar_layout():
  y = np.array([0, 1, 2, 0, 1, 2])
  p = np.array([0, 1, 2, 1, 1, 0])
  res = megc.scores_by_database(y, p, ['SMIC'] * 3 + ['SAMM'] * 3)
  table = {'ours': {f'{db} {m}': res[db][m] for db in res for m in ('UF1', 'UAR')}}
  md = evaluation.markdown_table(table, row_header='Method', scale=1.0, digits=4)
  assert md.splitlines()[0] == (
    '| Method | Full UF1 | Full UAR | SMIC UF1 | SMIC UAR | SAMM UF1 | SAMM UAR |'
  )
  assert '| ours | ' in md and '1.0000' in md
  counts = {'p=0.1': {'TP': 6.0, 'FP': 45.0, 'F1': 0.19}}
  md = evaluation.markdown_table(counts, scale=1.0, digits=3, integer_columns=('TP', 'FP'))
  assert md.splitlines()[-1] == '| p=0.1 | 6 | 45 | 0.190 |'
  # Counts as rows (the sign paper's section 5): printed as integers, the rest as numbers.
  groups = {'correct clips': {'value': 518.0}, 'mean presence': {'value': 0.99671}}
  md = evaluation.markdown_table(groups, scale=1.0, digits=4, integer_rows=('correct clips',))
  assert md.splitlines()[-2:] == ['| correct clips | 518 |', '| mean presence | 0.9967 |']


def test_report_bad_input_errors(tmp_path):
  with pytest.raises(ValueError, match='NaN'):
    evaluation.summarize({'a': {'1': [0.5, float('nan')]}})
  with pytest.raises(ValueError, match='no scores'):
    evaluation.summarize({'a': {'1': []}})
  with pytest.raises(ValueError, match='statistic'):
    evaluation.summarize({'a': {'1': [0.5]}}, statistic='mode')
  with pytest.raises(ValueError, match='class names'):
    evaluation.plot_confusion_matrix(CONFUSION, ['a', 'b'], tmp_path / 'c.png')
  with pytest.raises(ValueError, match='square'):
    evaluation.plot_confusion_matrix([[1, 2]], ['a'], tmp_path / 'c.png')
  with pytest.raises(ValueError, match='NaN'):
    evaluation.write_json({'x': float('inf')}, tmp_path / 'r.json')
  with pytest.raises(ValueError, match='columns'):
    evaluation.markdown_table({'a': {'1': 0.5}, 'b': {'2': 0.5}})
  with pytest.raises(ValueError, match='shots'):
    evaluation.plot_score_vs_shots({'a': {'many': [0.5]}}, tmp_path / 's.png')


def test_to_jsonable_handles_numpy_and_jax():
  import jax.numpy as jnp

  out = evaluation.to_jsonable({'a': np.float32(0.5), 'b': jnp.arange(3), 'c': (np.int64(2),)})
  assert out == {'a': 0.5, 'b': [0, 1, 2], 'c': [2]}
  json.dumps(out)
