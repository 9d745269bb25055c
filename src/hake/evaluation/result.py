"""The two-setting result shared by HICO-DET and HICO: Default and Known-Object from one call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar


class ModeScores(Protocol):
    """One setting's scores: anything with a JSON-ready ``to_dict``."""

    def to_dict(self) -> dict[str, Any]: ...


M = TypeVar("M", bound=ModeScores)


@dataclass
class TwoModeResult(Generic[M]):
    """Default and Known-Object scores of one evaluation, plus the options used.

    Attributes:
        default: the Default setting (every test image).
        known_object: the Known-Object setting (only images that contain the HOI's object).
        options: protocol options and notes (JSON-ready).
        curves: ``"default"`` / ``"known_object"`` -> PR curves, filled with ``keep_curves``.
    """

    default: M
    known_object: M
    options: dict[str, Any] = field(default_factory=dict)
    curves: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """``{"default": ..., "known_object": ..., "options": ...}`` (summary values as fractions)."""
        return {"default": self.default.to_dict(), "known_object": self.known_object.to_dict(),
                "options": dict(self.options)}
