"""CTC prefix beam search and the CTC loss of one class per sequence (Team 1, section 3.1).

Team 1 trains its transformer with CTC (Graves et al. 2006) and predicts with
"CTC beam search decoding, collapsing multiple same class outputs into one".
`ctc_beam_search` is the prefix beam search (Hannun et al. 2014): it keeps the
`beam_width` most probable *labellings* (collapsed prefixes), each with the
probability of all alignments seen so far that end in a blank (p_b) and in a
non-blank (p_nb). Per frame t with log-probabilities y_t, a prefix l with
last symbol e goes to

    l      (a blank):                    p_b  += (p_b + p_nb)(l) * y_t(blank)
    l      (e repeated, collapsed):      p_nb += p_nb(l) * y_t(e)
    l + c  (c != blank, c != e):         p_nb += (p_b + p_nb)(l) * y_t(c)
    l + e  (a repeat after a blank):     p_nb += p_b(l) * y_t(e)

and candidates that are the same labelling reached from two beams (l + c from
l, and l + c kept from the previous frame) are merged by adding their
probabilities. Nothing is approximated until prefixes are pruned: with
`beam_width` at least the number of labellings reachable, the result is the
exact most probable labelling (tests compare it with a sum over all K^T
alignments).

Everything is fixed-shape JAX (beams as [W, T] label arrays), so one sequence
runs as a `lax.scan` over frames and a batch is `vmap` of it, jitted once per
shape and beam width.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from evaluation import checks

__all__ = [
  'CTCDecoding',
  'ctc_beam_search',
  'ctc_beam_search_batch',
  'ctc_class_loss',
  'ctc_classes',
]

NEG_INF = -jnp.inf


class CTCDecoding(NamedTuple):
  """The best labelling found by `ctc_beam_search`.

  Attributes:
    labels: [..., T] int32, the labelling in its first `length` entries,
      -1 after.
    length: [...] int32 number of labels (0: the empty labelling).
    log_prob: [...] float32 log-probability of the labelling (summed over its
      alignments kept by the beam; exact when nothing was pruned).
  """

  labels: jax.Array
  length: jax.Array
  log_prob: jax.Array


class _Beams(NamedTuple):
  prefix: jax.Array  # (W, T) int32, -1 padded
  length: jax.Array  # (W,) int32
  last: jax.Array  # (W,) int32, -1 for the empty prefix
  p_b: jax.Array  # (W,) float32 log-prob of ending in blank
  p_nb: jax.Array  # (W,) float32 log-prob of ending in a non-blank


def _init_beams(beam_width: int, max_len: int) -> _Beams:
  return _Beams(
    prefix=jnp.full((beam_width, max_len), -1, jnp.int32),
    length=jnp.zeros(beam_width, jnp.int32),
    last=jnp.full(beam_width, -1, jnp.int32),
    p_b=jnp.full(beam_width, NEG_INF).at[0].set(0.0),  # only the empty prefix, probability 1
    p_nb=jnp.full(beam_width, NEG_INF),
  )


def _step(beams: _Beams, y: jax.Array, blank) -> _Beams:
  """One frame of prefix beam search; y: [K] log-probabilities."""
  w, max_len = beams.prefix.shape
  k = y.shape[0]
  total = jnp.logaddexp(beams.p_b, beams.p_nb)  # (W,)
  valid = total > NEG_INF
  nonempty = beams.length > 0
  stay_b = total + y[blank]
  stay_nb = jnp.where(nonempty, beams.p_nb + y[jnp.maximum(beams.last, 0)], NEG_INF)

  symbols = jnp.arange(k)
  repeat = symbols[None, :] == beams.last[:, None]  # (W, K)
  ext = jnp.where(repeat, beams.p_b[:, None], total[:, None]) + y[None, :]
  ext = jnp.where(symbols[None, :] == blank, NEG_INF, ext)  # (W, K)

  # ext (i, c) is the labelling prefix_i + c; it equals a kept beam j when j is
  # one longer, agrees on prefix_i and ends in c. Add it there and drop it.
  pos = jnp.arange(max_len)
  agree = (beams.prefix[:, None, :] == beams.prefix[None, :, :]) | (
    pos[None, None, :] >= beams.length[:, None, None]
  )  # (i, j, T)
  extends = agree.all(-1) & (beams.length[None, :] == beams.length[:, None] + 1) & valid[None, :]
  match = extends[:, None, :] & (beams.last[None, None, :] == symbols[None, :, None])  # (i, c, j)
  merged = jax.nn.logsumexp(jnp.where(match, ext[:, :, None], NEG_INF), axis=(0, 1))  # (j,)
  stay_nb = jnp.logaddexp(stay_nb, merged)
  ext = jnp.where(match.any(-1), NEG_INF, ext)

  # Candidates: W kept prefixes, then W * K extensions; keep the W best.
  cand_b = jnp.concatenate([stay_b, jnp.full(w * k, NEG_INF)])
  cand_nb = jnp.concatenate([stay_nb, ext.reshape(-1)])
  _, top = jax.lax.top_k(jnp.logaddexp(cand_b, cand_nb), w)
  is_ext = top >= w
  src = jnp.where(is_ext, (top - w) // k, top)  # beam each candidate grows from
  sym = (top - w) % k
  length = beams.length[src] + is_ext
  prefix = beams.prefix[src]
  grown = prefix.at[jnp.arange(w), jnp.minimum(beams.length[src], max_len - 1)].set(sym)
  prefix = jnp.where(is_ext[:, None], grown, prefix)
  last = jnp.where(is_ext, sym, beams.last[src])
  return _Beams(prefix, length, last, cand_b[top], cand_nb[top])


def _search(log_probs, length, beam_width: int, blank) -> CTCDecoding:
  t_max = log_probs.shape[0]

  def body(beams, inputs):
    t, y = inputs
    new = _step(beams, y, blank)
    # frames past the sequence's length are padding: the beams stay as they are
    return jax.tree.map(lambda a, b: jnp.where(t < length, a, b), new, beams), None

  beams, _ = jax.lax.scan(body, _init_beams(beam_width, t_max), (jnp.arange(t_max), log_probs))
  scores = jnp.logaddexp(beams.p_b, beams.p_nb)
  best = jnp.argmax(scores)
  return CTCDecoding(beams.prefix[best], beams.length[best], scores[best])


# The blank is a traced argument: any blank index shares one compiled program.
@functools.partial(jax.jit, static_argnames='beam_width')
def _search_one(log_probs, beam_width, blank):
  return _search(log_probs.astype(jnp.float32), log_probs.shape[0], beam_width, blank)


@functools.partial(jax.jit, static_argnames='beam_width')
def _search_batch(log_probs, lengths, beam_width, blank):
  search = functools.partial(_search, beam_width=beam_width, blank=blank)
  return jax.vmap(search)(log_probs.astype(jnp.float32), lengths)


def _check_log_probs(log_probs, ndim: int, beam_width, blank):
  log_probs = checks.check_array('log_probs', log_probs, ndim=ndim, kind='float', finite=False)
  if checks.is_concrete(log_probs):
    a = np.asarray(log_probs)
    if np.isnan(a).any() or (a == np.inf).any():
      raise ValueError('log_probs contains NaN or +inf (-inf, a zero probability, is allowed).')
  k = log_probs.shape[-1]
  if k < 2:
    raise ValueError(f'log_probs needs at least 2 symbols (blank and one label), got {k}.')
  checks.check_int('beam_width', beam_width)
  checks.check_int('blank', blank, low=0, high=k - 1)
  return log_probs


def ctc_beam_search(log_probs, beam_width: int = 10, blank: int = 0) -> CTCDecoding:
  """Most probable labelling of one sequence by CTC prefix beam search.

  Args:
    log_probs: [T, K] float per-frame log-probabilities (log-softmax of the
      logits), K symbols including the blank.
    beam_width: labellings kept per frame.
    blank: index of the blank symbol.

  Returns:
    `CTCDecoding` with labels [T] (-1 padded), length [] and log_prob [].
  """
  log_probs = _check_log_probs(log_probs, 2, beam_width, blank)
  return _search_one(log_probs, beam_width, jnp.int32(blank))


def ctc_beam_search_batch(log_probs, lengths, beam_width: int = 10, blank: int = 0) -> CTCDecoding:
  """`ctc_beam_search` of a padded batch; frames at or after each length are ignored.

  Args:
    log_probs: [B, T, K] float.
    lengths: [B] int number of real frames of each sequence (0..T).
    beam_width: labellings kept per frame.
    blank: index of the blank symbol.

  Returns:
    `CTCDecoding` with labels [B, T], length [B], log_prob [B].
  """
  log_probs = _check_log_probs(log_probs, 3, beam_width, blank)
  lengths = checks.check_array('lengths', lengths, ndim=1, kind='int')
  if lengths.shape[0] != log_probs.shape[0]:
    raise ValueError(f'lengths must be [{log_probs.shape[0]}], got {lengths.shape}.')
  if checks.is_concrete(lengths):
    ls = np.asarray(lengths)
    if ls.min() < 0 or ls.max() > log_probs.shape[1]:
      raise ValueError(
        f'lengths must lie in [0, {log_probs.shape[1]}], got [{ls.min()}, {ls.max()}].'
      )
  return _search_batch(log_probs, lengths, beam_width, jnp.int32(blank))


def ctc_class_loss(logits, frame_mask, labels):
  """CTC loss of one class per sequence (isolated signs, section 3.1), per example.

  Symbol 0 is the blank and class c is symbol c + 1; the target labelling is
  the single symbol of the sequence's class. Uses `optax.ctc_loss`.

  Args:
    logits: [B, T, K + 1] float over the blank and K classes.
    frame_mask: [B, T] bool, True for real frames.
    labels: [B] int class ids in [0, K).

  Returns:
    [B] float32 negative log-likelihood of each sequence's class.
  """
  return optax.ctc_loss(
    logits,
    (~frame_mask).astype(logits.dtype),
    (labels + 1)[:, None].astype(jnp.int32),
    jnp.zeros((labels.shape[0], 1), logits.dtype),
    blank_id=0,
  )


@functools.partial(jax.jit, static_argnames='beam_width')
def _ctc_classes(logits, frame_mask, beam_width):
  log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  lengths = frame_mask.sum(-1).astype(jnp.int32)
  search = functools.partial(_search, beam_width=beam_width, blank=0)
  best = jax.vmap(search)(log_probs, lengths)
  # An all-blank decoding names no class: fall back to the class with the most
  # probability mass over the real frames.
  mass = jnp.where(frame_mask[..., None], jnp.exp(log_probs[..., 1:]), 0).sum(1)  # (B, K)
  return jnp.where(best.length > 0, best.labels[:, 0] - 1, jnp.argmax(mass, -1)).astype(jnp.int32)


def ctc_classes(logits, frame_mask, beam_width: int = 10) -> jax.Array:
  """Predicted class of each sequence: the first label of its beam-search decoding.

  As in section 3.1, a model trained on one class per video is decoded by
  CTC beam search and its (collapsed) labelling read as the class; when
  the labelling is empty (all blank), the class with the largest summed
  probability over the real frames is returned.

  Args:
    logits: [B, T, K + 1] float, symbol 0 the blank.
    frame_mask: [B, T] bool, True for real frames (a prefix of each row).
    beam_width: labellings kept per frame.

  Returns:
    [B] int32 class ids in [0, K).
  """
  logits = checks.check_array('logits', logits, ndim=3, kind='float')
  frame_mask = checks.check_array('frame_mask', frame_mask, ndim=2, finite=False)
  if tuple(frame_mask.shape) != tuple(logits.shape[:2]):
    raise ValueError(f'frame_mask must be {tuple(logits.shape[:2])}, got {frame_mask.shape}.')
  checks.check_int('beam_width', beam_width)
  return _ctc_classes(logits, frame_mask, beam_width)
