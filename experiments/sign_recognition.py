"""Pose-based sign recognition: Table 1's layout, the hand-presence analysis (section 5, Figure 6), few-shot letters.

    python -m experiments.sign_recognition [--quick] [--out runs/sign_recognition] [--data-root AUTSL]

Without --data-root it runs on spoken-to-signed's fingerspelling lexicon; with
it, on AUTSL poses. The script loads the poses, computes the features and
the dominant hand's presence (`vision`) and calls
`fewshot.protocols.sign.run`. The run folder holds:

    config.json   the settings of the run and the data source
    results.json  the records (Table 1, section 5, few-shot letters), seconds per
                  stage, per-fold accuracies, per-clip presence and outcome,
                  per-episode few-shot accuracies
    tables.md     the three tables rendered from the records
    figure6.png   histogram of the dominant hand's share of frames, correct vs incorrect

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


def autsl_data(cfg, root) -> protocol.SignData:
  """Train, validation and (where its labels are given) test clips in one padded batch.

  Poses are extracted from videos that lack them. The protocol holds some
  training signers out to choose the epoch (`protocol.autsl_split`).
  """
  load = lambda split: vision.load_autsl(
    root, split, cfg.max_frames, limit=cfg.autsl_limit, pad_to=cfg.max_frames, extract=True
  )
  names = ['train', 'val'] + (['test'] if (Path(root) / 'test_labels.csv').is_file() else [])
  parts = [load(name) for name in names]
  poses = vision.PoseBatch(*(np.concatenate(a) for a in zip(*(p.poses for p in parts))))
  sizes = np.cumsum([0] + [len(p.labels) for p in parts])
  split = tuple(np.arange(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
  labels = np.concatenate([p.labels for p in parts])
  signers = np.concatenate([p.signers for p in parts])
  classes = tuple(str(k) for k in range(AUTSL_NUM_CLASSES))
  source = f'AUTSL poses from {root} ({", ".join(names)} splits)'
  return _inputs(cfg, poses, labels, classes, split=split, signers=signers, source=source)


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
    data=[('--data-root', 'AUTSL folder (labels CSVs and Holistic .pose files)')],
  )
  args = p.parse_args(argv)
  get_config = lambda quick: configs.get_config(quick, autsl=args.data_root is not None)
  cfg = cli.config(args, get_config)
  started = time.perf_counter()
  out = Path(args.out)
  data = autsl_data(cfg, args.data_root) if args.data_root else lexicon_data(cfg)
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
    f'wrote {out}/tables.md, results.json, figure6.png in {time.perf_counter() - started:.0f} s'
  )
  return 0


if __name__ == '__main__':
  sys.exit(main())
