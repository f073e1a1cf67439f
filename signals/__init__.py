"""1-D body-signal preprocessing: sEMG (Ergeneci et al.) and smartwatch HAR (harAGE)."""
from signals.semg import decimate, frame, num_frames, sampen, savgol, semg_features
from signals.semg_data import (SEMGDataset, load_semg_dataset, save_semg_dataset,
                                synthetic_semg)
from signals.har import (derivatives, gaussian_filter1d, preprocess_accelerometer,
                         preprocess_heart_rate, preprocess_steps, trim_segments, window_starts)
from signals.har_data import (HARWindows, load_basicmotions, load_participants, select_task,
                              synthetic_harage, windows_from_participants)
from signals.har_models import HARFusionModel, concat_fusion, make_model, outer_fusion
from signals.har_train import TrainConfig, nested_loso, train_folds
