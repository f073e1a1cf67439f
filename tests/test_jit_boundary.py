"""Jit at the boundary: public numeric functions compile once per shape and static settings.

For each function: the first call compiles at most one XLA program (exactly
one unless an earlier test already compiled those shapes), a repeat call with
the same shapes and new values compiles and traces nothing, and a call with
another static setting compiles at most one program more (eager jnp code
would compile one program per primitive, a fresh `jax.jit` per call one per
call). Compilations are counted with a `jax.monitoring` listener on XLA's
backend-compile event; traces with the jaxpr-trace event.

Shapes are tiny and unusual (so that other tests rarely share them).
"""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import optax

import evaluation
import fewshot
import signals
from evaluation import metrics
from fewshot import siamese
from fewshot import trainer
from fewshot.models import har as har_models
from signals.har import transforms as har

_COMPILE = '/jax/core/compile/backend_compile_duration'
_TRACE = '/jax/core/compile/jaxpr_trace_duration'
_recording: list | None = None


def _listener(event, duration, **kwargs):
  del duration
  if _recording is not None and event in (_COMPILE, _TRACE):
    _recording.append((event, kwargs.get('fun_name', '?')))


jax.monitoring.register_event_duration_secs_listener(_listener)


@contextlib.contextmanager
def _record():
  global _recording
  _recording = []
  try:
    yield _recording
  finally:
    _recording = None


def compiled(fn, *args, **kwargs) -> tuple[list[str], list[str]]:
  """Calls fn and returns the names of the programs it compiled and traced."""
  with _record() as events:
    jax.block_until_ready(fn(*args, **kwargs))
  return [n for e, n in events if e == _COMPILE], [n for e, n in events if e == _TRACE]


def check_once(first, repeat, other=None):
  """first(): <= 1 compile; repeat() (same shapes, new values): nothing; other(): <= 1.

  The lambdas must only call the function under test: their inputs are made
  beforehand (an eager jnp op in a lambda would compile on its own).
  """
  c, _ = compiled(first)
  assert len(c) <= 1, f'first call compiled {c}'
  c, t = compiled(repeat)
  assert c == [] and t == [], f'repeat call compiled {c} and traced {t}'
  if other is not None:  # 0 when an earlier test in this process compiled the same setting
    c, _ = compiled(other)
    assert len(c) <= 1, f'a new static setting should compile one program, got {c}'


def rng(seed=0):
  return np.random.default_rng(seed)


def floats(*shape, seed=0):
  return rng(seed).standard_normal(shape).astype(np.float32)


def test_counter_catches_eager_code_and_per_call_jit():
  x = floats(13, seed=1)
  fresh_jit = lambda x: jax.jit(lambda y: y * 2 + 1)(x)
  assert len(compiled(fresh_jit, x)[0]) == 1
  assert len(compiled(fresh_jit, x + 1)[0]) == 1  # a new lambda compiles on every call
  eager = lambda x: jnp.sin(jnp.asarray(x, jnp.float32)) * 3.5 + jnp.cos(jnp.asarray(x))
  assert len(compiled(eager, floats(13, 3, seed=2))[0]) >= 2  # one program per primitive


# --------------------------------------------------------------- signals


def test_semg_transforms():
  x = floats(2, 3, 57)
  check_once(
    lambda: signals.frame(x, 9, 5),
    lambda: signals.frame(x + 1, 9, 5),
    lambda: signals.frame(x, 9, 6),
  )
  frames = floats(4, 21)
  check_once(
    lambda: signals.sampen(frames, 2, 0.3),
    lambda: signals.sampen(frames * 2, 2, 0.45),  # r is traced: a tolerance sweep reuses it
    lambda: signals.sampen(frames, 3, 0.3),
  )
  tol = np.full(4, 0.5, np.float32)
  check_once(
    lambda: signals.semg.sampen_counts(frames, tol, 2),
    lambda: signals.semg.sampen_counts(frames + 1, tol * 2, 2),
    lambda: signals.semg.sampen_counts(frames, tol, 2, strict=False),
  )
  check_once(
    lambda: signals.savgol(x, 7, 2),
    lambda: signals.savgol(x - 1, 7, 2),
    lambda: signals.savgol(x, 9, 2),
  )
  check_once(
    lambda: signals.decimate(x, 3),
    lambda: signals.decimate(x * 3, 3),
    lambda: signals.decimate(x, 5),
  )


def test_semg_features_is_one_program():
  x = floats(2, 2, 67)  # 12 frames of 8 every 5 samples
  kw = dict(size=8, hop=5, window=5, order=2, factor=2)
  check_once(
    lambda: signals.semg_features(x, **kw),
    lambda: signals.semg_features(x * 2, r=0.2, **kw),
    lambda: signals.semg_features(x, **{**kw, 'factor': 3}),
  )


def test_har_transforms_compile_once_per_bucket():
  a = floats(37, 3)
  b = floats(50, 3, seed=1)  # another length in the same power-of-two bucket
  check_once(
    lambda: har.gaussian_filter1d(a, 1.0),
    lambda: har.gaussian_filter1d(b, 1.0),
    lambda: har.gaussian_filter1d(a, 2.0),
  )
  median = np.zeros(3)
  check_once(
    lambda: har.preprocess_accelerometer(floats(70, 3), median),
    lambda: har.preprocess_accelerometer(floats(100, 3, seed=1), median),
    lambda: har.preprocess_accelerometer(floats(70, 3), median, sigma=1.5),
  )
  d, d2, d3 = (jnp.asarray(floats(23, c, seed=c)) for c in (3, 3, 2))
  check_once(lambda: har.derivatives(d), lambda: har.derivatives(d2), lambda: har.derivatives(d3))


# --------------------------------------------------------------- fewshot


def episode(n_way=3, k_shot=2, n_query=5, dim=11, seed=0):
  r = rng(seed)
  support = r.standard_normal((n_way * k_shot, dim)).astype(np.float32)
  labels = np.repeat(np.arange(n_way), k_shot).astype(np.int32)
  query = r.standard_normal((n_query, dim)).astype(np.float32)
  return support, labels, query


def _neg_l2(params, query, support):
  return -params['scale'] * jnp.linalg.norm(query[:, None] - support[None], axis=-1)


def test_classifiers():
  s, y, q = episode()
  s2, _, q2 = episode(seed=1)
  check_once(
    lambda: fewshot.lp_classifier(s, y, q, 3, p=2),
    lambda: fewshot.lp_classifier(s2, y, q2, 3, p=2.0),  # 2.0 is the same static p
    lambda: fewshot.lp_classifier(s, y, q, 3, p=3),
  )
  p1, p2 = jnp.float32(1.5), jnp.float32(7.0)
  check_once(
    lambda: fewshot.lp_classifier(s, y, q, 3, p=p1),
    lambda: fewshot.lp_classifier(s2, y, q2, 3, p=p2),  # an array p is traced
    lambda: fewshot.lp_classifier(s, y, q, 4, p=p1),
  )
  for classify in (fewshot.matching_classifier, fewshot.prototype_classifier):
    check_once(
      lambda: classify(s, y, q, 3),
      lambda: classify(s2, y, q2, 3),
      lambda: classify(s, y, q, 4),
    )
  sim = floats(5, 6)
  check_once(
    lambda: fewshot.siamese_classifier(sim, y, 3),
    lambda: fewshot.siamese_classifier(sim + 1, y, 3),
    lambda: fewshot.siamese_classifier(sim, y, 5),
  )
  check_once(
    lambda: fewshot.make_siamese_classifier(_neg_l2, {'scale': 1.0})(s, y, q, 3),
    lambda: fewshot.make_siamese_classifier(_neg_l2, {'scale': 2.0})(s2, y, q2, 3),
    lambda: fewshot.make_siamese_classifier(_neg_l2, {'scale': 1.0})(s, y, q, 4),
  )


def test_episodes():
  y = np.repeat(np.arange(5), 7).astype(np.int32)
  emb, emb2 = floats(35, 9), floats(35, 9, seed=1)
  key, key2 = jax.random.key(0), jax.random.key(1)
  kw = dict(n_way=3, k_shot=2, n_query=3)
  check_once(
    lambda: fewshot.sample_episodes(key, y, num_episodes=17, **kw),
    lambda: fewshot.sample_episodes(key2, y, num_episodes=17, **kw),
    lambda: fewshot.sample_episodes(key, y, num_episodes=18, **kw),
  )
  lp = lambda p: jax.tree_util.Partial(fewshot.lp_classifier, p=p)
  kw.update(num_episodes=13)
  check_once(
    lambda: fewshot.evaluate_episodes(key, emb, y, classifier=lp(1), **kw),
    # New key, new embeddings, new p (a Partial's p is traced): nothing compiles.
    # (Another static setting compiles the program again, as sample_episodes shows.)
    lambda: fewshot.evaluate_episodes(key2, emb2, y, classifier=lp(20), **kw),
  )


def test_siamese_similarity_and_fusion():
  # `similarity_fn` only runs the Table II head (`compare`), so head
  # parameters of the right shapes are all it needs.
  model = fewshot.SiameseNet(head_fc=(4, 3))
  sizes = {'sim_fc_1': (5, 4), 'sim_fc_2': (4, 3), 'sim_out': (3, 1)}
  params = {k: {'kernel': floats(*sh), 'bias': floats(sh[1])} for k, sh in sizes.items()}
  doubled = jax.tree.map(lambda a: 2 * a, params)
  ea, eb, ea3, eb3 = floats(7, 5), floats(7, 5, seed=1), floats(3, 5), floats(3, 5, seed=1)
  check_once(
    lambda: siamese.similarity_fn(model, params, {})(ea, eb),
    lambda: siamese.similarity_fn(model, doubled, {})(eb, ea),
    lambda: siamese.similarity_fn(model, params, {})(ea3, eb3),
  )
  f = [floats(4, 3), floats(4, 2, seed=1)]
  g = [a + 1 for a in f]
  h = f + [floats(4, 1)]
  for fusion in (har_models.concat_fusion, har_models.outer_fusion):
    check_once(lambda: fusion(f), lambda: fusion(g), lambda: fusion(h))


def test_fit_runs_compiles_one_program():
  model_fn = lambda params, x: x @ params['w']

  def loss_fn(params, batch_stats, key, batch):
    del key
    err = jnp.sum((model_fn(params, batch.data['x']) - batch.data['y']) ** 2, -1)
    return trainer.masked_mean(err, batch.mask), batch_stats

  tx = optax.sgd(0.1)
  fit = trainer.make_fit(loss_fn, tx, trainer.FitConfig(num_epochs=2, batch_size=3))
  data = {'x': floats(9, 2), 'y': floats(9, 1)}
  split = trainer.make_split([[0, 1, 2, 3], [4, 5, 6, 7, 8]])
  one = trainer.init_fit_state({'params': {'w': jnp.zeros((2, 1))}}, tx)
  states = jax.tree.map(lambda a: jnp.stack([a, a]), one)
  keys, keys2 = jax.random.split(jax.random.key(0), 2), jax.random.split(jax.random.key(1), 2)
  # (Another num_epochs would compile the training loop again: correct, but slow to show.)
  check_once(
    lambda: trainer.fit_runs(fit, states, keys, data, split, num_epochs=2),
    lambda: trainer.fit_runs(fit, states, keys2, data, split, num_epochs=2, max_epochs=1),
  )


# ------------------------------------------------------------- evaluation


def labels(n, c, seed):
  return rng(seed).integers(0, c, n).astype(np.int32)


def test_metrics_and_statistics():
  t, p, t2, p2 = labels(23, 3, 0), labels(23, 3, 1), labels(23, 3, 2), labels(23, 3, 3)
  check_once(
    lambda: evaluation.f1_score(t, p, 3, average='macro'),
    lambda: evaluation.f1_score(t2, p2, 3, average='macro'),
    lambda: evaluation.f1_score(t, p, 3, average='weighted'),
  )
  for fn in (evaluation.confusion_matrix, evaluation.uar, evaluation.precision_recall_f1):
    check_once(lambda: fn(t, p, 3), lambda: fn(t2, p2, 3), lambda: fn(t, p, 5))
  check_once(
    lambda: evaluation.accuracy(t, p),
    lambda: evaluation.accuracy(t2, p2),
    lambda: evaluation.accuracy(t[:7], p[:7]),
  )
  cm, cm2 = (
    np.asarray(metrics.confusion_matrix(t, p, 3)),
    np.asarray(metrics.confusion_matrix(t2, p2, 3)),
  )
  eye = np.eye(6, dtype=np.int32)
  check_once(
    lambda: evaluation.f1_from_confusion(cm, 'macro'),
    lambda: evaluation.f1_from_confusion(cm2, 'macro'),
    lambda: evaluation.f1_from_confusion(cm, 'micro'),
  )
  for fn in (evaluation.uar_from_confusion, evaluation.accuracy_from_confusion):
    check_once(lambda: fn(cm), lambda: fn(cm2), lambda: fn(eye))
  s = rng(4).uniform(size=(9, 2)).astype(np.float32)
  s2 = s[::-1] + 1
  for fn in (evaluation.median_iqr, evaluation.mean_std):
    check_once(lambda: fn(s, 0), lambda: fn(s2, 0), lambda: fn(s, 1))


def test_megc_pooling():
  folds_t = [labels(n, 3, n) for n in (5, 9, 4)]
  folds_p = [labels(n, 3, n + 1) for n in (5, 9, 4)]
  other_t = [labels(n, 3, n) for n in (20, 3)]  # another fold layout, same length bucket
  other_p = [labels(n, 3, n + 1) for n in (20, 3)]
  check_once(
    lambda: evaluation.composite_scores(folds_t, folds_p)['UF1'],
    lambda: evaluation.composite_scores(other_t, other_p)['UF1'],
    lambda: evaluation.composite_scores(folds_t, folds_p, num_classes=4)['UF1'],
  )
  stack = np.stack([np.eye(3, dtype=np.int32)] * 7)
  check_once(
    lambda: evaluation.pooled_confusion(stack),
    lambda: evaluation.pooled_confusion(stack * 2),
    lambda: evaluation.pooled_confusion(stack[:5]),
  )


def test_public_functions_still_trace_inside_user_jit():
  # Called inside jit/vmap, the boundary checks only static shapes and the
  # jitted cores inline into the caller's program.
  t, p = labels(19, 4, 5), labels(19, 4, 6)
  f1 = jax.jit(jax.vmap(lambda a, b: evaluation.f1_score(a, b, 4, average='macro')))
  np.testing.assert_allclose(
    f1(np.stack([t, p]), np.stack([p, t])),
    [evaluation.f1_score(t, p, 4, average='macro'), evaluation.f1_score(p, t, 4, average='macro')],
    rtol=1e-6,
  )
  frames = floats(3, 21)
  sweep = jax.jit(jax.vmap(lambda r: signals.sampen(frames, 2, r)))
  np.testing.assert_allclose(
    sweep(jnp.asarray([0.2, 0.3])),
    [signals.sampen(frames, 2, 0.2), signals.sampen(frames, 2, 0.3)],
    rtol=1e-6,
  )
