"""Official-protocol evaluators, one module per benchmark, pure numpy (no torch).
May import vocab, structures, geometry, datasets and errors; never models, perception, engine or torch.

``ap`` (shared AP code), ``matching`` (vectorised greedy matching), ``hicodet``, ``hico``,
``vcoco``, ``ava``, ``pasta``. The rules are those of EVAL_PROTOCOLS.md; each evaluator returns a
result dataclass with per-class AP, the summary values as fractions and the options used.
"""
