"""MEGC 2019 recognition experiment: Table IV (UF1 / UAR, composite database, LOSO).

    python -m experiments.megc_recognition --quick [--out runs/megc_recognition]
    python -m experiments.megc_recognition --data-root PATH    # CASME2/, SAMM/, SMIC/

Without `--data-root` the clips are the synthetic composite database made
from real faces (`vision.synthetic_megc`); with it, the three licensed
databases as distributed (`vision.load_databases`). Each clip gives the
onset-to-apex flow inputs of the networks (`vision.recognition_inputs`) and
its LBP-TOP descriptor (`vision.lbp_top_features`); every method runs the
CDE leave-one-subject-out protocol of `fewshot.protocols.megc` and is scored
with TP/FP/FN pooled over the folds (`evaluation.megc`). The run folder gets

    config.json       the settings and the data source
    inputs.npz        the network inputs, LBP-TOP features and clip labels
                      (cached: a rerun with the same --out skips the data)
    results.json      per method: Table IV scores, confusion matrices,
                      parameter count, seconds
    tables.md         Table IV's layout: methods x Full / SMIC / CASME II /
                      SAMM, UF1 and UAR
    confusion_<method>.png   pooled confusion matrix of every method
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import jax
import numpy as np

import evaluation
import vision
from evaluation import plots
from evaluation import reports
from experiments.configs import megc_recognition as configs
from fewshot.models import megc as megc_models
from fewshot.protocols import megc as protocol

COLUMNS = ('Full', 'SMIC', 'CASME II', 'SAMM')


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--quick', action='store_true', help='minutes-long CPU setting')
  p.add_argument('--out', default='runs/megc_recognition', help='run folder')
  p.add_argument('--data-root', default=None, help='folder with CASME2/, SAMM/, SMIC/')
  p.add_argument('--no-progress', action='store_true', help='hide progress bars')
  return p.parse_args(argv)


def load_clips(cfg: configs.Config, data_root: str | None):
  if data_root:
    return vision.load_databases(data_root), f'CASME II / SAMM / SMIC-HS from {data_root}'
  clips = vision.synthetic_megc(jax.random.key(cfg.seed), dict(cfg.clips_per_subject), cfg.subjects)
  return clips, f'synthetic composite database from real faces (seed {cfg.seed})'


def prepare(cfg: configs.Config, out_dir: str, data_root, progress: bool):
  """(inputs dict, composite database, description); inputs cached in inputs.npz."""
  path = os.path.join(out_dir, 'inputs.npz')
  if os.path.exists(path):
    with np.load(path) as f:
      inputs = dict(f)
  else:
    clips, desc = load_clips(cfg, data_root)
    net = vision.recognition_inputs(
      clips, cfg.face_size, cfg.flow_method, cfg.align, cfg.workers, progress
    )
    lbp = vision.lbp_top_features(
      clips, cfg.lbp_face_size, cfg.lbp_grid, radii=cfg.lbp_radii, progress=progress
    )
    meta = np.array([(c.database, c.subject, c.emotion) for c in clips]).T  # (3, n)
    inputs = {'ststnet': net.ststnet, 'offapex': net.offapex, 'lbp_top': lbp, 'meta': meta}
    inputs['description'] = np.array(desc)
    np.savez_compressed(path, **inputs)
  comp = evaluation.composite_database(*inputs['meta'])
  return inputs, comp, str(inputs['description'])


def run_method(cfg: configs.Config, name: str, inputs, comp) -> dict:
  t0 = time.perf_counter()
  if name == 'LBP-TOP':
    res, params = protocol.cde_lbp_top_svm(inputs['lbp_top'], comp, cfg.svm, cfg.seed), None
  else:
    x = inputs['ststnet' if name == 'STSTNet' else 'offapex']
    key = jax.random.fold_in(jax.random.key(cfg.seed), list(megc_models.MODELS).index(name))
    res = protocol.cde_network(name, x, comp, key, dict(cfg.networks)[name])
    params = megc_models.PAPER_PARAMETERS[name]
  return {'scores': res.scores, 'parameters': params, 'seconds': time.perf_counter() - t0}


def write_outputs(out_dir: str, results: dict, desc: str, comp) -> None:
  table = {
    m: {f'{c} {s}': r['scores'][c][s] for c in COLUMNS if c in r['scores'] for s in ('UF1', 'UAR')}
    for m, r in results.items()
  }
  counts = np.bincount(comp.labels, minlength=3).tolist()
  title = (
    f'TABLE IV layout: UF1 and UAR, CDE LOSO over {len(comp.folds)} subjects, '
    f'{len(comp.labels)} clips (negative / positive / surprise = {counts})'
  )
  md = reports.markdown_table(table, title=title, row_header='Method', scale=1.0, digits=4)
  with open(os.path.join(out_dir, 'tables.md'), 'w') as f:
    f.write(f'# MEGC 2019 recognition\n\nData: {desc}\n\n{md}')
  for m, r in results.items():
    plots.plot_confusion_matrix(
      np.asarray(r['scores']['Full']['confusion']),
      evaluation.MEGC_CLASSES,
      os.path.join(out_dir, f'confusion_{m}.png'),
      title=f'{m}: composite database, pooled over LOSO folds',
    )
  reports.write_json({'data': desc, 'methods': results}, os.path.join(out_dir, 'results.json'))


def run(cfg: configs.Config, out_dir: str, data_root=None, progress: bool = True) -> dict:
  os.makedirs(out_dir, exist_ok=True)
  reports.check_run_config(out_dir, {'config': dataclasses.asdict(cfg), 'data_root': data_root})
  inputs, comp, desc = prepare(cfg, out_dir, data_root, progress)
  for name in cfg.methods:
    if name != 'LBP-TOP':
      print(f'{name}: {megc_models.PAPER_PARAMETERS[name]:,} parameters')
  results = {name: run_method(cfg, name, inputs, comp) for name in cfg.methods}
  write_outputs(out_dir, results, desc, comp)
  return results


def main(argv=None) -> int:
  args = parse_args(argv)
  t0 = time.perf_counter()
  run(configs.get_config(args.quick), args.out, args.data_root, progress=not args.no_progress)
  with open(os.path.join(args.out, 'tables.md')) as f:
    print(f.read())
  print(f'wall time {time.perf_counter() - t0:.0f} s')
  return 0


if __name__ == '__main__':
  sys.exit(main())
