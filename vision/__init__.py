"""Preprocessing and data of video: faces, optical flow and strain (`vision.megc`), Holistic poses (`vision.sign`).

No models and no training here: those live in `fewshot`. Every public name of
the two subpackages is re-exported here (`vision.optical_flow`,
`vision.limb_features`, ...).
"""

from vision.megc import *  # noqa: F403
from vision.sign import *  # noqa: F403
