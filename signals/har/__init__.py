"""Smartwatch HAR preprocessing and data of harAGE (har_multimodal_fusion.txt, sections 3-4.1).

`transforms`: trimming, per-modality features and aligned windows; `data`:
the participant data model, its JSON I/O, the window tensors the models
consume, BasicMotions and heartpy's PPG; `synthetic`: the physiology
simulator of synthetic harAGE-like participants.
"""

from signals.har.data import ACTIVITIES
from signals.har.data import MODALITIES
from signals.har.data import TASKS
from signals.har.data import HARWindows
from signals.har.data import load_basicmotions
from signals.har.data import load_participants
from signals.har.data import select_modalities
from signals.har.data import select_task
from signals.har.data import windows_from_participants
from signals.har.synthetic import synthetic_harage
from signals.har.transforms import RATES
from signals.har.transforms import WINDOW_SECONDS
from signals.har.transforms import accelerometer_median
from signals.har.transforms import check_timestamps
from signals.har.transforms import continuous_runs
from signals.har.transforms import derivative
from signals.har.transforms import derivatives
from signals.har.transforms import gaussian_filter1d
from signals.har.transforms import preprocess_accelerometer
from signals.har.transforms import preprocess_heart_rate
from signals.har.transforms import preprocess_steps
from signals.har.transforms import resting_baseline
from signals.har.transforms import trim_segments
from signals.har.transforms import window_starts
