"""Sign language from MediaPipe Holistic poses (pose_sign_language.txt): extraction, features, data.

* `extract`: Holistic on every frame of a video, written as pose-format
  `.pose` files (worker processes, resume, shards); mediapipe is imported
  only when extracting.
* `poses`: `.pose` -> the paper's 75 points `[T, 75, 3]` and a `[T, 75]`
  presence mask (or OpenPose's points, `layouts`: BODY_25 + hands from
  OpenPose JSON, AUTSL's BODY_135); padded batches with lengths;
  pose-format's missing-point interpolation.
* `frame_features`: per-clip `[T, D]` image features (Team 1's baselines).
* `inputs`: the experiment's input of Holistic (and OpenPose) poses, and the
  columns of each Table 1 row.
* `features`: shoulder normalisation, limb angles and lengths, horizontal
  flip (each equal to pose-format's), and the model input of section 3.2.
* `presence`: per-frame hand presence and the dominant hand's share of frames
  (section 5).
* `data`: spoken-to-signed's fingerspelling lexicon and the AUTSL loader.
"""

from vision.sign.data import AUTSLData
from vision.sign.data import FingerspellingLexicon
from vision.sign.data import autsl_class_names
from vision.sign.data import autsl_labels_file
from vision.sign.data import autsl_openpose_paths
from vision.sign.data import autsl_samples
from vision.sign.data import fingerspelling_lexicon_dir
from vision.sign.data import load_autsl
from vision.sign.data import load_autsl_splits
from vision.sign.data import load_fingerspelling_lexicon
from vision.sign.extract import ExtractionReport
from vision.sign.extract import extract_pose_files
from vision.sign.extract import parse_shard
from vision.sign.extract import read_failures
from vision.sign.extract import video_to_pose
from vision.sign.features import FEATURE_SETS
from vision.sign.features import FLIP_PERMUTATION
from vision.sign.features import LIMBS
from vision.sign.features import combined_batch_data
from vision.sign.features import feature_columns
from vision.sign.features import feature_size
from vision.sign.features import flip_horizontal
from vision.sign.features import limb_features
from vision.sign.features import normalize_shoulders
from vision.sign.features import pose_batch_data
from vision.sign.features import pose_features
from vision.sign.features import upper_body_columns
from vision.sign.frame_features import FrameFeatures
from vision.sign.frame_features import load_frame_features
from vision.sign.inputs import OPENPOSE_ROWS
from vision.sign.inputs import PoseInputs
from vision.sign.inputs import frame_feature_inputs
from vision.sign.inputs import pose_inputs
from vision.sign.layouts import HOLISTIC
from vision.sign.layouts import OPENPOSE
from vision.sign.layouts import OPENPOSE_135
from vision.sign.layouts import PoseLayout
from vision.sign.layouts import layout_of
from vision.sign.poses import NUM_POINTS
from vision.sign.poses import PoseArrays
from vision.sign.poses import PoseBatch
from vision.sign.poses import interpolate_missing
from vision.sign.poses import pad_poses
from vision.sign.poses import pose_to_arrays
from vision.sign.poses import read_pose
from vision.sign.poses import read_pose_arrays
from vision.sign.presence import dominant_hand
from vision.sign.presence import dominant_hand_presence
from vision.sign.presence import hand_presence

__all__ = [
  'AUTSLData',
  'ExtractionReport',
  'FEATURE_SETS',
  'FLIP_PERMUTATION',
  'FingerspellingLexicon',
  'FrameFeatures',
  'OPENPOSE_ROWS',
  'PoseInputs',
  'frame_feature_inputs',
  'load_autsl_splits',
  'pose_inputs',
  'HOLISTIC',
  'OPENPOSE',
  'OPENPOSE_135',
  'PoseLayout',
  'autsl_openpose_paths',
  'combined_batch_data',
  'interpolate_missing',
  'layout_of',
  'load_frame_features',
  'upper_body_columns',
  'LIMBS',
  'NUM_POINTS',
  'PoseArrays',
  'PoseBatch',
  'autsl_class_names',
  'autsl_labels_file',
  'autsl_samples',
  'dominant_hand',
  'dominant_hand_presence',
  'extract_pose_files',
  'pose_batch_data',
  'feature_columns',
  'feature_size',
  'fingerspelling_lexicon_dir',
  'flip_horizontal',
  'hand_presence',
  'limb_features',
  'load_autsl',
  'load_fingerspelling_lexicon',
  'normalize_shoulders',
  'pad_poses',
  'parse_shard',
  'read_failures',
  'pose_features',
  'pose_to_arrays',
  'read_pose',
  'read_pose_arrays',
  'video_to_pose',
]
