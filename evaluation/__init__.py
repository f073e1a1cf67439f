"""Metrics, subject-wise protocols, statistics and reports for the papers.

Metric functions are pure jnp (jit- and vmap-compatible); protocols return
host index arrays; reports write JSON, CSV, markdown and PNG files.
"""

from evaluation.metrics import accuracy
from evaluation.metrics import accuracy_from_confusion
from evaluation.metrics import confusion_matrix
from evaluation.metrics import f1_from_confusion
from evaluation.metrics import f1_score
from evaluation.metrics import per_class_from_confusion
from evaluation.metrics import PerClassScores
from evaluation.metrics import precision
from evaluation.metrics import precision_from_confusion
from evaluation.metrics import precision_recall_f1
from evaluation.metrics import recall
from evaluation.metrics import recall_from_confusion
from evaluation.metrics import uar
from evaluation.metrics import uar_from_confusion
from evaluation.spotting import interval_iou
from evaluation.spotting import match_intervals
from evaluation.spotting import spotting_scores
from evaluation.statistics import mean_std
from evaluation.statistics import median_iqr
from evaluation.statistics import quartiles
from evaluation.statistics import wilcoxon_ranksum
