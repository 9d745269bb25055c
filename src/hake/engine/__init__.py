"""Engine: what hake does with its models, by use: ``infer`` (pipeline, pairs, video, tracking, runners,
explanations), ``train`` (recipes, Lightning module, DDP helpers), ``bench`` (the ``hake benchmark`` logic).
May import every layer below (vocab ... evaluation, viz, the zoo); never export, serve or cli.
"""
