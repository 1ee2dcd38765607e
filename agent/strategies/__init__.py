"""Test-time-compute strategies for single-step problems (Snell et al. 2024), one per file:
best-of-N, sequential revisions, beam search, lookahead, the difficulty probe and
compute-optimal; `selection` chooses final answers; `registry` names them all."""
