"""The sEMG preprocessing sweep (Fig. 3): Savitzky-Golay rule, selection, records, end to end."""

import dataclasses
import json

import numpy as np
import pytest

import signals
from evaluation import records
from experiments import cli
from experiments import semg_preprocessing_sweep as script
from experiments.configs.semg_preprocessing_sweep import get_config
from experiments.configs.semg_preprocessing_sweep import get_tiny_config
from fewshot.protocols import semg_sweep as sweep
from fewshot.trainer import FitConfig
from signals.semg import sweep as semg_sweep


def test_savgol_window_rule(tmp_path):
  # The paper's setting on 8 s at 1 kHz: 247 frames, the window of 51 fits.
  assert semg_sweep.savgol_window(247, 51, 3, 'skip') == 51
  assert semg_sweep.savgol_window(51, 51, 3, 'skip') == 51
  assert semg_sweep.savgol_window(50, 51, 3, 'skip') is None
  assert semg_sweep.savgol_window(50, 51, 3, 'scale') == 49
  assert semg_sweep.savgol_window(19, 51, 3, 'scale') == 19
  assert semg_sweep.savgol_window(4, 51, 3, 'scale') is None  # no odd window above the order
  with pytest.raises(ValueError, match='savgol rule'):
    semg_sweep.savgol_window(50, 51, 3, 'shrink')
  x = np.random.default_rng(0).normal(size=(2, 2, 8000)).astype(np.float32)
  # N=512, L=96: hop 416, 19 frames; the library's own check refuses the same setting.
  skipped = semg_sweep.setting_features(x, size=512, overlap=96, rate=4)
  assert skipped == (signals.num_frames(8000, 512, 416), None, None) and skipped.frames == 19
  with pytest.raises(ValueError, match='fewer than the Savitzky-Golay window'):
    signals.semg_features(x, size=512, hop=416)
  # 'scale': the window shrinks to 19; the features are the chain's with that window, cached.
  scaled = semg_sweep.setting_features(
    x, size=512, overlap=96, rate=4, rule='scale', cache_dir=str(tmp_path)
  )
  assert scaled.window == 19 and scaled.features.shape == (2, 2, 4)
  want = signals.semg_features(x, size=512, hop=416, window=19)
  np.testing.assert_allclose(scaled.features, np.asarray(want), rtol=1e-6)
  assert (tmp_path / 'features_N512_L96_rate4_W19.npz').is_file()
  assert 'Savitzky-Golay window 19' in sweep.row_label(
    sweep.Config(), sweep.Setting(512, 96, 4), 19
  )
  with pytest.raises(ValueError, match='overlap L=128 must be smaller'):
    semg_sweep.setting_features(x, size=128, overlap=128, rate=4)


def test_settings_vary_one_parameter_around_the_paper():
  cfg = sweep.Config(frame_sizes=(128, 192), overlaps=(64,), rates=(2, 4))
  got = sweep.settings(cfg)
  assert got[0] == sweep.Setting(128, 96, 4)
  assert got == [
    sweep.Setting(*s) for s in ((128, 96, 4), (192, 96, 4), (128, 64, 4), (128, 96, 2))
  ]
  assert [s.rate for s in sweep.panel_settings(cfg, 'rate')] == [2, 4]
  assert [s.overlap for s in sweep.panel_settings(cfg, 'L')] == [64, 96]
  with pytest.raises(ValueError, match='overlap L=128 must be smaller'):
    sweep.Config(overlaps=(128,))
  with pytest.raises(ValueError, match='savgol_rule'):
    sweep.Config(savgol_rule='shrink')
  assert sweep.settings(sweep.Config(paper=(128, 0, 4)))[0] == sweep.Setting(128, 0, 4)


def test_best_setting_is_chosen_on_validation():
  val = {'a': 0.70, 'b': 0.80, 'c': 0.80, 'd': 0.60}
  assert sweep.best_setting(val) == 'b'  # ties: the earlier setting
  with pytest.raises(ValueError, match='nothing to select'):
    sweep.best_setting({})
  with pytest.raises(ValueError, match='median validation F1 is nan'):
    sweep.best_setting({'a': float('nan')})


def test_tiny_sweep_writes_records_figure_and_feature_cache(tmp_path, monkeypatch):
  # Short noise recordings (2000 samples: the paper's framing gives 59 frames)
  # and a stubbed score table: validation prefers rate 8, test prefers rate 4,
  # so a selection on test would pick the other setting.
  rng = np.random.default_rng(0)
  labels = np.repeat(np.arange(7), 10)
  ds = signals.SEMGDataset(
    rng.normal(size=(70, 2, 2000)).astype(np.float32),
    labels,
    np.zeros(70),
    np.zeros(70),
    tuple(f'C{i + 1}' for i in range(7)),
  )
  data = signals.save_semg_dataset(ds, str(tmp_path / 'data.npz'))
  table = {14: (0.5, 0.9), 7: (0.8, 0.6)}  # steps (59 frames // rate) -> (val, test)
  shapes = []

  def stub_scores(key, cfg, features, labels_):
    shapes.append(features.shape)
    val, test = table[features.shape[-1]]
    return np.array([val, val + 0.1]), np.array([test, test + 0.1])

  monkeypatch.setattr(sweep, 'setting_scores', stub_scores)
  cfg = dataclasses.replace(get_tiny_config(), frame_sizes=(128, 256), overlaps=(96,), rates=(4, 8))
  full = dict(cli.fields(get_config(False)))
  flags = [a for n, v in cli.fields(cfg) if full[n] != v for a in ('--set', f'{n}={v!r}')]
  out = tmp_path / 'run'
  argv = ['--out', str(out), '--no-progress', '--data', data, *flags]
  assert script.main(argv) == 0
  assert shapes == [(70, 2, 14), (70, 2, 7)]  # N=256 (11 frames) was not trained
  for name in ('results.json', 'tables.md', 'fig3.png', 'config.json'):
    assert (out / name).is_file(), name
  recs = records.read(out)
  fig3 = records.to_summary(recs, 'fig3')
  assert set(fig3) == {'N=128 L=96 rate=4', 'N=128 L=96 rate=8'}
  assert fig3['N=128 L=96 rate=4']['test F1']['median'] == pytest.approx(0.95)
  assert fig3['N=128 L=96 rate=8']['validation F1']['median'] == pytest.approx(0.85)
  best = records.to_summary(recs, 'fig3_best')
  assert list(best) == ['N=128 L=96 rate=8']
  assert best['N=128 L=96 rate=8']['test F1']['median'] == pytest.approx(0.65)
  by_cell = {r.cell: r for r in recs}
  sel = by_cell[('fig3_best', 'N=128 L=96 rate=8', 'test F1', 'median')].selection
  assert 'highest median validation F1 of the 2 settings' in sel
  assert 'test split' in by_cell[('fig3', 'N=128 L=96 rate=4', 'test F1', 'median')].estimator
  skipped = records.to_summary(recs, 'fig3_skipped')
  assert skipped == {'N=256 L=96 rate=4': {'SampEn frames': 11.0}}
  assert sorted(p.name for p in (out / 'features').iterdir()) == [
    'features_N128_L96_rate4_W51.npz',
    'features_N128_L96_rate8_W51.npz',
  ]
  with open(out / 'results.json') as fh:
    assert json.load(fh)['raw']['best'] == 'N=128 L=96 rate=8'

  # A second run in the same folder reads every setting's features from the cache.
  def no_features(*a, **k):
    raise AssertionError('features recomputed')

  monkeypatch.setattr(semg_sweep, 'semg_features', no_features)
  assert script.main(argv) == 0


@pytest.mark.slow  # ~11 s: compiling the training program
def test_setting_scores_trains_the_table4_model(toy_semg):
  x, labels = toy_semg(n_per_class=12)
  cfg = sweep.Config(
    num_seeds=2, hidden=(2,), fc=(4, 4), fit=FitConfig(num_epochs=1, batch_size=16, patience=1)
  )
  key = cli.root_key(cfg)
  val, test = sweep.setting_scores(key, cfg, x[..., :8], labels)
  assert val.shape == test.shape == (2,)
  assert np.all((val >= 0) & (val <= 1)) and np.all((test >= 0) & (test <= 1))
  # Same keys for every setting: identical features give identical scores.
  val2, test2 = sweep.setting_scores(key, cfg, x[..., :8], labels)
  np.testing.assert_array_equal(val, val2)
  np.testing.assert_array_equal(test, test2)
