"""EMR inputs (Liu et al. 2019, the paper's [16]): onset-to-apex flow of magnified micro- and reduced macro-expressions.

EMR ("Expression Magnification and Reduction with adversarial training",
section III-C, 1) trains one network on micro-expressions and on
macro-expressions (CK+ in the paper) and brings the two domains together in
two ways: adversarially (a gradient-reversal domain classifier,
`fewshot.models.emr`) and in the input, by magnifying the micro-expressions'
motion and reducing the macro-expressions'. The network reads the optical
flow between the onset and the apex frame and splits its feature map into
the upper (eyes and brows) and lower (nose and mouth) facial parts.

The authors' released code (github xiaobaishu0097/MEGC2019, commit 0f2c1e2:
`Prepare.py`; facts only, no code taken) magnifies the micro-expression
videos with Eulerian video magnification (EVM, Wu et al., SIGGRAPH 2012; its
README: "Using EVM algorithm to magnify the motion") and reduces a CK+
sequence, which runs from a neutral face to the peak, by taking its middle
frame as the apex instead of the peak (`int(len / 2)`).

Steps per clip (`emr_inputs`):

1. Grey face crops of the onset and apex frame (`inputs.onset_apex_faces`,
   the same crops as the other networks' inputs). Macro clips first get the
   middle frame as their apex (`middle_frame_apex`).
2. Eulerian magnification of the apex against the onset (`eulerian_magnify`):
   linear EVM adds alpha times the spatially low-passed, temporally filtered
   intensity change to the frame. With the onset as the temporal reference
   (the filter is the difference to the onset frame) a small motion d
   becomes, to first order, a motion (1 + alpha) d: alpha > 0 magnifies
   (micro-expressions), -1 < alpha < 0 reduces.
3. Flow from the onset to the magnified apex: Farneback with the authors'
   settings by default (`AUTHORS_FARNEBACK`; tens of times faster than
   TV-L1), or TV-L1 as the other networks' inputs.
4. The flow area-resized to 28 x 28 (`face_flow`) and expressed in percent
   of the crop side, so that the motion's size is kept (the other networks'
   inputs are min-max scaled per clip, which would undo the magnification
   and the reduction).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from evaluation import checks
from vision.megc import flow as flow_lib
from vision.megc.data import MEClip
from vision.megc.inputs import OnsetApexFaces
from vision.megc.inputs import clip_faces
from vision.megc.inputs import onset_apex_faces

INPUT_SIZE = 28
# The authors' Farneback settings (`Prepare.py`: pyramid scale 0.5, 1 level,
# 15-pixel windows, 2 iterations, polynomial neighbourhood 5 with sigma 1.1).
AUTHORS_FARNEBACK = dict(
  pyr_scale=0.5, levels=1, winsize=15, iterations=2, poly_n=5, poly_sigma=1.1
)
FLOW_METHODS = ('farneback-authors', *flow_lib.METHODS)


def _gaussian_ksize(sigma: float) -> int:
  return 2 * int(np.ceil(3 * sigma)) + 1


def eulerian_magnify(onset, frames, alpha: float, sigma: float = 1.0) -> np.ndarray:
  """Linear Eulerian magnification of frames against the onset frame.

  `frames + alpha * G_sigma * (frames - onset)`: the temporal filter is the
  difference to the onset (the neutral reference), the spatial filter a
  Gaussian low-pass of deviation `sigma` (kernel radius ceil(3 sigma),
  borders mirrored without repeating the edge pixel). To first order a
  motion d between onset and frame becomes (1 + alpha) d.

  Args:
    onset: [..., H, W] grey onset frame(s) (any real dtype).
    frames: [..., H, W] frames of the same shape (e.g. the apex).
    alpha: magnification factor; > 0 magnifies, in (-1, 0) reduces; a
      number, or one per frame pair ([...] the leading axes).
    sigma: spatial low-pass deviation in pixels (0: no low-pass).

  Returns:
    [..., H, W] float32, not clipped.
  """
  onset = np.asarray(onset, np.float32)
  frames = np.asarray(frames, np.float32)
  if onset.shape != frames.shape or onset.ndim < 2:
    raise ValueError(
      f'onset and frames must be [..., H, W] of one shape, got {onset.shape}, {frames.shape}.'
    )
  alpha = np.asarray(alpha, np.float32)
  if alpha.ndim > onset.ndim - 2 or alpha.shape != onset.shape[: alpha.ndim]:
    raise ValueError(f'alpha must be a number or [...] over the leading axes, got {alpha.shape}.')
  if not np.all(np.isfinite(alpha)) or np.any(alpha <= -1):
    raise ValueError(f'alpha must be finite and > -1 (-1 would erase the motion), got {alpha}.')
  alpha = alpha.reshape(alpha.shape + (1,) * (onset.ndim - alpha.ndim))
  sigma = float(sigma)
  if not np.isfinite(sigma) or sigma < 0:
    raise ValueError(f'sigma must be >= 0, got {sigma}.')
  change = frames - onset
  if sigma > 0:
    k = _gaussian_ksize(sigma)
    flat = change.reshape(-1, *change.shape[-2:])
    flat = np.stack(
      [cv2.GaussianBlur(c, (k, k), sigma, borderType=cv2.BORDER_REFLECT_101) for c in flat]
    )
    change = flat.reshape(change.shape)
  return frames + alpha * change


def face_flow(flows, size: int = INPUT_SIZE) -> np.ndarray:
  """Onset-to-apex flows area-resized to size x size, in percent of the crop side.

  Args:
    flows: [N, S, S, 2] float32 flows of S x S face crops (pixels).
    size: output side.

  Returns:
    [N, size, size, 2] float32: the mean flow over each output pixel's area
    of the crop, times 100 / S.
  """
  flows = checks.check_array('flows', flows, ndim=4, kind='float')
  n, h, w, c = flows.shape
  if c != 2 or h != w:
    raise ValueError(f'flows must be [N, S, S, 2], got {flows.shape}.')
  checks.check_int('size', size)
  small = np.stack(
    [
      cv2.resize(np.asarray(f, np.float32), (size, size), interpolation=cv2.INTER_AREA)
      for f in flows
    ]
  )
  return small * np.float32(100.0 / h)


def middle_frame_apex(clips: Sequence[MEClip]) -> list[MEClip]:
  """Macro clips with the middle frame as apex: the authors' expression reduction (module doc).

  A CK+ sequence (and a synthetic macro clip) runs from a neutral first
  frame to the peak; its frame `len // 2` shows the expression part way.
  """
  return [c._replace(apex=len(c.frames) // 2) for c in clips]


def authors_farneback(prev, nexts) -> np.ndarray:
  """Farneback flow with the EMR authors' settings (`AUTHORS_FARNEBACK`), pair by pair in this process.

  Args:
    prev: [N, H, W] uint8 grey first frames.
    nexts: [N, H, W] uint8 grey second frames.

  Returns:
    [N, H, W, 2] float32 (u, v), OpenCV's convention (`vision.optical_flow`).
  """
  prev, nexts = np.asarray(prev), np.asarray(nexts)
  if prev.ndim != 3 or prev.shape != nexts.shape or prev.dtype != np.uint8:
    raise ValueError(
      f'prev and nexts must be [N, H, W] uint8 of one shape, got {prev.shape}, {nexts.shape}.'
    )
  return np.stack(
    [
      cv2.calcOpticalFlowFarneback(a, b, None, flags=0, **AUTHORS_FARNEBACK)
      for a, b in zip(prev, nexts)
    ]
  ).astype(np.float32)


def emr_inputs(
  clips: Sequence[MEClip],
  alpha: float,
  face_size: int = 112,
  size: int = INPUT_SIZE,
  sigma: float = 1.0,
  method: str = 'farneback-authors',
  align: str = 'box',
  workers: int | None = None,
  progress: bool = True,
  faces: OnsetApexFaces | None = None,
) -> np.ndarray:
  """EMR's input of every clip: flow from the onset to the apex, magnified (alpha > 0) or reduced (module doc).

  Args:
    clips: the clips (micro-expressions with alpha > 0, macro with alpha < 0).
    alpha: `eulerian_magnify`'s factor, one for all clips or [N] one per
      clip (micro and macro clips in one call share one flow process pool).
    face_size: side of the face crops.
    size: side of the flow input.
    sigma: the magnification's spatial low-pass.
    method: 'farneback-authors' (`authors_farneback`, in this process), or
      'tvl1' or 'farneback' (`vision.optical_flow_pairs`, a process pool).
    align: 'box' or 'landmarks'.
    workers: flow processes (None: every CPU).
    progress: progress bars.
    faces: the clips' onset and apex crops at `face_size`, already computed
      (`inputs.onset_apex_crops`), or None to compute them.

  Returns:
    [N, size, size, 2] float32 (u, v) in percent of the face crop's side.
  """
  checks.check_choice('method', method, FLOW_METHODS)
  onset, apex, _ = clip_faces(clips, face_size, align, progress, faces, 'emr_inputs')
  alpha = np.broadcast_to(np.asarray(alpha, np.float32), (len(clips),))
  moved = np.clip(np.round(eulerian_magnify(onset, apex, alpha, sigma)), 0, 255).astype(np.uint8)
  if method == 'farneback-authors':
    flows = authors_farneback(onset, moved)
  else:
    flows = flow_lib.optical_flow_pairs(onset, moved, method, workers, progress)
  return face_flow(flows, size)


def macro_labels(clips: Sequence[MEClip]) -> np.ndarray:
  """[K] int MEGC class (negative 0, positive 1, surprise 2) of macro clips with CK+ emotion names."""
  from evaluation.megc import MEGC_CLASSES
  from vision.megc.ckplus import MEGC_CLASS

  unknown = sorted({c.emotion for c in clips if c.emotion not in MEGC_CLASS})
  if unknown:
    raise ValueError(
      f'macro clips with emotions {unknown}; expected CK+ names {sorted(MEGC_CLASS)}.'
    )
  return np.array([MEGC_CLASSES.index(MEGC_CLASS[c.emotion]) for c in clips], np.int64)


def clip_subjects(clips: Sequence[MEClip]) -> np.ndarray:
  """[K] str 'DATABASE/subject' of each clip (the composite database's subject ids)."""
  return np.array([f'{c.database}/{c.subject}' for c in clips], dtype=str)


def macro_source(key, ckplus: str | None = None, clips_per_class: int = 2, subjects=None) -> list:
  """EMR's macro-expression clips: CK+ from `ckplus` (`ckplus.load_ckplus`), else synthetic.

  Args:
    key: `jax.random` key of the synthetic clips (`synthetic.synthetic_macro_expressions`).
    ckplus: the CK+ folder, or None.
    clips_per_class, subjects: the synthetic clips' `clips_per_class` and `subjects`.

  Returns:
    MEClips with CK+ emotion names.
  """
  from vision.megc import ckplus as ckplus_lib
  from vision.megc import synthetic

  if ckplus is not None:
    return ckplus_lib.load_ckplus(ckplus)
  return synthetic.synthetic_macro_expressions(key, clips_per_class, subjects)


def emr_domain_inputs(
  micro: Sequence[MEClip],
  macro: Sequence[MEClip],
  magnify: float,
  reduce: float = 0.0,
  macro_apex: str = 'middle',
  face_size: int = 112,
  sigma: float = 1.0,
  method: str = 'farneback-authors',
  align: str = 'box',
  workers: int | None = None,
  progress: bool = True,
  micro_faces: OnsetApexFaces | None = None,
) -> dict:
  """EMR's two domains: the micro clips magnified, the macro clips reduced (module doc).

  Args:
    micro: the micro-expression clips (the composite's kept clips).
    macro: the macro-expression clips (CK+ or synthetic; CK+ emotion names).
    magnify: Eulerian alpha of the micro clips.
    reduce: Eulerian alpha of the macro clips (0: none).
    macro_apex: 'middle' (`middle_frame_apex`, the authors' reduction) or 'peak'.
    face_size, sigma, method, align, workers, progress: as `emr_inputs`
      (one call for both domains: one flow process pool).
    micro_faces: the micro clips' onset and apex crops at `face_size`,
      already computed (`inputs.onset_apex_crops`: the flow inputs' crops),
      or None to compute them.

  Returns:
    {'emr': [M, 28, 28, 2], 'macro_emr': [K, 28, 28, 2] float32,
    'macro_label': [K] int (`macro_labels`), 'macro_subject': [K] str
    (`clip_subjects`)}.
  """
  checks.check_choice('macro_apex', macro_apex, ('middle', 'peak'))
  macro = middle_frame_apex(macro) if macro_apex == 'middle' else list(macro)
  micro = list(micro)
  alpha = np.r_[np.full(len(micro), magnify), np.full(len(macro), reduce)]
  faces = None
  if micro_faces is not None:
    given = clip_faces(micro, face_size, align, progress, micro_faces, 'emr_domain_inputs')
    more = onset_apex_faces(macro, face_size, align, progress)
    faces = OnsetApexFaces(*(np.concatenate(a) for a in zip(given, more)))
  flows = emr_inputs(
    micro + macro, alpha, face_size, sigma=sigma, method=method, align=align, workers=workers,
    progress=progress, faces=faces,
  )  # fmt: skip
  return {
    'emr': flows[: len(micro)],
    'macro_emr': flows[len(micro) :],
    'macro_label': macro_labels(macro),
    'macro_subject': clip_subjects(macro),
  }
