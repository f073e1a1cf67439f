"""End-to-end: the sEMG few-shot experiment on tiny data with tiny settings."""

import json
import os

import jax
import numpy as np
import pytest

from evaluation.reports import to_jsonable
from experiments import semg_fewshot
from experiments.configs.semg_fewshot import get_config
from experiments.configs.semg_fewshot import get_tiny_config
from fewshot.protocols import semg as protocol

CLASSES = [f'C{i + 1}' for i in range(7)]


def _features(n_per_class=16, seed=0):
  rng = np.random.default_rng(seed)
  labels = np.repeat(np.arange(7), n_per_class)
  t = np.linspace(0, 1, 61)
  # Class-dependent levels and smooth curves plus noise: separable, so even a
  # tiny embedding trained for two epochs scores far above chance.
  x = (
    labels[:, None, None] * np.array([1.0, -0.5])[None, :, None]
    + np.sin(2 * np.pi * (labels[:, None, None] + 1) * t / 4)
    + 0.1 * rng.normal(size=(len(labels), 2, 61))
  )
  return x.astype(np.float32), labels, CLASSES


@pytest.mark.slow
def test_tiny_experiment_writes_tables_and_resumes(tmp_path):
  cfg = get_tiny_config()
  out = str(tmp_path / 'run')
  res = semg_fewshot.run(cfg, out, features=_features(), progress=False)
  for name in ('results.json', 'tables.md', 'f1_vs_shots.png', 'config.json'):
    assert os.path.isfile(os.path.join(out, name)), name
  stages = sorted(os.listdir(os.path.join(out, 'checkpoints')))
  assert 'base_c1' in stages and 'table8_tl' in stages and 'siamese_cs3_ab' in stages
  with open(os.path.join(out, 'results.json')) as f:
    saved = json.load(f)
  # Paper layout: every method and every shot, one F1 per seed.
  assert list(saved['raw']['IX']) == list(protocol.FSL_METHODS)
  for method, cols in saved['raw']['IX'].items():
    assert list(cols) == [f'k={k}' for k in cfg.shots]
    assert all(len(v) == cfg.num_seeds and all(0 <= s <= 1 for s in v) for v in cols.values())
  assert list(saved['raw']['VII']['DL']) == [f'ν={k}' for k in cfg.shots]
  assert list(saved['raw']['IV']['F1 Score']) == [f'{d} Layer' for d in cfg.depths]
  assert list(saved['raw']['VI']['Median F1 Score']) == ['AdaBatch']
  md = open(os.path.join(out, 'tables.md')).read()
  for table in ('TABLE IV', 'TABLE V', 'TABLE VI', 'TABLE VII', 'TABLE VIII', 'TABLE IX'):
    assert table in md
  assert '1' in res['finding']
  # Plausible scores: the distance classifiers separate these classes (chance: 1/3) ...
  ix = {m: np.median(cols['k=2']) for m, cols in saved['raw']['IX'].items()}
  assert ix['CP'] > 0.7 and ix['CM'] > 0.7, ix
  # ... and the methods are really different computations.
  assert len({round(v, 4) for v in ix.values()}) >= 4, ix
  for table in ('IV', 'VI', 'VII', 'VIII'):
    for cols in saved['raw'][table].values():
      assert all(0 <= v <= 1 for vs in cols.values() for v in vs), table

  # A re-run with the same settings skips every stage and gives the same tables.
  res2 = semg_fewshot.run(cfg, out, features=_features(), progress=False)
  for table in ('IV', 'VII', 'VIII', 'IX'):
    assert to_jsonable(res2['raw'][table]) == to_jsonable(res['raw'][table]), table
  assert res2['timings_s']['total_s'] < res['timings_s']['total_s']
  # Other settings in the same folder are refused, not silently mixed.
  with pytest.raises(ValueError, match='other settings'):
    semg_fewshot.run(get_config(quick=True), out, features=_features(), progress=False)


def test_protocol_helpers():
  labels = np.repeat(np.arange(7), 80)
  counts = protocol.table3_counts(labels, 7)
  assert (counts.sum(1) <= 80).all() and (counts >= 1).all()
  # The paper's counts are kept where the data has them.
  big = np.repeat(np.arange(7), 1000)
  np.testing.assert_array_equal(protocol.table3_counts(big, 7), np.asarray(protocol.SEMG_TABLE_III))
  with pytest.raises(ValueError, match='too few'):
    protocol.table3_counts(np.repeat(np.arange(7), 3), 7)
  y = protocol.local_labels(labels, (4, 5, 6))
  assert set(y[labels < 4]) == {-1} and set(y[labels == 5]) == {1}
  rows = protocol.draw_shots(jax.random.key(0), np.arange(len(labels)), y, 3)
  assert sorted(np.bincount(y[rows])) == [3, 3, 3] and len(set(rows)) == 9
  again = protocol.draw_shots(jax.random.key(0), np.arange(len(labels)), y, 3)
  np.testing.assert_array_equal(rows, again)  # deterministic from the key
  with pytest.raises(ValueError, match='only'):
    protocol.draw_shots(jax.random.key(0), np.arange(10), y, 3)
  keys = protocol.stage_keys(0)
  assert list(keys) == list(protocol.STAGE_KEYS)
  assert len({str(jax.random.key_data(k).tolist()) for k in keys.values()}) == len(keys)


def test_cli_rejects_wrong_class_count(tmp_path):
  x, labels, _ = _features()
  keep = labels < 5
  with pytest.raises(ValueError, match='7 classes'):
    semg_fewshot.run(
      get_tiny_config(),
      str(tmp_path / 'r'),
      features=(x[keep], labels[keep], CLASSES[:5]),
      progress=False,
    )
