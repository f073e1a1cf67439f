"""Pose-based sign recognition: Table 1's layout, the hand-presence analysis (section 5, Figure 6), few-shot letters.

    python -m experiments.sign_recognition [--quick] [--out runs/sign_recognition] [--data-root AUTSL]
        [--workers N] [--no-extract] [--retry-failed] [--labels SPLIT=CSV ...] [--class-names CSV]

Without --data-root it runs on spoken-to-signed's fingerspelling lexicon; with
it, on AUTSL as distributed (`vision.load_autsl`: labels files under every
published name, or --labels; poses extracted with --workers processes from
the videos of the samples that lack them, after `autsl_limit` has cut each
split, unless --no-extract; sign names from SignList_ClassId_TR_EN.csv or
--class-names). The script loads the poses, computes the features and
the dominant hand's presence (`vision`) and calls
`fewshot.protocols.sign.run`. The run folder holds:

    config.json   the settings of the run and the data source
    results.json  the records (Table 1, section 5, few-shot letters), seconds per
                  stage, per-fold accuracies, per-clip presence and outcome,
                  per-episode few-shot accuracies
    tables.md     the three tables rendered from the records
    figure6.png   histogram of the dominant hand's share of frames, correct vs incorrect
    confusion.png the section 5 cell's confusion matrix, by class name (every class
                  up to 20, else the classes of the most frequent confusions)

Results and caveats: docs/sign_language.md.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

import vision
from evaluation import plots
from evaluation import reports
from experiments import cli
from experiments.configs import sign_recognition as configs
from fewshot.protocols import sign as protocol
from vision.sign.data import AUTSL_NUM_CLASSES


def _inputs(cfg, poses, labels, class_names, **kw) -> protocol.SignData:
  return protocol.SignData(
    features=vision.pose_batch_data(poses, labels, flip=cfg.flip),
    class_names=tuple(class_names),
    columns={fs: vision.feature_columns(fs) for fs in cfg.feature_sets},
    presence=np.asarray(vision.dominant_hand_presence(poses.points, poses.mask, poses.lengths)),
    **kw,
  )


def lexicon_data(cfg) -> protocol.SignData:
  lex = vision.load_fingerspelling_lexicon(max_frames=cfg.max_frames, languages=cfg.languages)
  labels, names = protocol.language_classes(lex)
  source = f'fingerspelling lexicon, {len(labels)} clips, {len(names)} sign languages'
  return _inputs(cfg, lex.poses, labels, names, lexicon=lex, source=source)


def autsl_data(
  cfg,
  root,
  *,
  extract: bool = True,
  workers: int = 1,
  labels=None,
  class_names=None,
  retry_failed: bool = False,
) -> protocol.SignData:
  """Train, validation and (where its labels are found) test clips in one padded batch.

  Poses are extracted from videos that lack them (unless `extract=False`),
  only for the first `cfg.autsl_limit` samples of each split. The protocol
  holds some training signers out to choose the epoch (`protocol.autsl_split`).

  Args:
    cfg: the run's config.
    root: the AUTSL folder.
    extract, workers, retry_failed: see `vision.autsl_samples`.
    labels: {split: labels CSV} given explicitly (others found by name).
    class_names: the sign-names CSV (default ROOT/SignList_ClassId_TR_EN.csv
      when present; else the class ids).
  """
  labels = dict(labels or {})
  kw = dict(extract=extract, workers=workers, retry_failed=retry_failed)
  load = lambda split: vision.load_autsl(
    root, split, cfg.max_frames, limit=cfg.autsl_limit, pad_to=cfg.max_frames,
    labels=labels.get(split), **kw,
  )  # fmt: skip
  test = vision.autsl_labels_file(root, 'test', labels.get('test'))
  names = ['train', 'val'] + (['test'] if test is not None else [])
  parts = [load(name) for name in names]
  poses = vision.PoseBatch(*(np.concatenate(a) for a in zip(*(p.poses for p in parts))))
  sizes = np.cumsum([0] + [len(p.labels) for p in parts])
  split = tuple(np.arange(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
  labels = np.concatenate([p.labels for p in parts])
  signers = np.concatenate([p.signers for p in parts])
  classes = vision.autsl_class_names(class_names if class_names is not None else root)
  classes = classes or tuple(str(k) for k in range(AUTSL_NUM_CLASSES))
  source = f'AUTSL poses from {root} ({", ".join(names)} splits)'
  return _inputs(cfg, poses, labels, classes, split=split, signers=signers, source=source)


def _plot_confusion(out: Path, res: protocol.Results, data: protocol.SignData) -> None:
  """confusion.png: every class up to 20, else those of the 6 most frequent confusions."""
  labels, predicted = res.presence['label'], res.presence['predicted']
  k = len(data.class_names)
  shown = np.arange(k)
  if k > 20:
    index = {name: i for i, name in enumerate(data.class_names)}
    pairs = protocol.confusion_pairs(labels, predicted, data.class_names, top=6)
    shown = np.array(sorted({index[n] for t, p, _ in pairs for n in (t, p)}), int)
    if not len(shown):
      return
  keep = np.isin(labels, shown) & np.isin(predicted, shown)
  where = {c: i for i, c in enumerate(shown)}
  cm = np.zeros((len(shown), len(shown)), np.int64)
  for t, p in zip(labels[keep], predicted[keep]):
    cm[where[t], where[p]] += 1
  team, fs = protocol.TEAMS[protocol.PRESENCE_CELL[0]], protocol.ROWS[protocol.PRESENCE_CELL[1]]
  part = '' if len(shown) == k else f', the {len(shown)} classes of the most frequent confusions'
  plots.plot_confusion_matrix(
    cm, [data.class_names[c] for c in shown], out / 'confusion.png',
    title=f'{team}, {fs}: confusions{part}',
  )  # fmt: skip


def write_outputs(out: Path, res: protocol.Results, data: protocol.SignData) -> None:
  groups = {
    'correct': res.presence['presence'][res.presence['correct']],
    'incorrect': res.presence['presence'][~res.presence['correct']],
  }
  plots.plot_histograms(
    {k: v for k, v in groups.items() if len(v)},
    out / 'figure6.png',
    bins=10,
    value_range=(0, 100),
    scale=100,
    xlabel='% of frames with the dominant hand estimated',
    title='Dominant-hand presence by recognition outcome (Figure 6)',
  )
  _plot_confusion(out, res, data)
  pct = dict(scale=100.0, digits=2)
  text = [
    reports.table_markdown(
      res.records, protocol.TABLE1, title=f'Table 1 layout: accuracy (%), {data.source}',
      layout='inline', **pct,
    ),
    reports.table_markdown(
      res.records, protocol.PRESENCE, digits=4, scale=1.0, row_header='Section 5',
      integer_rows=protocol.COUNT_ROWS,
      title='Hand presence (section 5, Figure 6): clips by outcome, mean dominant-hand share, '
      'Wilcoxon rank-sum test',
    ),
  ]  # fmt: skip
  if res.test_accuracies:
    text.insert(1, reports.table_markdown(
      res.records, protocol.TABLE1_TEST, title=f'Table 1 layout on the test split: accuracy (%), '
      f'{data.source}', layout='inline', **pct,
    ))  # fmt: skip
  if any(r.table == protocol.CONFUSIONS for r in res.records):
    text.append(reports.table_markdown(
      res.records, protocol.CONFUSIONS, scale=1.0, integer_columns=('clips',), row_header='true -> predicted',
      title='Most confused classes (the section 5 cell): clips', layout='inline',
    ))  # fmt: skip
  if res.few_shot:
    title = f'Few-shot letters {", ".join(res.few_shot["letters"])}: episode accuracy (%)'
    text.append(
      reports.table_markdown(res.records, protocol.FEW_SHOT, title=title, layout='inline', **pct)
    )
  (out / 'tables.md').write_text('\n'.join(text))


def main(argv=None) -> int:
  p = cli.parser(
    __doc__.split('\n\n')[0],
    out='runs/sign_recognition',
    get_config=configs.get_config,
    data=[
      ('--data-root', 'AUTSL folder (labels CSVs; Holistic .pose files and/or the videos)'),
      ('--class-names', 'AUTSL sign names CSV (default DATA_ROOT/SignList_ClassId_TR_EN.csv)'),
    ],
  )
  p.add_argument('--workers', type=int, default=1, help='AUTSL: pose-extraction processes')
  p.add_argument('--no-extract', action='store_true', help='AUTSL: never extract missing poses')
  p.add_argument('--retry-failed', action='store_true', help='AUTSL: retry recorded failures')
  p.add_argument(
    '--labels', action='append', default=[], metavar='SPLIT=CSV',
    help='AUTSL: the labels file of a split (train, val, test), if not found by name',
  )  # fmt: skip
  args = p.parse_args(argv)
  labels = {}
  for item in args.labels:
    split, sep, path = item.partition('=')
    if not sep or split not in vision.sign.data.AUTSL_SPLITS:
      p.error(f'--labels takes SPLIT=CSV with SPLIT in train, val, test, got {item!r}')
    labels[split] = path
  if args.workers < 1:
    p.error(f'--workers must be >= 1, got {args.workers}')
  get_config = lambda quick: configs.get_config(quick, autsl=args.data_root is not None)
  cfg = cli.config(args, get_config)
  started = time.perf_counter()
  out = Path(args.out)
  if args.data_root:
    data = autsl_data(
      cfg, args.data_root, extract=not args.no_extract, workers=args.workers, labels=labels,
      class_names=args.class_names, retry_failed=args.retry_failed,
    )  # fmt: skip
  else:
    data = lexicon_data(cfg)
  reports.check_run_config(out, {'config': dataclasses.asdict(cfg), 'data': data.source})
  loaded = time.perf_counter() - started
  with tqdm(total=3, desc='sign tables', disable=args.no_progress) as bar:
    res = protocol.run(cli.root_key(cfg), cfg, data, progress=bar.update)
  write_outputs(out, res, data)
  reports.write_results(
    out, res.records, timings={'data': loaded, **res.timings}, data=data.source,
    accuracies=res.accuracies, test_accuracies=res.test_accuracies,
    selected_epochs=res.selected_epochs, presence=res.presence, few_shot=res.few_shot,
  )  # fmt: skip
  print((out / 'tables.md').read_text())
  print(
    f'wrote {out}/tables.md, results.json, figure6.png, confusion.png in {time.perf_counter() - started:.0f} s'
  )
  return 0


if __name__ == '__main__':
  sys.exit(main())
