"""Each paper's training protocol as library functions, one module per experiment.

* `semg`: Ergeneci et al. Tables IV-IX (stages of seed-vmapped training).
* `har`: harAGE nested leave-one-subject-out (section 4.3).
* `megc_recognition`, `megc_spotting`: MEGC 2019 Table IV (CDE LOSO) and Table II.
* `sign`: pose sign language, Table 1, the section 5 hand-presence analysis, few-shot letters.

An experiment's entry is `run(key, config, data, *, progress=None) -> Results`
(records and per-stage timings, plus the raw arrays its figures need).
"""
