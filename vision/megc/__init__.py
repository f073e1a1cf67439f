"""Facial micro-expressions, MEGC 2019 (megc2019_micro_expressions.txt): faces, flow, strain, spotting, data.

* `faces`: Haar face boxes fixed over a clip, MediaPipe landmark alignment, crops.
* `flow`: TV-L1 / Farneback optical flow (a process pool for many pairs), optical strain.
* `inputs`: onset-to-apex STSTNet and OFF-ApexNet inputs, LBP-TOP descriptors, apex faces.
* `biwoof`: Bi-WOOF descriptors of onset-to-apex flow and strain (Liong et al.).
* `lbp`: LBP (scikit-image's codes), LBP-TOP, block histograms, chi-squared distance.
* `spotting`: the LBP-chi^2 feature-difference spotter (Moilanen et al.).
* `ltp`: LTP-ML's local temporal patterns of 12 facial regions (Li et al.).
* `long_videos`: CAS(ME)^2 and SAMM long videos with their annotations (spotting).
* `data`: the MEClip record; CASME II, SAMM and SMIC-HS loaders.
* `synthetic`: micro-expression clips and long videos made from real faces.
* `emr`: EMR's magnified / reduced part flows; `ckplus`: the CK+ loader (EMR's macro source).

MediaPipe is imported only by the landmark alignment, so `import vision` stays light.
"""

from vision.megc.biwoof import biwoof_features
from vision.megc.ckplus import load_ckplus
from vision.megc.data import MEClip
from vision.megc.data import apex_index
from vision.megc.data import clip_frames
from vision.megc.data import find_clip_root
from vision.megc.data import load_casme2
from vision.megc.data import load_databases
from vision.megc.data import load_samm
from vision.megc.data import load_smic
from vision.megc.data import locate_databases
from vision.megc.emr import emr_domain_inputs
from vision.megc.emr import emr_inputs
from vision.megc.emr import eulerian_magnify
from vision.megc.emr import macro_source as emr_macro_source
from vision.megc.faces import clip_face_box
from vision.megc.faces import detect_face
from vision.megc.faces import face_clip
from vision.megc.faces import face_clips
from vision.megc.flow import optical_flow
from vision.megc.flow import optical_flow_pairs
from vision.megc.flow import optical_strain
from vision.megc.inputs import OnsetApexFaces
from vision.megc.inputs import RecognitionInputs
from vision.megc.inputs import apex_inputs
from vision.megc.inputs import lbp_top_features
from vision.megc.inputs import onset_apex_crops
from vision.megc.inputs import recognition_inputs
from vision.megc.lbp import chi2_distance
from vision.megc.lbp import lbp as local_binary_pattern
from vision.megc.lbp import lbp_top
from vision.megc.long_videos import LongVideoRecord
from vision.megc.long_videos import load_long_videos
from vision.megc.long_videos import read_long_video
from vision.megc.ltp import LTPVideo
from vision.megc.ltp import video_ltp
from vision.megc.spotting import SpottingAnalysis
from vision.megc.spotting import analyse as analyse_spotting
from vision.megc.spotting import spot_micro_expressions
from vision.megc.synthetic import LongVideo
from vision.megc.synthetic import synthetic_long_videos
from vision.megc.synthetic import synthetic_macro_expressions
from vision.megc.synthetic import synthetic_megc

__all__ = [
  'LTPVideo',
  'LongVideo',
  'LongVideoRecord',
  'load_long_videos',
  'read_long_video',
  'video_ltp',
  'MEClip',
  'OnsetApexFaces',
  'RecognitionInputs',
  'SpottingAnalysis',
  'analyse_spotting',
  'apex_index',
  'apex_inputs',
  'biwoof_features',
  'chi2_distance',
  'clip_face_box',
  'clip_frames',
  'detect_face',
  'face_clip',
  'face_clips',
  'local_binary_pattern',
  'lbp_top',
  'lbp_top_features',
  'onset_apex_crops',
  'find_clip_root',
  'load_casme2',
  'load_databases',
  'load_samm',
  'load_smic',
  'locate_databases',
  'optical_flow',
  'optical_flow_pairs',
  'optical_strain',
  'recognition_inputs',
  'spot_micro_expressions',
  'synthetic_long_videos',
  'synthetic_macro_expressions',
  'emr_domain_inputs',
  'emr_inputs',
  'emr_macro_source',
  'eulerian_magnify',
  'load_ckplus',
  'synthetic_megc',
]
