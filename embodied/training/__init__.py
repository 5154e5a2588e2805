"""Training: stages, the supervised loop, RL, preference optimisation, and checkpoints that resume bit-identically."""
