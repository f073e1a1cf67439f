"""Result reports: records -> results.json and paper-style markdown (figures: `evaluation.plots`).

Every experiment's numbers are `evaluation.records.Record`s; `write_results`
writes them with the run's timings, and `table_markdown` renders one of the
paper's tables from them (the estimator and selection printed under it).

A results table is a nested dict `{row: {column: cell}}`, rows and columns
as in the paper's table (e.g. rows = methods, columns = shots k; or rows =
methods, columns = 'Full UF1', 'Full UAR', ... for MEGC Table IV). A cell is

* raw per-seed/per-fold scores (a list), turned into a summary cell by
  `summarize`;
* a summary cell: {'median', 'iqr', 'q1', 'q3', 'n'} (sEMG paper) or
  {'mean', 'std', 'n'} (harAGE paper);
* or a single number (MEGC Table IV reports one UF1/UAR per method).
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evaluation import checks
from evaluation import records as records_lib

STATISTICS = ('median_iqr', 'mean_std')


# ---------------------------------------------------------------- summaries


def _check_table(table) -> None:
  if not isinstance(table, Mapping) or not table:
    raise ValueError('results table must be a non-empty dict {row: {col: cell}}.')
  for row, cols in table.items():
    if not isinstance(cols, Mapping) or not cols:
      raise ValueError(f'row {row!r} must be a non-empty dict {{col: cell}}.')


def summarize(scores: Mapping, statistic: str = 'median_iqr', ddof: int = 1) -> dict:
  """Summarises raw per-seed (or per-fold) scores cell by cell.

  Args:
    scores: {row: {col: [n] float scores}}.
    statistic: 'median_iqr' (sEMG paper) or 'mean_std' (harAGE paper).
    ddof: degrees of freedom for 'mean_std' (1 = sample std).

  Returns:
    {row: {col: summary cell}} with plain Python floats.
  """
  if statistic not in STATISTICS:
    raise ValueError(f'statistic must be one of {STATISTICS}, got {statistic!r}.')
  _check_table(scores)
  out = {}
  for row, cols in scores.items():
    out[row] = {}
    for col, values in cols.items():
      x = np.asarray(values, dtype=np.float64).ravel()
      if x.size == 0:
        raise ValueError(f'cell ({row!r}, {col!r}) has no scores.')
      checks.check_finite_scores(x, f'cell ({row!r}, {col!r})')
      # Host float64 NumPy with the same quantile rule as
      # `statistics.quartiles` (linear), so report files carry no float32
      # rounding noise.
      if statistic == 'median_iqr':
        q1, med, q3 = np.percentile(x, [25.0, 50.0, 75.0], method='linear')
        cell = {
          'median': float(med),
          'iqr': float(q3 - q1),
          'q1': float(q1),
          'q3': float(q3),
          'n': int(x.size),
        }
      else:
        if x.size <= ddof:
          raise ValueError(
            f'cell ({row!r}, {col!r}) has {x.size} score(s); std with ddof={ddof} needs more.'
          )
        cell = {'mean': float(x.mean()), 'std': float(x.std(ddof=ddof)), 'n': int(x.size)}
      out[row][col] = cell
  return out


def _kind(cell) -> str:
  if isinstance(cell, Mapping):
    if 'median' in cell and 'iqr' in cell:
      return 'median_iqr'
    if 'mean' in cell and 'std' in cell:
      return 'mean_std'
    raise ValueError(f'unknown summary cell keys {sorted(cell)}.')
  if isinstance(cell, numbers.Real) or (isinstance(cell, np.ndarray) and cell.ndim == 0):
    return 'scalar'
  raise ValueError(
    f'cell {cell!r} is neither a number nor a summary; run summarize() on raw scores first.'
  )


# --------------------------------------------------------------------- JSON


def to_jsonable(obj: Any) -> Any:
  """Converts NumPy/JAX scalars and arrays (and tuples) to plain Python."""
  if isinstance(obj, Mapping):
    return {str(k): to_jsonable(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [to_jsonable(v) for v in obj]
  if hasattr(obj, '__array__') and not isinstance(obj, (str, bytes)):
    a = np.asarray(obj)
    return a.item() if a.ndim == 0 else a.tolist()
  if isinstance(obj, (np.generic,)):
    return obj.item()
  return obj


def _prepare(path) -> Path:
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  return path


def write_json(results: Mapping, path) -> Path:
  """Writes a results dict as JSON (NaN/inf rejected: invalid JSON)."""
  if not isinstance(results, Mapping):
    raise ValueError('results must be a dict.')
  path = _prepare(path)
  try:
    text = json.dumps(to_jsonable(results), indent=2, allow_nan=False)
  except ValueError as e:
    raise ValueError(f'results contain NaN or inf: {e}') from None
  path.write_text(text + '\n')
  return path


# ------------------------------------------------------------------ run config


def check_run_config(out_dir, record: Mapping) -> Path:
  """Writes `out_dir/config.json`, or checks that a resumed run used the same settings.

  Args:
    out_dir: the run folder (created if missing).
    record: what changes the numbers of the run (config, data source), JSON-able
      through `to_jsonable`.

  Raises:
    ValueError: the folder holds a run with other settings.
  """
  path = _prepare(Path(out_dir) / 'config.json')
  mine = json.loads(json.dumps(to_jsonable(record)))
  if path.exists():
    with open(path) as f:
      if json.load(f) != mine:
        raise ValueError(
          f'{out_dir} holds a run with other settings ({path}); use another --out or delete it.'
        )
    return path
  return write_json(mine, path)


# ----------------------------------------------------------------- markdown


def _fmt(x: float, scale: float, digits: int) -> str:
  return f'{x * scale:.{digits}f}'


def markdown_table(
  table: Mapping,
  *,
  title: str | None = None,
  row_header: str = '',
  metric: str = 'F1',
  layout: str | None = None,
  scale: float = 100.0,
  digits: int = 2,
  integer_columns: Sequence[str] = (),
  integer_rows: Sequence[str] = (),
) -> str:
  """Renders a results table as markdown, laid out like the paper's table.

  Layouts:
    'stacked' (default for median/IQR): sEMG Tables VII-IX; each row gives
      two lines, `metric` (median) and 'IQR'.
    'columns' (default for mean/std): harAGE Tables 2-4; each column splits
      into 'μ' and 'σ' sub-columns.
    'inline': one line per row, 'median (IQR)' or 'mean ± std'.
    Scalar cells (MEGC Table IV) always give one line per row.

  Args:
    table: {row: {col: cell}}; all rows share the first row's columns.
    title: optional caption printed above the table (e.g. 'TABLE IX ...').
    row_header: header of the row-label column.
    metric: name of the summarised score in the stacked layout.
    layout: 'stacked', 'columns' or 'inline'; None picks the default.
    scale: multiplier for display (100 for percent, 1 for MEGC's 0-1).
    digits: decimals shown.
    integer_columns: columns of counts (TP, FP, ...), printed unscaled as integers.
    integer_rows: rows of counts (the sign paper's clips per group), the same.

  Returns:
    The markdown text.
  """
  _check_table(table)
  rows = list(table)
  cols = list(table[rows[0]])
  kinds = set()
  for row in rows:
    if list(table[row]) != cols:
      raise ValueError(f'row {row!r} has columns {list(table[row])}, expected {cols}.')
    kinds |= {_kind(c) for c in table[row].values()}
  if len(kinds) != 1:
    raise ValueError(f'cells mix kinds {sorted(kinds)}; use one per table.')
  kind = kinds.pop()
  if layout is None:
    layout = {'median_iqr': 'stacked', 'mean_std': 'columns'}.get(kind, 'inline')
  if layout not in ('stacked', 'columns', 'inline'):
    raise ValueError(f'unknown layout {layout!r}.')
  f = lambda x: _fmt(x, scale, digits)
  center, spread = {'median_iqr': ('median', 'iqr'), 'mean_std': ('mean', 'std')}.get(
    kind, (None, None)
  )
  spread_name = 'IQR' if kind == 'median_iqr' else 'σ'
  center_name = metric if kind == 'median_iqr' else 'μ'

  def line(cells):
    return '| ' + ' | '.join(str(c) for c in cells) + ' |'

  out = []
  if title:
    out += [f'**{title}**', '']
  if kind == 'scalar':
    cell = lambda r, c: (
      f'{float(table[r][c]):.0f}'
      if c in integer_columns or r in integer_rows
      else f(float(table[r][c]))
    )
    out.append(line([row_header, *cols]))
    out.append(line(['---'] * (len(cols) + 1)))
    for row in rows:
      out.append(line([row, *(cell(row, c) for c in cols)]))
  elif layout == 'stacked':
    out.append(line([row_header, '', *cols]))
    out.append(line(['---'] * (len(cols) + 2)))
    for row in rows:
      out.append(line([row, center_name, *(f(table[row][c][center]) for c in cols)]))
      out.append(line(['', spread_name, *(f(table[row][c][spread]) for c in cols)]))
  elif layout == 'columns':
    header = [row_header]
    for c in cols:
      header += [f'{c} {center_name}', f'{c} {spread_name}']
    out.append(line(header))
    out.append(line(['---'] * len(header)))
    for row in rows:
      cells = [row]
      for c in cols:
        cells += [f(table[row][c][center]), f(table[row][c][spread])]
      out.append(line(cells))
  else:
    sep = ' ({})' if kind == 'median_iqr' else ' ± {}'
    out.append(line([row_header, *cols]))
    out.append(line(['---'] * (len(cols) + 1)))
    for row in rows:
      out.append(
        line(
          [row, *(f(table[row][c][center]) + sep.format(f(table[row][c][spread])) for c in cols)]
        )
      )
  return '\n'.join(out) + '\n'


def table_markdown(records, table: str, *, title: str | None = None, **kwargs) -> str:
  """One paper table rendered from records, with its estimator and selection under it.

  Args:
    records: the run's `Record`s (others' tables are ignored).
    table: the table's name.
    title: caption above the table.
    **kwargs: `markdown_table`'s layout options (row_header, metric, layout,
      scale, digits, integer_columns, integer_rows).
  """
  records = [r for r in records if r.table == table]
  text = markdown_table(records_lib.to_summary(records, table), title=title, **kwargs)
  for field, label in (('estimator', 'Estimator'), ('selection', 'Selected by')):
    values = list(dict.fromkeys(getattr(r, field) for r in records))
    if len(values) == 1:
      text += f'\n{label}: {values[0]}.\n'
    else:  # rows estimated or selected differently say so row by row
      rows = {}
      for r in records:
        rows.setdefault(getattr(r, field), []).append(r.row)
      text += f'\n{label}:\n' + ''.join(
        f'- {", ".join(dict.fromkeys(names))}: {v}.\n' for v, names in rows.items()
      )
  return text


def write_results(path, records, *, timings: Mapping, **extra) -> Path:
  """Writes `results.json`: `{"records": [...], "timings": {stage: s}, **extra}`.

  Args:
    path: the file, or a run folder (then `results.json` in it).
    records: the run's `Record`s (one per reported number, no cell twice).
    timings: wall seconds per stage of the run.
    **extra: anything else the run keeps (raw per-seed scores, confusion
      matrices), JSON-able through `to_jsonable`.
  """
  path = Path(path)
  if path.is_dir() or not path.suffix:
    path = path / 'results.json'
  for name in ('records', 'timings'):
    if name in extra:
      raise ValueError(f'{name!r} is written by write_results itself')
  body = {'records': records_lib.to_json(records), 'timings': dict(timings), **extra}
  return write_json(body, path)


def timings_markdown(timings: Mapping, title: str = 'Where the time went') -> str:
  """A markdown table of a run's per-stage times, one row per stage.

  Args:
    timings: {stage: times}, times a `fewshot.timing.stage` dict ('wall_s',
      'compile_s', 'compiles', 'loaded', 'train_s', 'predict_s', 'other_s',
      and 'estimate_s' when estimating) or plain wall seconds. Programs
      loaded from the persistent compilation cache show as '+ N cached'.
    title: the heading.
  """
  estimate = any(isinstance(t, Mapping) and 'estimate_s' in t for t in timings.values())
  head = ['stage', 'wall s', 'compile s (programs)', 'train s', 'predict s', 'other s']
  head += ['estimated full s'] if estimate else []
  lines = [f'### {title}', '', '| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
  for name, t in timings.items():
    if not isinstance(t, Mapping):
      row = [name, f'{float(t):.1f}'] + [''] * (len(head) - 2)
    else:
      cached = f' + {t["loaded"]} cached' if t.get('loaded') else ''
      row = [name, f'{t["wall_s"]:.1f}', f'{t["compile_s"]:.1f} ({t["compiles"]}{cached})']
      row += [f'{t[k]:.1f}' for k in ('train_s', 'predict_s', 'other_s')]
      row += [f'{t["estimate_s"]:.0f}' if 'estimate_s' in t else ''] if estimate else []
    lines.append('| ' + ' | '.join(row) + ' |')
  return '\n'.join(lines) + '\n'
