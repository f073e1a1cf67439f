"""Results as records: one per reported number, so two runs compare number by number.

A record is `{"table", "row", "column", "value", "estimator", "selection"}`
plus `statistic` (what `value` is of the cell: 'median', 'iqr', 'q1', 'q3',
'mean', 'std', or 'value' for a single number) and `n` (how many seeds,
folds or episodes it summarises; None for a single number):

* `table`, `row`, `column`: where the number stands in the paper's layout
  (e.g. 'VII', 'DL', '5'; 'IV', 'STSTNet', 'Full UF1').
* `estimator`: what the number estimates and over what, in words (e.g.
  'weighted F1 of each seed's model on its test split; median over 10 seeds').
* `selection`: what data chose anything that shaped the number (epochs,
  methods, thresholds), e.g. 'epochs: early stopping on the seed's labelled
  validation split' or 'none: fixed epochs'. A number selected on the split
  it reports says so here.

Every experiment writes `results.json` as `{"records": [...], "timings":
{stage: seconds}, ...}`; `evaluation.reports.tables_markdown` renders tables
from records and `python -m experiments.compare A B` compares two run folders.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

FIELDS = ('table', 'row', 'column', 'value', 'estimator', 'selection', 'statistic', 'n')
STATISTICS = ('value', 'median', 'iqr', 'q1', 'q3', 'mean', 'std')


class Record(NamedTuple):
  """One reported number (module docstring)."""

  table: str
  row: str
  column: str
  value: float
  estimator: str
  selection: str
  statistic: str = 'value'
  n: int | None = None

  @property
  def cell(self) -> tuple[str, str, str, str]:
    """The key two runs are matched on: (table, row, column, statistic)."""
    return (self.table, self.row, self.column, self.statistic)


def record(table, row, column, value, *, estimator: str, selection: str, statistic='value', n=None):
  """A checked `Record` (names as str, a finite float value, a known statistic)."""
  if not isinstance(value, numbers.Real) and not (np.ndim(value) == 0 and np.isrealobj(value)):
    raise ValueError(
      f'record ({table}, {row}, {column}): value must be a real number, got {value!r}'
    )
  value = float(value)
  if not math.isfinite(value):
    raise ValueError(f'record ({table}, {row}, {column}): value is {value}')
  for name, text in (('estimator', estimator), ('selection', selection)):
    if not isinstance(text, str) or not text.strip():
      raise ValueError(f'record ({table}, {row}, {column}): {name} must be a non-empty string')
  if statistic not in STATISTICS:
    raise ValueError(f'statistic must be one of {STATISTICS}, got {statistic!r}')
  return Record(
    str(table), str(row), str(column), value, estimator, selection, statistic,
    None if n is None else int(n),
  )  # fmt: skip


def from_summary(table: str, summary: Mapping, *, estimator: str, selection) -> list[Record]:
  """Records of a summary table `{row: {column: cell}}` (`reports.summarize`'s output).

  A cell is a number (one record, statistic 'value') or a summary dict:
  {'median', 'iqr', 'q1', 'q3', 'n'} or {'mean', 'std', 'n'} (one record per
  statistic, each with `n`).

  Args:
    table: the table's name.
    summary: {row: {column: cell}}.
    estimator: what each number estimates (module docstring).
    selection: what selected it; a str for every cell, or a callable
      `selection(row, column) -> str` where rows were selected differently.
  """
  select = selection if callable(selection) else (lambda row, col: selection)
  out = []
  for row, cols in summary.items():
    for col, cell in cols.items():
      sel = select(row, col)
      if isinstance(cell, Mapping):
        n = cell.get('n')
        for stat in STATISTICS[1:]:
          if stat in cell:
            out.append(
              record(
                table, row, col, cell[stat], estimator=estimator, selection=sel, statistic=stat, n=n
              )
            )
      else:
        out.append(record(table, row, col, cell, estimator=estimator, selection=sel))
  return out


def to_summary(records: Iterable[Record], table: str) -> dict:
  """The summary table `{row: {column: cell}}` of `table`, in first-seen order.

  The inverse of `from_summary`: a cell of 'value' records is a number, a
  cell of statistics a dict (`reports.markdown_table` renders either).
  """
  out: dict = {}
  for r in records:
    if r.table != table:
      continue
    cells = out.setdefault(r.row, {})
    if r.statistic == 'value':
      cells[r.column] = r.value
    else:
      cell = cells.setdefault(r.column, {})
      cell[r.statistic] = r.value
      if r.n is not None:
        cell['n'] = r.n
  if not out:
    raise ValueError(f'no records of table {table!r}')
  return out


def tables(records: Iterable[Record]) -> list[str]:
  """The table names, in first-seen order."""
  return list(dict.fromkeys(r.table for r in records))


def _check_unique(records: list[Record]) -> None:
  seen = set()
  for r in records:
    if r.cell in seen:
      raise ValueError(f'two records for the same cell {r.cell}')
    seen.add(r.cell)


def to_json(records: Iterable[Record]) -> list[dict]:
  """Records as JSON-able dicts with the fields of `FIELDS`."""
  records = list(records)
  _check_unique(records)
  return [r._asdict() for r in records]


def from_json(items: Iterable[Mapping]) -> list[Record]:
  """Records from `to_json`'s dicts (missing `statistic`/`n` default)."""
  out = []
  for i, item in enumerate(items):
    missing = [f for f in FIELDS[:6] if f not in item]
    if missing:
      raise ValueError(f'record {i} lacks the field(s) {missing}: {dict(item)}')
    kw = {k: item[k] for k in ('statistic', 'n') if k in item}
    out.append(
      record(
        item['table'], item['row'], item['column'], item['value'],
        estimator=item['estimator'], selection=item['selection'], **kw,
      )
    )  # fmt: skip
  return out


def read(path) -> list[Record]:
  """The records of a run folder (its `results.json`) or of a `results.json` file."""
  path = Path(path)
  if path.is_dir():
    path = path / 'results.json'
  if not path.is_file():
    raise FileNotFoundError(f'no results file at {path}')
  with open(path, encoding='utf-8') as f:
    try:
      data = json.load(f)
    except json.JSONDecodeError as e:
      raise ValueError(f'{path} is not valid JSON: {e}') from None
  if not isinstance(data, Mapping) or 'records' not in data:
    raise ValueError(f'{path} holds no "records" list (written before records existed?)')
  return from_json(data['records'])


class Difference(NamedTuple):
  """One cell of a comparison: values in runs A and B (None where absent)."""

  cell: tuple[str, str, str, str]
  a: float | None
  b: float | None
  changed_meaning: str  # '' or which of estimator / selection differ


def compare(a: Iterable[Record], b: Iterable[Record]) -> list[Difference]:
  """Matches two runs' records by (table, row, column, statistic).

  Returns every cell of either run in A's order (then B's extra cells), with
  the fields whose wording differs (a number estimated or selected another
  way is not the same number).
  """
  a, b = list(a), list(b)
  _check_unique(a)
  _check_unique(b)
  by_b = {r.cell: r for r in b}
  out = []
  for r in a:
    o = by_b.get(r.cell)
    meaning = ''
    if o is not None:
      meaning = ', '.join(f for f in ('estimator', 'selection') if getattr(r, f) != getattr(o, f))
    out.append(Difference(r.cell, r.value, None if o is None else o.value, meaning))
  cells_a = {r.cell for r in a}
  out += [Difference(r.cell, None, r.value, '') for r in b if r.cell not in cells_a]
  return out
