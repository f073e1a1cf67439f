"""1-D body-signal preprocessing: sEMG (Ergeneci et al.) and smartwatch HAR (harAGE)."""
from signals.semg import decimate, frame, num_frames, sampen, savgol, semg_features
