"""The REST app: ``POST /v1/infer``, ``GET /v1/models``, ``GET /healthz``, the page at ``/``, docs at ``/docs``.

Status codes: 200 with hake's JSON; 413 upload, pixels or video length over the limits; 415 not
an image or video; 422 an image or video hake cannot decode (hake's message) or a bad option;
503 with ``Retry-After`` when every worker is busy and the queue is full; 500 only for an
unexpected error of one request (the server keeps answering).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, Query, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response

from hake import hub
from hake.engine.infer.pipeline import PASTA_FAMILIES, Pipeline, PipelineConfig
from hake.errors import HakeError
from hake.serve.analyse import Limits, analyse_image, analyse_video, request_config
from hake.serve.pool import Busy, PipelinePool
from hake.serve.uploads import BodyLimit, UploadError, display_name, sniff, temp_upload
from hake.structures.results import dumps_json
from hake.vocab.sizes import NUM_HOIS, NUM_PASTA76

STATIC = resources.files("hake.serve") / "static"
#: Lowest detector score the server's detector keeps, so requests may lower the thresholds to it.
DETECTOR_FLOOR = 0.05


@dataclass
class ServeOptions:
    """How the service runs (see ``hake serve --help``).

    ``make_pipeline`` builds one pipeline (tests pass their own); by default the models of
    ``pasta_model``/``weights``/``detector``/``pose`` from the zoo.
    """

    workers: int = 2
    queue_size: int = 16
    max_upload_bytes: int = 50 * 1024 * 1024
    limits: Limits = field(default_factory=Limits)
    config: PipelineConfig = field(default_factory=PipelineConfig)
    pasta_model: str = hub.DEFAULT_PASTA_MODEL
    weights: Path | None = None
    detector: str = hub.DEFAULT_DETECTOR
    pose: str = hub.DEFAULT_POSE
    perception: str = hub.DEFAULT_PERCEPTION
    device: str = "cpu"
    threads: int = 1
    make_pipeline: Callable[[], Pipeline] | None = None
    retry_after_s: int = 1


def _default_factory(opts: ServeOptions) -> Callable[[], Pipeline]:
    def make() -> Pipeline:
        from hake.engine.infer.pipeline import build_pipeline

        floor = PipelineConfig(person_threshold=min(DETECTOR_FLOOR, opts.config.person_threshold),
                               object_threshold=min(DETECTOR_FLOOR, opts.config.object_threshold))
        pipe = build_pipeline(None, detector=opts.detector, pose=opts.pose, config=floor, device=opts.device,
                              threads=opts.threads, pasta_name=opts.pasta_model, weights=opts.weights,
                              perception=opts.perception)
        pipe.config = opts.config
        return pipe

    return make


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps_json(data, where="response"), status_code=status, media_type="application/json",
                    headers=headers)


def create_app(opts: ServeOptions | None = None) -> FastAPI:
    """The FastAPI app; its models load when the app starts (lifespan), once per process."""
    from fastapi_offline import FastAPIOffline

    opts = opts or ServeOptions()
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        make = opts.make_pipeline or _default_factory(opts)
        state["pool"] = await asyncio.to_thread(PipelinePool, make, opts.workers, opts.queue_size)
        state["tmp"] = Path(tempfile.mkdtemp(prefix="hake-serve-"))
        try:
            yield
        finally:
            state["pool"].close()
            shutil.rmtree(state["tmp"], ignore_errors=True)

    app = FastAPIOffline(title="hake", version=_version(), lifespan=lifespan,
                         description="Persons, body-part states (PaSta) and activities in photos and videos.")

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        """Liveness: workers, requests admitted now, requests served."""
        pool: PipelinePool = state["pool"]
        return {"status": "ok", "workers": pool.workers, "pending": pool.pending, "capacity": pool.capacity,
                "served": pool.served}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        """The models this server runs, its limits and the zoo's PaSta models."""
        pool: PipelinePool = state["pool"]
        pipe = pool.first
        return {"pasta_model": str(opts.weights) if opts.weights else opts.pasta_model,
                "pasta_class": type(pipe.pasta_model).__name__, "detector": opts.detector, "pose": opts.pose,
                "perception": opts.perception, "device": opts.device,
                "zoo": {fam: hub.names(fam) for fam in PASTA_FAMILIES},
                "limits": {"max_upload_bytes": opts.max_upload_bytes, "max_pixels": opts.limits.max_pixels,
                           "max_video_frames": opts.limits.max_video_frames},
                "defaults": vars(opts.config)}

    @app.post("/v1/infer")
    async def infer(
        file: UploadFile = File(..., description="An image or a short video."),
        person_threshold: float | None = Query(None, ge=DETECTOR_FLOOR, le=1.0),
        object_threshold: float | None = Query(None, ge=DETECTOR_FLOOR, le=1.0),
        hoi_threshold: float | None = Query(None, ge=0.0, le=1.0,
                                            description="Minimum HOI score (person x object x probability)."),
        top_states: int | None = Query(None, ge=1, le=NUM_PASTA76, description="States reported per body-part group."),
        top_hois: int | None = Query(None, ge=1, le=NUM_HOIS, description="HOIs reported per person-object pair."),
        max_frames: int | None = Query(None, ge=1, description="Stop a video after N frames."),
        vis: bool = Query(False, description="Add the overlay (and a video's timeline) as PNG data URLs."),
    ) -> Response:
        """Analyse one uploaded image or video; the same JSON as ``hake infer`` (a video: frames + segments)."""
        name = display_name(file.filename)
        config = request_config(opts.config, person_threshold=person_threshold, object_threshold=object_threshold,
                                hoi_threshold=hoi_threshold, top_states=top_states, top_hois=top_hois)
        path: Path | None = None
        try:
            head = await file.read(64)
            if not head:
                raise UploadError(422, f"{name}: empty upload (0 bytes)")
            kind = sniff(head)
            if kind is None:
                raise UploadError(415, f"{name}: not an image or video this server reads "
                                       "(JPEG, PNG, BMP, WebP, TIFF; AVI, MP4/MOV, MKV/WebM, MPEG)")
            path = temp_upload(state["tmp"], kind[1])
            await asyncio.to_thread(_save, file, head, path)
            pool: PipelinePool = state["pool"]
            if kind[0] == "image":
                out = await pool.run(analyse_image, path, name, config, opts.limits, vis)
            else:
                out = await pool.run(analyse_video, path, name, config, opts.limits, vis, max_frames)
            return _json(out)
        except Busy:
            return _json({"detail": "busy: every worker is taken and the queue is full; retry later"}, 503,
                         {"Retry-After": str(opts.retry_after_s)})
        except UploadError as err:
            return _json({"detail": err.message}, err.status, err.headers)
        except HakeError as err:
            text = str(err) if path is None else str(err).replace(str(path), name)
            return _json({"detail": text}, 422)
        except Exception as err:  # one request's failure never takes the server down
            return _json({"detail": f"internal error: {type(err).__name__}"}, 500)
        finally:
            if path is not None:
                path.unlink(missing_ok=True)
            await file.close()

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return _static("index.html")

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        return _static(name)

    app.add_middleware(BodyLimit, max_bytes=opts.max_upload_bytes)
    return app


_ASSETS = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
           "style.css": "text/css; charset=utf-8"}


def _static(name: str) -> Response:
    """One of the page's own files (a fixed list: no path from the client reaches the disk)."""
    if name not in _ASSETS:
        return JSONResponse({"detail": "not found"}, 404)
    with resources.as_file(STATIC / name) as p:
        return FileResponse(p, media_type=_ASSETS[name])


def _save(file: UploadFile, head: bytes, path: Path) -> None:
    with open(path, "wb") as fh:
        fh.write(head)
        shutil.copyfileobj(file.file, fh, 1 << 20)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hake-action")
    except PackageNotFoundError:  # pragma: no cover - a source checkout without install
        return "0"


def run_server(opts: ServeOptions, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Serve ``create_app(opts)`` with uvicorn until interrupted.

    The first pipeline is built before the server starts, so a bad model name or weight file is a
    :class:`HakeError` (``hake serve`` exits 2 with its message) rather than a failed start-up.
    """
    import uvicorn

    make: Callable[[], Pipeline] = opts.make_pipeline or _default_factory(opts)
    built = [make()]

    def reuse_first() -> Pipeline:
        return built.pop() if built else make()

    uvicorn.run(create_app(replace(opts, make_pipeline=reuse_first)), host=host, port=port, log_level=log_level,
                timeout_keep_alive=5)
