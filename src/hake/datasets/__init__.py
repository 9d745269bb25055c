"""Dataset readers and numpy data builders (GT-HAKE, Spatial-PaSta pairs); the torch wrappers live in
``datasets.torch``, the only module here that may import torch. May import vocab, structures, geometry.


Ids are converted to 0-based in each reader's record constructor (files are 1-based where the
original releases are); every error is a :class:`hake.errors.DataError` naming file, record, field.
"""
