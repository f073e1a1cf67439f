"""The command line every experiment script shares.

    python -m experiments.<name> [--quick] [--out DIR] [--seed N] [--set FIELD=VALUE ...]
                                 [--no-progress] [--estimate] [--compile-cache DIR]
                                 [--data... PATH]

`--set field.sub=value` overrides any field of the experiment's config
(a frozen dataclass, nested ones reached by dots), as ml_collections' config
flags do; the value is read as a Python literal (`3`, `1e-3`, `(5, 10)`,
`None`, `True`, `'rnn'`; a bare word is a string) and must fit the field's
current type. `--help` lists every field with its default. The run folder's
`config.json` keeps the config a run used.

`--estimate` prints each stage's expected full time on this device (the run
in a temporary folder, every training call cut to probes: `fewshot.timing`)
to `OUT/estimate.json` and exits. `--compile-cache DIR` keeps the compiled
programs in DIR: a repeated run compiles nothing.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import io
import json
import os
import sys
import tempfile
import types
import typing
from collections.abc import Callable
from collections.abc import Sequence

import jax

from evaluation import keys
from evaluation import reports
from fewshot import compiles
from fewshot import timing

# The `data` flag of the sEMG scripts (`parse(..., data=SEMG_DATA)`): the seven drills' recordings.
SEMG_DATA = (('--data', 'dataset folder (manifest.csv) or .npz; default: synthetic'),)


def fields(config, prefix: str = '') -> list[tuple[str, object]]:
  """Every leaf field of a (nested) dataclass config as (dotted name, value)."""
  out = []
  for f in dataclasses.fields(config):
    value = getattr(config, f.name)
    name = prefix + f.name
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
      out += fields(value, name + '.')
    else:
      out.append((name, value))
  return out


def _parse(text: str):
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    return text  # a bare word: a string


def _allows_none(config, name: str) -> bool:
  hints = typing.get_type_hints(type(config))
  hint = hints.get(name)
  args = typing.get_args(hint)
  return hint is type(None) or (
    (typing.get_origin(hint) in (typing.Union, types.UnionType)) and type(None) in args
  )


def _coerce(config, name: str, current, value, path: str):
  if value is None:
    if current is None or _allows_none(config, name):
      return None
    raise ValueError(f'--set {path}: the field does not take None (it is {current!r})')
  if current is None:
    return value
  if isinstance(current, bool):
    if isinstance(value, bool):
      return value
  elif isinstance(current, int):
    if isinstance(value, int) and not isinstance(value, bool):
      return value
  elif isinstance(current, float):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
      return float(value)
  elif isinstance(current, tuple):
    if isinstance(value, (tuple, list)):
      return tuple(value)
    return (value,)
  elif isinstance(current, str):
    if isinstance(value, str):
      return value
    return str(value) if isinstance(value, (int, float)) else value
  else:
    return value
  raise ValueError(
    f'--set {path}={value!r}: expected {type(current).__name__} like the default {current!r}'
  )


def override(config, assignments: Sequence[str]):
  """`config` with `--set` assignments applied ('a.b=value'), validated.

  Raises:
    ValueError: an assignment without '=', an unknown field (the message
      lists the config's fields), or a value of the wrong type.
  """
  for text in assignments:
    path, sep, raw = text.partition('=')
    path = path.strip()
    if not sep or not path:
      raise ValueError(f'--set takes FIELD=VALUE, got {text!r}')
    config = _replace(config, path.split('.'), _parse(raw.strip()), path)
  return config


def _replace(config, parts: list[str], value, path: str, prefix: str = ''):
  names = {f.name for f in dataclasses.fields(config)}
  head = parts[0]
  if head not in names:
    known = ', '.join(n for n, _ in fields(config, prefix))
    raise ValueError(f'--set {path}: no field {head!r}; the fields are: {known}')
  current = getattr(config, head)
  if len(parts) > 1:
    if not dataclasses.is_dataclass(current):
      raise ValueError(f'--set {path}: {head!r} is a {type(current).__name__}, not a config')
    new = _replace(current, parts[1:], value, path, f'{prefix}{head}.')
  elif dataclasses.is_dataclass(current) and not isinstance(current, type):
    raise ValueError(f'--set {path}: {head!r} is a group of fields; set one of its fields')
  else:
    new = _coerce(config, head, current, value, path)
  return dataclasses.replace(config, **{head: new})


def _listing(config) -> str:
  return 'config fields (--set FIELD=VALUE; defaults of the full setting):\n' + '\n'.join(
    f'  {name} = {value!r}' for name, value in fields(config)
  )


def parser(
  description: str,
  *,
  out: str,
  get_config: Callable,
  data: Sequence[tuple[str, str]] = (),
  estimate: bool = True,
) -> argparse.ArgumentParser:
  """The shared argument parser of an experiment script.

  Args:
    description: the script's one-line description.
    out: the default run folder.
    get_config: the experiment's `get_config(quick)`; `--help` lists its fields.
    data: extra (flag, help) pairs for the script's data options, each taking
      a path (`--data`, `--data-root`, `--video`).
    estimate: offer `--estimate` (scripts that train; the script calls
      `estimate` when it is given).
  """
  p = argparse.ArgumentParser(
    description=description,
    epilog=_listing(get_config(False)),
    formatter_class=argparse.RawDescriptionHelpFormatter,
  )
  p.add_argument('--quick', action='store_true', help='the minutes-long CPU setting')
  p.add_argument('--out', default=out, help=f'run folder (default {out})')
  p.add_argument('--seed', type=int, default=None, help="override the config's root seed")
  p.add_argument(
    '--set', action='append', default=[], metavar='FIELD=VALUE',
    help='override a config field (repeatable; fields listed below)',
  )  # fmt: skip
  p.add_argument('--no-progress', action='store_true', help='hide progress bars')
  if estimate:
    help_ = "print the setting's expected time here (probes of every training call) and exit"
    p.add_argument('--estimate', action='store_true', help=help_)
  help_ = 'keep compiled programs in DIR (persistent compilation cache)'
  p.add_argument('--compile-cache', metavar='DIR', default=None, help=help_)
  for flag, text in data:
    p.add_argument(flag, default=None, help=text)
  return p


def parse(argv, description: str, *, out: str, get_config: Callable, data=(), estimate=True):
  """`(args, config)` of a script's command line: `parser(...)` then `config(...)`."""
  p = parser(description, out=out, get_config=get_config, data=data, estimate=estimate)
  args = p.parse_args(argv)
  return args, config(args, get_config)


def config(args: argparse.Namespace, get_config: Callable):
  """The run's config: `get_config(args.quick)`, then `--seed`, then every `--set`.

  Also turns on the persistent compilation cache of `--compile-cache`.
  """
  if getattr(args, 'compile_cache', None):
    compiles.persistent_cache(args.compile_cache)
  cfg = get_config(args.quick)
  if args.seed is not None:
    cfg = override(cfg, [f'seed={args.seed}'])
  return override(cfg, args.set)


def root_key(cfg) -> jax.Array:
  """The run's one root key, from the config's int `seed`."""
  return keys.seed_key(cfg.seed)


def estimate(main: Callable, argv: Sequence[str] | None, out: str) -> int:
  """`--estimate`: runs `main(argv)` in a temporary folder on probes, prints and keeps the estimate.

  The run's own output (its tables of probe models) is discarded; its
  results.json timings, with each stage's 'estimate_s', become
  `out/estimate.json` and the printed table.

  Returns:
    `main`'s exit code.
  """
  argv = [a for a in (sys.argv[1:] if argv is None else argv) if a != '--estimate']
  with tempfile.TemporaryDirectory() as tmp, timing.estimating():
    with contextlib.redirect_stdout(io.StringIO()):
      code = main([*argv, '--out', tmp, '--no-progress'])
    with open(os.path.join(tmp, 'results.json')) as f:
      timings = json.load(f)['timings']
  device = f'{jax.devices()[0].device_kind} x{jax.device_count()} ({jax.default_backend()})'
  total = timings['total']
  os.makedirs(out, exist_ok=True)
  reports.write_json(
    {'device': device, 'argv': argv, 'estimate_s': total['estimate_s'], 'timings': timings},
    os.path.join(out, 'estimate.json'),
  )
  print(reports.timings_markdown(timings, title=f'Estimate on {device}: {" ".join(argv)}'))
  print(
    f'estimated time of the full run: {total["estimate_s"]:.0f} s at most (the estimate took '
    f'{total["wall_s"]:.0f} s, of which {total["compile_s"]:.0f} s compiling {total["compiles"]} '
    f'programs); written to {os.path.join(out, "estimate.json")}'
  )
  return code
