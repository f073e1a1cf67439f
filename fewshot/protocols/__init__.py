"""Each paper's training protocol as library functions, one module per paper.

* `semg`: Ergeneci et al. Tables IV-IX (stages of seed-vmapped training).
* `har`: harAGE nested leave-one-subject-out (section 4.3).
"""
