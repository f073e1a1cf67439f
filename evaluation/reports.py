"""Result reports: plain dict -> JSON, CSV, paper-style markdown, PNG plots.

A results table is a nested dict `{row: {column: cell}}`, rows and columns
as in the paper's table (e.g. rows = methods, columns = shots k; or rows =
methods, columns = 'Full UF1', 'Full UAR', ... for MEGC Table IV). A cell is

* raw per-seed/per-fold scores (a list), turned into a summary cell by
  `summarize`;
* a summary cell: {'median', 'iqr', 'q1', 'q3', 'n'} (sEMG paper) or
  {'mean', 'std', 'n'} (harAGE paper);
* or a single number (MEGC Table IV reports one UF1/UAR per method).

Plots use Matplotlib's object-oriented API with the Agg canvas directly, so
no global backend is switched and no display is needed.
"""

from __future__ import annotations

import csv
import json
import numbers
import os
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from evaluation import checks as validation

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
      validation.check_finite_scores(x, f'cell ({row!r}, {col!r})')
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


# ---------------------------------------------------------------------- CSV


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


def write_csv(table: Mapping, path, row_header: str = 'row', col_header: str = 'column') -> Path:
  """Writes a results table in long format: one line per (row, column).

  Columns are `row_header, col_header` followed by the cell's statistics
  (median, iqr, q1, q3, n / mean, std, n / value).
  """
  _check_table(table)
  fields: list[str] = []
  lines = []
  for row, cols in table.items():
    for col, cell in cols.items():
      kind = _kind(cell)
      values = {'value': float(cell)} if kind == 'scalar' else dict(cell)
      for k in values:
        if k not in fields:
          fields.append(k)
      lines.append({row_header: row, col_header: col, **to_jsonable(values)})
  path = _prepare(path)
  with open(path, 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=[row_header, col_header, *fields])
    writer.writeheader()
    writer.writerows(lines)
  return path


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
    out.append(line([row_header, *cols]))
    out.append(line(['---'] * (len(cols) + 1)))
    for row in rows:
      out.append(line([row, *(f(float(table[row][c])) for c in cols)]))
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


def write_markdown(table: Mapping, path, **kwargs) -> Path:
  """Writes `markdown_table(table, **kwargs)` to `path`."""
  text = markdown_table(table, **kwargs)
  path = _prepare(path)
  path.write_text(text)
  return path


# -------------------------------------------------------------------- plots


def _save(fig: Figure, path) -> Path:
  path = _prepare(path)
  FigureCanvasAgg(fig)
  fig.savefig(path, dpi=120, bbox_inches='tight')
  return path


def plot_confusion_matrix(
  cm, class_names: Sequence[str], path, *, title: str | None = None
) -> Path:
  """Confusion matrix PNG with counts and row percentages (harAGE Fig. 3-5).

  Each cell shows the count and the percentage of its true class (row); the
  colour encodes the row percentage (dark = high). Zero cells are left
  empty, as in the paper's figures; a row without samples shows no
  percentages.

  Args:
    cm: [C, C] counts, rows true classes, columns predicted classes.
    class_names: C names.
    path: output .png path.
    title: optional figure title.
  """
  a = np.asarray(cm)
  validation.check_confusion(a, allow_empty=True)
  if len(class_names) != a.shape[0]:
    raise ValueError(f'{len(class_names)} class names for a {a.shape[0]}-class matrix.')
  support = a.sum(axis=1, keepdims=True)
  pct = np.divide(100.0 * a, support, out=np.zeros(a.shape), where=support > 0)
  c = a.shape[0]
  size = 1.2 + 0.9 * c
  fig = Figure(figsize=(size + 1.5, size))
  ax = fig.add_subplot()
  im = ax.imshow(pct, cmap='Blues', vmin=0, vmax=100)
  fig.colorbar(im, ax=ax, label='% of true class')
  for i in range(c):
    for j in range(c):
      if a[i, j] == 0:
        continue
      count = int(a[i, j]) if float(a[i, j]).is_integer() else a[i, j]
      ax.text(
        j,
        i,
        f'{count}\n{pct[i, j]:.1f}%',
        ha='center',
        va='center',
        fontsize=8,
        color='white' if pct[i, j] > 50 else 'black',
      )
  ax.set_xticks(range(c), labels=list(class_names), rotation=45, ha='right')
  ax.set_yticks(range(c), labels=list(class_names))
  ax.set_xlabel('Predicted class')
  ax.set_ylabel('True class')
  if title:
    ax.set_title(title)
  return _save(fig, path)


def plot_spotting(
  curve,
  path,
  *,
  threshold: float | None = None,
  spotted=(),
  truth=(),
  distractors: Mapping | None = None,
  fps: float | None = None,
  extra: Mapping | None = None,
  title: str | None = None,
) -> Path:
  """A spotting score over a video's frames with spotted and true intervals (MEGC Table II).

  Args:
    curve: [T] score per frame (e.g. the contrasted feature difference).
    path: output .png path.
    threshold: optional horizontal threshold line.
    spotted: [k, 2] inclusive (onset, offset) spotted intervals (red bands).
    truth: [m, 2] ground-truth intervals (green bands).
    distractors: optional {label: [j, 2] intervals} of other events (grey
      bands, hatched per label), e.g. macro-expressions and blinks.
    fps: frame rate; with it the x axis is in seconds.
    extra: optional {label: [T] curve} drawn thinner (e.g. the raw difference).
    title: optional title.
  """
  c = np.asarray(curve, np.float64)
  if c.ndim != 1 or c.size == 0 or not np.all(np.isfinite(c)):
    raise ValueError(f'curve must be a finite 1-D array, got shape {c.shape}.')
  scale = 1.0 / fps if fps else 1.0
  t = np.arange(c.size) * scale
  fig = Figure(figsize=(10, 3.2))
  ax = fig.add_subplot()

  def bands(intervals, label, **style):
    for k, (a, b) in enumerate(np.asarray(intervals, np.float64).reshape(-1, 2)):
      ax.axvspan((a - 0.5) * scale, (b + 0.5) * scale, **style, label=label if k == 0 else None)

  bands(truth, 'ground truth', color='tab:green', alpha=0.3)
  hatches = ('//', 'xx', '..', '\\\\')
  for i, (name, iv) in enumerate((distractors or {}).items()):
    bands(iv, name, color='0.6', alpha=0.3, hatch=hatches[i % len(hatches)])
  bands(spotted, 'spotted', color='tab:red', alpha=0.25)
  for name, other in (extra or {}).items():
    ax.plot(t, np.asarray(other, np.float64), lw=0.8, alpha=0.7, label=name)
  ax.plot(t, c, color='k', lw=1.2, label='score')
  if threshold is not None:
    ax.axhline(threshold, color='tab:red', ls='--', lw=1, label='threshold')
  ax.set_xlim(t[0], t[-1])
  ax.set_xlabel('time (s)' if fps else 'frame')
  ax.set_ylabel('score')
  ax.legend(loc='upper right', fontsize=7, ncol=3)
  if title:
    ax.set_title(title)
  return _save(fig, path)


def _shot_value(k) -> float:
  try:
    return float(str(k).split('=')[-1])
  except ValueError:
    raise ValueError(f'column {k!r} is not a number of shots (e.g. 1, "5", "k=10").') from None


def plot_score_vs_shots(
  scores: Mapping, path, *, ylabel: str = 'F1 score', title: str | None = None, scale: float = 100.0
) -> Path:
  """Median score vs shots per method, with a Q1-Q3 (IQR) band.

  Args:
    scores: {method: {shots: [n] raw scores, or a median/IQR summary cell
      with 'q1' and 'q3'}}; shots are numbers or strings like 'k=5'.
    path: output .png path.
    ylabel: y-axis label.
    title: optional title.
    scale: multiplier for display (100 for percent).
  """
  _check_table(scores)
  fig = Figure(figsize=(6, 4))
  ax = fig.add_subplot()
  all_shots = set()
  for method, cols in scores.items():
    shots, med, lo, hi = [], [], [], []
    for k, cell in cols.items():
      if isinstance(cell, Mapping):
        if not {'median', 'q1', 'q3'} <= set(cell):
          raise ValueError(f'cell ({method!r}, {k!r}) needs median, q1, q3.')
        q = (cell['q1'], cell['median'], cell['q3'])
      else:
        summary = summarize({method: {k: cell}})[method][k]
        q = (summary['q1'], summary['median'], summary['q3'])
      shots.append(_shot_value(k))
      lo.append(q[0] * scale)
      med.append(q[1] * scale)
      hi.append(q[2] * scale)
    order = np.argsort(shots)
    shots, med, lo, hi = (np.asarray(v)[order] for v in (shots, med, lo, hi))
    all_shots |= set(shots.tolist())
    (line,) = ax.plot(shots, med, marker='o', label=str(method))
    ax.fill_between(shots, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
  ticks = sorted(all_shots)
  if ticks[0] > 0 and ticks[-1] / ticks[0] >= 10:
    ax.set_xscale('log')
  ax.set_xticks(ticks, labels=[f'{t:g}' for t in ticks])
  ax.minorticks_off()
  ax.set_xlabel('shots per class')
  ax.set_ylabel(ylabel)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  if title:
    ax.set_title(title)
  return _save(fig, path)


def plot_histograms(
  groups: Mapping,
  path,
  *,
  bins=10,
  value_range: tuple[float, float] | None = None,
  xlabel: str = 'value',
  title: str | None = None,
  scale: float = 1.0,
) -> Path:
  """Overlaid histograms of one quantity in several groups (sign paper, Figure 6).

  Each group is drawn as the share of its own samples per bin (so groups of
  different sizes compare), with its size and mean in the legend.

  Args:
    groups: {name: [n] values}; every group needs at least one finite value.
    path: output .png path.
    bins: number of bins or their edges (in displayed units, after `scale`).
    value_range: (low, high) of the bins in displayed units; default the data's.
    xlabel: x-axis label.
    title: optional title.
    scale: multiplier for display (100 for percent).
  """
  if not isinstance(groups, Mapping) or not groups:
    raise ValueError('groups must be a non-empty dict {name: values}.')
  data = {}
  for name, values in groups.items():
    x = np.asarray(values, dtype=np.float64).ravel() * scale
    validation.check_finite_scores(x, f'group {name!r}')
    data[name] = x
  fig = Figure(figsize=(6, 4))
  ax = fig.add_subplot()
  edges = np.histogram_bin_edges(np.concatenate(list(data.values())), bins=bins, range=value_range)
  for name, x in data.items():
    weights = np.full(x.shape, 100.0 / x.size)
    ax.hist(
      x, bins=edges, weights=weights, alpha=0.5, label=f'{name} (n={x.size}, mean {x.mean():.1f})'
    )
  ax.set_xlabel(xlabel)
  ax.set_ylabel('% of the group')
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  if title:
    ax.set_title(title)
  return _save(fig, path)


def plot_timeline(
  series: Mapping,
  path,
  *,
  times=None,
  xlabel: str = 'frame',
  title: str | None = None,
  shade=None,
  shade_label: str | None = None,
) -> Path:
  """Signals over time, one panel each (e.g. per-frame hand presence; sign paper, Figure 5).

  Args:
    series: {name: [T] values} (bool series are drawn as 0/1 steps).
    path: output .png path.
    times: [T] x values (default 0..T-1).
    xlabel: x-axis label.
    title: optional title.
    shade: optional [T] bool; frames where it is True are shaded in every panel.
    shade_label: legend entry for the shading.
  """
  if not isinstance(series, Mapping) or not series:
    raise ValueError('series must be a non-empty dict {name: [T] values}.')
  arrays = {k: np.asarray(v) for k, v in series.items()}
  lengths = {a.shape for a in arrays.values()}
  if len(lengths) != 1 or len(next(iter(lengths))) != 1 or next(iter(lengths))[0] == 0:
    raise ValueError(f'every series must be 1-D with the same length > 0, got shapes {lengths}.')
  n = next(iter(lengths))[0]
  t = np.arange(n) if times is None else np.asarray(times, dtype=np.float64)
  if t.shape != (n,):
    raise ValueError(f'times must have shape ({n},), got {t.shape}.')
  fig = Figure(figsize=(8, 1.4 + 1.3 * len(arrays)))
  axes = fig.subplots(len(arrays), 1, sharex=True, squeeze=False)[:, 0]
  for ax, (name, y) in zip(axes, arrays.items()):
    if y.dtype == bool:
      ax.step(t, y.astype(float), where='mid')
      ax.set_yticks([0, 1], labels=['no', 'yes'])
      ax.set_ylim(-0.2, 1.2)
    else:
      ax.plot(t, y)
    if shade is not None:
      ax.fill_between(
        t,
        0,
        1,
        where=np.asarray(shade, bool),
        step='mid',
        color='tab:red',
        alpha=0.2,
        transform=ax.get_xaxis_transform(),
        label=shade_label,
      )
    ax.set_ylabel(name, rotation=0, ha='right', va='center')
    ax.grid(alpha=0.3)
  if shade is not None and shade_label:
    axes[0].legend(fontsize=8, loc='upper right')
  axes[-1].set_xlabel(xlabel)
  if title:
    axes[0].set_title(title)
  return _save(fig, path)


# ------------------------------------------------------------------ bundle


def write_report(
  out_dir,
  scores: Mapping,
  *,
  statistic: str = 'median_iqr',
  confusion=None,
  class_names: Sequence[str] | None = None,
  title: str | None = None,
  row_header: str = 'method',
  metric: str = 'F1',
  scale: float = 100.0,
) -> dict[str, Path]:
  """Writes results.json, results.csv, results.md and the PNG plots.

  Args:
    out_dir: run folder (created if missing).
    scores: {method: {shots: [n] raw per-seed scores}}.
    statistic: 'median_iqr' or 'mean_std' for the table.
    confusion: optional [C, C] counts for confusion.png.
    class_names: names for the confusion matrix (required with it).
    title: table caption and plot title.
    row_header: header of the row-label column.
    metric: score name ('F1', 'UAR').
    scale: display multiplier.

  Returns:
    {'json', 'csv', 'markdown', 'score_vs_shots', ['confusion']} -> path.
  """
  out = Path(os.fspath(out_dir))
  table = summarize(scores, statistic)
  results = {
    'title': title,
    'statistic': statistic,
    'metric': metric,
    'table': table,
    'raw': scores,
  }
  if confusion is not None:
    if class_names is None:
      raise ValueError('class_names are needed to plot the confusion matrix.')
    results['confusion'] = {'classes': list(class_names), 'counts': confusion}
  paths = {
    'json': write_json(results, out / 'results.json'),
    'csv': write_csv(table, out / 'results.csv', row_header=row_header, col_header='shots'),
    'markdown': write_markdown(
      table, out / 'results.md', title=title, row_header=row_header, metric=metric, scale=scale
    ),
    'score_vs_shots': plot_score_vs_shots(
      scores,
      out / 'score_vs_shots.png',
      ylabel=f'{metric}{" (%)" if scale == 100 else ""}, median and IQR',
      title=title,
      scale=scale,
    ),
  }
  if confusion is not None:
    paths['confusion'] = plot_confusion_matrix(
      confusion, class_names, out / 'confusion.png', title=title
    )
  return paths
