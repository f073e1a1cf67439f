"""The library's shape, as the README's architecture map states it.

Imports run one way, experiments/ -> (signals/, vision/, fewshot/) -> evaluation/;
signals/ and vision/ hold no learning; experiment scripts stay thin (no function
over 60 lines, no script over 250 lines).
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ('signals', 'vision', 'fewshot', 'evaluation', 'experiments')
# What each package may import from the project (besides itself).
ALLOWED = {
  'evaluation': set(),
  'signals': {'evaluation'},
  'vision': {'evaluation'},
  'fewshot': {'evaluation'},
  'experiments': {'signals', 'vision', 'fewshot', 'evaluation'},
}


def _sources(package):
  return sorted((ROOT / package).rglob('*.py'))


def _imported_packages(path):
  tree = ast.parse(path.read_text(), str(path))
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
      names = [node.module]
    else:
      continue
    for name in names:
      top = name.split('.')[0]
      if top in PACKAGES:
        yield top, node.lineno


@pytest.mark.parametrize('package', PACKAGES)
def test_imports_run_one_way(package):
  wrong = [
    f'{path.relative_to(ROOT)}:{line} imports {top}'
    for path in _sources(package)
    for top, line in _imported_packages(path)
    if top != package and top not in ALLOWED[package]
  ]
  assert not wrong, wrong


def test_preprocessing_packages_hold_no_learning():
  # Models and training live in fewshot/.
  for package in ('signals', 'vision'):
    for path in _sources(package):
      if path.name == '__init__.py':
        continue
      text = path.read_text()
      for needle in ('import optax', 'import flax', 'from flax'):
        assert needle not in text, f'{path.relative_to(ROOT)} uses {needle}'


def test_experiment_scripts_are_thin():
  too_long = []
  for path in _sources('experiments'):
    lines = path.read_text().splitlines()
    if path.parent.name != 'configs' and len(lines) > 250:
      too_long.append(f'{path.relative_to(ROOT)}: {len(lines)} lines')
    for node in ast.walk(ast.parse('\n'.join(lines))):
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        n = node.end_lineno - node.lineno + 1
        if n > 60:
          too_long.append(f'{path.relative_to(ROOT)}:{node.lineno} {node.name}: {n} lines')
  assert not too_long, too_long
