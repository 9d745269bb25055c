"""The package's own error types.

Every reader and evaluator raises :class:`DataError` for bad input, naming the file, the record
(an image name, a row number, an index) and the field, so a user can find the problem at once.
"""

from __future__ import annotations


class HakeError(Exception):
    """Base class of every error hake raises on purpose."""


class DataError(HakeError, ValueError):
    """Malformed or inconsistent input data.

    Args:
        message: what is wrong.
        file: the file the data came from (or ``None`` for in-memory data).
        record: which record: an image name, a 0-based row or list index.
        field: which field of that record.
    """

    def __init__(
        self,
        message: str,
        *,
        file: object | None = None,
        record: object | None = None,
        field: str | None = None,
    ) -> None:
        self.file = None if file is None else str(file)
        self.record = record
        self.field = field
        where = []
        if self.file is not None:
            where.append(f"file {self.file}")
        if record is not None:
            where.append(f"record {record!r}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class HakeWarning(UserWarning):
    """Something hake repaired on the way (e.g. a non-finite number written as JSON ``null``)."""
