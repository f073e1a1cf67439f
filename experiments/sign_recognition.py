"""Pose-based sign recognition: Table 1's layout, the hand-presence analysis (section 5, Figure 6), few-shot letters.

    python -m experiments.sign_recognition [--quick] [--out runs/sign_recognition] [--data-root AUTSL]
        [--workers N] [--no-extract] [--retry-failed] [--labels SPLIT=CSV ...] [--class-names CSV]
        [--frame-features NAME=DIR ...] [--set interpolate=True] [--set team1_upper_body=True]

Without --data-root it runs on spoken-to-signed's fingerspelling lexicon; with
it, on AUTSL as distributed (`vision.load_autsl`: labels files under every
published name, or --labels; poses extracted with --workers processes from
the videos of the samples that lack them, after `autsl_limit` has cut each
split, unless --no-extract; sign names from SignList_ClassId_TR_EN.csv or
--class-names; OpenPose poses in ROOT/openpose/SPLIT add the OpenPose rows).
--frame-features: an image-feature row per folder of per-clip [T, D] arrays;
interpolate: pose-format's missing-point interpolation; team1_upper_body:
Team 1's input as the paper's (upper-body coordinates). The script loads
the inputs (`vision`) and calls `fewshot.protocols.sign.run`. The run folder holds:

    config.json   the settings of the run and the data source
    results.json  the records, per-stage times, compile count, per-fold accuracies, rows
                  not run, per-clip presence and outcome, per-episode few-shot accuracies
    tables.md     the tables: Table 1, Holistic feature sets, section 5, few-shot letters, times
    figure6.png   histogram of the dominant hand's share of frames, correct vs incorrect
    confusion.png the section 5 cell's confusions by class name (up to 20 classes)

Results and caveats: docs/sign_language.md.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

import vision
from evaluation import plots
from evaluation import reports
from experiments import cli
from experiments.configs import sign_recognition as configs
from fewshot import timing
from fewshot.protocols import sign as protocol
from vision.sign.data import AUTSL_NUM_CLASSES


def _inputs(cfg, poses, labels, class_names, *, openpose=None, absent='', frames=None, **kw):
  """`SignData` of Holistic poses (and the same clips' OpenPose poses, frame features)."""
  rows = [r for r in vision.OPENPOSE_ROWS if r in cfg.rows and openpose is None]
  return protocol.SignData(
    **vision.pose_inputs(poses, labels, openpose, flip=cfg.flip)._asdict(),
    class_names=tuple(class_names), frame_features=frames or None,
    absent={row: absent for row in rows}, **kw,
  )  # fmt: skip


def _source(text, cfg, openpose, frames) -> str:
  if openpose is not None:
    text += f'; OpenPose poses ({vision.layout_of(openpose.points.shape[2]).name})'
  if frames:
    text += f'; frame features {", ".join(frames)}'
  return text + ('; poses interpolated (pose-format)' if cfg.interpolate else '')


def lexicon_data(cfg, frame_dirs=None) -> protocol.SignData:
  lex = vision.load_fingerspelling_lexicon(
    max_frames=cfg.max_frames, languages=cfg.languages, interpolate=cfg.interpolate
  )
  labels, names = protocol.language_classes(lex)
  frames = vision.frame_feature_inputs(
    frame_dirs or {}, [Path(p).stem for p in lex.path], cfg.max_frames
  )
  source = f'fingerspelling lexicon, {len(labels)} clips, {len(names)} sign languages'
  return _inputs(
    cfg, lex.poses, labels, names, frames=frames, lexicon=lex, source=_source(source, cfg, None, frames),
    absent='needs OpenPose poses; the lexicon has only Holistic poses, AUTSL can have both',
  )  # fmt: skip


def autsl_data(cfg, root, *, class_names=None, frame_dirs=None, **kw) -> protocol.SignData:
  """Train, validation and (where labelled) test clips in one padded batch (`vision.load_autsl_splits`).

  OpenPose poses add the OpenPose rows; `frame_dirs` {name: folder} the
  image-feature rows; `**kw`: extract, workers, retry_failed, labels.
  """
  test = vision.autsl_labels_file(root, 'test', (kw.get('labels') or {}).get('test'))
  names = ['train', 'val'] + (['test'] if test is not None else [])
  data, split = vision.load_autsl_splits(
    root, names, cfg.max_frames, limit=cfg.autsl_limit, interpolate=cfg.interpolate, **kw
  )
  frames = vision.frame_feature_inputs(frame_dirs or {}, data.ids, cfg.max_frames)
  classes = vision.autsl_class_names(class_names if class_names is not None else root)
  classes = classes or tuple(str(k) for k in range(AUTSL_NUM_CLASSES))
  source = f'AUTSL poses from {root} ({", ".join(names)} splits)'
  return _inputs(
    cfg, data.poses, data.labels, classes, openpose=data.openpose, frames=frames, split=split,
    absent=f'needs OpenPose poses: none in {Path(root) / "openpose"}/SPLIT',
    signers=data.signers, source=_source(source, cfg, data.openpose, frames),
  )  # fmt: skip


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


def _absent_note(res: protocol.Results) -> str:
  rows = res.absent_rows or {}
  return ''.join(f'\nNot run: {row} ({why}).\n' for row, why in rows.items())


def write_outputs(out: Path, res: protocol.Results, data: protocol.SignData, timings) -> None:
  correct = res.presence['correct']
  groups = {
    'correct': res.presence['presence'][correct],
    'incorrect': res.presence['presence'][~correct],
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
      res.records, protocol.TABLE1, title=f'Table 1: accuracy (%), {data.source}',
      layout='inline', **pct,
    ) + _absent_note(res),
    reports.table_markdown(
      res.records, protocol.ablation_table(protocol.TABLE1),
      title=f'Holistic feature sets (Table 1 layout): accuracy (%), {data.source}',
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
    text[2:2] = [reports.table_markdown(
      res.records, table, title=f'{title} on the test split: accuracy (%), {data.source}',
      layout='inline', **pct,
    ) for table, title in (
      (protocol.TABLE1_TEST, 'Table 1'),
      (protocol.ablation_table(protocol.TABLE1_TEST), 'Holistic feature sets'),
    )]  # fmt: skip
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
  (out / 'tables.md').write_text('\n'.join([*text, reports.timings_markdown(timings)]))


def _named(p, items, flag, choices=None) -> dict:
  out = {}
  for item in items:
    name, sep, value = item.partition('=')
    if not sep or not name or (choices and name not in choices):
      p.error(f'{flag} takes NAME=PATH (NAME in {choices or "any"}), got {item!r}')
    out[name] = value
  return out


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
  h = 'per-clip [T, D] image features DIR/{sample}.npy: a Table 1 row (Team 1) each'
  p.add_argument('--frame-features', action='append', default=[], metavar='NAME=DIR', help=h)
  h = 'AUTSL: the labels file of a split (train, val, test), if not found by name'
  p.add_argument('--labels', action='append', default=[], metavar='SPLIT=CSV', help=h)
  args = p.parse_args(argv)
  if args.estimate:
    return cli.estimate(main, argv, args.out)
  clock = timing.Stage('total')
  labels = _named(p, args.labels, '--labels', vision.sign.data.AUTSL_SPLITS)
  frame_dirs = _named(p, args.frame_features, '--frame-features')
  if args.workers < 1:
    p.error(f'--workers must be >= 1, got {args.workers}')
  get_config = lambda quick: configs.get_config(quick, autsl=args.data_root is not None)
  cfg = cli.config(args, get_config)
  out = Path(args.out)
  with timing.stage('data') as loaded:
    if args.data_root:
      data = autsl_data(
        cfg, args.data_root, extract=not args.no_extract, workers=args.workers, labels=labels,
        class_names=args.class_names, retry_failed=args.retry_failed, frame_dirs=frame_dirs,
      )  # fmt: skip
    else:
      data = lexicon_data(cfg, frame_dirs)
    reports.check_run_config(out, {'config': dataclasses.asdict(cfg), 'data': data.source})
  with tqdm(total=3, desc='sign tables', disable=args.no_progress) as bar:
    res = protocol.run(cli.root_key(cfg), cfg, data, progress=bar.update)
  timings = {'data': loaded, **res.timings, 'total': clock.stop()}
  write_outputs(out, res, data, timings)
  reports.write_results(
    out, res.records, timings=timings, compile=timing.compile_summary(timings['total']), data=data.source,
    accuracies=res.accuracies, test_accuracies=res.test_accuracies, absent_rows=res.absent_rows,
    selected_epochs=res.selected_epochs, presence=res.presence, few_shot=res.few_shot,
  )  # fmt: skip
  print((out / 'tables.md').read_text())
  print(f'{timing.compile_line(timings["total"])}; wrote {out}/tables.md, results.json, figures')
  return 0


if __name__ == '__main__':
  sys.exit(main())
