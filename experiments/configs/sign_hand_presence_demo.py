"""Config of the hand-presence demo (pose sign-language paper, section 5, Figure 5).

Run:

    python -m experiments.sign_hand_presence_demo            # about 1 min on a 2-core CPU
    python -m experiments.sign_hand_presence_demo --video MY.mp4 --set "hand_at_face=(100, 180)"

What it shows and the measured counts are in docs/sign_language.md.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Config:
  """Attributes:
  seed: unused (Holistic and the counts draw no randomness); kept for the
    shared command line.
  hand_at_face: frames [start, end) in which a hand touches or covers the
    face, annotated by eye. None: the default video's annotation (58..230)
    without --video, no shading and no counts with one.
  """

  seed: int = 0
  hand_at_face: tuple[int, int] | None = None


def get_config(quick: bool = False) -> Config:
  """The demo has one setting; `quick` is accepted for a uniform command line."""
  del quick
  return Config()
