"""Benchmark: few-shot episode evaluation as one program vs a per-episode loop.

Scores N-way K-shot episodes of the sEMG few-shot protocol (paper II-E) two
ways, in the same run, with the same model, classifier and episodes:

* vectorized: `fewshot.evaluate_episodes`: embed the support pool (D^train)
  and the query pool (D^test) once with the base model's feature extractor,
  then score every episode in one vmapped, jitted computation;
* loop: the way PyTorch few-shot libraries evaluate: for each episode, embed
  its support and its queries with the model, classify, compute F1 and fetch
  it to the host. Each step is already one jitted call (embed + classify +
  F1), so the loop pays only for re-embedding and per-episode dispatch, never
  for Python-level maths.

The model is the paper's base model f_bar (Table I: three BiLSTM layers, FC
64, FC 32; `fewshot.models.SEMGEmbedder`) with random weights: the timing does
not depend on training. Pool sizes are those of the unseen classes C5-C7 in
the paper's Table III (train 244/318/403, test 120 each); inputs are random
[2, 61] features.

The loop is timed on `--loop-episodes` episodes and extrapolated per episode.
Repeats alternate loop and vectorized runs so that machine load hits both;
medians are printed.

    python -m experiments.bench.episodes                      # 10,000 3-way 5-shot episodes
    python -m experiments.bench.episodes --classifier CL20 --loop-episodes 100
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import numpy as np

import fewshot
from evaluation import f1_score
from fewshot.models import SEMGEmbedder

# Command-line names without the caret: CL1, CL2, CL20, CM, CP.
CLASSIFIERS = {name.replace('^', ''): fn for name, fn in fewshot.METRIC_CLASSIFIERS.items()}
TRAIN_SIZES = (244, 318, 403)  # Table III, C5-C7
TEST_SIZE = 120


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--episodes', type=int, default=10_000, help='episodes for evaluate_episodes')
  p.add_argument('--loop-episodes', type=int, default=200, help='episodes timed in the loop')
  p.add_argument('--n-way', type=int, default=3)
  p.add_argument('--k-shot', type=int, default=5)
  p.add_argument('--n-query', type=int, default=5, help='queries per class per episode')
  p.add_argument('--classifier', choices=sorted(CLASSIFIERS), default='CP')
  p.add_argument('--repeats', type=int, default=3)
  p.add_argument('--seed', type=int, default=0)
  return p.parse_args(argv)


def make_pools(key, dim_in=(2, 61)):
  """Random [n, 2, 61] inputs with labels 0..2 in Table III's C5-C7 proportions."""
  k_train, k_test = jax.random.split(key)
  y_train = np.repeat(np.arange(len(TRAIN_SIZES)), TRAIN_SIZES).astype(np.int32)
  y_test = np.repeat(np.arange(len(TRAIN_SIZES)), TEST_SIZE).astype(np.int32)
  x_train = np.asarray(jax.random.normal(k_train, (len(y_train), *dim_in)))
  x_test = np.asarray(jax.random.normal(k_test, (len(y_test), *dim_in)))
  return x_train, y_train, x_test, y_test


def median_time(fn, repeats: int) -> float:
  times = []
  for _ in range(repeats):
    t = time.perf_counter()
    fn()
    times.append(time.perf_counter() - t)
  return float(np.median(times))


def setup(args):
  """The model, pools and the two ways of scoring the same episodes."""
  k_init, k_data, k_episodes = jax.random.split(jax.random.key(args.seed), 3)
  x_train, y_train, x_test, y_test = make_pools(k_data)
  model = SEMGEmbedder()
  params = model.init(k_init, x_train[:1])
  embed = jax.jit(model.apply)  # (params, [n, 2, 61]) -> [n, 32]
  classifier = CLASSIFIERS[args.classifier]
  shape = dict(n_way=args.n_way, k_shot=args.k_shot, n_query=args.n_query)

  def score(emb_train, emb_test):
    res = fewshot.evaluate_episodes(
      k_episodes,
      emb_train,
      y_train,
      emb_test,
      y_test,
      classifier=classifier,
      num_episodes=args.episodes,
      **shape,
    )
    return jax.block_until_ready(res)

  def vectorized():
    return score(embed(params, x_train), embed(params, x_test))  # each pool embedded once

  # The loop scores the first loop_episodes of the very same episodes.
  episodes = jax.device_get(
    fewshot.sample_episodes(
      k_episodes, y_train, num_episodes=args.loop_episodes, query_labels=y_test, **shape
    )
  )

  @jax.jit
  def episode_step(params, x_support, support_labels, x_query, query_labels):
    emb_s, emb_q = embed(params, x_support), embed(params, x_query)
    predictions = classifier(emb_s, support_labels, emb_q, args.n_way)
    return f1_score(query_labels, predictions, args.n_way, average='macro')

  def loop():
    # A per-episode host fetch, as `.item()` in torch loops.
    return np.array(
      [
        float(
          episode_step(
            params,
            x_train[episodes.support[i]],
            episodes.support_labels[i],
            x_test[episodes.query[i]],
            episodes.query_labels[i],
          )
        )
        for i in range(args.loop_episodes)
      ]
    )

  def pools():
    return jax.block_until_ready((embed(params, x_train), embed(params, x_test)))

  return vectorized, loop, score, pools


def measure(args) -> dict:
  vectorized, loop, score, pools = setup(args)
  t = time.perf_counter()
  result = vectorized()
  first_vectorized = time.perf_counter() - t
  t = time.perf_counter()
  loop_f1 = loop()
  first_loop = time.perf_counter() - t
  vec = median_time(vectorized, args.repeats)
  looped = median_time(loop, args.repeats)
  emb = pools()
  scoring = median_time(lambda: score(*emb), args.repeats)  # the episodes alone
  vec_per_ep, loop_per_ep = vec / args.episodes, looped / args.loop_episodes
  agree = np.mean(np.isclose(np.asarray(result.f1[: args.loop_episodes]), loop_f1, atol=1e-6))
  return {
    'device': f'{jax.devices()[0].device_kind} ({jax.default_backend()}), '
    f'{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}',
    'jax': jax.__version__,
    'setting': f'{args.n_way}-way {args.k_shot}-shot, {args.n_query} queries/class, '
    f'classifier {args.classifier}, model Table I BiLSTM (random init)',
    'vectorized_s_median': vec,
    'vectorized_first_call_s': first_vectorized,
    'vectorized_episodes_per_s': 1.0 / vec_per_ep,
    'scoring_only_s_median': scoring,
    'loop_s_median': looped,
    'loop_first_call_s': first_loop,
    'loop_episodes_per_s': 1.0 / loop_per_ep,
    'loop_extrapolated_s': loop_per_ep * args.episodes,
    'speedup': loop_per_ep / vec_per_ep,
    'f1_agreement': float(agree),
    'median_f1': float(np.median(result.f1)),
  }


def report(args, f: dict) -> None:
  print(f'device      {f["device"]}, jax {f["jax"]}')
  print(f'setting     {f["setting"]}')
  print(
    f'vectorized  {args.episodes} episodes: median {f["vectorized_s_median"]:.3f} s over '
    f'{args.repeats} repeats (first call incl. compile {f["vectorized_first_call_s"]:.2f} s)'
    f' -> {f["vectorized_episodes_per_s"]:,.0f} episodes/s'
  )
  print(
    f'            of which scoring the episodes (pools already embedded): median '
    f'{f["scoring_only_s_median"]:.3f} s -> '
    f'{args.episodes / f["scoring_only_s_median"]:,.0f} episodes/s'
  )
  print(
    f'loop        {args.loop_episodes} episodes: median {f["loop_s_median"]:.3f} s '
    f'(first call incl. compile {f["loop_first_call_s"]:.2f} s) -> '
    f'{f["loop_episodes_per_s"]:,.1f} episodes/s; '
    f'{args.episodes} episodes would take {f["loop_extrapolated_s"]:.1f} s'
  )
  print(f'speedup     {f["speedup"]:.0f}x per episode')
  print(
    f'check       per-episode F1 equal on the {args.loop_episodes} shared episodes: '
    f'{f["f1_agreement"]:.1%} (median F1 {f["median_f1"]:.3f}; random weights, so near '
    'chance)'
  )


def main(argv=None) -> dict:
  args = parse_args(argv)
  figures = measure(args)
  report(args, figures)
  return figures


if __name__ == '__main__':
  main()
