"""Runs an experiment script as one process of a multi-host JAX job.

    # on every host (process i of n), the same command:
    python -m experiments.distributed --coordinator HOST0:1234 --num-processes n \
        --process-id i -- experiments.semg_fewshot --out runs/semg

On Cloud TPU, SLURM or Open MPI leave out the three flags: JAX finds them
itself. The script calls `jax.distributed.initialize` (JAX's own runtime; on
CPU-only hosts with gloo collectives) and then runs the experiment module as
`__main__`. Inside, `fewshot.trainer.fit_runs` and
`fewshot.evaluate_episodes` split their runs and episodes over the devices
of all hosts and hand every process the whole result, so each host computes
the same tables (and writes its own copy of the run folder).
"""

from __future__ import annotations

import argparse
import runpy
import sys

import jax


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--coordinator', default=None, help='host:port of process 0')
  p.add_argument('--num-processes', type=int, default=None)
  p.add_argument('--process-id', type=int, default=None)
  p.add_argument('module', help='the experiment module, e.g. experiments.semg_fewshot')
  p.add_argument('args', nargs=argparse.REMAINDER, help="the experiment's own arguments")
  return p.parse_args(argv)


def main(argv=None) -> None:
  args = parse_args(argv)
  # Before any backend starts; only the CPU client reads it (GPUs/TPUs use their own).
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)
  print(
    f'process {jax.process_index()} of {jax.process_count()}: {jax.local_device_count()} local, '
    f'{jax.device_count()} global devices',
    flush=True,
  )
  extra = args.args[1:] if args.args[:1] == ['--'] else args.args
  sys.argv = [args.module, *extra]
  runpy.run_module(args.module, run_name='__main__', alter_sys=True)


if __name__ == '__main__':
  main()
