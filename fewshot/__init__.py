"""All learning of the library: models, the one trainer, transfer, episodes, classifiers, siamese.

* `fewshot.trainer`: the one trainer every paper's models train with.
* `fewshot.models`: the Flax models, one module per paper.
* `fewshot.protocols`: each paper's training protocol (tables, nested LOSO).
* `fewshot.episodes`, `fewshot.classifiers`, `fewshot.siamese`,
  `fewshot.transfer`: few-shot episodes and metric classifiers, siamese
  networks, fine-tuning and AdaBatch (the sEMG paper, II-D and II-E).
"""

from fewshot.classifiers import METRIC_CLASSIFIERS
from fewshot.classifiers import lp_classifier
from fewshot.classifiers import make_siamese_classifier
from fewshot.classifiers import matching_classifier
from fewshot.classifiers import nearest_neighbour_classifier
from fewshot.classifiers import pairwise_scores
from fewshot.classifiers import prototype_classifier
from fewshot.classifiers import siamese_classifier
from fewshot.ctc import CTCDecoding
from fewshot.ctc import ctc_beam_search
from fewshot.ctc import ctc_beam_search_batch
from fewshot.ctc import ctc_class_loss
from fewshot.ctc import ctc_classes
from fewshot.episodes import EpisodeEvaluation
from fewshot.episodes import Episodes
from fewshot.episodes import evaluate_episodes
from fewshot.episodes import sample_episodes
from fewshot.models import BiLSTM
from fewshot.models import CapsuleNet
from fewshot.models import DualInception
from fewshot.models import EMRNet
from fewshot.models import OFFApexNet
from fewshot.models import SEMGClassifier
from fewshot.models import SEMGEmbedder
from fewshot.models import SiameseNet
from fewshot.models import SignBiLSTM
from fewshot.models import SignTransformer
from fewshot.models import STSTNet
from fewshot.siamese import contrastive_loss
from fewshot.siamese import head_scores
from fewshot.siamese import sample_triplets
from fewshot.siamese import siamese_scores
from fewshot.siamese import similarity_fn
from fewshot.siamese import triplet_loss
from fewshot.trainer import Batch
from fewshot.trainer import FitConfig
from fewshot.trainer import FitState
from fewshot.trainer import Split
from fewshot.trainer import TrainState
from fewshot.trainer import apply_model
from fewshot.trainer import check_finite
from fewshot.trainer import cross_entropy_loss
from fewshot.trainer import fit_runs
from fewshot.trainer import init_fit_state
from fewshot.trainer import make_fit
from fewshot.trainer import make_split
from fewshot.trainer import make_stage
from fewshot.trainer import make_train_step
from fewshot.trainer import masked_mean
from fewshot.trainer import supervised_batches
from fewshot.transfer import FROZEN_SETTINGS
from fewshot.transfer import adabatch_tx
from fewshot.transfer import fine_tune_tx
from fewshot.transfer import trainable_adam
from fewshot.transfer import transfer_variables
