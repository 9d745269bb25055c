"""Training recipes (Activity2Vec, PaSta-R, Spatial-PaSta), the Lightning module, feature caches, DDP helpers.
May import the layers below the engine; never ``engine.infer``, ``engine.bench``, export or cli.
"""
