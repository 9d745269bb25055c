"""Alias of :mod:`hake.models.spatial` named after the zoo prefix, so that
``hake.models.zoo.create_model("spatial_pasta.<name>")`` finds the loader without a prior import."""

from __future__ import annotations

from hake.models.spatial import SpatialConfig, SpatialPasta, load_spatial_pasta, save_spatial_pasta

__all__ = ["SpatialConfig", "SpatialPasta", "load_spatial_pasta", "save_spatial_pasta"]
