"""Few-shot learning for body signals (sEMG paper, semg_fewshot.txt)."""

from fewshot.classifiers import METRIC_CLASSIFIERS, lp_classifier, make_siamese_classifier, matching_classifier, pairwise_scores, prototype_classifier, siamese_classifier
from fewshot.episodes import EpisodeEvaluation, Episodes, evaluate_episodes, sample_episodes
from fewshot.models import BiLSTM, SEMGClassifier, SEMGEmbedder, SiameseNet
from fewshot.siamese import contrastive_loss, head_scores, sample_pairs, sample_triplets, siamese_scores, similarity_fn, triplet_loss
from fewshot.train import FitConfig, FitState, Split, TrainState, cross_entropy_loss, make_fit, make_train_step, vmap_fit
from fewshot.transfer import FROZEN_SETTINGS, adabatch_tx, fine_tune_tx, transfer_variables
