"""The shared experiment command line: --set overrides, validated and listed."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments import cli

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Inner:
  max_epochs: int = 10
  learning_rate: float = 1e-3


@dataclasses.dataclass(frozen=True)
class Config:
  seed: int = 0
  shots: tuple = (1, 5)
  extractor: str = 'cnn'
  combos: tuple | None = None
  vmap: bool = True
  train: Inner = Inner()


def get_config(quick=False):
  return Config(train=Inner(max_epochs=2)) if quick else Config()


def test_set_overrides_nested_fields_with_their_types():
  cfg = cli.override(
    Config(),
    ['train.max_epochs=3', 'train.learning_rate=1', 'shots=(1, 10)', 'extractor=rnn', 'vmap=False'],
  )
  assert cfg.train == Inner(3, 1.0) and isinstance(cfg.train.learning_rate, float)
  assert cfg.shots == (1, 10) and cfg.extractor == 'rnn' and cfg.vmap is False
  assert cli.override(Config(), ['combos=((("acc",), "concat"),)']).combos == (
    (('acc',), 'concat'),
  )
  assert cli.override(Config(), ['shots=5']).shots == (5,)


@pytest.mark.parametrize(
  'assignment, message',
  [
    ('train.epochs=3', "no field 'epochs'; the fields are: train.max_epochs, train.learning_rate"),
    ('epochs=3', "no field 'epochs'; the fields are: seed, shots, .*train.max_epochs"),
    ('train=3', 'a group of fields'),
    ('seed=1.5', 'expected int'),
    ('vmap=1', 'expected bool'),
    ('seed', 'FIELD=VALUE'),
    ('seed=None', 'does not take None'),
  ],
)
def test_bad_assignments_are_named(assignment, message):
  with pytest.raises(ValueError, match=message):
    cli.override(Config(), [assignment])


def test_parser_lists_fields_and_config_applies_quick_seed_and_set(capsys):
  p = cli.parser('demo', out='runs/demo', get_config=get_config, data=[('--data', 'a path')])
  with pytest.raises(SystemExit):
    p.parse_args(['--help'])
  text = capsys.readouterr().out
  assert 'train.max_epochs = 10' in text and '--set FIELD=VALUE' in text and '--data' in text
  args = p.parse_args(['--quick', '--seed', '4', '--set', 'train.learning_rate=0.5'])
  cfg = cli.config(args, get_config)
  assert (cfg.seed, cfg.train.max_epochs, cfg.train.learning_rate) == (4, 2, 0.5)
  assert args.out == 'runs/demo' and args.data is None
  assert '--estimate' in text and '--compile-cache' in text
  assert (
    '--estimate'
    not in cli.parser('demo', out='o', get_config=get_config, estimate=False).format_help()
  )


PROGRAM = """
import sys, jax, jax.numpy as jnp
from fewshot import compiles, trainer
compiles.persistent_cache(sys.argv[1])
for _ in range(2):  # the second time with the in-memory caches cleared, as in a new process
  start = compiles.snapshot()
  jax.jit(lambda x: jnp.sin(x) @ x.T)(jnp.ones((8, 8))).block_until_ready()
  init = jax.jit(lambda x: x * 2, compiler_options=trainer.INIT_COMPILER_OPTIONS)
  init(jnp.ones(3)).block_until_ready()
  done = compiles.since(start)
  print(done['count'], done['loaded'])
  jax.clear_caches()
"""


def test_persistent_cache_makes_a_repeated_run_compile_nothing(tmp_path):
  env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}  # the run's own XLA settings
  out = subprocess.run(
    [sys.executable, '-c', PROGRAM, str(tmp_path / 'cache')],
    capture_output=True, text=True, check=True, env=env, cwd=ROOT,
  ).stdout.split()  # fmt: skip
  compiled, loaded, again, from_cache = map(int, out)
  assert compiled >= 2 and loaded == 0
  assert (again, from_cache) == (0, compiled)  # every program, the -O0 init's too, from the cache
