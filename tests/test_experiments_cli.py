"""The shared experiment command line: --set overrides, validated and listed."""

import dataclasses

import pytest

from experiments import cli


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
