"""Compares two run folders record by record.

    python -m experiments.compare RUN_A RUN_B [--tolerance 0.005] [--all]

Matches the `results.json` records of two runs of any experiment by (table,
row, column, statistic) and prints, per table, the cells whose values differ
by more than `--tolerance` (all cells with `--all`), the cells only one run
has, and the cells whose estimator or selection is worded differently (a
number estimated or selected another way is not the same number). Exits 1
when anything differs, so a script can use it as a check.
"""

from __future__ import annotations

import argparse
import sys

from evaluation import records


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('a', help='run folder (or results.json) A')
  p.add_argument('b', help='run folder (or results.json) B')
  p.add_argument('--tolerance', type=float, default=0.0, help='largest |B - A| shown as equal')
  p.add_argument('--all', action='store_true', help='list equal cells too')
  return p.parse_args(argv)


def _fmt(v) -> str:
  return '-' if v is None else f'{v:.6g}'


def report(diffs: list[records.Difference], tolerance: float, show_all: bool) -> tuple[str, int]:
  """Markdown per table and the number of cells that differ."""
  lines, differing, table = [], 0, None
  for d in diffs:
    missing = d.a is None or d.b is None
    changed = missing or abs(d.b - d.a) > tolerance or bool(d.changed_meaning)
    differing += changed
    if not (changed or show_all):
      continue
    if d.cell[0] != table:
      table = d.cell[0]
      lines += ['', f'**{table}**', '', '| row | column | statistic | A | B | B - A | note |']
      lines.append('| --- | --- | --- | --- | --- | --- | --- |')
    delta = '' if missing else f'{d.b - d.a:+.6g}'
    note = 'only in A' if d.b is None else 'only in B' if d.a is None else ''
    if d.changed_meaning:
      note = f'{d.changed_meaning} differ'
    _, row, col, stat = d.cell
    lines.append(f'| {row} | {col} | {stat} | {_fmt(d.a)} | {_fmt(d.b)} | {delta} | {note} |')
  head = f'{len(diffs)} cells, {differing} differ (tolerance {tolerance:g})'
  return '\n'.join([head, *lines]) + '\n', differing


def main(argv=None) -> int:
  args = parse_args(argv)
  diffs = records.compare(records.read(args.a), records.read(args.b))
  text, differing = report(diffs, args.tolerance, args.all)
  sys.stdout.write(text)
  return 1 if differing else 0


if __name__ == '__main__':
  raise SystemExit(main())
