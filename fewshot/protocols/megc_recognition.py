"""MEGC 2019 recognition (section III, Table IV): the seven methods under composite-database LOSO.

Composite Database Evaluation (CDE): the clips of SMIC, CASME II and SAMM
with their emotions mapped to negative / positive / surprise form one set
(`evaluation.megc.composite_database`); leave-one-subject-out over all its
subjects (68 in the paper). Every held-out subject's clips are predicted by
the model trained on all other subjects, so each clip gets exactly one
prediction; UF1 and UAR pool TP / FP / FN over all folds (eq. 3-5), which
equals scoring the concatenated predictions (`scores_by_database`, Table IV's
Full / SMIC / CASME II / SAMM columns).

Networks (STSTNet, OFF-ApexNet, Dual-Inception; `fewshot.models.megc`) train
on the library's trainer with the LOSO folds as runs: one `trainer.Split` per
fold (training subjects / held-out subject) and `trainer.fit_runs`, which
trains the folds as one program: vmapped, or mapped one after another
(`lax.map`), as `fold_layout` picks for the backend, with native or patch
convolutions (`layers.PatchConv`; the same variables and results up to float
rounding either way). Training is a fixed number of epochs of Adam on the masked
cross-entropy, without validation: LOSO leaves no validation subject, and
the released implementations also train a fixed schedule (STSTNet: Adam,
5e-5, batches of 256, 800 epochs). The held-out subject is used only for the
predictions after training.

The hand-crafted baseline, LBP-TOP [25] with a linear SVM (scikit-learn's
`LinearSVC`), uses the same folds; the SVM runs on the host, fold by fold.
Bi-WOOF [20] (`vision.biwoof_features` of the onset-to-apex flow and strain)
goes through the same SVM code with its own `SVMConfig`. CapsuleNet [19]
(`fewshot.models.megc_capsule`, the apex face) trains on the trainer like
the other networks (`cde_capsule`: margin loss, Adam with the authors'
per-epoch decay, a fixed schedule, no validation); its backbone starts from scratch
or from ResNet18 weights in a NumPy archive (`CapsuleConfig.resnet_weights`),
and its records' selection says which. EMR [16] (`fewshot.models.emr`,
`cde_emr`) trains on the trainer too, on magnified micro-expression flows
and reduced macro-expression flows together (synthetic macro-expressions by
default, CK+ when given; a fold leaves out its held-out subject's macro
clips), with a gradient-reversal domain classifier.

Table III: with `Config.clip_list` (STSTNet's 442-clip list,
`evaluation.megc.read_clip_list`) the composite database keeps only the
listed clips; every run reports the composite's counts per database and
class and its subjects against the paper's Table III (records of tables
'III' and 'III difference'; `Results.check` names the missing and extra
clips), and `Config.require_table_iii` makes any difference an error.

The clips' inputs (faces, onset-to-apex flow and strain, LBP-TOP) are
preprocessing: the experiment script computes them with `vision` and passes
them in as `Inputs`; `run` trains and scores.

Keys: each method's key is `named_key(key, method)`; a network's fold f
initialises from `named_key(method_key, 'init', subject)` and trains from
`named_key(method_key, 'fit', subject)` (subject: the held-out
'DATABASE/subject'), so no fold's result depends on the others or on the
order of the methods.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from evaluation import checks
from evaluation import megc as megc_eval
from evaluation import records as records_lib
from evaluation.keys import named_key
from evaluation.keys import numpy_rng
from fewshot import timing
from fewshot import trainer
from fewshot.models import emr as emr_models
from fewshot.models import megc as megc_models
from fewshot.models import megc_capsule
from fewshot.models.layers import CONV_KINDS

NETWORKS = tuple(megc_models.MODELS)  # STSTNet, OFF-ApexNet, Dual-Inception
# Table IV's rows in the paper's order: the baselines LBP-TOP [25] and Bi-WOOF [20]
# (hand-crafted, linear SVM), OFF-ApexNet [26], Quang et al.'s CapsuleNet [19] (apex
# frame), Zhou et al.'s Dual-Inception [18], Liong et al.'s STSTNet [17] and Liu et
# al.'s EMR [16] (trained against macro-expressions: `cde_emr`, `EMRConfig`).
METHODS = ('LBP-TOP', 'Bi-WOOF', 'OFF-ApexNet', 'CapsuleNet', 'Dual-Inception', 'STSTNet', 'EMR')
# Config field of each network's training settings.
NETWORK_FIELDS = {
  'STSTNet': 'ststnet',
  'OFF-ApexNet': 'off_apexnet',
  'Dual-Inception': 'dual_inception',
}
COLUMNS = ('Full', 'SMIC', 'CASME II', 'SAMM')
TABLE = 'IV'


# The convolution kind that trains each network fastest on XLA:CPU with its
# folds mapped one after another (`experiments/bench/megc_conv.py`, 11 folds
# x 32 clips, docs/performance.md): native convolutions for STSTNet and
# Dual-Inception; the patch form for OFF-ApexNet, EMR and CapsuleNet, whose
# native convolutions (strided ones, and single-channel ones) XLA:CPU trains
# several times slower inside the epoch loop.
CPU_CONV = {
  'STSTNet': 'native',
  'OFF-ApexNet': 'patch',
  'Dual-Inception': 'native',
  'CapsuleNet': 'patch',
  'EMR': 'patch',
}


def fold_layout(
  runs_as: str = 'auto', conv: str = 'auto', backend: str | None = None, network: str | None = None
):
  """`(runs_as, conv)`: how LOSO folds train and predict, with 'auto' resolved for the backend.

  Measured on a 2-core CPU (`experiments/bench/megc_conv.py`,
  docs/performance.md): vmapped folds turn each native convolution into a
  grouped one (a kernel per fold), which XLA:CPU runs slowly; the folds
  mapped one after another inside the program ('map') train fastest there,
  with the convolution kind `CPU_CONV` names per network. On GPU and TPU:
  vmapped folds with native convolutions (unmeasured here: no accelerator
  was at hand). An 'auto' `conv` next to a given `runs_as` is 'patch' for
  vmapped folds on CPU, `CPU_CONV[network]` for other layouts on CPU
  ('native' without a network), 'native' elsewhere.

  Args:
    runs_as: 'auto' or one of `trainer.RUNS_AS` ('vmap', 'map', 'loop').
    conv: 'auto' or one of `layers.CONV_KINDS` ('native', 'patch').
    backend: 'cpu', 'gpu', 'tpu', ...; None: `jax.default_backend()`.
    network: a `CPU_CONV` name, or None.

  Returns:
    `(runs_as, conv)` without 'auto'.
  """
  checks.check_choice('runs_as', runs_as, ('auto',) + trainer.RUNS_AS)
  checks.check_choice('conv', conv, ('auto',) + CONV_KINDS)
  if network is not None:
    checks.check_choice('network', network, tuple(CPU_CONV))
  cpu = (backend or jax.default_backend()) == 'cpu'
  if runs_as == 'auto':
    runs_as = 'map' if cpu else 'vmap'
  if conv == 'auto':
    if not cpu:
      conv = 'native'
    elif runs_as == 'vmap':
      conv = 'patch'
    else:
      conv = CPU_CONV.get(network, 'native')
  return runs_as, conv


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
  """Training of one Table IV network under CDE LOSO.

  Attributes:
    fit: epochs, batch size and Adam learning rate (no validation, so
      `patience` and `monitor` play no part).
    runs_as: the folds as one vmapped program ('vmap'), one program mapping
      them one after another ('map'), a Python loop of the one-fold program
      ('loop'), or 'auto': what `fold_layout` picks for the backend. Same
      results up to float rounding.
    conv: the convolutions 'native', as 'patch' matmuls, or 'auto'
      (`fold_layout`); the same variables and results up to float rounding.
    eval_chunk: at most this many clips per forward pass when predicting
      (a memory cap: a fold's test clips go in as few equal chunks as fit).
  """

  fit: trainer.FitConfig = trainer.FitConfig(num_epochs=800, batch_size=256, learning_rate=5e-5)
  runs_as: str = 'auto'
  conv: str = 'auto'
  eval_chunk: int = 256

  def __post_init__(self):
    checks.check_int('eval_chunk', self.eval_chunk)
    fold_layout(self.runs_as, self.conv)


@dataclasses.dataclass(frozen=True)
class SVMConfig:
  """The linear SVM of the LBP-TOP baseline (scikit-learn `LinearSVC`).

  Features are standardised with the mean and deviation of each fold's
  training clips (scikit-learn `StandardScaler`): raw LBP-TOP histogram bins
  are small numbers of very different spread, on which the SVM solver
  converges slowly.

  Attributes:
    c: regularisation C.
    class_weight: None (scikit-learn's default) or 'balanced'.
    max_iter: solver iterations.
  """

  c: float = 1.0
  class_weight: str | None = None
  max_iter: int = 10_000


@dataclasses.dataclass(frozen=True)
class CapsuleConfig:
  """CapsuleNet [19] under CDE LOSO (`fewshot.models.megc_capsule`).

  The defaults are the authors' released setting (`train_me_loso.py`):
  224 x 224 apex frames, ResNet18 to layer3 (width 64), 9 x 9 capsule
  convolutions, Adam at 1e-4 decayed by 0.9 per epoch, batches of 32, 30
  epochs. Their script keeps the epoch with the best held-out UF1 per
  subject; here, as for every network, the last epoch's model is scored.

  Attributes:
    fit: epochs, batch size, learning rate.
    lr_decay: the learning rate is multiplied by this after every epoch
      (1.0: constant).
    size: side of the apex face crops.
    width, caps_kernel: `CapsuleNet` sizes (64 and 9 are the released ones).
    resnet_weights: path of a .npz archive of torchvision ResNet18 weights
      (`megc_capsule.resnet18_keys`) to start the backbone from, or None to
      train it from scratch (ImageNet weights cannot be fetched here).
    runs_as, conv, eval_chunk: as `NetworkConfig`.
  """

  fit: trainer.FitConfig = trainer.FitConfig(num_epochs=30, batch_size=32, learning_rate=1e-4)
  lr_decay: float = 0.9
  size: int = 224
  width: int = 64
  caps_kernel: int = 9
  resnet_weights: str | None = None
  runs_as: str = 'auto'
  conv: str = 'auto'
  eval_chunk: int = 32

  def __post_init__(self):
    for name in ('size', 'width', 'caps_kernel', 'eval_chunk'):
      checks.check_int(f'CapsuleConfig.{name}', getattr(self, name))
    fold_layout(self.runs_as, self.conv)
    if not 0.0 < self.lr_decay <= 1.0:
      raise ValueError(f'CapsuleConfig.lr_decay must lie in (0, 1], got {self.lr_decay}.')
    if self.resnet_weights is not None and self.width != 64:
      raise ValueError(
        f'ResNet18 weights need CapsuleConfig.width = 64 (ResNet18 channels), got {self.width} '
        '(the quick setting: --set capsule.width=64 before capsule.resnet_weights).'
      )

  def model(
    self, num_classes: int = len(megc_eval.MEGC_CLASSES), conv: str = 'patch'
  ) -> megc_capsule.CapsuleNet:
    return megc_capsule.CapsuleNet(num_classes, self.width, self.caps_kernel, conv=conv)


@dataclasses.dataclass(frozen=True)
class EMRConfig:
  """EMR (Liu et al. [16]): its inputs, its macro-expression source and its training.

  Attributes:
    fit: epochs, batch size and Adam learning rate (fixed schedule, no
      validation, as the other networks; the authors' code: Adam 1e-3,
      batches of 32, 100 epochs); every epoch passes over the fold's
      micro-expression clips and the macro-expression clips together.
    runs_as, conv, eval_chunk: as `NetworkConfig`.
    grl_weight: lambda of the gradient reversal layer (the domain loss's
      gradient reaches the features times -lambda).
    magnify: Eulerian factor alpha of the micro-expressions (> 0: motion
      times 1 + alpha; `vision.megc.emr.eulerian_magnify`).
    macro_apex: 'middle' (the authors' reduction: a macro clip's middle
      frame is its apex, `vision.megc.emr.middle_frame_apex`) or 'peak'
      (its annotated apex, the last frame of a CK+ sequence).
    reduce: Eulerian factor alpha of the macro-expressions (in (-1, 0]:
      motion times 1 + alpha; 0, the default, as the authors' code: no
      Eulerian reduction on top of the middle frame).
    sigma: the magnification's spatial low-pass (pixels of the face crop).
    flow_method: 'farneback-authors' (Farneback with the authors' settings,
      `vision.megc.emr.AUTHORS_FARNEBACK`), 'tvl1' or 'farneback'.
    macro_clips: synthetic macro-expression clips per source face and class
      (`vision.megc.synthetic.synthetic_macro_expressions`; unused with CK+).
    ckplus: the CK+ folder (`vision.megc.ckplus.load_ckplus`; the paper's
      source), or None for the synthetic macro-expressions.
  """

  fit: trainer.FitConfig = trainer.FitConfig(num_epochs=100, batch_size=32, learning_rate=1e-3)
  runs_as: str = 'auto'
  conv: str = 'auto'
  eval_chunk: int = 256
  grl_weight: float = 1.0
  magnify: float = 1.0
  macro_apex: str = 'middle'
  reduce: float = 0.0
  sigma: float = 1.0
  flow_method: str = 'farneback-authors'
  macro_clips: int = 2
  ckplus: str | None = None

  def __post_init__(self):
    checks.check_int('eval_chunk', self.eval_chunk)
    fold_layout(self.runs_as, self.conv)
    checks.check_choice('macro_apex', self.macro_apex, ('middle', 'peak'))
    checks.check_choice('flow_method', self.flow_method, ('farneback-authors', 'tvl1', 'farneback'))
    checks.check_int('macro_clips', self.macro_clips)
    checks.check_positive_float('grl_weight', self.grl_weight, True)
    checks.check_positive_float('magnify', self.magnify, True)
    if not -1 < float(self.reduce) <= 0:
      raise ValueError(f'EMRConfig.reduce must lie in (-1, 0], got {self.reduce}.')
    checks.check_positive_float('sigma', self.sigma, True)

  @property
  def macro_source(self) -> str:
    """The macro-expression source in words."""
    if self.ckplus is not None:
      return f'CK+ ({self.ckplus})'
    return f'synthetic macro-expressions ({self.macro_clips} per source face and class)'


@dataclasses.dataclass(frozen=True)
class Config:
  """Everything that changes the numbers of a recognition run.

  Attributes:
    seed: root seed (the synthetic clips; every method's key by name).
    clips_per_subject: ((MEGC class or 'omitted', clips), ...) per source face.
    subjects: source faces per synthetic database (None: all 11).
    face_size: side of the face crops the flow is computed on.
    flow_method: 'tvl1' or 'farneback'.
    align: 'box' or 'landmarks' (`vision.face_clip`).
    workers: flow processes (None: every CPU).
    lbp_face_size, lbp_grid, lbp_radii: LBP-TOP face side, blocks, (R_x, R_y, R_t).
    methods: Table IV rows to run (`METHODS`).
    ststnet, off_apexnet, dual_inception: each network's `NetworkConfig`.
    svm: the LBP-TOP baseline's linear SVM.
    clip_list: path of a clip-name list as STSTNet's authors distributed
      the 442 clips (`video442Names.txt`, one '<subject>_<clip>' a line);
      the composite database keeps only the listed clips. None: every clip
      with a mapped emotion.
    require_table_iii: raise when the composite database differs from Table
      III (counts, or with a list, missing, extra or unlabelled clips).
    databases: the databases of the composite ('SMIC', 'CASME II', 'SAMM';
      default all three): with real data each one must be found (the
      experiment script's loader raises naming what it searched), and clips
      of the others are left out.
    biwoof_grid, biwoof_bins: Bi-WOOF's blocks and orientation bins (5 x 5,
      8: the authors' `biwoof.m`; `vision.biwoof_features`).
    biwoof_svm: Bi-WOOF's linear SVM (the same `SVMConfig` and fold handling
      as LBP-TOP's).
    capsule: CapsuleNet's `CapsuleConfig` (apex size, architecture sizes,
      schedule, optional ResNet18 weights).
    emr: EMR's inputs, macro-expression source and training (`EMRConfig`).

  Sources of the settings (docs/megc2019.md has the full table):
  `clips_per_subject`, `subjects`, `face_size` and the quick schedules are
  this library's choices for its synthetic data. `lbp_grid` (5 x 5 blocks)
  follows the CASME II baseline as this library's notes cite it; P = 8
  (`vision.lbp_top_features`), `lbp_radii` (1, 1, 2) and `lbp_face_size`
  (64) are this library's choices (the paper's LBP-TOP settings could not be
  checked here). STSTNet's schedule (Adam 5e-5, batches of 256, 800 epochs)
  is its authors' `main.py`; the OFF-ApexNet and Dual-Inception schedules and
  the SVM's C = 1 are this library's choices. Bi-WOOF's 5 x 5 blocks and 8
  bins are its authors' `biwoof.m`; CapsuleNet's sizes and schedule are its
  authors' released code (`CapsuleConfig`).
  """

  seed: int = 0
  clips_per_subject: tuple = (('negative', 6), ('positive', 3), ('surprise', 2), ('omitted', 1))
  subjects: int | None = None
  face_size: int = 112
  flow_method: str = 'tvl1'
  align: str = 'box'
  workers: int | None = None
  lbp_face_size: int = 64
  lbp_grid: tuple = (5, 5)
  lbp_radii: tuple = (1.0, 1.0, 2.0)
  methods: tuple = METHODS
  ststnet: NetworkConfig = NetworkConfig(
    trainer.FitConfig(num_epochs=800, batch_size=256, learning_rate=5e-5)
  )
  off_apexnet: NetworkConfig = NetworkConfig(
    trainer.FitConfig(num_epochs=300, batch_size=256, learning_rate=1e-4)
  )
  dual_inception: NetworkConfig = NetworkConfig(
    trainer.FitConfig(num_epochs=300, batch_size=256, learning_rate=1e-4)
  )
  svm: SVMConfig = SVMConfig()
  clip_list: str | None = None
  require_table_iii: bool = False
  databases: tuple = megc_eval.DATABASES
  biwoof_grid: tuple = (5, 5)
  biwoof_bins: int = 8
  biwoof_svm: SVMConfig = SVMConfig()
  capsule: CapsuleConfig = CapsuleConfig()
  emr: EMRConfig = EMRConfig()

  def __post_init__(self):
    for m in self.methods:
      checks.check_choice('methods', m, METHODS)
    if not self.databases:
      raise ValueError('databases: name at least one of ' + str(megc_eval.DATABASES))
    for d in self.databases:
      checks.check_choice('databases', d, megc_eval.DATABASES)

  def network(self, name: str) -> NetworkConfig:
    """The `NetworkConfig` of network `name`."""
    return getattr(self, NETWORK_FIELDS[checks.check_choice('network', name, NETWORKS)])


class Inputs(NamedTuple):
  """The preprocessed clips (`vision.recognition_inputs`, `vision.lbp_top_features`).

  Attributes:
    ststnet: [N, 28, 28, 3] float32 onset-to-apex u, v and optical strain.
    offapex: [N, 28, 28, 2] float32 onset-to-apex u, v (OFF-ApexNet, Dual-Inception).
    lbp_top: [N, D] LBP-TOP descriptors.
    database: [N] str database of each clip ('SMIC', 'CASME II', 'SAMM').
    subject: [N] str subject within its database.
    emotion: [N] str the database's emotion label (mapped to the MEGC classes here).
    name: [N] str clip folder names (needed with `Config.clip_list`), or None.
    rows: [M] int: the clips (indices into the N) whose inputs `ststnet`,
      `offapex` and `lbp_top` hold, in their order, when these were computed
      only for the clips the composite keeps (`kept_clips`); None: one row
      per clip. The metadata covers all N clips so that Table III's check
      can name the clips left out.
    biwoof: [M or N, D] Bi-WOOF descriptors (`vision.biwoof_features`; rows
      as `lbp_top`), or None when no run asks for 'Bi-WOOF'.
    apex: [M or N, S, S, 1] float32 grey apex faces in [0, 1]
      (`vision.apex_inputs`; rows as `lbp_top`), or None when no run asks
      for 'CapsuleNet'.
    emr: [M, 28, 28, 2] float32 EMR's flows of the same rows as `ststnet`,
      onset to the magnified apex (`vision.megc.emr.emr_inputs`), or None
      (then EMR cannot run).
    macro_emr: [K, 28, 28, 2] float32 flows of the macro-expression clips,
      onset to the reduced apex, or None.
    macro_label: [K] int MEGC class of each macro-expression clip.
    macro_subject: [K] str 'DATABASE/subject' of each macro-expression
      clip: a fold leaves out the macro clips of its held-out subject
      (synthetic macro clips share the micro clips' faces; CK+'s subjects
      are 'CK+/S005' and are never held out).
  """

  ststnet: np.ndarray
  offapex: np.ndarray
  lbp_top: np.ndarray
  database: np.ndarray
  subject: np.ndarray
  emotion: np.ndarray
  name: np.ndarray | None = None
  rows: np.ndarray | None = None
  biwoof: np.ndarray | None = None
  apex: np.ndarray | None = None
  emr: np.ndarray | None = None
  macro_emr: np.ndarray | None = None
  macro_label: np.ndarray | None = None
  macro_subject: np.ndarray | None = None


# The `Inputs` fields EMR needs (`cde_emr`).
EMR_INPUTS = ('emr', 'macro_emr', 'macro_label', 'macro_subject')


class CDEResult(NamedTuple):
  """Held-out predictions of one method over all LOSO folds.

  y_true, y_pred: [n] MEGC labels of the composite database's clips, in its order.
  scores: `evaluation.megc.scores_by_database` (Full, SMIC, CASME II, SAMM).
  fold_of: [n] index of the fold that held each clip out.
  """

  y_true: np.ndarray
  y_pred: np.ndarray
  scores: dict
  fold_of: np.ndarray


class Results(NamedTuple):
  """What `run` returns.

  Attributes:
    records: Table IV, one record per method x column (UF1, UAR per database).
    timings: the times of each method (`fewshot.timing.stage` dicts).
    confusion: {method: [3, 3] int} pooled confusion matrix of the Full column.
    predictions: {method: [n] int} held-out prediction of every composite clip.
    composite: the `evaluation.megc.CompositeDatabase` the folds came from.
    check: `evaluation.megc.CompositeCheck`: its counts against Table III and
      every difference (missing, extra, unlabelled clips; count deltas).
  """

  records: list
  timings: dict
  confusion: dict
  predictions: dict
  composite: megc_eval.CompositeDatabase
  check: megc_eval.CompositeCheck


def make_model(config: Config, name: str, *, num_classes: int = len(megc_eval.MEGC_CLASSES)):
  """The Table IV network `name` ('STSTNet', 'OFF-ApexNet', 'Dual-Inception').

  The architectures are the published ones (`fewshot.models.megc`); `config`
  sets nothing of them, it is taken for the one `make_model` signature.
  """
  del config
  return megc_models.network(checks.check_choice('name', name, NETWORKS), num_classes)


def _fold_rows(comp: megc_eval.CompositeDatabase):
  train = [f.train for f in comp.folds]
  test = [f.test for f in comp.folds]
  fold_of = np.empty(len(comp.labels), np.int64)
  for i, t in enumerate(test):
    fold_of[t] = i
  return train, test, fold_of


def _fold_names(comp: megc_eval.CompositeDatabase) -> list[str]:
  """The held-out subject ('DATABASE/subject') of each fold: the fold's key name."""
  return [str(comp.subject[f.test[0]]) for f in comp.folds]


def _result(comp, y_pred, fold_of) -> CDEResult:
  scores = megc_eval.scores_by_database(comp.labels, y_pred, comp.database)
  return CDEResult(np.asarray(comp.labels), np.asarray(y_pred), scores, fold_of)


def _check_inputs(name: str, x, comp: megc_eval.CompositeDatabase, ndim: int):
  x = checks.check_array(name, x, ndim=ndim, kind='float')
  if len(x) <= int(np.max(comp.index)):
    raise ValueError(
      f'{name} has {len(x)} rows but the composite database indexes row {int(np.max(comp.index))}.'
    )
  if len(comp.folds) < 2:
    raise ValueError(f'LOSO needs at least 2 subjects, got {len(comp.folds)}.')
  return np.asarray(x)[comp.index]


# --------------------------------------------------------------- networks


def loss_fn(model):
  """Masked cross-entropy of a batch of clips; dropout from the step key."""

  def loss(params, batch_stats, key, batch: trainer.Batch):
    logits, batch_stats = trainer.apply_model(
      model, params, batch_stats, batch.data['x'], batch.mask, train=True, rngs={'dropout': key}
    )
    return trainer.cross_entropy_loss(logits, batch.data['y'], batch.mask), batch_stats

  return loss


def _variables(model, key, x):
  return model.init({'params': key, 'dropout': key}, x, jnp.ones(x.shape[:1], bool), train=False)


@functools.lru_cache(maxsize=16)
def _predictor(model, eval_chunk: int, runs_as: str = 'vmap') -> Callable:
  """`predict(fit_states [F], x, idx [F, n]) -> [F, n]` classes, jitted once per model.

  A fold's n test clips (n: the largest test fold, as `trainer.make_split`
  pads them) go through the model in the fewest equal chunks of at most
  `eval_chunk` clips (`trainer.row_chunks`: fewer than one padded clip per chunk);
  runs_as: the folds vmapped ('vmap') or one after another inside the
  program ('map' and 'loop', `lax.map`), as they trained (`fold_layout`).
  """

  def one_fold(fs, x, idx):
    n = idx.shape[0]
    chunks = trainer.row_chunks(idx, eval_chunk)

    def one(ix):
      logits, _ = trainer.apply_model(
        model, fs.train.params, fs.train.batch_stats, x[ix], None, train=False
      )
      return jnp.argmax(logits, axis=-1)

    return jax.lax.map(one, chunks).reshape(-1)[:n]

  if runs_as == 'vmap':
    return jax.jit(jax.vmap(one_fold, in_axes=(0, None, 0)))
  return jax.jit(lambda fs, x, idx: jax.lax.map(lambda a: one_fold(a[0], x, a[1]), (fs, idx)))


def _loso_fit_predict(
  key, what: str, model, stage, fit, data, example, comp, train, *, runs_as, eval_chunk
) -> CDEResult:
  """Trains one model per LOSO fold on `train` rows of `data` and predicts each held-out subject.

  Fold f initialises from `named_key(key, 'init', subject)` and trains from
  `named_key(key, 'fit', subject)` (module doc); `example` is what the model
  is initialised on; `runs_as` lays the folds out for training and
  prediction (`fold_layout`, `_predictor`).
  """
  _, test, fold_of = _fold_rows(comp)
  split = trainer.make_split(train, test, num_examples=len(data['x']))
  subjects = _fold_names(comp)
  init_keys = jnp.stack([named_key(key, 'init', s) for s in subjects])
  fit_keys = jnp.stack([named_key(key, 'fit', s) for s in subjects])
  fs = stage.init(init_keys, example)
  fs, _ = trainer.fit_runs(
    stage.fit, fs, fit_keys, data, split, num_epochs=fit.num_epochs, runs_as=runs_as
  )
  trainer.check_finite(fs, f'{what} CDE LOSO')
  predict = _predictor(model, eval_chunk, runs_as)
  with timing.phase('predict'):
    pred = np.asarray(predict(fs, data['x'], split.val_idx))  # (F, max_test)
  y_pred = np.empty(len(comp.labels), np.int64)
  for f, rows in enumerate(test):
    y_pred[rows] = pred[f, : len(rows)]
  return _result(comp, y_pred, fold_of)


def cde_network(
  key, name: str, x, comp: megc_eval.CompositeDatabase, cfg: NetworkConfig = NetworkConfig()
) -> CDEResult:
  """CDE LOSO of one network (module doc).

  Args:
    key: jax.random key; fold f's initialisation, shuffling and dropout come
      from keys named by its held-out subject (module doc).
    name: 'STSTNet', 'OFF-ApexNet' or 'Dual-Inception'.
    x: [N, 28, 28, C] float32 inputs of all clips (STSTNet: C = 3, the others
      2; `vision.recognition_inputs`); the composite database selects rows.
    comp: `evaluation.megc.composite_database(...)` of the same clips.
    cfg: NetworkConfig.

  Returns:
    CDEResult.
  """
  runs_as, conv = fold_layout(cfg.runs_as, cfg.conv, network=name)
  model = megc_models.network(checks.check_choice('name', name, NETWORKS), conv=conv)
  x = _check_inputs('x', x, comp, ndim=4)
  channels = megc_models.INPUT_CHANNELS[name]
  if x.shape[1:] != (28, 28, channels):
    raise ValueError(f'{name} takes [N, 28, 28, {channels}] inputs, got {x.shape}.')
  train, _, _ = _fold_rows(comp)
  data = {'x': jnp.asarray(x, jnp.float32), 'y': jnp.asarray(comp.labels, jnp.int32)}
  stage = trainer.make_stage(model, cfg.fit, loss_fn, variables=_variables)
  example = jnp.zeros((1, 28, 28, channels), jnp.float32)
  return _loso_fit_predict(
    key, name, model, stage, cfg.fit, data, example, comp, train,
    runs_as=runs_as, eval_chunk=cfg.eval_chunk,
  )  # fmt: skip


# ------------------------------------------------------------------ CapsuleNet


def capsule_loss_fn(model):
  """Masked margin loss of a batch of apex frames (`megc_capsule.margin_loss`)."""

  def loss(params, batch_stats, key, batch: trainer.Batch):
    del key  # no dropout
    lengths, batch_stats = trainer.apply_model(
      model, params, batch_stats, batch.data['x'], batch.mask, train=True
    )
    return megc_capsule.margin_loss(lengths, batch.data['y'], batch.mask), batch_stats

  return loss


# ------------------------------------------------------------------- EMR


def emr_loss_fn(model):
  """EMR's combined loss (DANN, [21]; the authors' code): the emotion
  cross-entropies of both parts together, of the top part and of the bottom
  part, over the micro and macro clips of the batch, plus the domain's binary
  cross-entropy through the gradient reversal layer (`fewshot.models.emr`);
  dropout from the step key."""

  def loss(params, batch_stats, key, batch: trainer.Batch):
    out, _ = trainer.apply_model(
      model, params, batch_stats, batch.data['x'], batch.mask, train=True, domain=True,
      rngs={'dropout': key},
    )  # fmt: skip
    y, mask = batch.data['y'], batch.mask
    emotion = sum(
      trainer.cross_entropy_loss(z, y, mask) for z in (out.emotion, out.top, out.bottom)
    )
    domain = optax.sigmoid_binary_cross_entropy(out.domain, batch.data['d'])
    return emotion + trainer.masked_mean(domain, mask), batch_stats

  return loss


@functools.lru_cache(maxsize=16)
def _capsule_tx(learning_rate: float, decay: float, steps_per_epoch: int):
  """Adam whose rate is multiplied by `decay` after every epoch (one object per setting)."""
  schedule = optax.exponential_decay(learning_rate, steps_per_epoch, decay, staircase=True)
  return optax.adam(schedule)


@functools.lru_cache(maxsize=4)
def _capsule_variables(weights: str | None):
  """`variables(model, key, x)` for `trainer.make_stage`: random, or the ResNet18 archive's backbone."""

  def variables(model, key, x):
    v = megc_capsule.init_variables(key, model, x)
    return v if weights is None else megc_capsule.load_resnet18(v, weights)

  return variables


def cde_capsule(
  key, x, comp: megc_eval.CompositeDatabase, cfg: CapsuleConfig = CapsuleConfig()
) -> CDEResult:
  """CDE LOSO of CapsuleNet [19] on apex frames, on the library trainer like `cde_network`.

  Args:
    key: jax.random key; fold f's initialisation and shuffling come from
      keys named by its held-out subject (module doc).
    x: [N, S, S, 1 or 3] float32 apex faces in [0, 1] (`vision.apex_inputs`),
      S = cfg.size; the composite database selects rows.
    comp: the composite database of the same clips.
    cfg: CapsuleConfig.

  Returns:
    CDEResult.
  """
  x = _check_inputs('apex', x, comp, ndim=4)
  if x.shape[1:3] != (cfg.size, cfg.size) or x.shape[-1] not in (1, 3):
    raise ValueError(
      f'CapsuleNet takes [N, {cfg.size}, {cfg.size}, 1 or 3] apex frames (CapsuleConfig.size), '
      f'got {x.shape}.'
    )
  runs_as, conv = fold_layout(cfg.runs_as, cfg.conv, network='CapsuleNet')
  model = cfg.model(conv=conv)
  train, _, _ = _fold_rows(comp)
  data = {'x': jnp.asarray(x, jnp.float32), 'y': jnp.asarray(comp.labels, jnp.int32)}
  tx = _capsule_tx(cfg.fit.learning_rate, cfg.lr_decay, cfg.fit.steps(max(len(t) for t in train)))
  stage = trainer.make_stage(
    model, cfg.fit, capsule_loss_fn, tx=tx, variables=_capsule_variables(cfg.resnet_weights)
  )
  example = jnp.zeros((1, *x.shape[1:]), jnp.float32)
  return _loso_fit_predict(
    key, 'CapsuleNet', model, stage, cfg.fit, data, example, comp, train,
    runs_as=runs_as, eval_chunk=cfg.eval_chunk,
  )  # fmt: skip


def _emr_variables(model, key, x):
  mask = jnp.ones(x.shape[:1], bool)
  return model.init({'params': key, 'dropout': key}, x, mask, train=False, domain=True)


def emr_training_rows(comp: megc_eval.CompositeDatabase, macro_subject) -> list[np.ndarray]:
  """Each fold's training rows of EMR's data (the composite's clips, then the K macro clips).

  Fold f trains on its training clips (`comp.folds[f].train`) and on every
  macro-expression clip whose 'DATABASE/subject' is not the held-out subject
  (row n + k for macro clip k, n the composite's clips).
  """
  n = len(comp.labels)
  macro_subject = np.asarray(macro_subject, str)
  held = _fold_names(comp)
  return [
    np.concatenate([np.asarray(f.train), n + np.flatnonzero(macro_subject != s)])
    for f, s in zip(comp.folds, held)
  ]


def cde_emr(
  key,
  x,
  comp: megc_eval.CompositeDatabase,
  macro_x,
  macro_label,
  macro_subject,
  cfg: EMRConfig = EMRConfig(),
) -> CDEResult:
  """CDE LOSO of EMR: every fold trains on its micro clips and the macro clips, adversarially.

  Args:
    key: jax.random key; fold f initialises from `named_key(key, 'init',
      subject)` and trains from `named_key(key, 'fit', subject)` (subject:
      the held-out 'DATABASE/subject').
    x: [N, 28, 28, 2] float32 magnified flows of all clips
      (`vision.megc.emr.emr_inputs`); the composite database selects rows.
    comp: the composite database of the same clips.
    macro_x: [K, 28, 28, 2] float32 reduced flows of the macro clips.
    macro_label: [K] int MEGC class of each macro clip.
    macro_subject: [K] str 'DATABASE/subject' of each macro clip; a fold
      leaves out those of its held-out subject (`emr_training_rows`).
    cfg: EMRConfig.

  Returns:
    CDEResult of the held-out micro-expression clips.
  """
  x = _check_inputs('emr', x, comp, ndim=4)
  if x.shape[1:] != (28, 28, 2):
    raise ValueError(f'EMR takes [N, 28, 28, 2] flows, got {x.shape}.')
  macro_x = np.asarray(checks.check_array('macro_emr', macro_x, ndim=4, kind='float'))
  if macro_x.shape[1:] != x.shape[1:]:
    raise ValueError(f'macro_emr rows {macro_x.shape[1:]} differ from emr rows {x.shape[1:]}.')
  macro_label = np.asarray(macro_label)
  macro_subject = np.asarray(macro_subject, str)
  if macro_label.shape != (len(macro_x),) or macro_subject.shape != (len(macro_x),):
    raise ValueError(
      f'macro_label {macro_label.shape} and macro_subject {macro_subject.shape} must give one '
      f'entry per macro clip ({len(macro_x)}).'
    )
  macro_label = checks.check_labels('macro_label', macro_label, len(megc_eval.MEGC_CLASSES))
  runs_as, conv = fold_layout(cfg.runs_as, cfg.conv, network='EMR')
  model = emr_models.emr_network(grl_weight=cfg.grl_weight, conv=conv)
  train = emr_training_rows(comp, macro_subject)
  n, k = len(x), len(macro_x)
  data = {
    'x': jnp.asarray(np.concatenate([x, macro_x]), jnp.float32),
    'y': jnp.asarray(np.concatenate([comp.labels, macro_label]), jnp.int32),
    'd': jnp.asarray(
      np.r_[np.full(n, emr_models.MICRO), np.full(k, emr_models.MACRO)], jnp.float32
    ),
  }
  stage = trainer.make_stage(model, cfg.fit, emr_loss_fn, variables=_emr_variables)
  return _loso_fit_predict(
    key, 'EMR', model, stage, cfg.fit, data, data['x'][:1], comp, train,
    runs_as=runs_as, eval_chunk=cfg.eval_chunk,
  )  # fmt: skip


# ------------------------------------------------------------- LBP-TOP + SVM


def cde_lbp_top_svm(
  features, comp: megc_eval.CompositeDatabase, cfg: SVMConfig = SVMConfig(), *, key
) -> CDEResult:
  """CDE LOSO of LBP-TOP features with a linear SVM, fold by fold on the host.

  Args:
    features: [N, D] LBP-TOP descriptors of all clips (`vision.lbp_top_features`).
    comp: the composite database of the same clips.
    cfg: SVMConfig.
    key: jax.random key; the solver's random_state (`svm_random_state`).

  Returns:
    CDEResult.
  """
  from sklearn.pipeline import make_pipeline  # host-side baseline only
  from sklearn.preprocessing import StandardScaler
  from sklearn.svm import LinearSVC

  feats = _check_inputs('features', features, comp, ndim=2)
  state = svm_random_state(key)
  train, test, fold_of = _fold_rows(comp)
  y = np.asarray(comp.labels)
  y_pred = np.empty(len(y), np.int64)
  for tr, te in zip(train, test):
    classes = np.unique(y[tr])
    if len(classes) == 1:  # a fold can lack classes in tiny sets: predict the only one
      y_pred[te] = classes[0]
      continue
    svm = make_pipeline(
      StandardScaler(),
      LinearSVC(C=cfg.c, class_weight=cfg.class_weight, max_iter=cfg.max_iter, random_state=state),
    )
    y_pred[te] = svm.fit(feats[tr], y[tr]).predict(feats[te])
  return _result(comp, y_pred, fold_of)


def svm_random_state(key) -> int:
  """The int random_state scikit-learn's solver takes, drawn from `key`."""
  return int(numpy_rng(key, 'svm').integers(2**31 - 1))


# ------------------------------------------------------------------ Table IV


def _composite_name(config: Config, comp: megc_eval.CompositeDatabase) -> str:
  listed = f', restricted to the clip list {config.clip_list}' if config.clip_list else ''
  return f'the composite database ({len(comp.labels)} clips{listed})'


def _estimator(config: Config, comp: megc_eval.CompositeDatabase) -> str:
  return (
    "the column database's UF1 (mean over all 3 classes, negative / positive / surprise, of "
    'the per-class F1) or UAR (mean over all 3 classes of the per-class recall; a class '
    'without clips counts 0 in both) of the held-out predictions of all '
    f'{len(comp.folds)} leave-one-subject-out folds of {_composite_name(config, comp)}, '
    'TP / FP / FN pooled over the folds (eq. 3-5); one model per fold, one run'
  )


def _selection(config: Config, method: str) -> str:
  if method == 'CapsuleNet':
    c = config.capsule
    start = (
      'the ResNet18 stages initialised from the weights in ' + c.resnet_weights
      if c.resnet_weights
      else 'the ResNet18 stages trained from scratch (random initialisation, no ImageNet weights)'
    )
    return (
      f'none: fixed schedule set in the config ({c.fit.num_epochs} epochs of Adam at '
      f'{c.fit.learning_rate:g} multiplied by {c.lr_decay:g} per epoch, batches of '
      f'{c.fit.batch_size}; {c.size} x {c.size} apex faces, width {c.width}, capsule kernels '
      f"{c.caps_kernel}; {start}), the last epoch's model; no validation split, no epoch or "
      'model chosen by a score of any held-out subject'
    )
  if method == 'Bi-WOOF':
    s = config.biwoof_svm
    return (
      f'none: fixed linear SVM (C = {s.c:g}, class_weight {s.class_weight}) on Bi-WOOF '
      f'({config.biwoof_grid[0]} x {config.biwoof_grid[1]} blocks, {config.biwoof_bins} bins) '
      'set in the config, no tuning; no score of any held-out subject chose a setting'
    )
  if method == 'EMR':
    e = config.emr
    return (
      f'none: fixed schedule set in the config ({e.fit.num_epochs} epochs of Adam at '
      f"{e.fit.learning_rate:g}, batches of {e.fit.batch_size}), the last epoch's model; "
      f'macro-expression source: {e.macro_source} in every fold (a fold leaves out its '
      f"held-out subject's macro clips), micro motion magnified (Eulerian alpha "
      f'{e.magnify:g}), macro clips reduced (apex: their {e.macro_apex} frame, Eulerian '
      f'alpha {e.reduce:g}), {e.flow_method} flow, gradient reversal lambda '
      f'{e.grl_weight:g}; no validation '
      'split, no epoch or model chosen by a score of any held-out subject'
    )
  if method == 'LBP-TOP':
    s = config.svm
    return (
      f'none: fixed linear SVM (C = {s.c:g}, class_weight {s.class_weight}) set in the config, '
      'no tuning; no score of any held-out subject chose a setting'
    )
  fit = config.network(method).fit
  return (
    f'none: fixed schedule set in the config ({fit.num_epochs} epochs of Adam at '
    f"{fit.learning_rate:g}, batches of {fit.batch_size}), the last epoch's model; no "
    'validation split, no epoch or model chosen by a score of any held-out subject'
  )


TABLE_III_COLUMNS = (*megc_eval.MEGC_CLASSES, 'clips', 'subjects')


def _clip_list(config: Config):
  return None if config.clip_list is None else megc_eval.read_clip_list(config.clip_list)


def composite(
  config: Config, database, subject, emotion, names=None
) -> megc_eval.CompositeDatabase:
  """The composite database `run` scores: `evaluation.megc.composite_database` with the config's clip list.

  Args:
    config: `Config` (its `clip_list`).
    database, subject, emotion: [N] metadata of every clip.
    names: [N] clip folder names, or None (needed with a clip list).

  Returns:
    `CompositeDatabase`; its `index` are the clips kept (`kept_clips`).
  """
  return megc_eval.composite_database(
    database, subject, emotion, names=names, clip_list=_clip_list(config)
  )


def kept_clips(config: Config, database, subject, emotion, names=None) -> np.ndarray:
  """[M] sorted indices of the clips the composite database keeps (the rest get no inputs).

  The experiment script computes flow and LBP-TOP only for these clips and
  passes them as `Inputs(..., rows=kept_clips(...))`: the clips with an
  emotion the mapping omits ('others') or left out by the clip list are
  never scored, so their inputs would be wasted work.
  """
  return np.sort(composite(config, database, subject, emotion, names).index)


def _feature_rows(data: Inputs, index) -> np.ndarray:
  """Row of the inputs arrays of each clip of `index` (through `data.rows`)."""
  index = np.asarray(index)
  if data.rows is None:
    return index
  rows = np.asarray(data.rows)
  if rows.ndim != 1 or len(rows) != len(data.lbp_top) or len(rows) != len(data.ststnet):
    raise ValueError(
      f'rows ({rows.shape}) must give one clip per row of the inputs '
      f'({len(data.ststnet)} network inputs, {len(data.lbp_top)} LBP-TOP rows).'
    )
  where = {int(r): i for i, r in enumerate(rows)}
  lacking = [int(i) for i in index if int(i) not in where]
  if lacking:
    names = data.name if data.name is not None else data.subject
    raise ValueError(
      f'{len(lacking)} clips of the composite database have no inputs (rows), e.g. '
      f'{[f"{data.database[i]} {names[i]}" for i in lacking[:5]]}; compute them for '
      'kept_clips(...) of the same config.'
    )
  return np.array([where[int(i)] for i in index], np.int64)


def _required(data: Inputs, field: str, method: str):
  """`data.<field>`, or a ValueError saying how to compute it when it is None."""
  x = getattr(data, field)
  if x is None:
    how = {
      'biwoof': 'vision.biwoof_features(RecognitionInputs.flows)',
      'apex': 'vision.apex_inputs(clips, config.capsule.size)',
    }[field]
    raise ValueError(f'{method} needs Inputs.{field}, which is None; compute it with {how}.')
  if data.rows is not None and len(x) != len(data.rows):
    raise ValueError(
      f'Inputs.{field} has {len(x)} rows but Inputs.rows names {len(data.rows)} clips; compute '
      'it for the same kept_clips(...) as the other inputs.'
    )
  return x


def table_iii_records(config: Config, check: megc_eval.CompositeCheck) -> list:
  """Table III's counts of the composite database as built ('III') and their difference from the paper's ('III difference')."""
  ours = megc_eval.table_iii_totals(check.counts, check.subjects)
  paper = megc_eval.table_iii_totals(megc_eval.TABLE_III, megc_eval.TABLE_III_SUBJECTS)
  listed = f' restricted to the clip list {config.clip_list}' if config.clip_list else ''
  built = (
    'clips (per class, all) and subjects of the composite database as this run built it: '
    f'emotions mapped to negative / positive / surprise (Table III footnotes){listed}'
  )
  selection = 'none: counts of every clip the run used'
  recs = []
  for row, cells in ours.items():
    for col in TABLE_III_COLUMNS:
      recs.append(
        records_lib.record('III', row, col, cells[col], estimator=built, selection=selection)
      )
      recs.append(
        records_lib.record(
          'III difference', row, col, cells[col] - paper[row][col],
          estimator=f"this run's count minus the paper's Table III ({built})",
          selection=selection,
        )
      )  # fmt: skip
  return recs


def _emr_data(data: Inputs) -> tuple:
  missing = [f for f in EMR_INPUTS if getattr(data, f) is None]
  if missing:
    raise ValueError(
      f'EMR needs Inputs.{", ".join(missing)} (the magnified part flows of the clips and the '
      'macro-expression source: vision.megc.emr.emr_inputs, as the experiment script computes '
      "them); leave 'EMR' out of config.methods to run without."
    )
  if len(data.emr) != len(data.ststnet):
    raise ValueError(
      f'Inputs.emr has {len(data.emr)} rows, the other inputs {len(data.ststnet)}: compute them '
      'for the same clips (the same rows).'
    )
  return (data.emr,)


def _emr_macro(data: Inputs) -> tuple:
  return data.macro_emr, data.macro_label, data.macro_subject


def run(
  key, config: Config, data: Inputs, *, progress: Callable | None = None, threads: int = 2
) -> Results:
  """Table IV: every method of `config.methods` under CDE LOSO (module doc).

  Args:
    key: the run's root jax.random key (method m uses `named_key(key, m)`).
    config: `Config`.
    data: the preprocessed clips (`Inputs`).
    progress: called once after each method (e.g. a tqdm bar's `update`), or None.
    threads: methods trained at a time, each in its own thread (1 or 2), so
      that one compiles or fits an SVM while another trains; the results are
      the same either way (each method's key and programs are), only the wall
      time differs. Within `fewshot.timing.estimating()` one at a time.

  Returns:
    `Results`; `timings` per method in `config.methods`' order (the methods'
    times overlap when `threads` is 2).
  """
  threads = timing.threads(threads)
  other = sorted(set(np.asarray(data.database, str).tolist()) - set(config.databases))
  if other:
    raise ValueError(
      f'the data hold clips of {other}, which are not among config.databases '
      f'{config.databases}; leave them out when loading (as the experiment script does).'
    )
  comp = composite(config, data.database, data.subject, data.emotion, data.name)
  samples = dict(names=data.name, clip_list=_clip_list(config))
  check = megc_eval.composite_check(data.database, data.subject, data.emotion, **samples)
  # The feature rows of the composite's clips (the inputs may cover only those).
  feats = comp._replace(index=_feature_rows(data, comp.index))
  if config.require_table_iii and check.differences:
    raise ValueError(
      'the composite database differs from Table III (require_table_iii):\n'
      + '\n'.join(check.differences)
    )
  if 'EMR' in config.methods:
    _emr_data(data)  # fail before any method trains

  def one(method):
    with timing.stage(method) as times:
      k = named_key(key, method)
      if method == 'EMR':
        res = cde_emr(k, *_emr_data(data), feats, *_emr_macro(data), config.emr)
      elif method == 'LBP-TOP':
        res = cde_lbp_top_svm(data.lbp_top, feats, config.svm, key=k)
      elif method == 'Bi-WOOF':
        res = cde_lbp_top_svm(_required(data, 'biwoof', method), feats, config.biwoof_svm, key=k)
      elif method == 'CapsuleNet':
        res = cde_capsule(k, _required(data, 'apex', method), feats, config.capsule)
      else:
        x = data.ststnet if method == 'STSTNet' else data.offapex
        res = cde_network(k, method, x, feats, config.network(method))
    if progress is not None:
      progress()
    return res, times

  with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
    done = [pool.submit(timing.carried(one), method) for method in config.methods]
    done = [future.result() for future in done]
  recs, timings, confusion, predictions = table_iii_records(config, check), {}, {}, {}
  for method, (res, times) in zip(config.methods, done):
    timings[method] = times
    confusion[method] = np.asarray(res.scores['Full']['confusion'])
    predictions[method] = res.y_pred
    recs += [
      records_lib.record(
        TABLE, method, f'{col} {metric}', res.scores[col][metric],
        estimator=_estimator(config, comp), selection=_selection(config, method),
      )
      for col in COLUMNS if col in res.scores for metric in ('UF1', 'UAR')
    ]  # fmt: skip
  return Results(recs, timings, confusion, predictions, comp, check)
