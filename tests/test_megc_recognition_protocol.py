"""CDE leave-one-subject-out of the Table IV methods: folds, pooled scores, training, the SVM baseline."""

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

import evaluation
from evaluation import records
from fewshot import trainer
from fewshot.protocols import megc_recognition as protocol

# The tiny recognition experiment (experiments/configs/megc_recognition.py)
# trains STSTNet with this setting on 3 subjects x 4 clips: equal settings and
# shapes share one compiled training program, which keeps the suite short.
TINY = protocol.NetworkConfig(trainer.FitConfig(num_epochs=30, batch_size=8, learning_rate=1e-2))


def _composite(n_per_subject=4, subjects=(('SMIC', 's1'), ('CASME II', 'sub01'), ('SAMM', '006'))):
  """One subject per database; labels cycle through the classes."""
  names = {
    'SMIC': ('negative', 'positive', 'surprise'),
    'CASME II': ('disgust', 'happiness', 'surprise'),
    'SAMM': ('anger', 'happiness', 'surprise'),
  }
  dbs, subj, emotions = [], [], []
  for db, subject in subjects:
    for i in range(n_per_subject):
      dbs.append(db)
      subj.append(subject)
      emotions.append(names[db][i % 3])
  return evaluation.composite_database(dbs, subj, emotions)


def _separable_inputs(labels, channels, rng):
  """Class c lights up a class-specific 7 x 7 patch; noise elsewhere."""
  x = rng.uniform(0, 0.3, size=(len(labels), 28, 28, channels)).astype(np.float32)
  for i, c in enumerate(labels):
    x[i, 7 * c : 7 * c + 7, 7 * c : 7 * c + 7] += 0.7
  return x


def test_lbp_top_svm_equals_a_fold_loop_and_pools_scores():
  comp = _composite(
    6, (('SMIC', 's1'), ('SMIC', 's2'), ('CASME II', 'sub01'), ('CASME II', 'sub02'))
  )
  rng = np.random.default_rng(0)
  feats = rng.normal(size=(len(comp.labels), 12)) + comp.labels[:, None] * 0.5
  key = jax.random.key(3)
  res = protocol.cde_lbp_top_svm(feats, comp, key=key)
  ref = np.empty(len(comp.labels), int)
  for fold in comp.folds:
    scaler = StandardScaler().fit(feats[fold.train])
    svm = LinearSVC(C=1.0, max_iter=10_000, random_state=protocol.svm_random_state(key))
    svm.fit(scaler.transform(feats[fold.train]), comp.labels[fold.train])
    ref[fold.test] = svm.predict(scaler.transform(feats[fold.test]))
  np.testing.assert_array_equal(res.y_pred, ref)
  # Each clip is predicted by the fold that held its subject out.
  for f, fold in enumerate(comp.folds):
    assert np.all(res.fold_of[fold.test] == f)
  pooled = evaluation.composite_scores(
    [comp.labels[f.test] for f in comp.folds], [ref[f.test] for f in comp.folds]
  )
  assert res.scores['Full']['UF1'] == pytest.approx(pooled['UF1'])
  assert res.scores['Full']['UAR'] == pytest.approx(pooled['UAR'])
  assert set(res.scores) == {'Full', 'SMIC', 'CASME II'}  # no SAMM clip here


def test_network_learns_separable_flows_under_loso():
  comp = _composite()
  rng = np.random.default_rng(1)
  x = _separable_inputs(comp.labels, 3, rng)
  res = protocol.cde_network(jax.random.key(0), 'STSTNet', x, comp, TINY)
  assert res.y_pred.shape == comp.labels.shape
  assert res.scores['Full']['UAR'] > 0.9, res.scores['Full']
  for f, fold in enumerate(comp.folds):  # each clip predicted by the fold holding it out
    assert np.all(res.fold_of[fold.test] == f)


def test_inputs_are_checked():
  comp = _composite()
  with pytest.raises(ValueError, match=r'takes \[N, 28, 28, 3\]'):
    protocol.cde_network(jax.random.key(0), 'STSTNet', np.zeros((12, 28, 28, 2), np.float32), comp)
  with pytest.raises(ValueError, match='rows but the composite database'):
    protocol.cde_lbp_top_svm(np.zeros((5, 4)), comp, key=jax.random.key(0))
  with pytest.raises(ValueError, match='NaN'):
    protocol.cde_lbp_top_svm(np.full((12, 4), np.nan), comp, key=jax.random.key(0))
  with pytest.raises(ValueError, match='at least 2 subjects'):
    one = _composite(subjects=(('SMIC', 's1'),))
    protocol.cde_lbp_top_svm(np.zeros((4, 4)), one, key=jax.random.key(0))


def test_run_restricts_to_a_clip_list_and_reports_table_iii(tmp_path):
  """A fixture list: the run keeps its clips, records the counts and names what differs."""
  dbs = ['SMIC'] * 4 + ['CASME II'] * 4 + ['SAMM'] * 4
  subjects = [
    's1',
    's1',
    's2',
    's2',
    'sub01',
    'sub01',
    'sub02',
    'sub02',
    '006',
    '006',
    '007',
    '007',
  ]
  emotions = ['negative', 'positive', 'surprise', 'negative', 'disgust', 'happiness',
              'surprise', 'others', 'anger', 'happiness', 'surprise', 'contempt']  # fmt: skip
  names = [f'{s}_{i}' if d == 'SMIC' else f'clip{i}' for i, (d, s) in enumerate(zip(dbs, subjects))]
  ids = [evaluation.megc.clip_id(d, s, n) for d, s, n in zip(dbs, subjects, names)]
  # The list leaves out clip 3 (SMIC s2) and clip 11 (SAMM 007), names the
  # 'others' clip 7 and one clip the data lack.
  listed = [i for k, i in enumerate(ids) if k not in (3, 11)] + ['sub09_EP01_01']
  path = tmp_path / 'list.txt'
  path.write_text(''.join(f'{n} \n' for n in listed))
  rng = np.random.default_rng(0)
  data = protocol.Inputs(
    np.zeros((12, 28, 28, 3), np.float32), np.zeros((12, 28, 28, 2), np.float32),
    rng.normal(size=(12, 6)), np.array(dbs), np.array(subjects), np.array(emotions),
    np.array(names),
  )  # fmt: skip
  cfg = protocol.Config(methods=('LBP-TOP',), clip_list=str(path))
  res = protocol.run(jax.random.key(0), cfg, data)
  np.testing.assert_array_equal(res.composite.index, [0, 1, 2, 4, 5, 6, 8, 9, 10])
  assert res.check.missing == ('sub09_EP01_01',)
  assert res.check.extra == ('s02_s02_3', '007_clip11')
  assert res.check.unlabelled == (('sub02_clip7', 'others'),)
  table = records.to_summary(res.records, 'III')
  diff = records.to_summary(res.records, 'III difference')
  assert table['Full'] == {'negative': 3, 'positive': 3, 'surprise': 3, 'clips': 9, 'subjects': 6}
  assert diff['SMIC'] == {
    'negative': 1 - 70, 'positive': 1 - 51, 'surprise': 1 - 43, 'clips': 3 - 164, 'subjects': 2 - 16
  }  # fmt: skip
  iv = [r for r in res.records if r.table == 'IV']
  assert iv and all('restricted to the clip list' in r.estimator for r in iv)
  assert all('all 3 classes' in r.estimator for r in iv)
  with pytest.raises(ValueError, match=r'differs from Table III(.|\n)*sub09_EP01_01'):
    protocol.run(jax.random.key(0), protocol.Config(methods=('LBP-TOP',), clip_list=str(path),
                                                    require_table_iii=True), data)  # fmt: skip


def test_inputs_of_the_kept_clips_only_score_as_inputs_of_all():
  """`Inputs.rows`: features computed only for `kept_clips` give the same Table IV as features of all clips."""
  dbs = ['SMIC'] * 3 + ['CASME II'] * 4 + ['SAMM'] * 3
  subjects = ['s1', 's1', 's2', 'sub01', 'sub01', 'sub02', 'sub02', '006', '007', '007']
  emotions = ['negative', 'positive', 'surprise', 'others', 'disgust', 'happiness', 'others',
              'anger', 'happiness', 'surprise']  # fmt: skip
  names = [f'c{i}' for i in range(10)]
  rng = np.random.default_rng(0)
  lbp = rng.normal(size=(10, 6))
  lbp[[3, 6]] = np.nan  # the omitted clips' features must never be read
  meta = (np.array(dbs), np.array(subjects), np.array(emotions), np.array(names))
  cfg = protocol.Config(methods=('LBP-TOP',))
  rows = protocol.kept_clips(cfg, *meta)
  np.testing.assert_array_equal(rows, [0, 1, 2, 4, 5, 7, 8, 9])
  zeros = lambda n, c: np.zeros((n, 28, 28, c), np.float32)  # noqa: E731
  full = protocol.Inputs(zeros(10, 3), zeros(10, 2), np.nan_to_num(lbp), *meta)
  kept = protocol.Inputs(zeros(8, 3), zeros(8, 2), lbp[rows], *meta, rows=rows)
  a = protocol.run(jax.random.key(0), cfg, full)
  b = protocol.run(jax.random.key(0), cfg, kept)
  assert a.records == b.records and a.check == b.check
  np.testing.assert_array_equal(a.predictions['LBP-TOP'], b.predictions['LBP-TOP'])
  # A kept clip without inputs, or data of a database not asked for, is an error.
  short = kept._replace(
    ststnet=zeros(7, 3), offapex=zeros(7, 2), lbp_top=lbp[rows[1:]], rows=rows[1:]
  )
  with pytest.raises(
    ValueError, match=r'1 clips of the composite database have no inputs.*SMIC c0'
  ):
    protocol.run(jax.random.key(0), cfg, short)
  with pytest.raises(
    ValueError, match=r"clips of \['SMIC'\], which are not among config.databases"
  ):
    protocol.run(
      jax.random.key(0), protocol.Config(methods=('LBP-TOP',), databases=('CASME II', 'SAMM')), kept
    )
  with pytest.raises(ValueError, match='databases'):
    protocol.Config(databases=('CASME',))


def test_fold_layout_resolves_auto_per_backend_and_checks_names():
  assert protocol.fold_layout('auto', 'auto', 'cpu') == ('map', 'native')
  for network, conv in protocol.CPU_CONV.items():
    assert protocol.fold_layout('auto', 'auto', 'cpu', network) == ('map', conv)
    assert protocol.fold_layout('auto', 'auto', 'gpu', network) == ('vmap', 'native')
  assert protocol.fold_layout('auto', 'auto', 'cpu', 'EMR') == ('map', 'patch')
  assert protocol.fold_layout('auto', 'auto', 'tpu') == ('vmap', 'native')
  # Vmapped folds on a CPU keep the patch form (native ones would be grouped convolutions).
  assert protocol.fold_layout('vmap', 'auto', 'cpu', 'STSTNet') == ('vmap', 'patch')
  assert protocol.fold_layout('loop', 'auto', 'cpu', 'STSTNet') == ('loop', 'native')
  assert protocol.fold_layout('vmap', 'native', 'cpu') == ('vmap', 'native')
  with pytest.raises(ValueError, match='runs_as'):
    protocol.NetworkConfig(runs_as='vmapped')
  with pytest.raises(ValueError, match='conv'):
    protocol.CapsuleConfig(conv='grouped')
  with pytest.raises(ValueError, match='network'):
    protocol.fold_layout(network='ResNet')


def test_prediction_chunks_are_the_fewest_equal_ones_and_do_not_change_predictions():
  # (the chunk rule, trainer.row_chunks, is tested in test_fewshot_stage.py)
  from typing import NamedTuple

  from fewshot.models import megc as megc_models

  class Train(NamedTuple):  # the fields of `FitState` the predictor reads
    params: dict
    batch_stats: dict

  class State(NamedTuple):
    train: Train

  model = megc_models.network('STSTNet', conv='native')
  x = jax.random.normal(jax.random.key(0), (12, 28, 28, 3))
  folds = [megc_models.init_variables(model, jax.random.key(k), 3) for k in range(2)]
  fs = State(
    Train(
      *(
        jax.tree.map(lambda *a: jnp.stack(a), *[v[c] for v in folds])
        for c in ('params', 'batch_stats')
      )
    )
  )
  idx = np.array([[0, 3, 5, 7, 11], [1, 2, 4, 0, 0]])
  preds = [
    np.asarray(protocol._predictor(model, chunk, runs_as)(fs, x, idx))
    for chunk, runs_as in ((256, 'vmap'), (2, 'map'))
  ]
  for f, v in enumerate(folds):
    want = np.argmax(model.apply(v, x[idx[f]], None, train=False), axis=-1)
    for p in preds:
      np.testing.assert_array_equal(p[f], want)


def test_methods_in_two_threads_give_the_records_of_one_in_order(monkeypatch):
  """Two methods trained at once (`run(threads=2)`): the same records and timings, in
  `config.methods`' order, though the second finishes first."""
  dbs = ['SMIC'] * 3 + ['CASME II'] * 3 + ['SAMM'] * 3
  subjects = ['s1', 's1', 's2', 'sub01', 'sub02', 'sub02', '006', '007', '007']
  emotions = (
    ['negative', 'positive', 'surprise']
    + ['disgust', 'happiness', 'surprise']
    + ['anger', 'happiness', 'surprise']
  )
  meta = (
    np.array(dbs),
    np.array(subjects),
    np.array(emotions),
    np.array([f'c{i}' for i in range(9)]),
  )
  rng = np.random.default_rng(1)
  zeros = lambda c: np.zeros((9, 28, 28, c), np.float32)  # noqa: E731
  data = protocol.Inputs(zeros(3), zeros(2), rng.normal(size=(9, 6)), *meta,
                         biwoof=rng.normal(size=(9, 4)))  # fmt: skip
  cfg = protocol.Config(methods=('LBP-TOP', 'Bi-WOOF'))
  svm, finished = protocol.cde_lbp_top_svm, []

  def slow_first(x, *args, **kwargs):
    time.sleep(0.3 if x.shape[1] == 6 else 0.0)  # LBP-TOP's 6 features: the slower
    out = svm(x, *args, **kwargs)
    finished.append(x.shape[1])
    return out

  monkeypatch.setattr(protocol, 'cde_lbp_top_svm', slow_first)
  one = protocol.run(jax.random.key(0), cfg, data, threads=1)
  assert finished == [6, 4]
  two = protocol.run(jax.random.key(0), cfg, data, threads=2)
  assert finished[2:] == [4, 6]  # Bi-WOOF finished first
  assert one.records == two.records and list(two.timings) == ['LBP-TOP', 'Bi-WOOF']
  for method in cfg.methods:
    np.testing.assert_array_equal(one.predictions[method], two.predictions[method])
    np.testing.assert_array_equal(one.confusion[method], two.confusion[method])
