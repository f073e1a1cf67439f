"""Figures of the papers, drawn from results (Matplotlib, no display needed).

Plots use Matplotlib's object-oriented API with the Agg canvas directly, so
no global backend is switched and no display is needed. Each returns the
path of the PNG it wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from evaluation import checks
from evaluation.reports import _check_table
from evaluation.reports import _prepare
from evaluation.reports import summarize


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
  checks.check_confusion(a, allow_empty=True)
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
  for i, (method, cols) in enumerate(scores.items()):
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
    # Past the colour cycle's 10 colours, dashed lines keep every curve apart.
    style = '-' if i < 10 else '--'
    (line,) = ax.plot(shots, med, marker='o', linestyle=style, label=str(method))
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
    checks.check_finite_scores(x, f'group {name!r}')
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
