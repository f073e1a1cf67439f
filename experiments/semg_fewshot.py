"""sEMG few-shot experiment (Ergeneci et al.): Tables IV, V, VI, VII, VIII and IX.

    python -m experiments.semg_fewshot --quick [--out runs/semg_fewshot] [--data PATH]

Without `--data` it runs on the embedded synthetic data (`signals.synthetic_semg`);
`--data` takes anything `signals.load_semg_dataset` reads (a folder with
manifest.csv, or an .npz) with the paper's 7 classes, C1-C4 seen and C5-C7
unseen. The run folder gets

    config.json        the settings (a re-run must use the same ones)
    features.npz       the preprocessed [n, 2, 61] features (cached)
    results.json       raw per-seed F1 of every cell and the median/IQR tables
    tables.md          Tables IV-IX in the paper's layout
    f1_vs_shots.png    median F1 vs samples per class, IQR bands: DL, TL, FSL
    checkpoints/       Orbax checkpoints of every trained stage

Protocol choices the paper leaves open (all per seed; 10 seeds redraw the
Table III split and the initial weights): DL and TL with nu samples per class
stop early on the full C5-C7 validation split (Sec. III: "the validation set
is used to prevent overfitting"); TL fine-tunes with the first BiLSTM frozen
(the best setting of Table VI); Table VI fine-tunes on the full C5-C7
training split; a seed's FSL score is the mean F1 over its episodes (3-way,
support from the training split with replacement, queries from the test
split); every table reports the median and IQR over seeds.

An interrupted run resumes from its last checkpoint when started again with
the same `--out`; finished stages are skipped. The settings are in
`experiments/configs/semg_fewshot.py`; the logic in `fewshot.protocol`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

import fewshot
from evaluation import per_class_split
from evaluation import reports
from evaluation.protocols import SEMG_SEEN_CLASSES
from evaluation.protocols import SEMG_UNSEEN_CLASSES
from experiments.configs.semg_fewshot import Config
from experiments.configs.semg_fewshot import get_config
from fewshot import models
from fewshot import siamese
from fewshot import transfer
from fewshot.protocols import semg as protocol
from fewshot.trainer import FitConfig

FSL_METHODS = ('CL^1', 'CL^2', 'CL^20', 'CM', 'CP', 'CS^2', 'CS^3', 'CS^3_AB')
SIAMESE = {'CS^2': ('contrastive', False), 'CS^3': ('triplet', False), 'CS^3_AB': ('triplet', True)}


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--quick', action='store_true', help='minutes-long CPU setting')
  p.add_argument('--out', default='runs/semg_fewshot', help='run folder')
  p.add_argument(
    '--data', default=None, help='dataset folder (manifest.csv) or .npz; default: synthetic'
  )
  p.add_argument('--seed', type=int, default=None, help='override the root seed')
  p.add_argument('--no-progress', action='store_true', help='hide progress bars')
  return p.parse_args(argv)


# ----------------------------------------------------------------------------
# Data.


def compute_features(x_raw) -> np.ndarray:
  """`signals.semg_features` (Sec. II-B): [n, 2, 8000] -> [n, 2, 61]."""
  import signals  # noqa: PLC0415 (heavy; only when features are not cached)

  return np.asarray(signals.semg_features(x_raw))


def load_features(cfg: Config, out_dir: str, data_path: str | None):
  """Preprocessed features, labels and class names; cached in the run folder."""
  cache = os.path.join(out_dir, 'features.npz')
  if os.path.isfile(cache):
    with np.load(cache, allow_pickle=False) as z:
      return z['x'], z['labels'], tuple(str(c) for c in z['class_names'])
  from signals.semg import data as semg_data  # noqa: PLC0415

  if data_path is None:
    ds = semg_data.synthetic_semg(
      jax.random.key(cfg.seed),
      num_subjects=cfg.subjects,
      recordings_per_class=cfg.recordings_per_class,
    )
  else:
    ds = semg_data.load_semg_dataset(data_path, expected_channels=2)
  x = compute_features(ds.x)
  np.savez(cache, x=x, labels=ds.labels, class_names=np.array(ds.class_names))
  return x, ds.labels, ds.class_names


def standardize(x) -> np.ndarray:
  """Per-channel z-scores over all examples (no labels used): [n, 2, T]."""
  x = np.asarray(x, np.float32)
  mean = x.mean(axis=(0, 2), keepdims=True)
  std = x.std(axis=(0, 2), keepdims=True)
  return (x - mean) / np.where(std > 0, std, 1.0)


# ----------------------------------------------------------------------------
# The experiment.


def fewshot_adam(fit_cfg: FitConfig):
  """Plain Adam (eq. (9)) for training from scratch."""
  return optax.adam(fit_cfg.learning_rate)


def _steps(cfg: FitConfig, n: int) -> FitConfig:
  return dataclasses.replace(cfg, steps_per_epoch=max(1, math.ceil(n / cfg.batch_size)))


def _depth_hidden(hidden, depth):
  """Table IV: the first `depth` layers of Table I, repeating the last one."""
  return tuple(hidden[:depth]) + (hidden[-1],) * max(0, depth - len(hidden))


def _keys(key, n):
  return jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n))


def _tile_runs(tree, times):
  """[R, ...] -> [times * R, ...] (run r = i * R + s uses seed s)."""
  return jax.tree.map(lambda a: jnp.concatenate([a] * times), tree)


def validate_config(cfg: Config) -> None:
  """Host-side checks of settings that would otherwise fail deep in a stage."""
  if cfg.num_seeds < 1 or not cfg.shots or min(cfg.shots) < 1:
    raise ValueError(f'need num_seeds >= 1 and shots >= 1, got {cfg.num_seeds}, {cfg.shots}')
  if not cfg.hidden or not cfg.fc or not cfg.depths or min(cfg.depths) < 1:
    raise ValueError('hidden, fc and depths must be non-empty and positive')
  for setting in (*cfg.table6, cfg.tl_frozen):
    if setting == 'AdaBatch':
      continue
    if setting not in transfer.FROZEN_SETTINGS:
      raise ValueError(
        f'unknown frozen-layer setting {setting!r}; use one of '
        f'{list(transfer.FROZEN_SETTINGS)} or AdaBatch'
      )
    if len(transfer.FROZEN_SETTINGS[setting]) > len(cfg.hidden):
      raise ValueError(
        f'setting {setting!r} freezes more BiLSTM layers than the '
        f'{len(cfg.hidden)} of hidden={cfg.hidden}'
      )


def check_config(cfg: Config, out_dir: str, data_path) -> None:
  """Writes config.json, or checks a resumed run used the same settings."""
  path = os.path.join(out_dir, 'config.json')
  record = {'config': dataclasses.asdict(cfg), 'data': data_path}
  record = json.loads(json.dumps(record, default=str))
  if os.path.isfile(path):
    with open(path) as f:
      old = json.load(f)
    if old != record:
      raise ValueError(
        f'{out_dir} holds a run with other settings ({path}); '
        'use another --out or delete that folder'
      )
  else:
    with open(path, 'w') as f:
      json.dump(record, f, indent=2)


def run(
  cfg: Config, out_dir: str, data_path: str | None = None, progress: bool = True, features=None
) -> dict:
  """Runs every table of the experiment; returns the results dict.

  Args:
    cfg: the settings (`experiments.configs.semg_fewshot`).
    out_dir: the run folder (created; resumed if it holds a run).
    data_path: dataset path, or None for the synthetic default.
    progress: show progress bars.
    features: optional `(x [n, 2, T], labels [n], class_names)` to use instead
      of loading and preprocessing data (tests, precomputed features).
  """
  validate_config(cfg)
  os.makedirs(out_dir, exist_ok=True)
  check_config(cfg, out_dir, data_path)
  ckpt = os.path.join(out_dir, 'checkpoints')
  t0 = time.time()
  if features is None:
    x, labels, class_names = load_features(cfg, out_dir, data_path)
  else:
    x, labels, class_names = features
  labels = np.asarray(labels)
  fewshot.trainer.validate_examples(x, labels, len(class_names))
  if len(class_names) != 7:
    raise ValueError(
      f'the paper protocol needs 7 classes (C1-C4 seen, C5-C7 '
      f'unseen); the data has {len(class_names)}: {class_names}'
    )
  x = standardize(x)
  xj = jnp.asarray(x)
  R = cfg.num_seeds
  counts = protocol.table3_counts(labels, len(class_names))
  root = jax.random.key(cfg.seed)
  k_split, k_init, k_train, k_shots, k_episodes = jax.random.split(root, 5)
  del root
  splits = [per_class_split(labels, counts, seed=jax.random.fold_in(k_split, s)) for s in range(R)]
  y_all = np.asarray(labels, np.int32)
  y_seen = protocol.local_labels(labels, SEMG_SEEN_CLASSES)
  y_unseen = protocol.local_labels(labels, SEMG_UNSEEN_CLASSES)
  n_unseen = len(SEMG_UNSEEN_CLASSES)
  frozen_tl = transfer.FROZEN_SETTINGS[cfg.tl_frozen]
  timings = {'features_s': time.time() - t0}

  max_nu = max(cfg.shots)
  n_all_train = len(splits[0].train)
  n_seen_train = len(protocol.restrict(splits[0].train, y_seen))
  n_unseen_train = len(protocol.restrict(splits[0].train, y_unseen))
  total_epochs = (
    len(cfg.depths) * (cfg.table4_epochs or cfg.base_fit.num_epochs)
    + 2 * cfg.base_fit.num_epochs
    + 2 * cfg.few_fit.num_epochs
    + len(cfg.table6) * cfg.transfer_fit.num_epochs
    + len(SIAMESE) * cfg.siamese_fit.num_epochs
  )
  bar = tqdm(
    total=total_epochs, desc='training', unit='epoch', disable=not progress, file=sys.stdout
  )

  def train(stage, init, keys, data, split):
    bar.set_postfix_str(stage.name)
    fs, chunks = protocol.run_stage(
      stage,
      ckpt,
      init,
      keys,
      data,
      split,
      chunk_epochs=cfg.chunk_epochs,
      max_to_keep=cfg.max_to_keep,
      progress=bar.update,
    )
    if chunks == 0:
      bar.update(stage.fit_config.num_epochs)
    return fs

  def seed_split(task_labels):
    rows_train = [protocol.restrict(s.train, task_labels) for s in splits]
    rows_val = [protocol.restrict(s.val, task_labels) for s in splits]
    return protocol.stack_split(rows_train, rows_val)

  tables: dict = {}

  # --- Table IV: depth of the base model, all 7 classes.
  t = time.time()
  split_all = seed_split(y_all)
  test_all = np.stack([s.test for s in splits])
  table_iv = {}
  fit_iv = _steps(cfg.base_fit, n_all_train)
  if cfg.table4_epochs is not None:
    fit_iv = dataclasses.replace(fit_iv, num_epochs=cfg.table4_epochs)
  for depth in cfg.depths:
    model = models.SEMGClassifier(
      len(class_names), hidden=_depth_hidden(cfg.hidden, depth), fc=cfg.fc
    )
    stage = protocol.classifier_stage(f'table4_depth{depth}', model, fewshot_adam(fit_iv), fit_iv)
    init = lambda: protocol.init_runs(stage, _keys(jax.random.fold_in(k_init, 100 + depth), R), xj)
    fs = train(
      stage,
      init,
      _keys(jax.random.fold_in(k_train, 100 + depth), R),
      (xj, jnp.asarray(y_all)),
      split_all,
    )
    table_iv[f'{depth} Layer'] = protocol.test_f1(model, fs, xj, y_all, test_all, len(class_names))
  tables['IV'] = {'F1 Score': table_iv}
  timings['table_iv_s'] = time.time() - t

  # --- Base models on C^1 (plain for fine-tuning/FSL, BN for AdaBatch).
  t = time.time()
  split_seen = seed_split(y_seen)
  test_seen = np.stack([protocol.restrict(s.test, y_seen) for s in splits])
  base = {}
  for bn in (False, True):
    model = models.SEMGClassifier(
      len(SEMG_SEEN_CLASSES), hidden=cfg.hidden, fc=cfg.fc, batch_norm=bn
    )
    name = 'base_c1_bn' if bn else 'base_c1'
    stage = protocol.classifier_stage(
      name, model, fewshot_adam(cfg.base_fit), _steps(cfg.base_fit, n_seen_train)
    )
    init = lambda: protocol.init_runs(stage, _keys(jax.random.fold_in(k_init, 200 + bn), R), xj)
    fs = train(
      stage,
      init,
      _keys(jax.random.fold_in(k_train, 200 + bn), R),
      (xj, jnp.asarray(y_seen)),
      split_seen,
    )
    base[bn] = (model, fs)
  p, r, f = protocol.per_class_scores(
    base[False][0], base[False][1], xj, y_seen, test_seen, len(SEMG_SEEN_CLASSES)
  )
  tables['V'] = {
    class_names[c]: {'Precision': p[:, c], 'Recall': r[:, c], 'F1': f[:, c]}
    for c in SEMG_SEEN_CLASSES
  }
  tables['V_base_weighted_f1'] = protocol.test_f1(
    base[False][0], base[False][1], xj, y_seen, test_seen, len(SEMG_SEEN_CLASSES)
  )
  timings['base_s'] = time.time() - t

  # --- Tables VII (DL from scratch) and VIII (TL) with nu samples per class.
  t = time.time()
  rows = []
  for i, nu in enumerate(cfg.shots):
    for s in range(R):
      rng = np.random.default_rng([cfg.seed, s, nu])
      rows.append(protocol.draw_shots(rng, splits[s].train, y_unseen, nu))
  val_unseen = [protocol.restrict(s.val, y_unseen) for s in splits]
  split_few = protocol.stack_split(rows, val_unseen * len(cfg.shots))
  test_unseen = np.stack([protocol.restrict(s.test, y_unseen) for s in splits])
  test_few = np.concatenate([test_unseen] * len(cfg.shots))
  few_fit = _steps(cfg.few_fit, n_unseen * max_nu)
  data_unseen = (xj, jnp.asarray(y_unseen))
  n_runs = R * len(cfg.shots)

  def by_shot(scores):
    return {f'ν={nu}': scores[i * R : (i + 1) * R] for i, nu in enumerate(cfg.shots)}

  model_few = models.SEMGClassifier(n_unseen, hidden=cfg.hidden, fc=cfg.fc)
  stage = protocol.classifier_stage('table7_dl', model_few, fewshot_adam(few_fit), few_fit)
  init = lambda: protocol.init_runs(stage, _keys(jax.random.fold_in(k_init, 300), n_runs), xj)
  fs = train(stage, init, _keys(jax.random.fold_in(k_train, 300), n_runs), data_unseen, split_few)
  tables['VII'] = {'DL': by_shot(protocol.test_f1(model_few, fs, xj, y_unseen, test_few, n_unseen))}

  stage = protocol.classifier_stage(
    'table8_tl', model_few, transfer.fine_tune_tx(frozen_tl, few_fit.learning_rate), few_fit
  )
  base_vars = _tile_runs(protocol.best_variables(base[False][1]), len(cfg.shots))
  init = lambda: protocol.init_runs(
    stage, _keys(jax.random.fold_in(k_init, 400), n_runs), xj, base_vars
  )
  fs = train(stage, init, _keys(jax.random.fold_in(k_train, 400), n_runs), data_unseen, split_few)
  tables['VIII'] = {
    'TL': by_shot(protocol.test_f1(model_few, fs, xj, y_unseen, test_few, n_unseen))
  }
  timings['tables_vii_viii_s'] = time.time() - t

  # --- Table VI: frozen layers in fine-tuning (plus AdaBatch), full C^2 train split.
  t = time.time()
  split_unseen = seed_split(y_unseen)
  tr_fit = _steps(cfg.transfer_fit, n_unseen_train)
  table_vi = {}
  settings = [
    ('AdaBatch', True, transfer.adabatch_tx(tr_fit.learning_rate))
    if k == 'AdaBatch'
    else (
      f'{k} Layer',
      False,
      transfer.fine_tune_tx(transfer.FROZEN_SETTINGS[k], tr_fit.learning_rate),
    )
    for k in cfg.table6
  ]
  for j, (col, bn, tx) in enumerate(settings):
    model = models.SEMGClassifier(n_unseen, hidden=cfg.hidden, fc=cfg.fc, batch_norm=bn)
    stage = protocol.classifier_stage(f'table6_{col.replace(" ", "_").lower()}', model, tx, tr_fit)
    init = lambda: protocol.init_runs(
      stage, _keys(jax.random.fold_in(k_init, 500 + j), R), xj, protocol.best_variables(base[bn][1])
    )
    fs = train(
      stage, init, _keys(jax.random.fold_in(k_train, 500 + j), R), data_unseen, split_unseen
    )
    table_vi[col] = protocol.test_f1(model, fs, xj, y_unseen, test_unseen, n_unseen)
  tables['VI'] = {'Median F1 Score': table_vi}
  timings['table_vi_s'] = time.time() - t

  # --- Siamese models on C^1 (CS^2, CS^3, CS^3_AB).
  t = time.time()
  sia = {}
  for j, (method, (kind, bn)) in enumerate(SIAMESE.items()):
    model = models.SiameseNet(hidden=cfg.hidden, fc=cfg.fc, batch_norm=bn)
    tx = (
      transfer.adabatch_tx(cfg.siamese_fit.learning_rate)
      if bn
      else transfer.fine_tune_tx(frozen_tl, cfg.siamese_fit.learning_rate)
    )
    name = 'siamese_' + method.replace('^', '').lower()
    stage = protocol.siamese_stage(name, model, tx, cfg.siamese_fit, kind)
    init = lambda: protocol.init_runs(
      stage, _keys(jax.random.fold_in(k_init, 600 + j), R), xj, protocol.best_variables(base[bn][1])
    )
    fs = train(
      stage,
      init,
      _keys(jax.random.fold_in(k_train, 600 + j), R),
      (xj, jnp.asarray(y_seen)),
      split_seen,
    )
    sia[method] = (model, fs)
  bar.close()
  timings['siamese_s'] = time.time() - t

  # --- Table IX: the eight FSL methods, 3-way k-shot episodes on C^2.
  t = time.time()
  emb_base = protocol.embeddings(base[False][0], base[False][1], xj)  # (R, n, D)
  emb_sia = {m: protocol.embeddings(model, fs, xj) for m, (model, fs) in sia.items()}
  sup_idx = [protocol.restrict(s.train, y_unseen) for s in splits]
  min_test = min(np.bincount(y_unseen[test_unseen[0]]).min(), cfg.n_query)
  n_query = max(1, int(min_test))
  classifiers = fewshot.METRIC_CLASSIFIERS
  table_ix = {m: {f'k={k}': [] for k in cfg.shots} for m in FSL_METHODS}
  with tqdm(
    total=len(FSL_METHODS) * len(cfg.shots) * R,
    desc='episodes',
    disable=not progress,
    file=sys.stdout,
  ) as ebar:
    for s in range(R):
      for method in FSL_METHODS:
        if method in sia:
          emb = emb_sia[method][s]
          head = siamese.head_params(jax.tree.map(lambda a: a[s], sia[method][1].best_params))
          clf = fewshot.make_siamese_classifier(siamese.head_scores, head)
        else:
          emb, clf = emb_base[s], classifiers[method]
        for k in cfg.shots:
          res = fewshot.evaluate_episodes(
            jax.random.fold_in(jax.random.fold_in(k_episodes, s), k),
            emb[sup_idx[s]],
            y_unseen[sup_idx[s]],
            emb[test_unseen[s]],
            y_unseen[test_unseen[s]],
            classifier=clf,
            n_way=n_unseen,
            k_shot=k,
            n_query=n_query,
            num_episodes=cfg.episodes,
            average='weighted',
          )
          # A seed's score: mean F1 over its episodes; medians/IQRs are over seeds.
          table_ix[method][f'k={k}'].append(float(np.mean(res.f1)))
          ebar.update()
  tables['IX'] = table_ix
  timings['table_ix_s'] = time.time() - t
  timings['total_s'] = time.time() - t0
  return write_outputs(cfg, out_dir, tables, timings, n_query)


def finding(tables) -> dict:
  """The paper's qualitative claim at 1 and 5 shots: best FSL > TL > DL (medians)."""
  out = {}
  for i, nu in enumerate((1, 5)):
    col_nu, col_k = f'ν={nu}', f'k={nu}'
    if col_nu not in tables['VII']['DL']:
      continue
    dl = float(np.median(tables['VII']['DL'][col_nu]))
    tl = float(np.median(tables['VIII']['TL'][col_nu]))
    fsl = {m: float(np.median(v[col_k])) for m, v in tables['IX'].items()}
    best = max(fsl, key=fsl.get)
    out[str(nu)] = {
      'DL': dl,
      'TL': tl,
      'best_FSL': best,
      'best_FSL_F1': fsl[best],
      'FSL>TL': fsl[best] > tl,
      'TL>DL': tl > dl,
    }
  return out


def write_outputs(cfg, out_dir, tables, timings, n_query) -> dict:
  """results.json, tables.md and f1_vs_shots.png in the run folder."""
  titles = {
    'IV': 'TABLE IV: median F1 and IQR of the base DL model (C1-C7) vs BiLSTM layers',
    'VI': 'TABLE VI: median F1 and IQR vs frozen layers in TL fine-tuning (C5-C7), plus AdaBatch',
    'VII': 'TABLE VII: median F1 and IQR for deep learning from scratch vs samples '
    'per class (C5-C7)',
    'VIII': 'TABLE VIII: median F1 and IQR in transfer learning vs samples per class (C5-C7)',
    'IX': 'TABLE IX: median F1 and IQR of the FSL methods vs shots k (3-way, C5-C7)',
  }
  summary = {k: reports.summarize(tables[k]) for k in titles}
  md = [f'# sEMG few-shot: {cfg.num_seeds} seeds, F1 in %\n']
  for key in ('IV', 'VI', 'VII', 'VIII', 'IX'):
    md.append(reports.markdown_table(summary[key], title=titles[key]))
  # Table V: per-class precision / recall / F1 of the base model on C1-C4.
  v = reports.summarize(tables['V'])
  md.append('**TABLE V: median (IQR) per-class scores of the base model on C1-C4**\n')
  md.append('| class | Precision | Recall | F1 |\n| --- | --- | --- | --- |')
  for c, cols in v.items():
    md.append(
      f'| {c} | '
      + ' | '.join(
        f'{100 * cols[m]["median"]:.2f} ({100 * cols[m]["iqr"]:.2f})'
        for m in ('Precision', 'Recall', 'F1')
      )
      + ' |'
    )
  find = finding(tables)
  md.append('\n**Finding at 1 and 5 shots (median F1, %)**\n')
  for nu, f in find.items():
    md.append(
      f'- {nu} shot(s): DL {100 * f["DL"]:.2f}, TL {100 * f["TL"]:.2f}, best FSL '
      f'{f["best_FSL"]} {100 * f["best_FSL_F1"]:.2f}: best FSL > TL '
      f'{"yes" if f["FSL>TL"] else "NO"}, TL > DL {"yes" if f["TL>DL"] else "NO"}'
    )
  md.append(
    f'\nEpisodes per seed and cell: {cfg.episodes}, {n_query} queries per class. '
    f'Wall time: {timings["total_s"]:.0f} s.\n'
  )
  with open(os.path.join(out_dir, 'tables.md'), 'w') as fh:
    fh.write('\n'.join(md))

  curves = {
    'DL': {nu.split('=')[1]: s for nu, s in tables['VII']['DL'].items()},
    'TL': {nu.split('=')[1]: s for nu, s in tables['VIII']['TL'].items()},
  }
  for m, cols in tables['IX'].items():
    curves[m] = {k.split('=')[1]: s for k, s in cols.items()}
  reports.plot_score_vs_shots(
    curves,
    os.path.join(out_dir, 'f1_vs_shots.png'),
    ylabel='F1 (%), median and IQR over seeds',
    title='sEMG C5-C7: DL, TL and FSL vs samples per class',
  )
  results = {
    'config': dataclasses.asdict(cfg),
    'raw': tables,
    'tables': summary,
    'table_v': v,
    'finding': find,
    'timings_s': timings,
  }
  reports.write_json(results, os.path.join(out_dir, 'results.json'))
  return results


def main(argv=None) -> int:
  args = parse_args(argv)
  cfg = get_config(args.quick)
  if args.seed is not None:
    cfg = dataclasses.replace(cfg, seed=args.seed)
  results = run(cfg, args.out, args.data, progress=not args.no_progress)
  with open(os.path.join(args.out, 'tables.md')) as fh:
    print(fh.read())
  print(f'run folder: {args.out}')
  del results
  return 0


if __name__ == '__main__':
  sys.exit(main())
