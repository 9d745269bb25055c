"""Dataset readers: pure Python/numpy, no torch. Torch wrappers live in ``datasets.torch``.

Ids are converted to 0-based in each reader's record constructor (files are 1-based where the
original releases are); every error is a :class:`hake.errors.DataError` naming file, record, field.
"""
