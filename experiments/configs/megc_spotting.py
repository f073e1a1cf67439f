"""Config of the MEGC 2019 spotting experiment (Table II: LBP-chi^2 and LTP-ML on long videos).

Run:

    python -m experiments.megc_spotting --quick     # a few minutes on a 2-core CPU
    python -m experiments.megc_spotting             # more and longer videos

The data, the spotter and the measured figures are in docs/megc2019.md.
"""

from __future__ import annotations

from fewshot.protocols.megc_spotting import Config


def get_config(quick: bool = False) -> Config:
  """The full setting, or with `quick` a minutes-long CPU variant."""
  if not quick:
    return Config()
  return Config(databases=(('CAS(ME)^2', 4, 10.0), ('SAMM', 2, 9.0)))
