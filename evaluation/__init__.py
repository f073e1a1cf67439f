"""Metrics, subject-wise splits, statistics and reports for the papers.

* `metrics`: confusion matrix, precision/recall/F1 (None, 'macro' = MEGC UF1,
  'weighted' = sEMG weighted F1, 'micro'), UAR (= balanced accuracy),
  accuracy. Pure jnp, jit-compatible and vmappable over episodes/seeds; the
  zero-division policy for absent classes is spelled out in
  `evaluation.metrics` (sklearn `labels=range(C), zero_division=0`).
* `spotting`: MEGC spotting TP/FP/FN with optimal one-to-one IoU matching.
* `statistics`: median/IQR (sEMG), mean/std (harAGE), Wilcoxon rank-sum.
* `splits`: LOSO, nested LOSO, participant-independent k-fold and per-class
  (Table III) splits; the training protocols are in `fewshot.protocols`.
* `megc`: composite-database label mapping, LOSO and pooled UF1/UAR.
* `keys`: keys derived by name (`named_key`), NumPy generators from keys.
* `checks`: the host-side input checks every package uses.
* `records`: results as records, one per reported number; read and compare runs.
* `reports`: results.json, paper-layout markdown rendered from records.
* `plots`: confusion / score-vs-shots / histogram / timeline / spotting PNG.
"""

from evaluation.keys import as_key
from evaluation.keys import named_key
from evaluation.keys import numpy_rng
from evaluation.keys import seed_key
from evaluation.megc import MEGC_CLASSES
from evaluation.megc import CompositeDatabase
from evaluation.megc import composite_database
from evaluation.megc import composite_scores
from evaluation.megc import map_emotions
from evaluation.megc import pooled_confusion
from evaluation.megc import scores_by_database
from evaluation.metrics import PerClassScores
from evaluation.metrics import accuracy
from evaluation.metrics import accuracy_from_confusion
from evaluation.metrics import confusion_matrix
from evaluation.metrics import f1_from_confusion
from evaluation.metrics import f1_score
from evaluation.metrics import per_class_from_confusion
from evaluation.metrics import precision
from evaluation.metrics import precision_from_confusion
from evaluation.metrics import precision_recall_f1
from evaluation.metrics import recall
from evaluation.metrics import recall_from_confusion
from evaluation.metrics import uar
from evaluation.metrics import uar_from_confusion
from evaluation.plots import plot_confusion_matrix
from evaluation.plots import plot_histograms
from evaluation.plots import plot_score_vs_shots
from evaluation.plots import plot_spotting
from evaluation.plots import plot_timeline
from evaluation.records import Record
from evaluation.reports import check_run_config
from evaluation.reports import markdown_table
from evaluation.reports import summarize
from evaluation.reports import table_markdown
from evaluation.reports import to_jsonable
from evaluation.reports import write_json
from evaluation.reports import write_results
from evaluation.splits import Fold
from evaluation.splits import NestedFold
from evaluation.splits import TrainValTest
from evaluation.splits import loso_splits
from evaluation.splits import nested_loso_splits
from evaluation.splits import per_class_split
from evaluation.splits import subject_folds
from evaluation.spotting import interval_iou
from evaluation.spotting import match_intervals
from evaluation.spotting import spotting_scores
from evaluation.statistics import mean_std
from evaluation.statistics import median_iqr
from evaluation.statistics import quartiles
from evaluation.statistics import wilcoxon_ranksum
