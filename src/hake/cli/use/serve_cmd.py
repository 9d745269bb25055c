"""``hake serve``: the REST service and the web page (FastAPI + uvicorn, the ``serve`` extra)."""

from __future__ import annotations

from pathlib import Path

import typer

from hake.cli.apps import app
from hake.cli.common import guarded
from hake.cli.options import DETECTOR, DEVICE, PASTA_MODEL, PERCEPTION, POSE, WEIGHTS


@app.command("serve")
@guarded
def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="TCP port."),
    workers: int = typer.Option(2, "--workers", min=1, help="Requests analysed at once (one pipeline each)."),
    queue: int = typer.Option(16, "--queue", min=0, help="Requests that may wait; more get 503 + Retry-After."),
    max_upload_mb: float = typer.Option(50.0, "--max-upload-mb", min=0.001, help="Largest upload (413 above)."),
    max_pixels: int = typer.Option(40_000_000, "--max-pixels", min=1, help="Most pixels per image or frame."),
    max_video_frames: int = typer.Option(600, "--max-video-frames", min=1, help="Most frames per video."),
    pasta_model: str = PASTA_MODEL,
    weights: Path | None = WEIGHTS,
    detector: str = DETECTOR,
    pose: str = POSE,
    perception: str = PERCEPTION,
    device: str = DEVICE,
    threads: int = typer.Option(1, "--threads", min=1, help="CPU threads per worker's models."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level (info, warning, error)."),
) -> None:
    """Serve POST /v1/infer, GET /v1/models, GET /healthz, the page at / and the API docs at /docs."""
    try:
        from hake.serve import Limits, ServeOptions, run_server
    except ImportError as err:
        typer.echo(f"error: hake serve needs the serve extra (pip install 'hake-action[serve]'): {err}", err=True)
        raise typer.Exit(2) from None
    from hake.engine.infer.pipeline import PipelineConfig, person_threshold_for

    opts = ServeOptions(config=PipelineConfig(person_threshold=person_threshold_for(None, perception)),
                        perception=perception, workers=workers, queue_size=queue,
                        max_upload_bytes=int(max_upload_mb * 1024 * 1024),
                        limits=Limits(max_pixels=max_pixels, max_video_frames=max_video_frames),
                        pasta_model=pasta_model, weights=weights, detector=detector, pose=pose, device=device,
                        threads=threads)
    typer.echo(f"hake serve: loading models, then http://{host}:{port}/ (docs at /docs); Ctrl-C stops", err=True)
    run_server(opts, host=host, port=port, log_level=log_level)
