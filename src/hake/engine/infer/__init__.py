"""Inference: the pipeline (frame -> FrameResult), pairs, video and tracking, the local and Ray runners, explanations.
May import the layers below the engine; never ``engine.train``, ``engine.bench``, export or cli.
"""
