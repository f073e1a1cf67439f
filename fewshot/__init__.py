"""Few-shot learning for body signals (sEMG paper, semg_fewshot.txt)."""

from fewshot.classifiers import lp_classifier, make_siamese_classifier, matching_classifier, pairwise_scores, prototype_classifier, siamese_classifier
from fewshot.episodes import EpisodeEvaluation, Episodes, evaluate_episodes, sample_episodes
