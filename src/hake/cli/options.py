"""Options that several commands share (the pipeline's models and thresholds), declared once.

Typer reads an option's declaration from the parameter default, so a command reuses one by naming
it as the default: ``detector: str = DETECTOR``.
"""

from __future__ import annotations

import typer

from hake.hub import (
    ACCURATE_PERSON_THRESHOLD,
    DEFAULT_DETECTOR,
    DEFAULT_OBJECT_THRESHOLD,
    DEFAULT_PASTA_MODEL,
    DEFAULT_PERCEPTION,
    DEFAULT_PERSON_THRESHOLD,
    DEFAULT_POSE,
)

PASTA_MODEL = typer.Option(DEFAULT_PASTA_MODEL, "--pasta-model", help="Zoo name of the PaSta model.")
WEIGHTS = typer.Option(None, "--weights", help="Trained Activity2Vec weights (.safetensors).")
DETECTOR = typer.Option(DEFAULT_DETECTOR, "--detector",
                        help="nanodet_m or an .onnx file; +movenet_multipose fuses its persons (default).")
POSE = typer.Option(DEFAULT_POSE, "--pose", help="Pose model: movenet_lightning, movenet_thunder or movenet_multipose.")
DEVICE = typer.Option("cpu", "--device", help="cpu, cuda or cuda:N (GPU N).")
THREADS = typer.Option(1, "--threads", min=1, help="CPU threads for the models.")
PERSON_THRESHOLD = typer.Option(None, "--person-threshold", min=0.0, max=1.0, show_default=False,
                                help=f"Minimum person score (fused scale with the default detector); default "
                                f"{DEFAULT_PERSON_THRESHOLD}, {ACCURATE_PERSON_THRESHOLD} with --perception accurate.")
PERCEPTION = typer.Option(DEFAULT_PERCEPTION, "--perception",
                          help="balanced, or accurate: persons also sought on the mirrored photo and more "
                          "persons get a crop pose model (about 2x the time; README: Real photos).")
OBJECT_THRESHOLD = typer.Option(DEFAULT_OBJECT_THRESHOLD, "--object-threshold", min=0.0, max=1.0,
                                help="Minimum detector score of an object.")
PROGRESS = typer.Option(True, "--progress/--no-progress", help="Show a progress bar.")
