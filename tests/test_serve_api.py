"""``hake serve`` over HTTP: a live uvicorn server on loopback, driven with httpx."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from typer.testing import CliRunner

from conftest import FIXTURES, REPO, shared_file
from hake.cli import app
from hake.engine.infer.pipeline import Pipeline
from hake.serve import Limits, ServeOptions
from serve_live import free_port, live_server

CLIP = FIXTURES / "video" / "vtest_clip.avi"


def png_header(width: int, height: int) -> bytes:
    """A PNG announcing ``width`` x ``height`` grey pixels (a decompression bomb's header, a few bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\0" * 1000))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def server():
    with live_server(ServeOptions(workers=2, queue_size=16)) as url:
        yield url


def post(url: str, name: str, data: bytes, **params) -> httpx.Response:
    return httpx.post(url + "/v1/infer", files={"file": (name, data)}, params=params, timeout=120)


def test_photo_gives_the_same_persons_and_hois_as_hake_infer(server, tmp_path) -> None:
    photo = shared_file("images", "messi5.jpg")
    res = CliRunner().invoke(app, ["infer", str(photo), "--out", str(tmp_path), "--no-progress"])
    assert res.exit_code == 0, res.output
    cli = json.loads((tmp_path / "messi5.json").read_text())
    got = post(server, "messi5.jpg", photo.read_bytes())
    assert got.status_code == 200
    api = got.json()
    assert api["source"] == "messi5.jpg" and set(api) == set(cli)
    assert len(api["persons"]) == len(cli["persons"]) >= 1
    for a, c in zip(api["persons"], cli["persons"]):
        assert a["box"] == pytest.approx(c["box"], abs=1e-3) and a["pasta"] == c["pasta"]
    assert [(h["person"], h["hoi"]) for h in api["hois"]] == [(h["person"], h["hoi"]) for h in cli["hois"]]
    assert [h["score"] for h in api["hois"]] == pytest.approx([h["score"] for h in cli["hois"]], abs=1e-6)


def test_sixteen_concurrent_posts_all_succeed(server) -> None:
    photos = [shared_file("images", n).read_bytes() for n in ("messi5.jpg", "person.jpg")]
    with ThreadPoolExecutor(16) as ex:
        answers = list(ex.map(lambda k: post(server, f"p{k}.jpg", photos[k % 2]), range(16)))
    assert [r.status_code for r in answers] == [200] * 16
    counts = {k % 2: len(r.json()["persons"]) for k, r in enumerate(answers)}
    assert all(len(r.json()["persons"]) == counts[k % 2] for k, r in enumerate(answers))
    assert [r.json()["source"] for r in answers] == [f"p{k}.jpg" for k in range(16)]


def test_bad_uploads_get_4xx_and_the_server_keeps_answering(server) -> None:
    jpeg = shared_file("images", "messi5.jpg").read_bytes()
    cases = {
        "empty.jpg": (b"", 422), "notes.txt": (b"just some text, not a picture\n", 415),
        "cut.jpg": (jpeg[: len(jpeg) // 3], 422), "bomb.png": (png_header(30000, 30000), 413),
        "../../../etc/passwd": (b"root:x:0:0:root:/root:/bin/bash\n", 415),
    }
    for name, (data, status) in cases.items():
        r = post(server, name, data)
        assert r.status_code == status, (name, r.text)
        detail = r.json()["detail"]
        assert "/tmp" not in detail and "hake-serve" not in detail  # never the server's own paths
    assert "truncated" in post(server, "cut.jpg", jpeg[:5000]).json()["detail"]
    assert httpx.post(server + "/v1/infer", data={"other": "x"}).status_code == 422  # no "file" field
    assert post(server, "a.jpg", jpeg, top_states=0).status_code == 422
    assert post(server, "a.jpg", jpeg, person_threshold=2).status_code == 422
    health = httpx.get(server + "/healthz").json()
    assert health["status"] == "ok" and health["pending"] == 0
    assert post(server, "again.jpg", jpeg).status_code == 200


def test_video_answers_frames_and_segments(server) -> None:
    r = post(server, "clip.avi", CLIP.read_bytes(), vis="true")
    assert r.status_code == 200
    d = r.json()
    assert d["kind"] == "video" and [f["frame_index"] for f in d["frames"]] == list(range(8))
    assert {"segments", "tracks", "flicker"} <= set(d["segments"])
    assert any(p["track_id"] is not None for p in d["frames"][-1]["persons"])
    assert d["timeline"].startswith("data:image/png;base64,") and d["overlay"].startswith("data:image/png")
    assert len(post(server, "clip.avi", CLIP.read_bytes(), max_frames=3).json()["frames"]) == 3


def test_models_health_and_offline_docs(server) -> None:
    models = httpx.get(server + "/v1/models").json()
    assert {"pasta_model", "detector", "pose", "limits", "zoo"} <= set(models) and models["perception"] == "balanced"
    docs = httpx.get(server + "/docs").text
    assert "cdn" not in docs.lower() and "https://" not in docs
    for ref in ("/static-offline-docs/swagger-ui.css", "/static-offline-docs/swagger-ui-bundle.js"):
        assert ref in docs and httpx.get(server + ref).status_code == 200
    assert "/v1/infer" in httpx.get(server + "/openapi.json").json()["paths"]
    page = httpx.get(server + "/").text
    assert "https://" not in page and "/static/app.js" in page
    assert httpx.get(server + "/static/app.js").status_code == 200
    assert httpx.get(server + "/static/..%2Fapp.py").status_code == 404


class SlowDetector:
    """Finds nobody, slowly: keeps a worker busy for ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def detect(self, image):
        time.sleep(self.seconds)
        return []


def test_limits_answer_413_and_a_full_queue_503_with_retry_after() -> None:
    opts = ServeOptions(workers=1, queue_size=0, max_upload_bytes=200_000, limits=Limits(max_video_frames=4),
                        make_pipeline=lambda: Pipeline(SlowDetector(1.0), None, None))
    jpeg = shared_file("images", "messi5.jpg").read_bytes()
    with live_server(opts) as url:
        assert post(url, "big.jpg", b"\xff\xd8\xff" + b"\0" * 400_000).status_code == 413  # Content-Length

        def chunks():  # a valid multipart start, then more file bytes than allowed
            yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n\xff\xd8\xff'
            for _ in range(50):
                yield b"\0" * 10_000

        r = httpx.post(url + "/v1/infer", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"})
        assert r.status_code == 413  # a chunked body is counted as it arrives
        assert post(url, "clip.avi", CLIP.read_bytes()).status_code == 413  # 8 frames > 4
        with ThreadPoolExecutor(2) as ex:
            first = ex.submit(post, url, "a.jpg", jpeg)
            time.sleep(0.3)
            second = ex.submit(post, url, "b.jpg", jpeg)
            codes = sorted([first.result().status_code, second.result().status_code])
            busy = second.result()
        assert codes == [200, 503] and busy.headers["retry-after"] == "1"
        assert httpx.get(url + "/healthz").json()["status"] == "ok"


def test_hake_serve_command_answers_on_loopback(tmp_path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "hake.cli", "serve", "--port", str(port), "--log-level", "warning"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        photo = shared_file("images", "person.jpg")
        r = post(url, "person.jpg", photo.read_bytes())
        assert r.status_code == 200 and r.json()["persons"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_hake_serve_refuses_an_unknown_model_before_listening() -> None:
    res = CliRunner().invoke(app, ["serve", "--port", str(free_port()), "--pasta-model", "nope"])
    assert res.exit_code == 2 and "unknown model 'nope'" in res.output
