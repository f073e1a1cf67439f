"""Pose-based sign recognition: Table 1's layout, the hand-presence analysis (section 5, Figure 6), few-shot letters.

    python -m experiments.sign_recognition [--quick] [--out runs/sign_recognition] [--data-root AUTSL]

Without --data-root it runs on spoken-to-signed's fingerspelling lexicon (see its
config for what that data can show); with it, on AUTSL poses. The run folder holds:

    config.json   the settings of the run
    results.json  per-fold accuracies, per-clip dominant-hand presence, the test, few-shot scores
    tables.md     Table 1 (feature sets x models -> accuracy), the hand-presence analysis
                  with its Wilcoxon rank-sum test, the few-shot table
    figure6.png   histogram of the dominant hand's share of frames, correct vs incorrect
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import jax
import numpy as np

import vision
from evaluation import plots
from evaluation import reports
from experiments.configs import sign_recognition as configs
from fewshot import trainer
from fewshot.protocols import sign as protocol
from vision.sign.data import AUTSL_NUM_CLASSES

TEAMS = {'transformer': 'Team 1 (transformer, CTC)', 'bilstm': 'Team 2 (BiLSTM)'}
ROWS = {fs: f'Holistic {fs}' for fs in vision.FEATURE_SETS}


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--quick', action='store_true', help='minutes-long CPU setting')
  p.add_argument('--out', default='runs/sign_recognition', help='run folder')
  p.add_argument(
    '--data-root', default=None, help='AUTSL folder (labels CSVs and Holistic .pose files)'
  )
  return p.parse_args(argv)


def make_model(kind: str, cfg, num_classes: int):
  return protocol.make_model(kind, num_classes, bilstm=cfg.bilstm, transformer=cfg.transformer)


def fit_config(cfg, kind: str, validate: bool) -> trainer.FitConfig:
  epochs = cfg.ctc_epochs if kind == 'transformer' else cfg.epochs
  patience = cfg.patience if validate else epochs
  return trainer.FitConfig(num_epochs=epochs, batch_size=cfg.batch_size, patience=patience)


def table1(cfg, data, split, test_rows, num_classes, key, validate=False):
  """Accuracy of every model and feature set on each run's test rows.

  Returns:
    ({row: {team: [R] accuracies}}, {(kind, feature_set): [N] bool correct or None}).
  """
  tx = protocol.adam(cfg.learning_rate)
  scores, correct = {}, {}
  for kind in cfg.kinds:
    model = make_model(kind, cfg, num_classes)
    for fs in cfg.feature_sets:
      key, sub = jax.random.split(key)
      started = time.time()
      selected = vision.mask_features(data, fs)
      states, _ = protocol.train_runs(
        model,
        kind,
        selected,
        split,
        tx=tx,
        config=fit_config(cfg, kind, validate),
        key=sub,
        flip=cfg.flip,
        validate=validate,
      )
      pred = protocol.predict_runs(
        model, kind, states, selected, np.concatenate(test_rows), cfg.beam_width
      )
      accs, hits = protocol.run_accuracies(pred, np.asarray(data['y']), test_rows)
      scores.setdefault(ROWS[fs], {})[TEAMS[kind]] = accs
      correct[(kind, fs)] = hits
      print(
        f'{TEAMS[kind]:28s} {ROWS[fs]:24s} acc {np.mean(accs):.3f} ({time.time() - started:.0f} s)'
      )
  return scores, correct


def few_shot(cfg, lexicon, data, like, num_classes, key) -> dict:
  """Task (b): episodes on the novel letters, trained BiLSTMs vs untrained mean features.

  One BiLSTM per run of the Table 1 split (seeds), trained on the base
  letters with Table 1's shapes (split padded, `num_classes` outputs), so the
  Team 2 training program compiled for Table 1 is reused.
  """
  base, novel = protocol.letter_task(lexicon, cfg.min_languages, cfg.num_base)
  rows = [np.flatnonzero(base.labels >= 0)] * like.train_idx.shape[0]
  split = protocol.pad_split(trainer.make_split(rows, rows), like)
  model = make_model('bilstm', cfg, num_classes)
  key_fit, key_ep = jax.random.split(key)
  states, _ = protocol.train_runs(
    model,
    'bilstm',
    dict(data, y=np.maximum(base.labels, 0)),
    split,
    tx=protocol.adam(cfg.learning_rate),
    config=fit_config(cfg, 'bilstm', False),
    key=key_fit,
    flip=cfg.flip,
  )
  idx = np.flatnonzero(novel.labels >= 0)
  trained = f'BiLSTM trained on {base.class_names[0]}..{base.class_names[-1]}'
  embeddings = {
    'mean features (no training)': np.asarray(protocol.mean_features(data))[idx][None],
    trained: protocol.embed_runs(model, 'bilstm', states, data, idx),
  }
  table = {}
  for name, runs in embeddings.items():
    for k in cfg.shots:
      acc = [
        protocol.few_shot_letters(
          key_ep,
          emb,
          novel.labels[idx],
          n_way=cfg.n_way,
          k_shot=k,
          n_query=cfg.n_query,
          num_episodes=cfg.episodes,
        )[0]
        for emb in runs
      ]
      table.setdefault(name, {})[f'{cfg.n_way}-way {k}-shot'] = np.concatenate(acc).tolist()
  return {'letters': list(novel.class_names), 'table': table}


def presence_report(poses, correct, out: Path) -> tuple[dict, str]:
  """Section 5 on one model's predictions: group means, Wilcoxon rank-sum, Figure 6."""
  presence = vision.dominant_hand_presence(poses.points, poses.mask, poses.lengths)
  res = protocol.hand_presence_analysis(presence, correct)
  groups = {'correct': res['correct'], 'incorrect': res['incorrect']}
  groups = {k: v for k, v in groups.items() if len(v)}
  plots.plot_histograms(
    groups,
    out / 'figure6.png',
    bins=10,
    value_range=(0, 100),
    scale=100,
    xlabel='% of frames with the dominant hand estimated',
    title='Dominant-hand presence by recognition outcome (Figure 6)',
  )
  pct = lambda x: 'n/a' if x is None else f'{100 * x:.2f} %'
  lines = ['**Hand presence (section 5, Team 2, points+limbs)**', '']
  lines.append(
    f'correct: {len(res["correct"])} clips, mean {pct(res["mean_correct"])}; '
    f'incorrect: {len(res["incorrect"])} clips, mean {pct(res["mean_incorrect"])}'
  )
  if res['ranksum']:
    t = res['ranksum']
    lines.append(
      f'Wilcoxon rank-sum (correct vs incorrect): z = {t["statistic"]:.3f}, p = {t["pvalue"]:.3g}'
    )
  else:
    lines.append('Wilcoxon rank-sum: not computed (one group is empty)')
  return res, '\n'.join(lines) + '\n'


def lexicon_data(cfg):
  lex = vision.load_fingerspelling_lexicon(max_frames=cfg.max_frames, languages=cfg.languages)
  task = protocol.language_task(lex, cfg.folds, cfg.seed)
  data = vision.pose_batch_data(lex.poses, task.labels, flip=cfg.flip)
  rows = [f.test for f in task.folds]
  split = trainer.make_split([f.train for f in task.folds], rows)
  return lex, task, data, split, rows


def autsl_data(cfg, root):
  """Train and validation clips in one padded batch; poses are extracted from videos that lack them."""
  load = lambda split: vision.load_autsl(
    root, split, cfg.max_frames, limit=cfg.autsl_limit, pad_to=cfg.max_frames, extract=True
  )
  train, val = load('train'), load('val')
  poses = vision.PoseBatch(*(np.concatenate([a, b]) for a, b in zip(train.poses, val.poses)))
  data = vision.pose_batch_data(poses, np.concatenate([train.labels, val.labels]), flip=cfg.flip)
  n = len(train.labels)
  rows = [n + np.arange(len(val.labels))]
  return poses, data, trainer.make_split([np.arange(n)], rows), rows


def run(cfg, out, data_root=None) -> dict:
  """Runs the experiment with settings `cfg` and writes the run folder `out`."""
  out = Path(out)
  out.mkdir(parents=True, exist_ok=True)
  reports.write_json(
    {'config': dataclasses.asdict(cfg), 'data_root': data_root}, out / 'config.json'
  )
  started = time.time()
  key_t1, key_fs = jax.random.split(jax.random.key(cfg.seed))
  fewshot_res = None
  if data_root:
    poses, data, split, rows = autsl_data(cfg, data_root)
    scores, correct = table1(cfg, data, split, rows, AUTSL_NUM_CLASSES, key_t1, validate=True)
    title = 'Table 1 layout: AUTSL validation accuracy (%)'
  else:
    lex, task, data, split, rows = lexicon_data(cfg)
    poses = lex.poses
    scores, correct = table1(cfg, data, split, rows, len(task.class_names), key_t1)
    fewshot_res = (
      few_shot(cfg, lex, data, split, len(task.class_names), key_fs) if cfg.shots else None
    )
    title = f'Table 1 layout: sign-language identification accuracy (%), {cfg.folds} leave-letters-out folds'
  hits = correct.get(('bilstm', 'points+limbs'), next(iter(correct.values())))
  evaluated = np.concatenate(rows)
  sub = vision.PoseBatch(*(np.asarray(a)[evaluated] for a in poses))
  presence, text = presence_report(sub, hits[evaluated], out)
  text = (
    reports.markdown_table(reports.summarize(scores, 'mean_std'), title=title, layout='inline')
    + '\n'
    + text
  )
  if fewshot_res:
    letters = ', '.join(fewshot_res['letters'])
    text += '\n' + reports.markdown_table(
      reports.summarize(fewshot_res['table'], 'mean_std'),
      layout='inline',
      title=f'Few-shot letters {letters}: episode accuracy (%), mean ± std over episodes',
    )
  (out / 'tables.md').write_text(text)
  results = {'table1': scores, 'hand_presence': presence, 'few_shot': fewshot_res}
  results['wall_seconds'] = time.time() - started
  reports.write_json(results, out / 'results.json')
  return results


def main(argv=None) -> int:
  args = parse_args(argv)
  cfg = configs.get_config(args.quick, autsl=args.data_root is not None)
  results = run(cfg, args.out, args.data_root)
  print((Path(args.out) / 'tables.md').read_text())
  print(f'wrote {args.out}/tables.md, results.json, figure6.png in {results["wall_seconds"]:.0f} s')
  return 0


if __name__ == '__main__':
  sys.exit(main())
