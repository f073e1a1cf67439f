"""1-D body-signal preprocessing: sEMG (Ergeneci et al.) and smartwatch HAR (harAGE)."""
from signals.semg import decimate, frame, num_frames, sampen, savgol, semg_features
from signals.semg_data import (SEMGDataset, load_semg_dataset, save_semg_dataset,
                                synthetic_semg)
