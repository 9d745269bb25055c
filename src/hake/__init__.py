"""hake: human activity understanding through body-part states (HAKE, PaStaNet)."""

from hake.errors import DataError, HakeError

__version__ = "0.1.0"
__all__ = ["DataError", "HakeError", "__version__"]
