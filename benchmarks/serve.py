"""Load and faults of ``hake serve`` on loopback: concurrent clients x photos, bad uploads mixed in.

    python benchmarks/serve.py [--clients 32] [--per-client 2] [--workers 2] [--seeds 3] [--json OUT]

Protocol (ours; no published anchor exists for a HOI service): one ``hake serve`` process
(``--workers W``, default models, 1 thread each) on 127.0.0.1. Per seed, ``clients`` threads
each post ``per-client`` photos drawn (seeded) from the sample photos, all at once, and each of
the first clients one bad upload in turn: 0 bytes, text, a truncated JPEG, a decompression-bomb
PNG header (30000 x 30000), a 200 MB body. Reported per seed, then mean ± sd over seeds: photos
answered 200 (of those sent), bad uploads answered with their 4xx, p50 / p95 latency of the
photos, photos per second (wall time of the burst), and the server's resident memory after the
burst and at its peak (VmHWM). Baseline: the single-process pipeline (``build_pipeline``, the
same photos in the same order, decode + pipeline + JSON, one thread) in this process; the goal is
at least 0.8x its throughput with 2 workers.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HAKE_SHARED_DATA", REPO.parent / "shared" / "data"))
PHOTOS = sorted([*SHARED.joinpath("images").glob("*.jpg"), *REPO.joinpath("examples").glob("*.jpg")])
BIG = 200 * 1024 * 1024


def _rss(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def bad_uploads() -> list[tuple[str, bytes | None, int]]:
    """(name, body or None for the 200 MB body, expected status)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    jpeg = PHOTOS[0].read_bytes()
    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))
    return [("empty.jpg", b"", 422), ("notes.txt", b"plain text\n" * 10, 415),
            ("cut.jpg", jpeg[: len(jpeg) // 3], 422), ("bomb.png", bomb, 413), ("huge.jpg", None, 413)]


def post_big(url: str) -> int:
    """Stream a 200 MB multipart body over a raw socket and return the status the server answers
    (it refuses from the Content-Length, before the body arrives); -1 when the connection closes
    without an answer, which counts as a wrong answer."""
    import select
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    head = b'--x\r\nContent-Disposition: form-data; name="file"; filename="huge.jpg"\r\n\r\n\xff\xd8\xff'
    request = (f"POST /v1/infer HTTP/1.1\r\nHost: {parts.hostname}\r\n"
               "Content-Type: multipart/form-data; boundary=x\r\n"
               f"Content-Length: {len(head) + BIG}\r\nConnection: close\r\n\r\n").encode() + head
    block = b"\0" * (1 << 20)
    with socket.create_connection((parts.hostname, parts.port), timeout=120) as sock:
        try:
            sock.sendall(request)
            for _ in range(BIG >> 20):
                if select.select([sock], [], [], 0)[0]:
                    break  # the server has answered: stop sending
                sock.sendall(block)
            answer = sock.recv(64)
        except OSError:  # reset while sending: read what the server said before closing, if anything
            try:
                answer = sock.recv(64)
            except OSError:
                return -1
    fields = answer.split(b" ", 2)
    return int(fields[1]) if len(fields) > 1 and fields[0].startswith(b"HTTP/") and fields[1].isdigit() else -1


def burst(url: str, clients: int, per_client: int, seed: int, pid: int) -> dict:
    import httpx

    rng = random.Random(seed)
    plan = [[rng.choice(PHOTOS) for _ in range(per_client)] for _ in range(clients)]
    bad = bad_uploads()
    latencies: list[float] = []
    ok = [0]
    bad_ok = [0]
    lock = threading.Lock()
    go = threading.Barrier(clients)

    def client(k: int) -> None:
        with httpx.Client(timeout=600) as c:
            go.wait()
            for i, photo in enumerate(plan[k]):
                if i == 1 and k < len(bad):  # a bad upload between this client's photos
                    name, data, want = bad[k]
                    got = post_big(url) if data is None else c.post(url + "/v1/infer",
                                                                    files={"file": (name, data)}).status_code
                    with lock:
                        bad_ok[0] += int(got == want)
                t = time.perf_counter()
                r = c.post(url + "/v1/infer", files={"file": (photo.name, photo.read_bytes())})
                dt = time.perf_counter() - t
                with lock:
                    latencies.append(dt)
                    ok[0] += int(r.status_code == 200 and "persons" in r.json())

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    lat = sorted(latencies)
    return {"seed": seed, "photos": clients * per_client, "answered": ok[0], "bad": len(bad), "bad_ok": bad_ok[0],
            "p50_s": lat[len(lat) // 2], "p95_s": lat[min(len(lat) - 1, int(0.95 * len(lat)))],
            "photos_per_s": ok[0] / wall, "healthz": httpx.get(url + "/healthz").json()["status"], **_rss(pid)}


def baseline(n: int, seed: int) -> float:
    """Photos per second of the single-process pipeline on the same kind of sequence."""
    from hake.datasets.io import read_image
    from hake.engine.infer.pipeline import build_pipeline
    from hake.structures.results import dumps_json

    pipe = build_pipeline()
    rng = random.Random(seed)
    seq = [rng.choice(PHOTOS) for _ in range(n)]
    pipe(read_image(seq[0]))  # warm-up
    start = time.perf_counter()
    for p in seq:
        dumps_json(pipe(read_image(p), source=str(p)).to_dict())
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--per-client", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(REPO / "tests"))
    from serve_live import free_port

    port = free_port()
    queue = args.clients * 2
    proc = subprocess.Popen([sys.executable, "-m", "hake.cli", "serve", "--port", str(port), "--workers",
                             str(args.workers), "--queue", str(queue), "--max-upload-mb", "20",
                             "--log-level", "warning"], cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(600):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        idle = _rss(proc.pid)
        runs, base = [], []
        for seed in range(args.seeds):
            runs.append(burst(url, args.clients, args.per_client, seed, proc.pid))
            base.append(baseline(args.clients * args.per_client, seed))
            print(json.dumps({**runs[-1], "baseline_photos_per_s": base[-1]}), flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=60)

    def ms(key: str) -> str:
        vals = [r[key] for r in runs]
        return f"{statistics.mean(vals):.3g} ± {statistics.pstdev(vals):.2g}"

    ratio = [r["photos_per_s"] / b for r, b in zip(runs, base)]
    summary = {"clients": args.clients, "per_client": args.per_client, "workers": args.workers, "seeds": args.seeds,
               "idle_rss_mb": idle.get("VmRSS"), "runs": runs, "baseline_photos_per_s": base, "ratio": ratio}
    print(f"\n{args.clients} clients x {args.per_client} photos, {args.workers} workers, {args.seeds} seeds")
    print("| answered | bad uploads 4xx | p50 s | p95 s | photos/s | single-process photos/s | ratio | RSS MB after"
          " | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {sum(r['answered'] for r in runs)}/{sum(r['photos'] for r in runs)} "
          f"| {sum(r['bad_ok'] for r in runs)}/{sum(r['bad'] for r in runs)} | {ms('p50_s')} | {ms('p95_s')} "
          f"| {ms('photos_per_s')} | {statistics.mean(base):.3g} ± {statistics.pstdev(base):.2g} "
          f"| {statistics.mean(ratio):.2f} ± {statistics.pstdev(ratio):.2f} | {ms('VmRSS')} | {ms('VmHWM')} |")
    print(f"server RSS at idle: {idle.get('VmRSS', 0):.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
