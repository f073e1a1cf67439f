"""CTC beam search vs brute force over all alignments; the CTC loss on hand-worked cases."""

import itertools

import jax
import numpy as np
import optax
import pytest

import fewshot
from fewshot import ctc


def _collapse(path, blank):
  out, prev = [], None
  for s in path:
    if s != prev and s != blank:
      out.append(s)
    prev = s
  return tuple(out)


def brute_force(log_probs, blank=0):
  """Probability of every labelling: the sum over all K^T alignments that collapse to it."""
  p = np.exp(np.asarray(log_probs, np.float64))
  t, k = p.shape
  totals = {}
  for path in itertools.product(range(k), repeat=t):
    prob = np.prod(p[np.arange(t), path])
    label = _collapse(path, blank)
    totals[label] = totals.get(label, 0.0) + prob
  return totals


def _random_log_probs(rng, t, k, sharp=1.0):
  return np.asarray(jax.nn.log_softmax(sharp * rng.normal(size=(t, k)), axis=-1), np.float32)


@pytest.mark.parametrize('blank', [0, 2])
def test_full_beam_equals_brute_force(blank):
  # Sequences of every length 1..4 in one padded batch (one compile); the
  # padding holds random frames that must not matter.
  rng = np.random.default_rng(blank)
  t, k = 4, 3
  lengths = np.repeat(np.arange(1, t + 1), 3).astype(np.int32)
  lp = np.stack([_random_log_probs(rng, t, k, sharp=1.0 + i % 3) for i in range(len(lengths))])
  width = sum((k - 1) ** n for n in range(t + 1))  # every labelling fits: nothing is pruned
  got = fewshot.ctc_beam_search_batch(lp, lengths, beam_width=width, blank=blank)
  for i, n in enumerate(lengths):
    totals = brute_force(lp[i, :n], blank)
    best = max(totals, key=totals.get)
    m = int(got.length[i])
    assert tuple(np.asarray(got.labels[i])[:m]) == best
    assert np.all(np.asarray(got.labels[i])[m:] == -1)
    np.testing.assert_allclose(float(got.log_prob[i]), np.log(totals[best]), rtol=1e-5, atol=1e-5)


def test_narrow_beam_is_a_lower_bound_and_batch_equals_single():
  rng = np.random.default_rng(7)
  lp = np.stack([_random_log_probs(rng, 4, 3, sharp=2.0) for _ in range(12)])
  lengths = np.full(12, 4, np.int32)
  lengths[-1] = 0
  got = fewshot.ctc_beam_search_batch(lp, lengths, beam_width=3)
  exact = 0
  for i in range(11):
    totals = brute_force(lp[i])
    label = tuple(np.asarray(got.labels[i])[: int(got.length[i])])
    # a pruned beam can only lose alignments: its score never exceeds the truth
    assert float(got.log_prob[i]) <= np.log(totals[label]) + 1e-5
    exact += label == max(totals, key=totals.get)
    if i < 3:  # the single-sequence form gives the same
      one = fewshot.ctc_beam_search(lp[i], beam_width=3)
      np.testing.assert_array_equal(np.asarray(got.labels[i]), np.asarray(one.labels))
      np.testing.assert_allclose(float(got.log_prob[i]), float(one.log_prob), rtol=1e-6)
  assert exact >= 8
  assert int(got.length[-1]) == 0 and float(got.log_prob[-1]) == 0.0  # no frames: empty labelling


def test_hand_worked_decoding():
  # Frame-wise argmax is (a, blank, a) -> "aa" (0.18), but "a" collects six of the
  # eight alignments: --a .12, -a- .08, -aa .12, a-- .12, aa- .12, aaa .18.
  p = np.array([[0.4, 0.6], [0.5, 0.5], [0.4, 0.6]])  # columns: blank, a
  got = fewshot.ctc_beam_search(np.log(p).astype(np.float32), beam_width=4)
  assert int(got.length) == 1 and int(got.labels[0]) == 1
  np.testing.assert_allclose(np.exp(float(got.log_prob)), 0.74, rtol=1e-6)


def test_zero_probabilities_are_allowed():
  p = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]], np.float32)
  with np.errstate(divide='ignore'):
    got = fewshot.ctc_beam_search(np.log(p), beam_width=3)
  assert tuple(np.asarray(got.labels)[: int(got.length)]) == (1, 2)
  assert float(got.log_prob) == 0.0


def test_ctc_loss_hand_worked():
  # Case 1, T = 2 (a third, padded frame): "a" over (blank, a) has 3 alignments aa, a-, -a.
  # Case 2, T = 3: "aa" has the single alignment a-a (the blank between is mandatory).
  p1 = np.array([[0.3, 0.7], [0.6, 0.4], [0.5, 0.5]])
  p2 = np.array([[0.2, 0.8], [0.5, 0.5], [0.1, 0.9]])
  expected = [-np.log(0.7 * 0.4 + 0.7 * 0.6 + 0.3 * 0.4), -np.log(0.8 * 0.5 * 0.9)]
  logits = np.log(np.stack([p1, p2])).astype(np.float32)
  got = jax.jit(optax.ctc_loss)(
    logits,
    np.array([[0, 0, 1], [0, 0, 0]], np.float32),
    np.array([[1, 0], [1, 1]]),
    np.array([[0, 1], [0, 0]], np.float32),
  )
  np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6)
  # the class form (class 0 is symbol 1): the same as case 1
  loss = jax.jit(ctc.ctc_class_loss)(logits[:1], np.array([[True, True, False]]), np.array([0]))
  np.testing.assert_allclose(np.asarray(loss), expected[:1], rtol=1e-6)


def test_bad_input_named():
  with pytest.raises(ValueError, match='log_probs must have 2'):
    fewshot.ctc_beam_search(np.zeros((2, 3, 4), np.float32))
  with pytest.raises(ValueError, match='NaN'):
    fewshot.ctc_beam_search(np.full((2, 3), np.nan, np.float32))
  with pytest.raises(ValueError, match='blank'):
    fewshot.ctc_beam_search(np.zeros((2, 3), np.float32), blank=3)
  with pytest.raises(ValueError, match='beam_width'):
    fewshot.ctc_beam_search(np.zeros((2, 3), np.float32), beam_width=0)
  with pytest.raises(ValueError, match='lengths must lie'):
    fewshot.ctc_beam_search_batch(np.zeros((2, 3, 3), np.float32), np.array([1, 4]))
