"""``hake serve``: the REST service and the web page, on top of :mod:`hake.engine.infer`.
May import everything below it (engine, evaluation, zoo, ...) and FastAPI / uvicorn; never the CLI.

:func:`create_app` builds the FastAPI app (models load once per process, requests run on a bounded
pool of pipelines); :func:`run_server` serves it with uvicorn. The page and its assets are package
data under ``static/`` and are served by the app itself (no CDN; the docs at ``/docs`` too).
"""

from hake.serve.analyse import Limits
from hake.serve.app import ServeOptions, create_app, run_server

__all__ = ["Limits", "ServeOptions", "create_app", "run_server"]
