"""End-to-end: the sEMG few-shot experiment on tiny data with tiny settings."""

import dataclasses
import json
import os
import threading

import jax
import numpy as np
import pytest

from evaluation import records
from evaluation.reports import to_jsonable
from experiments import cli
from experiments import semg_fewshot
from experiments.configs.semg_fewshot import get_config
from experiments.configs.semg_fewshot import get_tiny_config
from fewshot import checkpoint
from fewshot import trainer
from fewshot import transfer
from fewshot.protocols import semg as protocol
from fewshot.trainer import FitConfig

CLASSES = [f'C{i + 1}' for i in range(7)]


def _set_flags(cfg):
  """`--set` flags that turn the full config into `cfg` (every field that differs)."""
  full = dict(cli.fields(get_config(False)))
  # Each --set is validated on its own: shrink Table VI's settings before the layers they freeze.
  fields = sorted(cli.fields(cfg), key=lambda item: item[0] != 'table6')
  return [a for name, v in fields if full[name] != v for a in ('--set', f'{name}={v!r}')]


@pytest.mark.slow
def test_tiny_experiment_writes_records_tables_and_figure(tmp_path, paper_features):
  # The generator's data (6 subjects, 5 recordings per drill, the paper's
  # preprocessing) and a base model big enough for Table V's regime: one
  # BiLSTM layer of 16 units, trained 15 epochs with the protocol's smoothed
  # early stopping, and four seeds: with about six test recordings per class
  # a seed's F1 moves by 0.05 per error (measured, root seed 0: weighted F1
  # 0.85, 0.81, 0.95, 0.95 on the four seeds' C1-C4 test recordings; other
  # root seeds' pairs of seeds ranged 0.76-0.95). The other stages keep the
  # tiny schedules.
  f, labels, _ = paper_features
  base_fit = FitConfig(num_epochs=15, batch_size=16, patience=15, smoothing=0.5, learning_rate=5e-3)
  cfg = dataclasses.replace(
    get_tiny_config(), num_seeds=4, hidden=(16,), fc=(16, 16), base_fit=base_fit, chunk_epochs=15
  )
  out = tmp_path / 'run'
  out.mkdir()
  # The script's feature cache: the run uses these features instead of generating data.
  np.savez(out / 'features.npz', x=f.reshape(-1, 2, 61), labels=labels, class_names=CLASSES)
  assert semg_fewshot.main(['--out', str(out), '--no-progress', *_set_flags(cfg)]) == 0
  for name in ('results.json', 'tables.md', 'f1_vs_shots.png', 'config.json'):
    assert os.path.isfile(out / name), name
  with open(out / 'config.json') as fh:
    assert json.load(fh)['config'] == json.loads(json.dumps(to_jsonable(dataclasses.asdict(cfg))))
  stages = sorted(os.listdir(out / 'checkpoints'))
  assert 'base_c1' in stages and 'siamese_cs3_ab' in stages
  # DL and TL train as one stage (one program, one folder; strict: one per nu).
  strict = [f'table7_dl_table8_tl_nu{nu}' for nu in cfg.shots]
  assert set(strict) <= set(stages) and 'table7_dl_table8_tl_oracle' in stages
  assert 'budget_dl_tl' in stages and 'table8_tl' not in stages
  with open(out / 'results.json') as fh:
    saved = json.load(fh)
  assert all(set(records.FIELDS[:6]) <= set(r) for r in saved['records'])
  assert saved['compile']['count'] + saved['compile']['loaded'] > 0  # the suite's cache may supply
  assert saved['compile']['seconds'] > 0
  recs = records.read(out)
  tables = records.tables(recs)
  assert tables == [
    'IV', 'V', 'VI', 'budget', 'VII', 'VIII', 'IX', 'oracle', 'IX_episodes', 'IX_episode_mean',
    'finding',
  ]  # fmt: skip
  # Paper layout: every method and every shot, median and IQR over the seeds;
  # Table IX's primary estimator adds the raw-feature baselines.
  ix = records.to_summary(recs, 'IX')
  assert list(ix) == [*protocol.FSL_METHODS, *protocol.RAW_BASELINES]
  assert list(records.to_summary(recs, 'IX_episodes')) == list(protocol.FSL_METHODS)
  for cols in ix.values():
    assert list(cols) == [f'k={k}' for k in cfg.shots]
    assert all(cell['n'] == cfg.num_seeds and 0 <= cell['median'] <= 1 for cell in cols.values())
  assert list(records.to_summary(recs, 'VII')['DL']) == [f'ν={k}' for k in cfg.shots]
  assert list(records.to_summary(recs, 'IV')['F1 Score']) == [f'{d} Layer' for d in cfg.depths]
  assert list(records.to_summary(recs, 'VI')['Median F1 Score']) == ['AdaBatch']
  # The oracle rows are named by the labelled C5-C7 recordings they used.
  n_val = saved['n_val']
  assert f'DL, early stopping on {n_val} labelled C5-C7 recordings' in records.to_summary(
    recs, 'oracle'
  )
  # Nothing is selected on a test split; the finding's methods are fixed.
  assert not any('selected on the test split' in r.selection for r in recs)
  assert {r.row for r in recs if r.table == 'finding'} == {'DL', 'TL', 'CP', 'CS^3_AB'}
  budget = records.to_summary(recs, 'budget')
  assert all(
    1 <= c['median'] <= cfg.few_fit.num_epochs for v in budget.values() for c in v.values()
  )
  assert np.shape(saved['raw']['per_draw']['VII']['DL']['ν=1']) == (cfg.num_seeds, cfg.draws)
  md = (out / 'tables.md').read_text()
  for title in ('TABLE IV', 'TABLE V', 'TABLE VI', 'TABLE VII', 'TABLE VIII', 'TABLE IX', 'Oracle'):
    assert title in md
  assert md.count('Estimator') >= len(tables)
  # Table V: the base model on C1-C4 reaches the paper's regime (~93 %) on the
  # generator's data; chance is 0.25.
  base_f1 = np.asarray(saved['raw']['V_base_weighted_f1'])
  assert np.median(base_f1) > 0.85, base_f1
  # Plausible scores: the distance classifiers separate the unseen drills (chance: 1/3) ...
  k2 = {m: cols['k=2']['median'] for m, cols in ix.items()}
  assert k2['CP'] > 0.6 and k2['CM'] > 0.6, k2
  # ... and the methods are really different computations.
  assert len({round(v, 4) for v in k2.values()}) >= 4, k2
  assert all(0 <= r.value <= 1 for r in recs if r.table != 'budget')
  # Other settings in the same folder are refused, not silently mixed.
  with pytest.raises(ValueError, match='other settings'):
    semg_fewshot.main(['--out', str(out), '--quick', '--no-progress'])


def test_a_stage_resumes_from_its_checkpoint(tmp_path, toy_semg):
  """An interrupted stage continues from its last checkpoint to the uninterrupted result.

  The stage is a shared one (`transfer.trainable_adam`, as DL + TL in one
  program): run 0 trains everything, run 1 keeps 'bilstm_1' frozen; the masks
  live in the optimizer state and come back with the checkpoint."""
  x, labels = toy_semg(n_per_class=4)
  cfg = get_tiny_config()
  model = protocol.make_model(cfg, 'bilstm', num_classes=7)
  fit = FitConfig(num_epochs=4, batch_size=8, patience=4)
  stage = protocol.classifier_stage(model, fit, transfer.trainable_adam(fit.learning_rate))
  data = {'x': jax.numpy.asarray(x), 'y': jax.numpy.asarray(labels)}
  split = trainer.make_split([np.arange(0, 28, 2)] * 2, [np.arange(1, 28, 2)] * 2)
  keys = jax.random.split(jax.random.key(0), 2)

  def init():
    fs = protocol.init_runs(stage, fit, keys, (x[:2],))
    frozen = transfer.fine_tune_labels(fs.train.params, ['bilstm_1'])
    mask = jax.tree.map(lambda label: np.asarray([True, label == transfer.TRAINABLE]), frozen)
    opt_state = transfer.with_trainable(fs.train.opt_state, mask)
    return fs._replace(train=fs.train._replace(opt_state=opt_state))

  def train(directory, progress=None):
    return protocol.run_stage(
      stage, fit, str(directory), init, keys, data, split, chunk_epochs=2, progress=progress
    )

  whole, chunks = train(tmp_path / 'whole')
  assert chunks == 2

  class Interrupted(Exception):
    pass

  def stop(epochs):
    raise Interrupted

  with pytest.raises(Interrupted):
    train(tmp_path / 'cut', stop)
  assert checkpoint.completed_chunks(str(tmp_path / 'cut')) == 1
  resumed, chunks = train(tmp_path / 'cut')
  assert chunks == 1  # the first chunk came from the checkpoint
  again, chunks = train(tmp_path / 'cut')
  assert chunks == 0
  start = jax.eval_shape(init)
  assert isinstance(again.train.opt_state, type(start.train.opt_state))
  first = init().train.params['embedder']['bilstm_1']
  for got in (resumed, again):
    assert int(got.epoch[0]) == 4
    # The frozen run's first BiLSTM did not move; the other run's did.
    moved = jax.tree.map(lambda a, b: np.asarray(a != b).any(axis=tuple(range(1, a.ndim))),
                         got.train.params['embedder']['bilstm_1'], first)  # fmt: skip
    assert all(m.tolist() == [True, False] for m in jax.tree.leaves(moved))
    jax.tree.map(
      lambda a, b: np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6),
      got,
      whole,
    )


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
  for c in range(3):  # `jax.random.choice`'s draw without replacement, class by class
    pool = np.flatnonzero(y == c)
    pick = jax.random.choice(
      jax.random.fold_in(jax.random.key(0), c), len(pool), (3,), replace=False
    )
    np.testing.assert_array_equal(rows[3 * c : 3 * c + 3], pool[np.asarray(pick)])
  with pytest.raises(ValueError, match='only'):
    protocol.draw_shots(jax.random.key(0), np.arange(10), y, 3)


def test_make_model_and_cached_stages():
  cfg = get_tiny_config()
  deep = protocol.make_model(
    dataclasses.replace(cfg, hidden=(8, 4)), 'bilstm_depth3', num_classes=7
  )
  assert deep.num_classes == 7 and tuple(deep.hidden) == (8, 4, 4)  # Table IV repeats the last
  assert protocol.make_model(cfg, 'bilstm_bn', num_classes=3).batch_norm
  assert protocol.make_model(cfg, 'siamese_bn').batch_norm
  with pytest.raises(ValueError, match='unknown model'):
    protocol.make_model(cfg, 'lstm', num_classes=3)
  with pytest.raises(ValueError, match='num_classes'):
    protocol.make_model(cfg, 'bilstm')
  # Transfer stages pass their own cached masked Adam: the same stage twice.
  model = protocol.make_model(cfg, 'bilstm', num_classes=3)
  tx = lambda: transfer.fine_tune_tx(['bilstm_1'], 1e-3)
  assert protocol.classifier_stage(model, cfg.transfer_fit, tx()) is protocol.classifier_stage(
    model, cfg.transfer_fit, tx()
  )
  sia = protocol.make_model(cfg, 'siamese')
  a = protocol.siamese_stage(sia, cfg.siamese_fit, 'triplet', transfer.adabatch_tx(1e-3))
  assert a is protocol.siamese_stage(sia, cfg.siamese_fit, 'triplet', transfer.adabatch_tx(1e-3))
  assert a is not protocol.siamese_stage(sia, cfg.siamese_fit, 'contrastive', a.tx)


def test_scores_and_embeddings_in_chunks_of_runs_equal_one_call(monkeypatch, toy_semg):
  # Scoring many runs of a wide model is cut into equal chunks of runs (the full
  # setting's oracle ran out of memory in one call); the numbers do not change.
  x, labels = toy_semg()
  cfg = get_tiny_config()
  model = protocol.make_model(cfg, 'bilstm', num_classes=7)
  stage = protocol.classifier_stage(model, cfg.base_fit)
  fs = stage.init(jax.random.split(jax.random.key(1), 5), x[:2])
  fs = fs._replace(best_params=fs.train.params, best_batch_stats=fs.train.batch_stats)
  test = np.stack([np.arange(i, i + 20) for i in range(5)])
  x_runs = np.stack([x[:30]] * 5)
  whole = (
    protocol.test_f1(model, fs, x, labels, test, 7),
    protocol.per_class_scores(model, fs, x, labels, test, 7),
    protocol.embeddings(model, fs, x_runs),
  )
  width = 8 * max(cfg.hidden)
  monkeypatch.setattr(protocol, 'SCORE_FLOATS', 2 * 20 * x.shape[-1] * width)  # 2 runs a call
  chunked = (
    protocol.test_f1(model, fs, x, labels, test, 7),
    protocol.per_class_scores(model, fs, x, labels, test, 7),
    protocol.embeddings(model, fs, x_runs),
  )
  assert chunked[0].shape == (5,) and chunked[2].shape[:2] == (5, 30)
  for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(chunked)):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_run_rejects_wrong_class_count(toy_semg):
  x, labels = toy_semg()
  keep = labels < 5
  with pytest.raises(ValueError, match='7 classes'):
    protocol.run(jax.random.key(0), get_tiny_config(), (x[keep], labels[keep]))


@pytest.mark.parametrize('oracle', [True, False])
def test_run_in_two_threads_assembles_what_one_thread_does(monkeypatch, toy_semg, oracle):
  # Each stage replaced by a fake that returns its name and arguments: two
  # threads hand every table the same stage results, and the stages of the
  # worker (Table IV, budgets, Tables VII-VIII, the oracle DL/TL) run there.
  ran = {}

  def fake(name, value=None):
    def stage(ctx, *args, **kwargs):
      ran[(name, kwargs.get('oracle'))] = threading.current_thread() is threading.main_thread()
      return value if value is not None else (name, args[1:], tuple(sorted(kwargs.items())))

    return stage

  cells = lambda v: {'ν=1': [v]}

  def table4(ctx, depths):
    ran[('table4', tuple(depths))] = threading.current_thread() is threading.main_thread()
    return {'F1 Score': {f'{d} Layer': [d / 10] for d in depths}}

  monkeypatch.setattr(protocol, 'table4', table4)
  monkeypatch.setattr(protocol, 'base_models', fake('base'))
  monkeypatch.setattr(protocol, 'table5', fake('table5', ('V', 'V_weighted')))
  monkeypatch.setattr(protocol, 'budgets', fake('budgets', ({'DL': {1: 3}}, 'budget raw')))
  monkeypatch.setattr(protocol, 'table6', fake('table6'))
  monkeypatch.setattr(protocol, 'siamese_models', fake('siamese'))
  monkeypatch.setattr(protocol, 'fsl_embeddings', fake('emb'))
  dl_tl = fake('dl_tl', {'DL': (cells(0.5), cells([0.5])), 'TL': (cells(0.6), cells([0.6]))})
  monkeypatch.setattr(protocol, 'dl_tl', dl_tl)
  monkeypatch.setattr(protocol, 'fsl_test', fake('fsl', {'CP': (cells(0.7), cells([0.7]))}))
  monkeypatch.setattr(protocol, 'table9_episodes', fake('episodes', ('pooled', 'mean', 1)))
  monkeypatch.setattr(protocol, 'table_records', lambda cfg, raw, n_query, n_val: raw)
  x, labels = toy_semg()
  cfg = dataclasses.replace(get_tiny_config(), oracle=oracle, depths=(1, 2, 3))
  res = {t: protocol.run(jax.random.key(0), cfg, (x, labels), threads=t) for t in (1, 2)}
  assert res[1].records == res[2].records
  assert list(res[2].timings) == [
    'table_iv', 'table_iv_depth1', *[t for t in res[1].timings if t != 'table_iv']
  ]  # fmt: skip
  assert res[2].records['VII'] == {'DL': cells(0.5)} and res[2].records['budget'] == 'budget raw'
  # Table IV in depth order: its first depth closes the main thread, the rest in the worker.
  assert res[2].records['IV'] == {
    'F1 Score': {'1 Layer': [0.1], '2 Layer': [0.2], '3 Layer': [0.3]}
  }
  aside = {('table4', (2, 3)), ('budgets', None), ('dl_tl', False)}
  aside |= {('dl_tl', True)} if oracle else set()
  assert {k for k, main in ran.items() if not main} == aside
  assert ran[('table4', (1,))] and ran[('table4', (1, 2, 3))]  # the main thread; threads=1


def test_table9_estimators_pooled_and_episode_mean():
  from sklearn.metrics import f1_score as sk_f1

  from fewshot import classifiers
  from fewshot import episodes

  rng = np.random.default_rng(0)
  y_sup, y_query = np.repeat(np.arange(3), 10), np.repeat(np.arange(3), 10)
  sup = rng.normal(size=(30, 4)) + y_sup[:, None]
  query = rng.normal(size=(30, 4)) + y_query[:, None]
  res = episodes.evaluate_episodes(
    jax.random.key(0),
    sup.astype(np.float32),
    y_sup,
    query.astype(np.float32),
    y_query,
    classifier=classifiers.METRIC_CLASSIFIERS['CP'],
    n_way=3,
    k_shot=1,
    n_query=1,
    num_episodes=40,
    average='weighted',
  )
  # Reference: map every episode's local labels to global ids, pool all queries.
  cls = np.asarray(res.episodes.classes)
  pred = np.concatenate([cls[e][np.asarray(res.predictions)[e]] for e in range(40)])
  true = np.concatenate([cls[e][np.asarray(res.episodes.query_labels)[e]] for e in range(40)])
  np.testing.assert_array_equal(true, y_query[np.asarray(res.episodes.query)].ravel())
  pooled = protocol.pooled_f1(res, 3)
  assert pooled == pytest.approx(sk_f1(true, pred, average='weighted'), abs=1e-6)
  # With three queries per episode the two estimators are different numbers.
  assert abs(pooled - float(np.mean(res.f1))) > 1e-3
