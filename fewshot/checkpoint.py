"""Orbax checkpoints of training stages, so experiments resume and skip work.

A stage (e.g. "base model on C1, 10 seeds") trains in chunks of epochs; after
each chunk the whole `FitState` (params, batch_stats, opt_state, step, and the
early-stopping best) is saved by an Orbax `CheckpointManager` under the chunk
count. Re-running the stage restores the latest chunk and continues from
there; when the latest chunk is the last one the stage is finished and only
its state is restored. Because epoch e draws its randomness from
`fold_in(key, e)`, a resumed stage ends in the same state as an uninterrupted
one.
"""

from __future__ import annotations

import os
from typing import Callable

import jax
import orbax.checkpoint as ocp

from fewshot.trainer import FitState
from fewshot.trainer import TrainState


def _manager(directory: str, max_to_keep: int) -> ocp.CheckpointManager:
  return ocp.CheckpointManager(
    os.path.abspath(directory),
    options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
  )


def _to_tree(fs: FitState) -> dict:
  # Plain dicts of the two NamedTuples; Orbax restores into the target's
  # structure, so optax's state NamedTuples come back as themselves.
  return {**fs._asdict(), 'train': fs.train._asdict()}


def _from_tree(tree: dict) -> FitState:
  return FitState(**{**tree, 'train': TrainState(**tree['train'])})


def _restore(mngr, step: int, like: FitState) -> FitState:
  target = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), _to_tree(like))
  tree = mngr.restore(step, args=ocp.args.StandardRestore(target))
  # Orbax returns the saved values in the target's structure; opt_state
  # namedtuples come back as themselves because the target carries them.
  return _from_tree(tree)


def completed_chunks(directory: str) -> int:
  """Number of chunks a stage's checkpoint directory records (0 if none)."""
  if not os.path.isdir(directory):
    return 0
  mngr = _manager(directory, max_to_keep=1)
  try:
    step = mngr.latest_step()
  finally:
    mngr.close()
  return 0 if step is None else int(step)


def run_stage(
  directory: str,
  init: FitState | Callable[[], FitState],
  run_chunk: Callable[[FitState, int], FitState],
  num_chunks: int,
  max_to_keep: int = 2,
  on_chunk: Callable[[int], None] | None = None,
) -> tuple[FitState, int]:
  """Runs (or resumes, or skips) a chunked training stage with checkpoints.

  Args:
    directory: the stage's checkpoint folder (created if missing).
    init: the stage's initial `FitState`, or a function returning it. A
      function is only called when the stage starts from scratch; otherwise
      its `jax.eval_shape` is the structure to restore into, so a finished
      stage costs no initialisation.
    run_chunk: `run_chunk(fit_state, chunk_index) -> fit_state`, one chunk of
      epochs (chunk c covers epochs c * E .. (c + 1) * E - 1).
    num_chunks: chunks in the stage (>= 1).
    max_to_keep: checkpoints Orbax keeps (older ones are deleted).
    on_chunk: called with the chunk index after each chunk that ran (progress).

  Returns:
    `(fit_state, chunks_run)`: the final state, and how many chunks ran in this
    call (0 when the stage was already finished, fewer than `num_chunks` when it
    resumed).
  """
  if num_chunks < 1:
    raise ValueError(f'num_chunks must be >= 1, got {num_chunks}')
  mngr = _manager(directory, max_to_keep)
  try:
    start = mngr.latest_step() or 0
    if start > num_chunks:
      raise ValueError(
        f'{directory} holds chunk {start} > num_chunks={num_chunks}: '
        'a different setting wrote it; use another run folder'
      )
    if callable(init):
      fs = init() if start == 0 else _restore(mngr, start, jax.eval_shape(init))
    else:
      fs = init if start == 0 else _restore(mngr, start, init)
    for chunk in range(start, num_chunks):
      fs = run_chunk(fs, chunk)
      mngr.save(chunk + 1, args=ocp.args.StandardSave(_to_tree(fs)))
      if on_chunk is not None:
        on_chunk(chunk)
    mngr.wait_until_finished()
  finally:
    mngr.close()
  return fs, num_chunks - start
