"""The logic of ``hake benchmark``: protocols, baselines and report tables on real annotations.
May import ``engine.train`` and ``engine.infer`` and every layer below the engine; never export or cli.
"""
