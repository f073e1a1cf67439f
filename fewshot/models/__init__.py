"""The Flax models of every paper, one module per paper.

* `semg`: the sEMG base model (Table I) and siamese network (Table II).
* `har`: the harAGE extractors, fusions and classifier (section 4.2).
* `megc`: the MEGC 2019 recognition networks (STSTNet, OFF-ApexNet, Dual-Inception; Table IV).
* `megc_capsule`: Quang et al.'s CapsuleNet on the apex frame (MEGC 2019 Table IV).
* `emr`: Liu et al.'s EMR with its gradient reversal layer (MEGC 2019 Table IV).
* `sign`: the pose sign-language paper's BiLSTM (Team 2) and CTC transformer (Team 1).
"""

from fewshot.models.emr import EMRNet
from fewshot.models.emr import gradient_reversal
from fewshot.models.har import HARFusionModel
from fewshot.models.har import concat_fusion
from fewshot.models.har import outer_fusion
from fewshot.models.megc import DualInception
from fewshot.models.megc import OFFApexNet
from fewshot.models.megc import STSTNet
from fewshot.models.megc_capsule import CapsuleNet
from fewshot.models.semg import PAPER_FC
from fewshot.models.semg import PAPER_HIDDEN
from fewshot.models.semg import BiLSTM
from fewshot.models.semg import SEMGClassifier
from fewshot.models.semg import SEMGEmbedder
from fewshot.models.semg import SiameseNet
from fewshot.models.sign import SignBiLSTM
from fewshot.models.sign import SignTransformer
from fewshot.models.sign import sinusoidal_encoding
