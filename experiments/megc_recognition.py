"""MEGC 2019 recognition experiment: Table IV (UF1 / UAR, composite database, LOSO).

    python -m experiments.megc_recognition --quick [--out runs/megc_recognition] [--estimate]
    python -m experiments.megc_recognition --data-root PATH    # CASME2*/, SAMM*/, SMIC*/
    python -m experiments.megc_recognition --data-root PATH --set clip_list=video442Names.txt
    python -m experiments.megc_recognition --casme2 DIR --casme2-coding XLSX --samm DIR --smic DIR
    python -m experiments.megc_recognition --casme2 DIR --set "databases=('CASME II',)"
    python -m experiments.megc_recognition --quick --ckplus DIR   # EMR against CK+

Without data flags the clips are the synthetic composite database made
from real faces (`vision.synthetic_megc`); with `--data-root` (a folder
holding the databases as unpacked) and / or a folder per database
(`--casme2`, `--samm`, `--smic`, and the spreadsheets `--casme2-coding`,
`--samm-coding`), the licensed databases as distributed
(`vision.load_databases`): every database of `--set databases=...` (default
all three) must be found, or the run stops naming what it searched. Flow and
LBP-TOP are computed only for the clips the composite database keeps
(`protocol.kept_clips`). `--set clip_list=PATH`
keeps only the clips of a list as STSTNet's authors distributed the 442
(`video442Names.txt`). Every run prints and writes the composite database's
counts against the paper's Table III, naming every difference. Each clip gives the
onset-to-apex flow inputs of the networks (`vision.recognition_inputs`) and
its LBP-TOP descriptor (`vision.lbp_top_features`); the protocol
(`fewshot.protocols.megc_recognition.run`) trains and scores every method
under CDE leave-one-subject-out. The run folder gets

    config.json       the settings and the data source
    inputs.npz        the network inputs, LBP-TOP (and Bi-WOOF) features, apex
                      faces (CapsuleNet) and clip labels
                      (cached: a rerun with the same --out skips the data)
    results.json      Table IV's records, timings (per stage and method: wall,
                      compile, train, predict, other seconds), compile (programs
                      compiled, seconds), confusion matrices, held-out
                      predictions, parameter counts
    tables.md         Table III's counts (this run, difference from the
                      paper, the clips that differ), Table IV, where the time went
    confusion_<method>.png   pooled confusion matrix of every method

EMR also gets the magnified flows of the kept clips and a reduced macro source
(`vision.emr_domain_inputs`): synthetic macro-expressions, or CK+ with `--ckplus DIR`.

Results and caveats: docs/megc2019.md.
"""

from __future__ import annotations

import dataclasses
import os
import sys

import numpy as np
from tqdm.auto import tqdm

import evaluation
import vision
from evaluation import keys
from evaluation import plots
from evaluation import reports
from experiments import cli
from experiments.configs import megc_recognition as configs
from fewshot import timing
from fewshot.models import megc as megc_models
from fewshot.models import megc_capsule
from fewshot.protocols import megc_recognition as protocol

# Per-database data flags (argparse dest, database).
FOLDER_FLAGS = (('casme2', 'CASME II'), ('samm', 'SAMM'), ('smic', 'SMIC'))
CODING_FLAGS = (('casme2_coding', 'CASME II'), ('samm_coding', 'SAMM'))
DATA_FLAGS = [
  ('--data-root', 'folder holding the databases as unpacked: CASME2*/, SAMM*/, SMIC*/ '
   '(docs/megc2019.md; default: synthetic clips)'),
  ('--casme2', "CASME II's folder (the one holding sub01/, or up to 3 levels above it)"),
  ('--casme2-coding', "CASME II's coding spreadsheet (CASME2-coding-*.xlsx)"),
  ('--samm', "SAMM's folder (the one holding 006/, or up to 3 levels above it)"),
  ('--samm-coding', "SAMM's spreadsheet (SAMM_Micro_FACS_Codes_v2.xlsx)"),
  ('--smic', "SMIC-HS's folder (the one holding s1/, or up to 3 levels above it)"),
  ('--ckplus', "CK+'s folder (cohn-kanade-images/, Emotion/): EMR's macro source (default: synthetic)"),
]  # fmt: skip


def data_paths(args) -> tuple[dict, dict]:
  """({database: folder}, {database: spreadsheet}) given on the command line."""
  folders = {db: getattr(args, f) for f, db in FOLDER_FLAGS if getattr(args, f)}
  codings = {db: getattr(args, f) for f, db in CODING_FLAGS if getattr(args, f)}
  return folders, codings


def real_data(args) -> bool:
  folders, codings = data_paths(args)
  return bool(args.data_root or folders or codings)


def data_source(cfg, args) -> str:
  if not real_data(args):
    return f'synthetic composite database from real faces (seed {cfg.seed})'
  folders, codings = data_paths(args)
  given = [f'{db} folder {p}' for db, p in folders.items()]
  given += [f'{db} spreadsheet {p}' for db, p in codings.items()]
  root = f' under {args.data_root}' if args.data_root else ''
  return f'{" / ".join(cfg.databases)}{root}' + (f' ({"; ".join(given)})' if given else '')


def load_clips(cfg, args) -> list:
  """The clips of `cfg.databases`: the real databases (each must be found) or synthetic ones."""
  if real_data(args):
    folders, codings = data_paths(args)
    return vision.load_databases(args.data_root, cfg.databases, folders=folders, codings=codings)
  clips = vision.synthetic_megc(
    keys.named_key(cli.root_key(cfg), 'data'), dict(cfg.clips_per_subject), cfg.subjects
  )
  return [c for c in clips if c.database in cfg.databases]


def emr_arrays(cfg, kept: list, progress: bool, faces=None) -> dict:
  """EMR's inputs: the kept clips magnified, the macro source reduced (`vision.emr_domain_inputs`);
  `faces`: the kept clips' onset and apex crops at `cfg.face_size`, or None."""
  e, key = cfg.emr, keys.named_key(cli.root_key(cfg), 'macro')
  macro = vision.emr_macro_source(key, e.ckplus, e.macro_clips, cfg.subjects)
  return vision.emr_domain_inputs(
    kept, macro, e.magnify, e.reduce, e.macro_apex, cfg.face_size, e.sigma, e.flow_method,
    cfg.align, cfg.workers, progress, micro_faces=faces,
  )  # fmt: skip


def prepare(cfg, out_dir: str, args, progress: bool) -> protocol.Inputs:
  """The preprocessed clips, cached in out_dir/inputs.npz.

  Faces, flow and LBP-TOP are computed only for the clips the composite
  database keeps (`protocol.kept_clips`: a mapped emotion, in the clip list);
  the metadata of every clip loaded is kept for Table III's check.
  """
  path = os.path.join(out_dir, 'inputs.npz')
  if os.path.exists(path):
    with np.load(path) as f:
      inputs = dict(f)
  else:
    clips = load_clips(cfg, args)
    meta = np.array([(c.database, c.subject, c.emotion, c.name) for c in clips]).T  # (4, n)
    rows = protocol.kept_clips(cfg, *meta)
    kept = [clips[i] for i in rows]
    # Each kept clip's face found once, cropped for the flow inputs, EMR and CapsuleNet.
    sizes = [cfg.face_size] + ([cfg.capsule.size] if 'CapsuleNet' in cfg.methods else [])
    faces = vision.onset_apex_crops(kept, sizes, cfg.align, progress)
    net = vision.recognition_inputs(
      kept, cfg.face_size, cfg.flow_method, cfg.align, cfg.workers, progress, faces[cfg.face_size]
    )
    lbp = vision.lbp_top_features(
      kept, cfg.lbp_face_size, cfg.lbp_grid, radii=cfg.lbp_radii, progress=progress
    )
    inputs = {
      'ststnet': net.ststnet, 'offapex': net.offapex, 'lbp_top': lbp, 'meta': meta, 'rows': rows
    }  # fmt: skip
    if 'Bi-WOOF' in cfg.methods:  # from the same onset-to-apex flows
      inputs['biwoof'] = vision.biwoof_features(net.flows, cfg.biwoof_grid, cfg.biwoof_bins)
    if 'CapsuleNet' in cfg.methods:
      size = cfg.capsule.size
      inputs['apex'] = vision.apex_inputs(kept, size, cfg.align, progress, faces[size])
    if 'EMR' in cfg.methods:
      inputs.update(emr_arrays(cfg, kept, progress, faces[cfg.face_size]))
    np.savez_compressed(path, **inputs)
  return protocol.Inputs(
    inputs['ststnet'], inputs['offapex'], inputs['lbp_top'], *inputs['meta'], inputs.get('rows'),
    biwoof=inputs.get('biwoof'), apex=inputs.get('apex'),
    **{k: inputs.get(k) for k in protocol.EMR_INPUTS},
  )  # fmt: skip


def _parameters(cfg, method: str) -> int | None:
  """Trainable parameters of a network as this run builds it (None for the SVM rows)."""
  if method == 'CapsuleNet':
    shapes = megc_capsule.init_shapes(cfg.capsule.model(), cfg.capsule.size)
    return megc_models.parameter_count(shapes['params'])
  return megc_models.PAPER_PARAMETERS.get(method)


def write_outputs(out_dir: str, cfg, res: protocol.Results, source: str) -> None:
  comp = res.composite
  counts = np.bincount(comp.labels, minlength=3).tolist()
  title = (
    f'TABLE IV layout: UF1 and UAR, CDE LOSO over {len(comp.folds)} subjects, '
    f'{len(comp.labels)} clips (negative / positive / surprise = {counts})'
  )
  md = reports.table_markdown(
    res.records, protocol.TABLE, title=title, row_header='Method', scale=1.0, digits=4
  )
  iii = evaluation.megc.table_iii_markdown(res.records, res.check, protocol.TABLE_III_COLUMNS)
  with open(os.path.join(out_dir, 'tables.md'), 'w') as f:
    f.write(f'# MEGC 2019 recognition\n\nData: {source}\n\n{iii}\n{md}\n')
    f.write(reports.timings_markdown(res.timings))
  for m, cm in res.confusion.items():
    plots.plot_confusion_matrix(
      cm,
      evaluation.MEGC_CLASSES,
      os.path.join(out_dir, f'confusion_{m}.png'),
      title=f'{m}: composite database, pooled over LOSO folds',
    )
  reports.write_results(
    out_dir,
    res.records,
    timings=res.timings,
    compile=timing.compile_summary(res.timings['total']),
    data=source,
    class_counts=counts,
    confusion=res.confusion,
    predictions=res.predictions,
    labels=comp.labels,
    parameters={m: _parameters(cfg, m) for m in cfg.methods},
    composite_check={
      'differences': list(res.check.differences),
      'missing': list(res.check.missing),
      'extra': list(res.check.extra),
      'unlabelled': [list(u) for u in res.check.unlabelled],
    },
  )


def main(argv=None) -> int:
  args, cfg = cli.parse(
    argv,
    __doc__.split('\n\n')[0],
    out='runs/megc_recognition',
    get_config=configs.get_config,
    data=DATA_FLAGS,
  )
  if args.estimate:
    return cli.estimate(main, argv, args.out)
  clock = timing.Stage('total')
  if args.ckplus:
    cfg = dataclasses.replace(cfg, emr=dataclasses.replace(cfg.emr, ckplus=args.ckplus))
  source = data_source(cfg, args)
  os.makedirs(args.out, exist_ok=True)
  reports.check_run_config(args.out, {'config': dataclasses.asdict(cfg), 'data': source})
  with timing.stage('inputs') as inputs:
    data = prepare(cfg, args.out, args, not args.no_progress)
  if cfg.clip_list is not None and data.name is None:
    raise ValueError(
      f'{args.out}/inputs.npz predates clip names; delete it (or use another --out) to use a clip list.'
    )
  with tqdm(total=len(cfg.methods), desc='Table IV', disable=args.no_progress) as bar:
    res = protocol.run(cli.root_key(cfg), cfg, data, progress=bar.update)
  res = res._replace(timings={'inputs': inputs, **res.timings, 'total': clock.stop()})
  write_outputs(args.out, cfg, res, source)
  with open(os.path.join(args.out, 'tables.md')) as f:
    print(f.read())
  print(timing.compile_line(res.timings['total']))
  return 0


if __name__ == '__main__':
  sys.exit(main())
