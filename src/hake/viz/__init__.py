"""Visualisation: inference overlays, PR curves and per-class AP plots.
May import vocab, structures, geometry and evaluation results; never models, perception or engine."""
