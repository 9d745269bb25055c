"""Visualisation: inference overlays, PR curves and per-class AP plots."""
