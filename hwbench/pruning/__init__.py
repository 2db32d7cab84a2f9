"""Anchor pruning (Bonnaerens et al., CVIU 2022) on hwbench's detectors: which anchors a trained detector can lose.

`anchor_index` names every anchor and builds pruned architectures, `cache` keeps a trained detector's candidates per
image, `fast_eval` scores an anchor set from that cache without a forward pass, `search` walks the anchor sets
deterministically, `costs` prices them and `surgery` cuts a trained checkpoint down to a pruned set.
"""
