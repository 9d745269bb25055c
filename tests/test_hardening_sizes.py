"""Sizes are checked before allocating; multi-channel float TIFFs; Ray's start-up notice filtered.

- Weight files whose metadata asks for a model far bigger than the tensors stored (each field
  within its range) are refused at once, naming the file and the field, without allocating it.
- 3- and 4-channel float TIFFs follow the same range rule as 1-channel ones.
- :func:`hake.engine.infer.ray_runner.stderr_without` drops only Ray's RAY_BACKEND_LOG_LEVEL notice.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from hake.datasets.io import read_image
from hake.errors import DataError
from hake.models.a2v_predictor import A2VPredictor, Reasoner, save_model
from hake.models.activity2vec import Activity2Vec
from hake.models.pasta_r import InSpec, PastaR, load_pasta_r, save_pasta_r
from hake.models.weights_io import MAX_PARAMS, check_fits, read_weights, save_weights
from test_hardening_weights import SPEC, _rewrite

#: Metadata within every field's range that asks for ~6e9 parameters (24 GB) / ~1.85e9 (7.4 GB).
HUGE_REASONER = {"kind": "linear", "in_dims": [100_000] * 6, "n_out": 10_000}
HUGE_SPEC = {"neck": 4096, "hidden": 8192, "roi_size": 32, "language_dim": 4096, "image_size": 4096}


@contextlib.contextmanager
def no_big_allocation(limit: float = 5.0, extra: int = 2 << 30) -> Iterator[None]:
    """Fail if the block takes more than ``limit`` seconds; cap the address space at ``extra`` bytes
    above the current size, so a regression fails with an allocation error instead of swapping the machine."""
    status = Path("/proc/self/status")
    line = next((s for s in status.read_text().splitlines() if s.startswith("VmSize:")), None) if status.exists() \
        else None
    try:
        import resource
    except ImportError:  # not on this platform: the time limit alone
        resource = None  # type: ignore[assignment]
    limits = resource.getrlimit(resource.RLIMIT_AS) if resource is not None and line else None
    if limits is not None:
        cap = int(line.split()[1]) * 1024 + extra
        if limits[1] == resource.RLIM_INFINITY or cap < limits[1]:
            resource.setrlimit(resource.RLIMIT_AS, (cap, limits[1]))
    start = time.perf_counter()
    try:
        yield
    finally:
        if limits is not None:
            resource.setrlimit(resource.RLIMIT_AS, limits)
        assert time.perf_counter() - start < limit


@pytest.fixture(scope="module")
def small_files(tmp_path_factory) -> dict[str, Path]:
    """A small PaSta-R file and an Activity2Vec (+ PaSta-R) file made as in test_hardening_weights."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("sizes")
    pasta_r = root / "pasta_r.safetensors"
    save_pasta_r(PastaR("linear", InSpec.pasta(objects=True)), pasta_r)
    a2v = root / "a2v.safetensors"
    save_model(a2v, Activity2Vec(SPEC), Reasoner("mlp", [SPEC.hidden] * 6, 117))
    return {"pasta_r": pasta_r, "a2v": a2v}


def test_pasta_r_config_asking_for_24_gb_is_refused_before_allocating(small_files, tmp_path) -> None:
    cfg = {"kind": "linear", "in_spec": {"group_dims": HUGE_REASONER["in_dims"], "n_objects": 80},
           "out_dim": HUGE_REASONER["n_out"], "n_verbs": 0, "hidden": 0, "dropout": 0.5}
    path = tmp_path / "huge.safetensors"
    save_weights(path, {"head.weight": torch.zeros(3, 3)}, {"config": json.dumps(cfg)})
    with no_big_allocation(), pytest.raises(DataError, match="asks for 6,000,810,000 parameters") as info:
        load_pasta_r(path)
    assert info.value.file == str(path) and info.value.field == "config"
    assert f"more than the {MAX_PARAMS:,} allowed" in str(info.value)


def test_pasta_r_config_that_does_not_match_the_stored_tensors_is_refused(small_files, tmp_path) -> None:
    def widen(meta: dict[str, str]) -> None:  # 100x wider groups: within the cap, not what is stored
        cfg = json.loads(meta["config"])
        cfg["in_spec"]["group_dims"] = [d * 100 for d in cfg["in_spec"]["group_dims"]]
        meta["config"] = json.dumps(cfg)

    path = _rewrite(small_files["pasta_r"], tmp_path / "wide.safetensors", edit_meta=widen)
    with no_big_allocation(), pytest.raises(DataError, match=r"weights do not fit the config .*size mismatch for "
                                                              r"head.weight") as info:
        load_pasta_r(path)
    assert info.value.file == str(path) and info.value.field == "config"


def test_activity2vec_spec_asking_for_7_gb_is_refused_before_allocating(small_files, tmp_path) -> None:
    def grow(meta: dict[str, str]) -> None:  # every field inside its documented range
        meta["spec"] = json.dumps({**json.loads(meta["spec"]), **HUGE_SPEC})

    path = _rewrite(small_files["a2v"], tmp_path / "huge_spec.safetensors", edit_meta=grow)
    with no_big_allocation(), pytest.raises(DataError, match="weights do not fit the spec .*parameters asked") as info:
        A2VPredictor.load(path)
    assert info.value.file == str(path) and info.value.field == "spec"


def test_activity2vec_reasoner_asking_for_24_gb_is_refused_before_allocating(small_files, tmp_path) -> None:
    def grow(meta: dict[str, str]) -> None:
        meta["reasoner"] = json.dumps({**json.loads(meta["reasoner"]), **HUGE_REASONER})

    path = _rewrite(small_files["a2v"], tmp_path / "huge_reasoner.safetensors", edit_meta=grow)
    with no_big_allocation(), pytest.raises(DataError, match="the reasoner asks for .* parameters, more than") as info:
        A2VPredictor.load(path)
    assert info.value.file == str(path) and info.value.field == "reasoner"


def test_the_cap_applies_even_to_matching_tensors(small_files) -> None:
    state, _ = read_weights(small_files["pasta_r"])
    build = lambda: PastaR("linear", InSpec.pasta(objects=True))  # noqa: E731
    check_fits(build, state, small_files["pasta_r"], "config")  # fits, within the cap
    with pytest.raises(DataError, match="more than the 1,000 allowed"):
        check_fits(build, state, small_files["pasta_r"], "config", max_params=1000)
    assert MAX_PARAMS == 2_000_000_000


def test_shipped_and_small_weights_still_load(small_files) -> None:
    from hake.zoo import create_model

    shipped = create_model("pasta_r.hake_hico")
    assert isinstance(shipped, PastaR) and not shipped.training
    assert all(p.device.type == "cpu" for p in shipped.parameters())
    again = load_pasta_r(small_files["pasta_r"])
    assert isinstance(again, PastaR)
    predictor = A2VPredictor.load(small_files["a2v"])
    assert predictor.reasoner is not None and all(p.device.type == "cpu" for p in predictor.a2v.parameters())
    want = read_weights(small_files["a2v"])[0]
    got = {f"a2v.{k}": v for k, v in predictor.a2v.state_dict().items()}
    got |= {f"reasoner.{k}": v for k, v in predictor.reasoner.state_dict().items()}
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)


# --- multi-channel float TIFFs -----------------------------------------------------------------

cv2 = pytest.importorskip("cv2")


def _write_tiff(path: Path, rgb: np.ndarray) -> Path:
    """Write an RGB(A) float32 array as TIFF with OpenCV (which stores BGR(A) arrays as RGB(A))."""
    bgr = rgb[..., [2, 1, 0, *range(3, rgb.shape[2])]]
    assert cv2.imwrite(str(path), np.ascontiguousarray(bgr, dtype=np.float32))
    return path


@pytest.mark.parametrize("channels", [3, 4])
def test_multichannel_float_tiff_in_unit_range_becomes_8_bit_rgb(tmp_path, channels) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.random((7, 11, channels)).astype(np.float32)
    rgb[0, 0, :3] = [1.0, 0.0, 0.5]  # a known colour: red 255, green 0, blue 128
    got = read_image(_write_tiff(tmp_path / f"f{channels}.tiff", rgb))
    assert got.dtype == np.uint8 and got.shape == (7, 11, 3)
    assert got[0, 0].tolist() == [255, 0, 128]
    np.testing.assert_array_equal(got, np.round(rgb[..., :3] * 255).astype(np.uint8))


def test_float_tiff_in_0_255_is_taken_as_is_and_other_ranges_are_refused(tmp_path) -> None:
    rgb = np.random.default_rng(1).random((5, 6, 3)).astype(np.float32) * 255
    np.testing.assert_array_equal(read_image(_write_tiff(tmp_path / "a.tiff", rgb)), np.round(rgb).astype(np.uint8))
    with pytest.raises(DataError, match=r"float image with values in \[.*\]: expected \[0, 1\] or \[0, 255\]") as info:
        read_image(_write_tiff(tmp_path / "big.tiff", rgb * 10))
    assert info.value.field == "pixels" and info.value.file == str(tmp_path / "big.tiff")
    nan = rgb / 255
    nan[2, 2, 1] = np.nan
    with pytest.raises(DataError, match="NaN or infinite"):
        read_image(_write_tiff(tmp_path / "nan.tiff", nan))


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # Pillow's, while it tries the truncated file
def test_float_tiff_size_is_checked_before_decoding_and_truncation_is_refused(tmp_path) -> None:
    path = _write_tiff(tmp_path / "f.tiff", np.zeros((20, 30, 3), np.float32))
    with pytest.raises(DataError, match="image is 30x20 = 600 pixels, more than the 100 allowed"):
        read_image(path, max_pixels=100)
    cut = tmp_path / "cut.tiff"
    cut.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="not a readable image"):
        read_image(cut)


# --- Ray's start-up notice ---------------------------------------------------------------------


def test_stderr_filter_drops_only_rays_level_notice(capfd) -> None:
    from hake.engine.infer.ray_runner import RAY_LEVEL_NOTICE, stderr_without

    with stderr_without():
        os.write(2, b"[2026 I 1 1] logging.cc:303: " + RAY_LEVEL_NOTICE + b" to 3\nreal error: keep me\n")
        os.write(2, b"a partial line")
    err = capfd.readouterr().err
    assert err == "real error: keep me\na partial line"
    os.write(2, b"after: " + RAY_LEVEL_NOTICE + b"\n")  # the filter is gone once Ray has started
    assert RAY_LEVEL_NOTICE.decode() in capfd.readouterr().err


def test_a_spatial_pasta_file_asking_for_a_huge_model_is_refused_before_allocating(tmp_path) -> None:
    import json
    import time

    from safetensors.torch import load_file, save_file

    from hake import hub
    from hake.errors import DataError
    from hake.models.spatial import load_spatial_pasta
    from hake.models.weights_io import read_weights

    shipped = hub.weight_path("spatial_pasta.hake_hicodet")
    _, meta = read_weights(shipped)
    doc = json.loads(meta["hake"])
    doc["config"]["hidden"] = 10_000_000  # within no sane range: ~10^14 numbers for the trunk
    bad = tmp_path / "huge.safetensors"
    save_file(load_file(str(shipped)), str(bad), metadata={**meta, "hake": json.dumps(doc)})
    start = time.perf_counter()
    with pytest.raises(DataError) as err:
        load_spatial_pasta(bad)
    assert time.perf_counter() - start < 5 and err.value.field == "hake" and "huge.safetensors" in str(err.value)
    assert load_spatial_pasta(shipped) is not None  # the shipped file passes the same check
