"""The sEMG protocol's fair comparison on C5-C7 (issue 21): strict by default, same shots, one estimator."""

import dataclasses

import jax
import numpy as np
import pytest
from sklearn.metrics import f1_score as sk_f1

from experiments.configs.semg_fewshot import get_tiny_config
from fewshot import classifiers
from fewshot import episodes
from fewshot import trainer
from fewshot.protocols import semg as protocol


def _cfg(**kw):
  return dataclasses.replace(get_tiny_config(), **{'draws': 2, **kw})


def test_the_strict_protocol_is_the_default():
  cfg = protocol.Config()
  assert cfg.draws >= 5 and cfg.query == 'episode'
  assert protocol.FINDING_FSL == ('CP', 'CS^3_AB')
  with pytest.raises(ValueError, match='Config.query'):
    protocol.Config(query='pooled')


def test_pseudo_tasks_hold_only_seen_classes_and_cover_every_pair(toy_semg):
  x, labels = toy_semg(noise=0.3)
  cfg = _cfg(num_seeds=6)
  ctx = protocol.prepare(jax.random.key(0), cfg, x, labels)
  y_base, y_novel = protocol.pseudo_tasks(ctx)
  held_out = set()
  for s in range(6):
    rows = slice(s * ctx.n, (s + 1) * ctx.n)
    base, novel = labels[y_base[rows] >= 0], labels[y_novel[rows] >= 0]
    assert set(base) | set(novel) <= set(protocol.SEMG_SEEN_CLASSES)  # no C5-C7 recording
    assert len(set(base)) == len(set(novel)) == 2 and not set(base) & set(novel)
    assert sorted(set(y_novel[rows]) - {-1}) == [0, 1]
    held_out.add(tuple(sorted(set(novel))))
  assert len(held_out) == 6  # every pair of C1-C4 is a pseudo-novel task once


def test_budget_is_the_median_best_epoch_rounded_up():
  assert protocol._budget_epochs([3, 4, 9]) == 4
  assert protocol._budget_epochs([3, 4]) == 4  # 3.5 rounds up
  assert protocol._budget_epochs([0, 0, 1]) == 1  # at least one epoch


def test_shot_draws_are_per_seed_nu_and_draw_and_deterministic(toy_semg):
  x, labels = toy_semg(noise=0.3)
  cfg = _cfg(num_seeds=2, shots=(1, 3), draws=3)
  ctx = protocol.prepare(jax.random.key(0), cfg, x, labels)
  draws = protocol.shot_draws(ctx)
  assert len(draws) == 2 * 2 * 3
  for (s, nu, d), idx in draws.items():
    assert len(idx) == 3 * nu and len(set(idx)) == 3 * nu
    assert set(idx) <= set(ctx.splits[s].train)  # only the seed's training split
    assert sorted(np.bincount(labels[idx] - 4, minlength=3)) == [nu] * 3  # C5-C7, nu each
  assert any(not np.array_equal(draws[(0, 3, 0)], draws[(0, 3, d)]) for d in (1, 2))  # draws differ
  again = protocol.shot_draws(ctx)
  assert all(np.array_equal(draws[k], again[k]) for k in draws)


def test_standardisation_sees_no_c5_c7_recording():
  rng = np.random.default_rng(1)
  labels = np.repeat(np.arange(7), 12)
  x = rng.normal(3.0, 2.0, size=(len(labels), 2, 61)).astype(np.float32)
  cfg = get_tiny_config()
  ctx = protocol.prepare(jax.random.key(0), cfg, x, labels)
  n = len(labels)
  copies = np.asarray(ctx.x).reshape(cfg.num_seeds, n, 2, 61)
  for s, split in enumerate(ctx.splits):
    train = x[split.train[labels[split.train] < 4]]  # C1-C4 training recordings only
    ref = (x - train.mean(axis=(0, 2), keepdims=True)) / train.std(axis=(0, 2), keepdims=True)
    np.testing.assert_allclose(copies[s], ref, rtol=1e-5, atol=1e-5)
  # Any change to a C5-C7 recording, labelled or not, or to a held-out C1-C4
  # recording, leaves every other recording of every copy as it was.
  changed = np.flatnonzero(labels >= 4)
  changed = np.union1d(changed, np.setdiff1d(np.arange(n), ctx.splits[0].train))
  x2 = x.copy()
  x2[changed] = x2[changed] * 5.0 + 100.0
  again = np.asarray(protocol.prepare(jax.random.key(0), cfg, x2, labels).x)[:n]
  keep = np.setdiff1d(np.arange(n), changed)
  np.testing.assert_allclose(again[keep], copies[0][keep], atol=1e-5)


def test_pooled_f1_with_one_query_per_episode_matches_sklearn():
  rng = np.random.default_rng(0)
  y = np.repeat(np.arange(3), 10)
  emb = (rng.normal(size=(30, 4)) + y[:, None]).astype(np.float32)
  res = episodes.evaluate_episodes(
    jax.random.key(0), emb, y, emb[::-1].copy(), y[::-1].copy(),
    classifier=classifiers.prototype_classifier, n_way=3, k_shot=1, n_query=1, num_episodes=50,
  )  # fmt: skip
  pick = protocol.episode_queries(jax.random.key(1), 50, 3)
  assert pick.shape == (50,) and set(pick) <= {0, 1, 2} and len(set(pick)) == 3
  cls = np.asarray(res.episodes.classes)
  pred = [cls[e][np.asarray(res.predictions)[e][pick[e]]] for e in range(50)]
  true = [cls[e][np.asarray(res.episodes.query_labels)[e][pick[e]]] for e in range(50)]
  got = protocol.pooled_f1(res, 3, pick)
  assert got == pytest.approx(sk_f1(true, pred, average='weighted'), abs=1e-6)
  assert got != pytest.approx(protocol.pooled_f1(res, 3), abs=1e-6)


def test_records_name_the_oracles_and_select_nothing_on_test():
  cfg = dataclasses.replace(get_tiny_config(), shots=(1, 5), num_seeds=3)
  seeds = lambda v: [v, v + 0.01, v + 0.02]
  by = lambda prefix, v: {f'{prefix}={k}': seeds(v) for k in cfg.shots}
  methods = (*protocol.FSL_METHODS, *protocol.RAW_BASELINES)
  oracle = protocol.oracle_rows(62)
  raw = {
    'IV': {'F1 Score': {'1 Layer': seeds(0.5)}},
    'V': {f'C{c}': {m: seeds(0.9) for m in ('Precision', 'Recall', 'F1')} for c in (1, 2, 3, 4)},
    'VI': {'Median F1 Score': {'AdaBatch': seeds(0.8)}},
    'budget': {'DL': by('ν', 3), 'TL': by('ν', 2)},
    'VII': {'DL': by('ν', 0.5)},
    'VIII': {'TL': by('ν', 0.7)},
    'IX': {m: by('k', 0.6 + 0.01 * i) for i, m in enumerate(methods)},
    'oracle': {row: by('ν', 0.9) for row in oracle.values()},
    'IX_episodes': {m: by('k', 0.6) for m in protocol.FSL_METHODS},
    'IX_episode_mean': {m: by('k', 0.5) for m in protocol.FSL_METHODS},
  }
  recs = protocol.table_records(cfg, raw, n_query=1, n_val=62)
  assert not any('selected on the test split' in r.selection for r in recs)
  finding = {r.row for r in recs if r.table == 'finding'}
  assert finding == {'DL', 'TL', 'CP', 'CS^3_AB'}  # fixed in advance, not the best on test
  assert oracle['DL'] == 'DL, early stopping on 62 labelled C5-C7 recordings'
  assert oracle['CP'] == 'CP, 62 labelled C5-C7 recordings as extra support'
  for r in recs:
    if r.table == 'oracle':
      assert '62 labelled C5-C7 validation recordings' in r.selection
    if r.table in ('VII', 'VIII'):
      assert 'pseudo-novel tasks of C1-C4' in r.selection
      assert 'no C5-C7 recording beyond' in r.selection
    if r.table in ('VII', 'VIII', 'IX'):
      assert 'whole C5-C7 test split, mean over 2 draws' in r.estimator  # one estimator
    if r.table == 'IX_episodes':
      assert 'one query per episode' in r.estimator
  # Without the oracle rows the records simply lack that table.
  del raw['oracle']
  assert 'oracle' not in {r.table for r in protocol.table_records(cfg, raw, 1, 62)}


@pytest.mark.slow
def test_strict_rows_read_no_c5_c7_recording_beyond_their_shots(monkeypatch, toy_semg):
  """Poisoning every C5-C7 recording that is neither a drawn shot nor a test
  recording changes no strict number (budgets, DL, TL, FSL) but does change the
  oracle rows; the same shots feed DL, TL and FSL; FSL's primary estimator
  equals a naive prototype + scikit-learn computation."""
  x, labels = toy_semg(noise=0.3)
  cfg = _cfg(num_seeds=2, shots=(1, 2))
  ctx = protocol.prepare(jax.random.key(0), cfg, x, labels)
  base = protocol.base_models(ctx)
  draws = protocol.shot_draws(ctx)

  train_rows, supports = [], []
  make_split = trainer.make_split
  draw_f1 = protocol._draw_f1
  monkeypatch.setattr(
    trainer, 'make_split', lambda t, *a, **k: (train_rows.append(t), make_split(t, *a, **k))[1]
  )
  monkeypatch.setattr(
    protocol, '_draw_f1', lambda clf, emb, sup, *a, **k: (supports.append(sup), draw_f1(clf, emb, sup, *a, **k))[1]
  )  # fmt: skip

  def strict(ctx):
    epochs, raw = protocol.budgets(ctx)
    dl_tl = protocol.dl_tl(ctx, base, draws, epochs, oracle=False)
    fsl = protocol.fsl_test(
      ctx,
      protocol.fsl_embeddings(ctx, base, {}),
      {},
      draws,
      oracle=False,
      methods=('CP', 'CP (raw features)'),
    )
    return epochs, raw, dl_tl, fsl

  first = strict(ctx)
  # The same shots: DL/TL's training rows (the last split built) and every FSL support.
  order = list(draws)
  got = [np.asarray(r) - s * ctx.n for r, (s, _, _) in zip(train_rows[-1], order)]
  assert all(np.array_equal(g, draws[k]) for g, k in zip(got, order))
  want = [
    np.stack([draws[(s, nu, d)] for d in range(cfg.draws)]) for s in range(2) for nu in cfg.shots
  ]
  assert len(supports) == 2 * len(want)  # two methods
  assert all(np.array_equal(a, b) for a, b in zip(supports, want * 2))

  # Naive reference of one FSL cell: seed 1, CP, nu = 2, draw 1.
  x_runs = np.asarray(ctx.x).reshape(2, ctx.n, 2, 61)
  emb = np.asarray(protocol.embeddings(*base[False], x_runs))[1]
  y = labels - 4
  sup, test = (
    draws[(1, 2, 1)],
    np.asarray(protocol.restrict(ctx.splits[1].test, ctx.y_unseen[: ctx.n])),
  )
  protos = np.stack([emb[sup][y[sup] == c].mean(0) for c in range(3)])
  pred = np.argmin(((emb[test][:, None] - protos[None]) ** 2).sum(-1), axis=1)
  ref = sk_f1(y[test], pred, average='weighted')
  assert first[3]['CP'][1]['k=2'][1][1] == pytest.approx(ref, abs=1e-5)

  # Poison every C5-C7 recording of each seed's copy that is not a drawn shot
  # or a test recording (its validation split and undrawn training recordings).
  poisoned = np.asarray(ctx.x).copy()
  rng = np.random.default_rng(5)
  for s, split in enumerate(ctx.splits):
    drawn = np.concatenate([v for (t, _, _), v in draws.items() if t == s])
    unseen = np.flatnonzero(labels >= 4)
    bad = np.setdiff1d(np.setdiff1d(unseen, drawn), split.test)
    assert len(bad) > len(protocol.restrict(split.val, ctx.y_unseen[: ctx.n]))
    poisoned[s * ctx.n + bad] = rng.normal(0, 50, size=(len(bad), 2, 61))
  ctx2 = ctx._replace(x=jax.numpy.asarray(poisoned))
  second = strict(ctx2)
  assert first[0] == second[0] and first[1] == second[1]  # budgets
  for a, b in ((first[2], second[2]), (first[3], second[3])):
    assert jax.tree.map(lambda u, v: u == v, a, b) == jax.tree.map(lambda u: True, a)
  # The oracle rows do read them.
  o1 = protocol.fsl_test(
    ctx,
    protocol.fsl_embeddings(ctx, base, {}),
    {},
    draws,
    oracle=True,
    methods=('CP (raw features)',),
  )
  o2 = protocol.fsl_test(
    ctx2,
    protocol.fsl_embeddings(ctx2, base, {}),
    {},
    draws,
    oracle=True,
    methods=('CP (raw features)',),
  )
  assert o1 != o2


def test_strict_dl_tl_train_without_validation_and_oracle_with_it(toy_semg, monkeypatch):
  # The strict runs (fixed budgets) get no validation rows and a stage that does
  # not validate; the oracle runs stop early on the labelled C5-C7 validation
  # split. Both train on the same shots. (Sharing the oracle's validating program
  # made the strict runs evaluate padded rows every epoch: slower, measured.)
  x, labels = toy_semg(noise=0.3)
  cfg = _cfg(num_seeds=2, shots=(1, 3))
  ctx = protocol.prepare(jax.random.key(0), cfg, x, labels)
  draws = protocol.shot_draws(ctx)
  model = protocol.make_model(cfg, 'bilstm', num_classes=3)
  variables = jax.eval_shape(lambda: model.init(jax.random.key(0), ctx.example))
  fake = jax.tree.map(lambda a: np.zeros((cfg.num_seeds, *a.shape), a.dtype), variables)
  base = {False: (model, trainer.FitState(None, fake['params'], {}, *[None] * 6))}
  calls = []

  def shared(ctx_, folder, model_, fit, labels_, split, groups, *, validate, max_epochs=None):
    calls.append((folder, validate, split, max_epochs))
    return [None, None]

  monkeypatch.setattr(protocol, '_train_shared', shared)
  monkeypatch.setattr(protocol, 'test_f1', lambda m, fs, x, y, test, c: np.zeros(len(test)))
  epochs = {m: {nu: nu + j for nu in cfg.shots} for j, m in enumerate(('DL', 'TL'))}
  for oracle in (False, True):
    protocol.dl_tl(ctx, base, draws, epochs, oracle=oracle)
  # Strict: one call per nu, all of equal shapes (one program), each ending at its
  # own budgets; then the oracle's one call.
  names = [c[0] for c in calls]
  assert names == [
    *(f'table7_dl_table8_tl_nu{nu}' for nu in cfg.shots),
    'table7_dl_table8_tl_oracle',
  ]
  (*strict, (_, v1, oracle, none)) = calls
  assert v1 is True and none is None and np.asarray(oracle.val_mask).all(axis=1).any()
  assert len({jax.tree.map(np.shape, c[2]) for c in strict}) == 1
  runs = cfg.num_seeds * cfg.draws
  for i, ((_, v0, split, limit), nu) in enumerate(zip(strict, cfg.shots)):
    assert v0 is False and not np.asarray(split.val_mask).any()
    np.testing.assert_array_equal(limit, np.repeat([nu, nu + 1], runs))
    np.testing.assert_array_equal(np.asarray(split.train_mask).sum(axis=1), 3 * nu)
    rows = np.asarray(oracle.train_idx)[
      np.r_[
        i * runs : (i + 1) * runs, (len(cfg.shots) + i) * runs : (len(cfg.shots) + i + 1) * runs
      ]
    ]
    np.testing.assert_array_equal(split.train_idx, rows)
