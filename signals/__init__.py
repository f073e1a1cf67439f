"""Preprocessing and data of 1-D body signals: sEMG (`signals.semg`) and smartwatch HAR (`signals.har`).

No models and no training here: those live in `fewshot`.
"""

from signals.har import HARWindows
from signals.har import derivatives
from signals.har import gaussian_filter1d
from signals.har import load_basicmotions
from signals.har import load_participants
from signals.har import preprocess_accelerometer
from signals.har import preprocess_heart_rate
from signals.har import preprocess_steps
from signals.har import select_task
from signals.har import synthetic_harage
from signals.har import trim_segments
from signals.har import window_starts
from signals.har import windows_from_participants
from signals.semg import SEMGDataset
from signals.semg import decimate
from signals.semg import frame
from signals.semg import load_semg_dataset
from signals.semg import num_frames
from signals.semg import paper_recordings
from signals.semg import sampen
from signals.semg import save_semg_dataset
from signals.semg import savgol
from signals.semg import semg_features
from signals.semg import synthetic_semg
