"""Numpy data builders: GT-HAKE samples and hash splits, Spatial-PaSta pairs, the synthetic set.
May import vocab, structures, geometry and the readers of ``hake.datasets`` (never torch).
"""
