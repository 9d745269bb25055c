"""Models: PaSta-R reasoners, Activity2Vec, Spatial-PaSta, fusion, and the weight zoo."""
