"""sEMG preprocessing and data of Ergeneci et al. (semg_fewshot.txt, section II-B).

`transforms`: framing, sample entropy, Savitzky-Golay, decimation, the whole
chain; `data`: the dataset type and its on-disk format; `synthetic`: the
motor-unit generator of the synthetic default data; `real_data`: real
recordings shipped by PyPI packages.
"""

from signals.semg.data import CHANNEL_NAMES
from signals.semg.data import CLASS_NAMES
from signals.semg.data import SEMGDataset
from signals.semg.data import load_semg_dataset
from signals.semg.data import save_semg_dataset
from signals.semg.synthetic import paper_recordings
from signals.semg.synthetic import synthetic_semg
from signals.semg.transforms import decimate
from signals.semg.transforms import frame
from signals.semg.transforms import num_frames
from signals.semg.transforms import sampen
from signals.semg.transforms import sampen_counts
from signals.semg.transforms import savgol
from signals.semg.transforms import semg_features
