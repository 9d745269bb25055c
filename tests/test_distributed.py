"""Sharding and exact gathering, checked in a real 2-process gloo group on CPU."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SHARED_DATA
from hake.engine.train import distributed as D
from hake.errors import HakeError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(fn, world: int, *args) -> None:
    """Run ``fn(rank, world, *args)`` in ``world`` processes joined by gloo through env vars."""
    port = free_port()
    mp.spawn(_entry, args=(world, port, fn, args), nprocs=world, join=True)


def _entry(rank: int, world: int, port: int, fn, args) -> None:
    os.environ.update(
        {"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank), "MASTER_ADDR": "127.0.0.1",
         "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1"}
    )
    torch.set_num_threads(1)
    info = D.init_from_env()
    assert info.backend == "gloo" and info.world_size == world and info.rank == rank
    try:
        fn(rank, world, *args)
    finally:
        D.shutdown()


# --- pure sharding ------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 200), world=st.integers(1, 7), shuffle=st.booleans(), seed=st.integers(0, 9))
def test_shards_partition_without_padding(n: int, world: int, shuffle: bool, seed: int) -> None:
    shards = [D.shard_indices(n, r, world, shuffle=shuffle, seed=seed) for r in range(world)]
    everything = np.concatenate(shards)
    assert sorted(everything.tolist()) == list(range(n))  # each sample exactly once: no pad, no drop
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= 1
    assert sizes == [len(D.ShardedSampler(n, r, world)) for r in range(world)]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 150), world=st.integers(1, 5), per_rank=st.integers(1, 6), epoch=st.integers(0, 3))
def test_local_rows_split_each_global_batch_like_the_sampler(n: int, world: int, per_rank: int, epoch: int) -> None:
    B = per_rank * world
    perm = D.permutation(n, True, seed=7, epoch=epoch)
    sampler = D.ShardedSampler(n, 0, world, shuffle=True, seed=7)
    sampler.set_epoch(epoch)
    own = sampler.indices()
    for k in range(-(-n // B)):
        batch = perm[k * B : (k + 1) * B]
        parts = [D.local_rows(batch, D.DistInfo(rank=r, world_size=world)) for r in range(world)]
        real = [rows for rows, w in parts if w > 0]
        assert sorted(np.concatenate(real).tolist()) == sorted(batch.tolist())  # the single-process batch
        # every sample weighs 1 / len(batch) in DDP's average of the weighted means
        for rows, w in (p for p in parts if p[1] > 0):
            assert w / len(rows) / world == pytest.approx(1 / len(batch))
        if len(batch) == B:  # full batches: equal shares, weight 1, the sampler's k-th batch of per_rank
            assert all(len(rows) == per_rank and w == 1.0 for rows, w in parts)
            assert parts[0][0].tolist() == own[k * per_rank : (k + 1) * per_rank].tolist()


def test_shuffle_changes_with_epoch_and_is_seeded() -> None:
    a = D.permutation(50, True, seed=3, epoch=0)
    assert a.tolist() == D.permutation(50, True, seed=3, epoch=0).tolist()
    assert a.tolist() != D.permutation(50, True, seed=3, epoch=1).tolist()
    assert D.permutation(5, False).tolist() == [0, 1, 2, 3, 4]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(HakeError):
        D.shard_indices(10, 2, 2)
    with pytest.raises(HakeError):
        D.per_rank_batch(10, 3)
    with pytest.raises(HakeError, match="duplicates"):
        D.gather_exactly_once(["a", "b", "c"], [0, 1, 1])
    with pytest.raises(HakeError, match="expected 4"):
        D.gather_exactly_once(["a", "b", "c"], [2, 0, 1], expected=4)
    with pytest.raises(HakeError, match="outside"):
        D.gather_array(np.zeros((2, 3)), [0, 5])


def test_single_process_gather_restores_order() -> None:
    assert D.gather_exactly_once(["c", "a", "b"], [2, 0, 1], expected=3) == ["a", "b", "c"]
    np.testing.assert_array_equal(D.gather_array(np.array([[2.0], [0.0], [1.0]]), [2, 0, 1]), [[0.0], [1.0], [2.0]])


def test_lr_and_batch_rules() -> None:
    assert D.effective_batch_size(16, 4, accumulate=2) == 128
    assert D.scaled_lr(0.1, 256, 64) == pytest.approx(0.4)
    assert D.per_rank_batch(32, 2) == 16
    assert D.ddp_loss_weight(8, 16, 2) == 1.0
    assert D.ddp_loss_weight(3, 5, 2) == pytest.approx(1.2)


def test_single_process_env_does_not_start_a_group(monkeypatch) -> None:
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID"):
        monkeypatch.delenv(key, raising=False)
    info = D.init_from_env()
    assert (info.rank, info.world_size, info.backend, info.is_main) == (0, 1, "none", True)
    model = torch.nn.Linear(2, 2)
    assert D.wrap_ddp(model) is model and D.unwrap(model) is model


def test_slurm_variables_are_translated(monkeypatch) -> None:
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.setenv(key, "0")  # recorded by monkeypatch, so what the translation writes is undone
        monkeypatch.delenv(key)
    monkeypatch.setenv("SLURM_PROCID", "3")
    monkeypatch.setenv("SLURM_NTASKS", "4")
    monkeypatch.setenv("SLURM_LOCALID", "1")
    D._slurm_to_torch_env()
    assert (os.environ["RANK"], os.environ["WORLD_SIZE"], os.environ["LOCAL_RANK"]) == ("3", "4", "1")


# --- real 2-process group -----------------------------------------------------------------------


def _score(i: int) -> np.ndarray:
    """A deterministic per-sample 'model output' of variable content."""
    rng = np.random.default_rng(1000 + i)
    return rng.random(5).astype(np.float32)


def _gather_worker(rank: int, world: int, n: int, out: str) -> None:
    sampler = D.ShardedSampler(n, shuffle=True, seed=5)
    idx = sampler.indices()
    objs = [{"i": int(i), "name": f"img{i:03d}"} for i in idx]
    rows = np.stack([_score(int(i)) for i in idx]) if len(idx) else np.zeros((0, 5), np.float32)
    gathered = D.gather_exactly_once(objs, idx, expected=n)
    arr = D.gather_array(rows, idx, expected=n)
    total = D.all_reduce_sum(len(idx))
    Path(out, f"rank{rank}_n{n}.json").write_text(
        json.dumps({"objs": gathered, "arr": arr.tolist(), "local": len(idx), "total": total})
    )


def _all_worker(rank: int, world: int, out: str, gt_path: str) -> None:
    """Everything the 2-process tests check, in one process group (spawning is the slow part)."""
    for n in (11, 1):
        _gather_worker(rank, world, n, out)
    _ddp_grad_worker(rank, world, out)
    _local_rows_worker(rank, world, out)
    if gt_path:
        _eval_worker(rank, world, gt_path, out)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory) -> Path:
    """Folder with the results of :func:`_all_worker` run by 2 gloo processes."""
    out = tmp_path_factory.mktemp("ranks")
    gt = SHARED_DATA / "hicodet" / "instances_test2015.json"
    spawn(_all_worker, 2, str(out), str(gt) if gt.is_file() else "")
    return out


@pytest.mark.parametrize("n", [11, 1])
def test_two_process_gather_equals_single_process(two_ranks: Path, n: int) -> None:
    tmp_path = two_ranks
    single_objs = [{"i": i, "name": f"img{i:03d}"} for i in range(n)]
    single_arr = np.stack([_score(i) for i in range(n)])
    results = [json.loads((tmp_path / f"rank{r}_n{n}.json").read_text()) for r in range(2)]
    assert sorted(r["local"] for r in results) == sorted([len(range(r, n, 2)) for r in range(2)])
    for r in results:
        assert r["objs"] == single_objs
        np.testing.assert_array_equal(np.asarray(r["arr"], dtype=np.float32), single_arr)  # exact, not approx
        assert r["total"] == n


def _ddp_grad_worker(rank: int, world: int, out: str) -> None:
    torch.manual_seed(0)
    model = D.wrap_ddp(torch.nn.Linear(4, 3))
    x = torch.arange(5 * 4, dtype=torch.float32).reshape(5, 4) / 10
    y = torch.arange(5) % 3
    # an uneven last batch: 5 samples over 2 ranks -> 3 and 2
    local = np.arange(5)[rank::world]
    loss = torch.nn.functional.cross_entropy(model(x[local]), y[local])
    (loss * D.ddp_loss_weight(len(local), 5, world)).backward()
    torch.save({k: p.grad for k, p in D.unwrap(model).named_parameters()}, Path(out, f"grad{rank}.pt"))


def test_ddp_loss_weight_gives_the_single_process_gradient(two_ranks: Path) -> None:
    tmp_path = two_ranks
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    x = torch.arange(5 * 4, dtype=torch.float32).reshape(5, 4) / 10
    y = torch.arange(5) % 3
    torch.nn.functional.cross_entropy(model(x), y).backward()
    for r in range(2):
        grads = torch.load(tmp_path / f"grad{r}.pt")
        for name, p in model.named_parameters():
            torch.testing.assert_close(grads[name], p.grad, rtol=1e-6, atol=1e-7)


def _local_rows_worker(rank: int, world: int, out: str) -> None:
    torch.manual_seed(0)
    model = D.wrap_ddp(torch.nn.Linear(4, 3))
    x = torch.arange(3 * 4, dtype=torch.float32).reshape(3, 4) / 10
    y = torch.arange(3) % 3
    # a last batch of 1 row over 2 ranks: rank 1 has nothing of its own and must still join
    for rows in (np.array([0, 1, 2]), np.array([2])):
        local, w = D.local_rows(rows)
        loss = torch.nn.functional.cross_entropy(model(x[local]), y[local]) * w
        loss.backward()
    torch.save({k: p.grad for k, p in D.unwrap(model).named_parameters()}, Path(out, f"lgrad{rank}.pt"))


def test_local_rows_handles_a_last_batch_smaller_than_the_world(two_ranks: Path) -> None:
    assert D.local_rows(np.array([5, 6, 7]))[1] == 1.0
    info = D.DistInfo(rank=1, world_size=2)
    assert D.local_rows(np.array([3]), info)[1] == 0.0
    np.testing.assert_array_equal(D.local_rows(np.array([3, 4, 5]), info)[0], [4])
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    x = torch.arange(3 * 4, dtype=torch.float32).reshape(3, 4) / 10
    y = torch.arange(3) % 3
    for rows in ([0, 1, 2], [2]):
        torch.nn.functional.cross_entropy(model(x[rows]), y[rows]).backward()
    for r in range(2):
        grads = torch.load(two_ranks / f"lgrad{r}.pt")
        for name, p in model.named_parameters():
            torch.testing.assert_close(grads[name], p.grad, rtol=1e-6, atol=1e-7)


# --- sharded evaluation with the real HICO-DET evaluator ------------------------------------------

N_EVAL_IMAGES = 101  # odd: the two shards differ in size


def _gt_subset(path: str, n: int):
    from hake.datasets.hicodet import HicoDetGT, load_test_gt

    gt = load_test_gt(path)
    return HicoDetGT(gt.filenames[:n], gt.sizes[:n], gt.boxes_h[:n], gt.boxes_o[:n], gt.hoi[:n], gt.object[:n],
                     gt.verb[:n], gt.rare, gt.non_rare, None, gt.source)


def _detections(model, gt, i: int) -> dict:
    """A real model on image ``i``: Spatial-PaSta on its GT pairs, the 3 best HOIs of each pair."""
    from hake.structures.contracts import PairBatch

    bh, bo = (gt.boxes_h[i] - 1).astype(np.float32), (gt.boxes_o[i] - 1).astype(np.float32)
    if len(bh) == 0:
        return {"hoi": np.zeros(0, np.int64), "bh": np.zeros((0, 4)), "bo": np.zeros((0, 4)), "s": np.zeros(0)}
    out = model.predict(PairBatch(tuple(int(v) for v in gt.sizes[i]), bh, bo, gt.object[i].astype(np.int64)))
    top = np.argsort(-out.hoi, axis=1, kind="stable")[:, :3]
    pair = np.repeat(np.arange(len(bh)), 3)
    return {"hoi": top.reshape(-1), "bh": bh[pair], "bo": bo[pair], "s": out.hoi[pair, top.reshape(-1)]}


def _evaluate(gt, per_image: list[dict]) -> dict:
    from hake.evaluation.hicodet import evaluate_hicodet

    img = np.concatenate([np.full(len(d["hoi"]), i) for i, d in enumerate(per_image)])
    cat = {k: np.concatenate([d[k] for d in per_image]) for k in ("hoi", "bh", "bo", "s")}
    return evaluate_hicodet(gt, img, cat["hoi"], cat["bh"], cat["bo"], cat["s"]).to_dict()


def _spatial_model():
    from hake.models.spatial import SpatialPasta

    torch.manual_seed(0)
    return SpatialPasta().eval()


def _eval_worker(rank: int, world: int, gt_path: str, out: str) -> None:
    gt = _gt_subset(gt_path, N_EVAL_IMAGES)
    model = _spatial_model()
    sampler = D.ShardedSampler(len(gt))
    mine = sampler.indices()
    per_image = D.gather_exactly_once([_detections(model, gt, int(i)) for i in mine], mine, expected=len(gt))
    Path(out, f"eval{rank}.json").write_text(json.dumps({"n_local": len(mine), "result": _evaluate(gt, per_image)}))


def test_sharded_hicodet_evaluation_equals_single_process(two_ranks: Path, hicodet_test_gt: Path) -> None:
    tmp_path = two_ranks
    gt = _gt_subset(str(hicodet_test_gt), N_EVAL_IMAGES)
    model = _spatial_model()
    single = json.loads(json.dumps(_evaluate(gt, [_detections(model, gt, i) for i in range(len(gt))])))
    ranks = [json.loads((tmp_path / f"eval{r}.json").read_text()) for r in range(2)]
    assert [r["n_local"] for r in ranks] == [51, 50]  # no padding, no drop
    assert single["default"]["full"] > 0
    for r in ranks:
        assert r["result"] == single  # exactly: every AP of every class, both settings
