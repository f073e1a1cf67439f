"""The sEMG paper's preprocessing sweep (Ergeneci et al., Sec. III-A, Fig. 3).

The base DL model is trained on all seven classes (the task set C-bar, as
for Table IV) while the frame size N, the overlap L and the downsampling
rate vary one at a time around the paper's choice (N = 128, L = 96, rate 4;
weighted F1 83 % there). `run(key, config, data)` returns records, one per
reported number; `experiments/semg_preprocessing_sweep.py` loads the raw
recordings, calls it and writes the run folder. It reports; it changes no
setting of the main experiment (`fewshot.protocols.semg`).

Protocol (every choice here, none of them the paper's words):
- Each setting's features come from the caller (`run`'s `preprocess`; the
  script passes `signals.semg.sweep.setting_features`: the jitted SampEn
  chain, computed once per setting and cached in the run folder).
- Splits, standardisation, model, training and scoring are Table IV's
  (`fewshot.protocols.semg`: `prepare`, `classifier_stage`, `train_runs`,
  `test_f1`, imported): per seed the Table III split of ('split', s), the
  same for every setting; every setting's runs have the same keys (stage
  name 'fig3'), so settings differ only by their features.
- Each seed's model is scored with the weighted F1 on its validation split
  and on its test split; median and IQR over seeds.
- The best setting is the one with the highest median validation F1 over
  every setting trained (ties: the earlier in the sweep order, the paper's
  setting first); its test F1 is reported beside it. Test F1 is reported for
  every setting; nothing is selected on it.
- The Savitzky-Golay window (paper: 51) must fit the SampEn sequence of a
  setting (frames >= window). With `savgol_rule='skip'` a setting where it
  does not is not trained and is reported in table 'fig3_skipped' (its
  frame count); with 'scale' the window becomes the largest odd number not
  above the frame count (kept above the polynomial order), and the row's
  label names it (`signals.semg.sweep.savgol_window`).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from evaluation import checks
from evaluation import records as records_lib
from evaluation import reports
from fewshot import trainer
from fewshot.models import semg as models
from fewshot.protocols import semg as table4_protocol

PANELS = ('N', 'L', 'rate')  # Fig. 3's three panels: frame size, overlap, downsampling rate
PAPER = {'N': 128, 'L': 96, 'rate': 4}  # Sec. II-B


@dataclasses.dataclass(frozen=True)
class Config:
  """Everything that changes the numbers of a sweep.

  Attributes:
    seed: root seed.
    num_seeds: runs (split and initialisation) per setting (paper: 10).
    subjects, recordings_per_class: size of the synthetic default data.
    frame_sizes: N values of the first panel (overlap and rate the paper's).
    overlaps: L values of the second panel (N and rate the paper's).
    rates: downsampling rates of the third panel (N and L the paper's).
    paper: (N, L, rate) every panel varies around (paper: 128, 96, 4).
    savgol_window, savgol_order: the Savitzky-Golay filter (paper: 51, 3).
    savgol_rule: 'skip' or 'scale' a setting whose SampEn sequence is
      shorter than the window (module docstring).
    sampen_m, sampen_r: SampEn template length and relative tolerance.
    hidden, fc: the base DL model (Table I; `fewshot.protocols.semg.make_model`).
    fit: its training; steps per epoch: one pass over the training split;
      early stopping on the seed's C1-C7 validation split.
  """

  seed: int = 0
  num_seeds: int = 10
  subjects: int = 15
  recordings_per_class: int = 10
  frame_sizes: tuple[int, ...] = (112, 128, 192, 256, 512)
  overlaps: tuple[int, ...] = (0, 32, 64, 96, 112)
  rates: tuple[int, ...] = (1, 2, 4, 8, 16)
  paper: tuple[int, ...] = (PAPER['N'], PAPER['L'], PAPER['rate'])
  savgol_window: int = 51
  savgol_order: int = 3
  savgol_rule: str = 'skip'
  sampen_m: int = 2
  sampen_r: float = 0.25
  hidden: tuple[int, ...] = models.PAPER_HIDDEN
  fc: tuple[int, ...] = models.PAPER_FC
  fit: trainer.FitConfig = trainer.FitConfig(
    num_epochs=100, batch_size=32, patience=10, smoothing=0.5
  )

  def __post_init__(self):
    checks.check_int('Config.num_seeds', self.num_seeds)
    if len(self.paper) != 3:
      raise ValueError(f'Config.paper is (N, L, rate), got {self.paper}')
    for name in ('frame_sizes', 'overlaps', 'rates', 'hidden', 'fc'):
      if not getattr(self, name):
        raise ValueError(f'Config.{name} must not be empty.')
    # Checked here so a bad value fails before any training (signals.semg.sweep.SAVGOL_RULES).
    checks.check_choice('Config.savgol_rule', self.savgol_rule, ('skip', 'scale'))
    for n in (*self.overlaps, self.paper[1]):
      checks.check_int('Config overlaps', n, low=0)
    for name in ('frame_sizes', 'rates', 'hidden', 'fc'):
      for v in getattr(self, name):
        checks.check_int(f'Config.{name} entries', v)
    checks.check_int('Config.paper N', self.paper[0])
    checks.check_int('Config.paper rate', self.paper[2])
    for setting in settings(self):
      if setting.overlap >= setting.size:
        raise ValueError(
          f'overlap L={setting.overlap} must be smaller than the frame size N={setting.size}'
        )


class Setting(NamedTuple):
  """One point of the sweep: frame size N, overlap L (hop N - L), downsampling rate."""

  size: int
  overlap: int
  rate: int

  @property
  def hop(self) -> int:
    return self.size - self.overlap

  @property
  def label(self) -> str:
    return f'N={self.size} L={self.overlap} rate={self.rate}'

  def value(self, panel: str) -> int:
    return {'N': self.size, 'L': self.overlap, 'rate': self.rate}[panel]


def settings(cfg: Config) -> list[Setting]:
  """The distinct settings of the three panels, the paper's first (it sits in all three)."""
  n0, l0, r0 = cfg.paper
  out = [Setting(n0, l0, r0)]
  out += [Setting(n, l0, r0) for n in cfg.frame_sizes]
  out += [Setting(n0, lv, r0) for lv in cfg.overlaps]
  out += [Setting(n0, l0, r) for r in cfg.rates]
  return list(dict.fromkeys(out))


def panel_settings(cfg: Config, panel: str) -> list[Setting]:
  """The settings of one panel of Fig. 3, in increasing order of its parameter."""
  checks.check_choice('panel', panel, PANELS)
  n0, l0, r0 = cfg.paper
  values = {'N': cfg.frame_sizes, 'L': cfg.overlaps, 'rate': cfg.rates}[panel]
  paper = {'N': n0, 'L': l0, 'rate': r0}[panel]
  make = {
    'N': lambda v: Setting(v, l0, r0),
    'L': lambda v: Setting(n0, v, r0),
    'rate': lambda v: Setting(n0, l0, v),
  }[panel]
  return [make(v) for v in sorted(set(values) | {paper})]


def _table4_config(cfg: Config) -> table4_protocol.Config:
  return table4_protocol.Config(
    seed=cfg.seed,
    num_seeds=cfg.num_seeds,
    hidden=cfg.hidden,
    fc=cfg.fc,
    base_fit=cfg.fit,
    table6=('AdaBatch',),  # unused here; the default needs three BiLSTM layers
  )


def setting_scores(key, cfg: Config, features, labels) -> tuple[np.ndarray, np.ndarray]:
  """Validation and test weighted F1 (C1-C7) of each seed's base model on one setting's features.

  Table IV's protocol (`fewshot.protocols.semg.prepare` and its stage): the
  per-seed Table III split of ('split', s), standardised per seed, the
  Table I classifier trained with early stopping on the seed's validation
  split; run keys from ('fig3', s), the same for every setting.

  Args:
    key: the sweep's root key.
    cfg: the sweep's `Config`.
    features: [n, 2, T] one setting's features.
    labels: [n] int labels 0..6.

  Returns:
    ([R] validation F1, [R] test F1).
  """
  pcfg = _table4_config(cfg)
  ctx = table4_protocol.prepare(key, pcfg, features, labels)
  split = table4_protocol.seed_split(ctx, ctx.y_all)
  fit = table4_protocol.one_pass(cfg.fit, split.train_idx.shape[1])
  model = table4_protocol.make_model(pcfg, 'bilstm', num_classes=7)
  stage = table4_protocol.classifier_stage(model, fit)
  fs = table4_protocol.train_runs(
    ctx, 'fig3', stage, fit, ctx.y_all, split, table4_protocol.seed_runs(ctx)
  )

  def scores(part):
    idx = np.stack(
      [
        table4_protocol.rows(ctx, i, table4_protocol.restrict(getattr(s, part), ctx.y_all))
        for i, s in enumerate(ctx.splits)
      ]
    )
    return table4_protocol.test_f1(model, fs, ctx.x, ctx.y_all, idx, 7)

  return scores('val'), scores('test')


def best_setting(val_medians: dict[str, float]) -> str:
  """The label with the highest median validation F1; ties go to the earlier label.

  Args:
    val_medians: {setting label: median validation F1}, in sweep order.
  """
  if not val_medians:
    raise ValueError('no setting was trained: nothing to select')
  best = None
  for label, value in val_medians.items():
    if not np.isfinite(value):
      raise ValueError(f'{label}: median validation F1 is {value}')
    if best is None or value > val_medians[best]:
      best = label
  return best


def row_label(cfg: Config, setting: Setting, window: int | None) -> str:
  """A setting's row name; a scaled Savitzky-Golay window is named in it."""
  label = setting.label
  if window is not None and window != cfg.savgol_window:
    label += f' (Savitzky-Golay window {window})'
  return label


def _wording(cfg: Config, n_settings: int) -> dict:
  over = f'median and IQR over {cfg.num_seeds} seeds'
  f1 = lambda part: (
    f"weighted F1 (C1-C7) of each seed's base DL model on that seed's {part} split; {over}"
  )
  stop = "epochs: early stopping on the seed's C1-C7 validation split"
  return {
    'validation F1': (f1('validation'), stop + ' (the split this column scores)'),
    'test F1': (f1('test'), stop + '; the setting is a point of the fixed grid, not selected'),
    'best': (
      f1('test'),
      f'setting: the highest median validation F1 of the {n_settings} settings trained; ' + stop,
    ),
    'best_val': (
      f1('validation'),
      f'setting: the highest median validation F1 of the {n_settings} settings trained '
      '(this number chose it); ' + stop,
    ),
    'skipped': (
      'length of the SampEn sequence (frames) of the setting; not trained: the '
      f'Savitzky-Golay window of {cfg.savgol_window} (order {cfg.savgol_order}) does not fit',
      'none: a fact of the setting',
    ),
  }


class Results(NamedTuple):
  """What `run` returns.

  Attributes:
    records: tables 'fig3' (every trained setting: validation and test F1),
      'fig3_best' (the setting chosen on validation, its test and validation
      F1) and 'fig3_skipped' (settings not trained, with their frame count).
    timings: wall seconds: 'features_s' and 'training_s' over all settings.
    raw: {'settings': [per setting: label, row, N, L, hop, rate, frames,
      window, steps, trained]}, {'val': {row: [R]}, 'test': {row: [R]}},
      'best': the best row.
  """

  records: list
  timings: dict
  raw: dict


def run(key, config: Config, data, *, progress: Callable[[int], None] | None = None) -> Results:
  """Fig. 3: every setting of the three panels, scored on validation and test.

  Args:
    key: the sweep's root key (splits from ('split', s), runs from ('fig3', s)).
    config: the sweep's `Config`.
    data: `(preprocess, labels)`: `preprocess(setting)` returns the setting's
      `(frames, window, features)` (`signals.semg.sweep.setting_features`:
      SampEn frame count, Savitzky-Golay window used or None when none fits,
      [n, 2, T'] features or None), and [n] int labels 0..6.
    progress: called with 1 after each setting, or None.

  Returns:
    `Results`.
  """
  preprocess, labels = data
  val, test, info = {}, {}, []
  t_feat = t_train = 0.0
  for s in settings(config):
    t = time.perf_counter()
    frames, window, features = preprocess(s)
    t_feat += time.perf_counter() - t
    row = row_label(config, s, window)
    trained = features is not None
    info.append({
      'label': s.label, 'row': row, 'N': s.size, 'L': s.overlap, 'hop': s.hop, 'rate': s.rate,
      'frames': int(frames), 'window': window,
      'steps': int(features.shape[-1]) if trained else 0, 'trained': trained,
    })  # fmt: skip
    if trained:
      t = time.perf_counter()
      val[row], test[row] = setting_scores(key, config, jnp.asarray(features), labels)
      t_train += time.perf_counter() - t
    if progress is not None:
      progress(1)
  best = best_setting({row: float(np.median(v)) for row, v in val.items()})
  raw = {'settings': info, 'val': val, 'test': test, 'best': best}
  return Results(table_records(config, raw), {'features_s': t_feat, 'training_s': t_train}, raw)


def table_records(cfg: Config, raw: dict) -> list[records_lib.Record]:
  """Records of Fig. 3 (`Results.records`) from the raw per-seed scores."""
  wording = _wording(cfg, len(raw['val']))
  out = []
  for column, part in (('validation F1', 'val'), ('test F1', 'test')):
    summary = reports.summarize({row: {column: v} for row, v in raw[part].items()})
    est, sel = wording[column]
    out += records_lib.from_summary('fig3', summary, estimator=est, selection=sel)
  best = raw['best']
  for column, part, words in (('test F1', 'test', 'best'), ('validation F1', 'val', 'best_val')):
    summary = reports.summarize({best: {column: raw[part][best]}})
    est, sel = wording[words]
    out += records_lib.from_summary('fig3_best', summary, estimator=est, selection=sel)
  est, sel = wording['skipped']
  for item in raw['settings']:
    if not item['trained']:
      out.append(
        records_lib.record(
          'fig3_skipped', item['row'], 'SampEn frames', item['frames'], estimator=est, selection=sel
        )
      )
  return out
