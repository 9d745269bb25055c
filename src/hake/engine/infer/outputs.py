"""Where each input's outputs go, and which files in a folder are hake's outputs.

Every file ``hake infer`` writes is listed, with its sha256 and the input it belongs to, in a hidden
ledger ``.hake-outputs.jsonl`` of its folder (one JSON line per file, appended). A file is *hake's
output of input S* when the ledger's last line for its name says S and its bytes still hash to
the recorded sha256 — a user's photo that replaces an overlay of the same name is a user's photo
again. (A JSON / JSON Lines result also counts as S's when it records ``source`` S.)

Output names: an input ``a/b.jpg`` (relative to the folder given) has the candidate stems ``a/b``,
``a/b.jpg``, ``a/b.jpg~2``, ... under the output folder. Its outputs go to the first candidate
that already holds its own results (resume), else to the first candidate none of whose output
files is an input, another input's output in this batch, or an existing file that is not this
input's output. So an output never replaces an input or another input's results, and a resume
finds each input's results whatever the order of the inputs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from hake.hub import sha256_of

LEDGER = ".hake-outputs.jsonl"
#: Output suffixes of an image: its JSON and its overlay.
IMAGE_OUTPUTS = (".json", ".png")


def video_outputs(vis_suffix: str = ".mp4") -> tuple[str, ...]:
    """Output suffixes of a video (:mod:`hake.engine.infer.video`); the first is its JSON Lines."""
    return (".jsonl", vis_suffix, ".segments.json", ".timeline.png", ".ava.csv", ".ava.labelmap.pbtxt",
            ".partial.jsonl", ".partial" + vis_suffix)


def record_output(path: Path, source: Path | str) -> None:
    """Append ``path`` (just written, complete) to its folder's ledger as an output of ``source``.

    One ``O_APPEND`` write per line, so processes sharing an output folder do not interleave lines.
    """
    line = json.dumps({"file": path.name, "sha256": sha256_of(path), "source": str(source)}) + "\n"
    fd = os.open(path.parent / LEDGER, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


def ledger(folder: Path) -> dict[str, dict[str, str]]:
    """The ledger of ``folder``: file name -> its last ``{"sha256", "source"}`` (damaged lines skipped)."""
    entries: dict[str, dict[str, str]] = {}
    try:
        with open(folder / LEDGER, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                if isinstance(item, dict) and all(isinstance(item.get(k), str) for k in ("file", "sha256", "source")):
                    entries[item["file"]] = {"sha256": item["sha256"], "source": item["source"]}
    except OSError:
        pass
    return entries


def recorded_source(out_json: Path) -> str | None:
    """The ``source`` recorded in an output (``.json``, or the first line of ``.jsonl``); None when
    the file is unreadable, partial or records none."""
    try:
        with open(out_json, encoding="utf-8") as fh:
            text = fh.readline() if out_json.suffix == ".jsonl" else fh.read()
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    src = data.get("source") if isinstance(data, dict) else None
    return src if isinstance(src, str) else None


def same_source(recorded: str, source: Path) -> bool:
    """True when a recorded ``source`` names the file ``source``."""
    return recorded == str(source) or Path(recorded).resolve() == source.resolve()


class Ledgers(dict[Path, dict[str, dict[str, str]]]):
    """Folder -> its :func:`ledger`, each read once (for one listing of inputs)."""

    def __missing__(self, folder: Path) -> dict[str, dict[str, str]]:
        self[folder] = entries = ledger(folder)
        return entries


def output_of(path: Path, ledgers: Ledgers | None = None) -> str | None:
    """The input ``path`` is hake's output of (by its folder's ledger and sha256), or None."""
    entry = (Ledgers() if ledgers is None else ledgers)[path.parent].get(path.name)
    if entry is None or not path.is_file():
        return None
    return entry["source"] if sha256_of(path) == entry["sha256"] else None


def is_output_of(path: Path, source: Path, ledgers: Ledgers | None = None) -> bool:
    """True when ``path`` is hake's output of ``source``: by the ledger, or (JSON / JSON Lines
    results) by the ``source`` they record."""
    recorded = output_of(path, ledgers)
    if recorded is None and path.suffix in (".json", ".jsonl") and path.is_file():
        recorded = recorded_source(path)
    return recorded is not None and same_source(recorded, source)


def choose_stem(out_dir: Path, rel: Path, source: Path, suffixes: tuple[str, ...], taken: set[Path],
                ledgers: Ledgers | None = None) -> Path:
    """The stem (relative to ``out_dir``) of ``source``'s outputs ``stem + suffix``; see the module docstring.

    Args:
        rel: ``source`` relative to the folder it was found in (its name for a file given alone).
        suffixes: the input kind's output suffixes, the JSON (Lines) result first.
        taken: resolved paths no output may use: the batch's inputs and outputs given out so far.
        ledgers: the ledgers read so far (shared over one listing, so each is read once).
    """
    ledgers = Ledgers() if ledgers is None else ledgers

    def candidates() -> Iterator[Path]:
        yield rel.with_suffix("")
        yield rel
        k = 2
        while True:
            yield rel.with_name(f"{rel.name}~{k}")
            k += 1

    first_free: Path | None = None
    for stem in candidates():
        outs = [out_dir / f"{stem}{s}" for s in suffixes]
        exists = [p.exists() for p in outs]
        ours = [e and is_output_of(p, source, ledgers) for p, e in zip(outs, exists, strict=True)]
        if all(p.resolve() not in taken and (o or not e) for p, e, o in zip(outs, exists, ours, strict=True)):
            if ours[0]:
                return stem  # this input's results: resume or overwrite them
            first_free = first_free or stem
        if not any(exists) and first_free is not None:
            return first_free  # past the last candidate that could hold this input's results
    raise AssertionError("unreachable: the candidates never end")
