"""Models: PaSta-R, Activity2Vec, Spatial-PaSta, fusion (PyTorch); build them with :func:`hake.zoo.create_model`.
May import vocab, structures, geometry, datasets and the hub; never perception, evaluation, engine or cli."""
