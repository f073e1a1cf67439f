"""One randomness convention: a `jax.random` key named `key`, first or keyword-only.

Walks every public function, class and public method of the library packages
(and all their submodules) and lists each parameter that breaks it: a
`seed`, `rng`, `random_state` or `generator`, or a `key` that is neither the
first parameter (after `self` / `cls`) nor keyword-only. A config (a
dataclass named `...Config`) may hold an int `seed` field: the script turns
it into one key (`experiments.cli.root_key`).
"""

import dataclasses
import importlib
import inspect
import pkgutil

PACKAGES = ('signals', 'vision', 'fewshot', 'evaluation')
FORBIDDEN = frozenset({'seed', 'rng', 'random_state', 'generator'})


def _modules():
  for name in PACKAGES:
    package = importlib.import_module(name)
    yield package
    for info in pkgutil.walk_packages(package.__path__, f'{name}.'):
      yield importlib.import_module(info.name)


def _callables(module):
  """(qualified name, function) of the public callables defined in `module`."""
  for name, obj in vars(module).items():
    if name.startswith('_') or getattr(obj, '__module__', None) != module.__name__:
      continue
    if inspect.isfunction(obj):
      yield f'{module.__name__}.{name}', obj
    elif inspect.isclass(obj):
      yield f'{module.__name__}.{name}', obj
      for attr, member in vars(obj).items():
        if attr.startswith('_') and attr != '__call__':
          continue
        if isinstance(member, (staticmethod, classmethod)):
          member = member.__func__
        if inspect.isfunction(member):
          yield f'{module.__name__}.{name}.{attr}', member


def _is_config(obj) -> bool:
  return inspect.isclass(obj) and dataclasses.is_dataclass(obj) and obj.__name__.endswith('Config')


def _violations(qualname, fn):
  try:
    params = list(inspect.signature(fn).parameters.values())
  except (TypeError, ValueError):
    return
  params = [p for p in params if p.name not in ('self', 'cls')]
  for i, p in enumerate(params):
    misplaced_key = p.name == 'key' and i > 0 and p.kind is not p.KEYWORD_ONLY
    config_seed = p.name == 'seed' and _is_config(fn)
    if (p.name in FORBIDDEN and not config_seed) or misplaced_key:
      yield f'{qualname}({p.name})'


def test_randomness_takes_a_key_first_or_keyword_only():
  found = {v for m in _modules() for q, fn in _callables(m) for v in _violations(q, fn)}
  wrong = sorted(found)
  assert not wrong, 'take a jax.random key named `key`, first or keyword-only:\n' + '\n'.join(wrong)


def test_the_walk_sees_every_package_and_flags_a_bad_signature():
  names = {m.__name__ for m in _modules()}
  assert {'signals.semg.synthetic', 'vision.megc.synthetic', 'fewshot.protocols.semg'} <= names
  assert {'evaluation.splits', 'fewshot.siamese'} <= names

  def bad(x, key, seed=0):
    del x, key, seed

  assert sorted(_violations('bad', bad)) == ['bad(key)', 'bad(seed)']

  def good(key, x, *, rngs=None):
    del key, x, rngs

  assert not list(_violations('good', good))
