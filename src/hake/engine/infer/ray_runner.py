"""Batch inference on Ray Data: the single-process runner's per-input work, spread over N workers.

Inputs come from folders/files (:func:`hake.engine.runner.collect_jobs`) or a manifest file
(:func:`read_manifest`). Each Ray worker is an actor that builds the pipeline once and runs the
same per-input function as the single-process path (:func:`hake.engine.runner.run_jobs`), so the
outputs are byte-identical. Properties:

- **local by default**: ``ray.init(num_cpus=workers)`` on this machine; ``address="ray://..."`` or
  ``"auto"`` joins an existing cluster.
- **resumable**: an input whose output file exists is skipped before Ray starts (outputs are written
  atomically, so a killed run leaves no half-written output); a fully resumed batch starts no Ray.
- **failures are not fatal**: a bad input, and even an unexpected exception in a worker, is recorded
  with its reason and the rest goes on.
- **throughput**: :class:`BatchReport` holds the wall time (with and without Ray start-up) and
  inputs per second.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hake.engine.infer.runner import Failure, Job, Summary, run_jobs
from hake.errors import DataError, HakeError

#: Runs a list of jobs and says which were done and which failed (e.g. ``runner.run_jobs``).
Handler = Callable[[list[Job]], Summary]

_JOB_FIELDS = ("source", "kind", "out_json", "out_vis")


@dataclass
class BatchReport:
    """What a Ray batch did.

    Attributes:
        done, skipped: inputs processed / skipped because their output existed.
        failed: inputs that failed, with the reason.
        seconds: wall time of the whole call (Ray start-up included), seconds.
        run_seconds: wall time of the Ray Data execution only (worker start-up included), seconds.
        busy_seconds: time the workers spent processing inputs, summed over workers, seconds.
        workers: number of Ray workers.
    """

    done: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    run_seconds: float = 0.0
    busy_seconds: float = 0.0
    workers: int = 0

    @property
    def throughput(self) -> float:
        """Processed inputs per second of Ray execution (0 when nothing ran)."""
        return len(self.done) / self.run_seconds if self.run_seconds > 0 and self.done else 0.0

    @property
    def steady_throughput(self) -> float:
        """Inputs per second once the workers are up: ``workers × processed / busy_seconds``."""
        return self.workers * len(self.done) / self.busy_seconds if self.busy_seconds > 0 and self.done else 0.0

    def summary(self) -> Summary:
        """The same record as the single-process runner's :class:`Summary`."""
        return Summary(done=list(self.done), skipped=list(self.skipped), failed=list(self.failed))

    def line(self) -> str:
        """One human-readable line with the counts and the throughput."""
        return (f"{len(self.done)} done, {len(self.skipped)} skipped (output exists), {len(self.failed)} failed "
                f"in {self.seconds:.1f} s on {self.workers} Ray workers: {self.throughput:.2f} inputs/s "
                f"({self.run_seconds:.1f} s of Ray execution; {self.steady_throughput:.2f} inputs/s once started)")


def read_manifest(path: Path, strict: bool = True) -> list[Path]:
    """Input paths listed in a manifest: one path per line, relative to the manifest's folder.

    Blank lines and lines starting with ``#`` are ignored. Raises :class:`DataError` naming the file
    (and the 1-based line) when the manifest cannot be read, or, if ``strict``, a line names no
    existing file; with ``strict=False`` such paths are returned as they are (the runner lists
    them as failed and runs the rest).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read manifest: {err}", file=path) from None
    out: list[Path] = []
    for no, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        p = Path(line)
        p = p if p.is_absolute() else path.parent / p
        if strict and not p.exists():
            raise DataError(f"listed input does not exist: {p}", file=path, record=f"line {no}", field="path")
        out.append(p)
    return out


#: Input files with these suffixes are manifests (lists of inputs), not media.
MANIFEST_SUFFIXES = frozenset({".txt", ".lst"})


def expand_manifests(inputs: Sequence[Path]) -> list[Path]:
    """Replace every manifest file (``.txt`` / ``.lst``) among ``inputs`` by the paths it lists
    (missing ones included: they become failures of their own, the rest runs)."""
    out: list[Path] = []
    for p in inputs:
        p = Path(p)
        manifest = p.suffix.lower() in MANIFEST_SUFFIXES and p.is_file()
        out.extend(read_manifest(p, strict=False) if manifest else [p])
    return out


def _job_row(job: Job) -> dict[str, str]:
    return {k: str(getattr(job, k)) for k in _JOB_FIELDS}


def _row_job(row: dict[str, Any]) -> Job:
    return Job(Path(row["source"]), str(row["kind"]), Path(row["out_json"]), Path(row["out_vis"]))


class _Worker:
    """A Ray actor: builds the handler once, then runs jobs one by one, catching every failure."""

    def __init__(self, make_handler: Callable[[], Handler], env: dict[str, str]) -> None:
        os.environ.update(env)
        try:
            import torch

            torch.set_num_threads(int(env.get("OMP_NUM_THREADS", "1")))
        except ImportError:  # pragma: no cover - torch is a dependency
            pass
        self.handler = make_handler()
        warm = getattr(self.handler, "warm", None)
        if warm is not None:  # load models now, so per-input times measure only the processing
            warm()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        status: list[str] = []
        reason: list[str] = []
        seconds: list[float] = []
        for k in range(len(batch["source"])):
            job = _row_job({f: batch[f][k] for f in _JOB_FIELDS})
            start = time.perf_counter()
            try:
                summary = self.handler([job])
            except Exception as err:  # a worker bug must not end the batch: record it per input
                summary = Summary(failed=[Failure(job.source, f"{type(err).__name__}: {err}")])
            seconds.append(time.perf_counter() - start)
            if summary.failed:
                status.append("failed")
                reason.append("; ".join(f.reason for f in summary.failed))
            elif summary.skipped:
                status.append("skipped")
                reason.append("")
            else:
                status.append("done")
                reason.append("")
        return {"source": [str(s) for s in batch["source"]], "status": status, "reason": reason, "seconds": seconds}


#: What Ray's C++ core prints on stderr when a driver starts with RAY_BACKEND_LOG_LEVEL set, whatever
#: the level: an INFO line logged before the new level takes effect, so no value of the variable hides it.
RAY_LEVEL_NOTICE = b"Set ray log level from environment variable RAY_BACKEND_LOG_LEVEL"


def _pump(read_fd: int, out_fd: int, drop: bytes) -> None:
    """Copy ``read_fd`` to ``out_fd`` line by line as it comes, leaving out lines holding ``drop``;
    close both at end of input."""
    rest = b""
    try:
        while chunk := os.read(read_fd, 65536):
            *lines, rest = (rest + chunk).split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if drop not in line)
            while kept:
                kept = kept[os.write(out_fd, kept):]
        if rest and drop not in rest:
            os.write(out_fd, rest)
    except OSError:  # stderr went away: nothing left to report to
        pass
    finally:
        os.close(read_fd)
        os.close(out_fd)


def _flush_stderr() -> None:
    if sys.stderr is not None:
        sys.stderr.flush()


@contextmanager
def stderr_without(drop: bytes = RAY_LEVEL_NOTICE) -> Iterator[None]:
    """Pass everything written to file descriptor 2 (Python's and C++'s stderr) through to it, as it
    comes, except lines containing ``drop``.

    Only Ray's start-up notice is removed; errors, warnings and tracebacks pass unchanged. The
    filter is a pipe read by a thread that passes each line on as it arrives (nothing is held back
    until the end, so output before a crash is not lost with it). Without a usable descriptor 2 it
    does nothing.
    """
    try:
        restore = os.dup(2)
    except OSError:
        yield
        return
    out_fd = os.dup(restore)
    read_fd, write_fd = os.pipe()
    pump = threading.Thread(target=_pump, args=(read_fd, out_fd, drop), name="hake-stderr-filter", daemon=True)
    pump.start()
    _flush_stderr()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    try:
        yield
    finally:
        _flush_stderr()
        os.dup2(restore, 2)  # fd 2 is stderr again: the pipe ends once no child holds its write end
        os.close(restore)
        pump.join(timeout=5.0)  # a child that inherited fd 2 keeps the pump (a daemon) alive; fine


def ensure_ray(workers: int, address: str | None = None) -> None:
    """Start a local Ray instance with ``workers`` CPUs, or connect to ``address``; reuse a running one.

    Ray's C++ logs below FATAL are for Ray developers (e.g. an "actor constructor arguments" error
    line for every Ray Data actor pool), so ``RAY_BACKEND_LOG_LEVEL`` is set to ``fatal`` unless
    the user set it; the one notice Ray prints about that variable at start-up is filtered out
    (:func:`stderr_without`). Real failures still reach the user, per input.
    """
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    try:
        import ray
    except ImportError as err:
        raise HakeError(f"Ray is not installed ({err}); pip install 'hake-action[ray]'") from None
    if ray.is_initialized():
        return
    with stderr_without(RAY_LEVEL_NOTICE):
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    for name in ("ray", "ray.data"):  # Ray's start-up and execution chatter is not for the user
        logging.getLogger(name).setLevel(logging.ERROR)


def run_on_ray(
    jobs: Sequence[Job],
    make_handler: Callable[[], Handler],
    *,
    workers: int = 2,
    address: str | None = None,
    overwrite: bool = False,
    threads_per_worker: int = 1,
) -> BatchReport:
    """Run ``jobs`` on ``workers`` Ray actors; each actor calls ``make_handler()`` once.

    Args:
        jobs: inputs with their output paths (order kept in the report).
        make_handler: picklable factory of the per-batch function run on the workers.
        workers: number of actors (each uses one CPU and ``threads_per_worker`` threads).
        address: Ray cluster address; None starts (or reuses) a local instance.
        overwrite: redo inputs whose output exists.
    """
    if workers < 1:
        raise HakeError(f"--workers must be >= 1, got {workers}")
    start = time.perf_counter()
    report = BatchReport(workers=workers)
    pending: list[Job] = []
    for job in jobs:
        if overwrite or not job.out_json.exists():
            pending.append(job)
        else:
            report.skipped.append(job.source)
    if not pending:
        report.seconds = time.perf_counter() - start
        return report
    ensure_ray(workers, address)
    import ray

    env = {"OMP_NUM_THREADS": str(threads_per_worker), "MKL_NUM_THREADS": str(threads_per_worker)}
    # a few blocks per worker: dispatch overhead stays small and slow inputs (videos) still balance
    blocks = min(len(pending), workers * 16)
    ds = ray.data.from_items([_job_row(j) for j in pending], override_num_blocks=blocks)
    ds = ds.map_batches(
        _Worker, fn_constructor_args=(make_handler, env), batch_size=1, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=min(workers, len(pending))), num_cpus=1,
    )
    run_start = time.perf_counter()
    rows = ds.take_all()
    report.run_seconds = time.perf_counter() - run_start
    by_source = {r["source"]: r for r in rows}
    report.busy_seconds = float(sum(r["seconds"] for r in rows))
    for job in pending:
        row = by_source.get(str(job.source))
        if row is None:
            report.failed.append(Failure(job.source, "no result came back from the Ray workers"))
        elif row["status"] == "failed":
            report.failed.append(Failure(job.source, str(row["reason"])))
        elif row["status"] == "skipped":
            report.skipped.append(job.source)
        else:
            report.done.append(job.source)
    report.seconds = time.perf_counter() - start
    return report


class PipelineHandler:
    """The single-process runner's per-input work with a lazily built, cached pipeline (picklable)."""

    def __init__(self, make_pipeline: Callable[[], Any], save_vis: bool = False, max_frames: int | None = None):
        self.make_pipeline = make_pipeline
        self.save_vis = save_vis
        self.max_frames = max_frames
        self._pipeline: Any = None

    def _get(self) -> Any:
        if self._pipeline is None:
            self._pipeline = self.make_pipeline()
        return self._pipeline

    def warm(self) -> None:
        """Build the pipeline now (Ray workers call this when they start)."""
        self._get()

    def __call__(self, jobs: list[Job]) -> Summary:
        return run_jobs(jobs, self._get, save_vis=self.save_vis, overwrite=True, progress=False,
                        max_frames=self.max_frames)


def run_pipeline_on_ray(
    jobs: Sequence[Job],
    make_pipeline: Callable[[], Any],
    *,
    workers: int = 2,
    address: str | None = None,
    save_vis: bool = False,
    overwrite: bool = False,
    max_frames: int | None = None,
    threads_per_worker: int = 1,
) -> BatchReport:
    """``hake infer --engine ray``: :func:`run_on_ray` with the pipeline's per-input function."""
    handler = PipelineHandler(make_pipeline, save_vis, max_frames)
    return run_on_ray(jobs, lambda: handler, workers=workers, address=address, overwrite=overwrite,
                      threads_per_worker=threads_per_worker)
