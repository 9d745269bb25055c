"""Export hake's models to ONNX and check the exports against PyTorch.
May import everything below it, the engine included (real inputs come from the pipeline); never cli.


- :func:`hake.export.onnx_export.export_onnx`: PaSta-R, Activity2Vec and Spatial-PaSta with dynamic
  batch / person axes and their provenance in the file's metadata;
- :func:`hake.export.check.check_onnx`: onnxruntime vs PyTorch on real inputs (max abs diff < 1e-4);
- :class:`hake.export.runtime.OnnxPastaModel`: an exported model as a ``PastaModel`` for the pipeline.
"""
