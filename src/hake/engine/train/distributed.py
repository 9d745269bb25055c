"""Data-parallel helpers for ``torchrun`` / SLURM runs: process group, sharding, exact gathering.

Every ``hake train`` command runs unchanged under ``torchrun --nproc_per_node N`` (or under SLURM
through Lightning's cluster environment, which sets the same ``RANK`` / ``WORLD_SIZE`` variables).
:func:`init_from_env` starts the process group from those variables (``gloo`` on CPU, ``nccl`` on
GPU) and does nothing in a plain single-process run, so the same code path serves both.

Sharding rule (evaluation and training): with a permutation ``perm`` of ``0..n-1`` (the identity
when not shuffling), rank ``r`` of ``W`` owns ``perm[r::W]``. Nothing is padded and nothing is
dropped, so per-rank sizes differ by at most one and every sample is seen exactly once.
:func:`gather_exactly_once` all-gathers each rank's variable-size results and restores the
original order, so a sharded evaluation equals the single-process one exactly.

Effective batch size and learning rate:

- ``effective_batch = per_rank_batch × world_size × grad_accumulation`` (:func:`effective_batch_size`).
- Keeping the *global* batch fixed (``per_rank_batch = global_batch / world_size``, the default of
  ``hake train``) keeps the optimisation identical to one process: with the sharding above, step
  ``k`` of rank ``r`` sees ``perm[k·B + r :: W]`` restricted to the ``k``-th global batch, the
  union over ranks is exactly the single-process batch ``perm[k·B:(k+1)·B]``, and DDP's gradient
  average of per-rank means equals the global mean when every rank holds ``B / W`` samples; for
  an uneven last batch :func:`local_rows` weights each rank's mean so it still does. The learning
  rate stays unchanged.
- Growing the effective batch instead (keeping ``per_rank_batch`` fixed as ranks are added) uses
  the linear scaling rule of Goyal et al. (2017): ``lr = base_lr × effective_batch / base_batch``
  (:func:`scaled_lr`), usually with a warm-up.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from hake.errors import HakeError

T = TypeVar("T")

_ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job.

    Attributes:
        rank: global rank, 0-based.
        world_size: number of processes (1 in a plain run).
        local_rank: rank on this machine (selects the GPU).
        backend: ``"gloo"``, ``"nccl"`` or ``"none"`` for a single process.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = "none"

    @property
    def is_main(self) -> bool:
        """True on rank 0 (the process that writes files and logs)."""
        return self.rank == 0

    @property
    def device(self) -> torch.device:
        """``cuda:<local_rank>`` under NCCL, else the CPU."""
        if self.backend == "nccl":
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise HakeError(f"environment variable {name}={raw!r} is not an integer") from None


def _slurm_to_torch_env() -> None:
    """Fill RANK/WORLD_SIZE/LOCAL_RANK from SLURM's variables when launched by ``srun`` alone."""
    if "RANK" in os.environ or "SLURM_PROCID" not in os.environ:
        return
    ntasks = _env_int("SLURM_NTASKS", 1)
    if ntasks <= 1:
        return
    os.environ["RANK"] = os.environ["SLURM_PROCID"]
    os.environ["WORLD_SIZE"] = str(ntasks)
    os.environ["LOCAL_RANK"] = os.environ.get("SLURM_LOCALID", "0")


def init_from_env(backend: str | None = None, timeout_s: float = 600.0) -> DistInfo:
    """Join the process group described by the launcher's environment, if any.

    Reads ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` (set by
    ``torchrun``; SLURM's ``SLURM_PROCID`` / ``SLURM_NTASKS`` / ``SLURM_LOCALID`` are translated).
    Without them, or with ``WORLD_SIZE=1``, no group is created and a single-process
    :class:`DistInfo` comes back. Calling it again returns the existing group's info.

    Args:
        backend: ``"gloo"`` or ``"nccl"``; default ``nccl`` when CUDA is available, else ``gloo``.
        timeout_s: collective timeout in seconds.
    """
    if dist.is_available() and dist.is_initialized():
        return current()
    _slurm_to_torch_env()
    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        return DistInfo()
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    if not 0 <= rank < world:
        raise HakeError(f"RANK={rank} outside 0..{world - 1}")
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend, rank=rank, world_size=world, timeout=timedelta(seconds=timeout_s))
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, backend=backend)


def current() -> DistInfo:
    """Info of the running process group, or the single-process default."""
    if not (dist.is_available() and dist.is_initialized()):
        return DistInfo()
    return DistInfo(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=_env_int("LOCAL_RANK", 0),
        backend=str(dist.get_backend()),
    )


def rank() -> int:
    """Global rank (0 without a process group)."""
    return current().rank


def world_size() -> int:
    """Number of processes (1 without a process group)."""
    return current().world_size


def is_main() -> bool:
    """True on rank 0 or in a single-process run."""
    return current().rank == 0


def barrier() -> None:
    """Wait for every rank; a no-op in a single process."""
    if world_size() > 1:
        dist.barrier()


def shutdown() -> None:
    """Leave the process group (safe to call when none exists)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap_ddp(model: torch.nn.Module, info: DistInfo | None = None) -> torch.nn.Module:
    """Wrap ``model`` in DistributedDataParallel when there is more than one rank, else return it."""
    info = info or current()
    if info.world_size <= 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    if info.backend == "nccl":
        return DistributedDataParallel(model, device_ids=[info.local_rank])
    return DistributedDataParallel(model)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DDP wrapper (or ``model`` itself)."""
    return getattr(model, "module", model)


# --- sharding ---------------------------------------------------------------------------------


def permutation(n: int, shuffle: bool, seed: int = 0, epoch: int = 0) -> np.ndarray:
    """The global order of ``n`` samples: identity, or a permutation seeded by ``seed + epoch``.

    The same on every rank and in a single process (uses numpy's PCG64, not the torch RNG).
    Returns an (n,) int64 array.
    """
    if n < 0:
        raise HakeError(f"dataset size must be >= 0, got {n}")
    if not shuffle:
        return np.arange(n, dtype=np.int64)
    return np.random.default_rng(seed + epoch).permutation(n).astype(np.int64)


def shard_indices(
    n: int, rank: int, world: int, *, shuffle: bool = False, seed: int = 0, epoch: int = 0
) -> np.ndarray:
    """Indices (into the dataset) owned by ``rank``: ``permutation(n)[rank::world]``.

    No padding and no dropping: the shards partition ``0..n-1`` and their sizes differ by at
    most one (the first ``n % world`` ranks hold one more). Returns an (m,) int64 array.
    """
    if world < 1 or not 0 <= rank < world:
        raise HakeError(f"rank {rank} is not in a world of size {world}")
    return permutation(n, shuffle, seed, epoch)[rank::world]


class ShardedSampler(Sampler[int]):
    """A sampler yielding this rank's shard (see :func:`shard_indices`), never padded or truncated.

    Unlike ``torch.utils.data.DistributedSampler`` it does not repeat samples to even out the
    ranks, so gathered evaluation results contain every sample exactly once. For training with
    ``per_rank_batch = global_batch / world``, rank ``r``'s ``k``-th batch together with the other
    ranks' ``k``-th batches is exactly the single-process ``k``-th batch of the same permutation.
    Call :meth:`set_epoch` before each epoch when shuffling.

    Args:
        n: dataset size.
        rank, world: this process and the number of processes (default: the running group).
        shuffle: permute with ``seed + epoch``.
    """

    def __init__(
        self, n: int, rank: int | None = None, world: int | None = None, *, shuffle: bool = False, seed: int = 0
    ) -> None:
        info = current()
        self.n = int(n)
        self.rank = info.rank if rank is None else int(rank)
        self.world = info.world_size if world is None else int(world)
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        shard_indices(self.n, self.rank, self.world)  # validates rank/world

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of this epoch (only matters when shuffling)."""
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        """This rank's dataset indices for the current epoch, (m,) int64."""
        return shard_indices(self.n, self.rank, self.world, shuffle=self.shuffle, seed=self.seed, epoch=self.epoch)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.world))


def per_rank_batch(global_batch: int, world: int) -> int:
    """``global_batch / world``; refuses a global batch that does not split evenly."""
    if global_batch % world:
        raise HakeError(f"global batch {global_batch} is not divisible by world size {world}")
    return global_batch // world


def ddp_loss_weight(local_count: int, global_count: int, world: int) -> float:
    """Factor turning a rank's *mean* loss into its share of the global mean under DDP.

    DDP averages gradients over ``world`` ranks, so multiplying the local mean over
    ``local_count`` samples by ``local_count · world / global_count`` makes the averaged gradient
    that of the mean over all ``global_count`` samples of the step — exact also for an uneven last
    batch. Equals 1 when every rank holds ``global_count / world`` samples.
    """
    if global_count <= 0:
        raise HakeError(f"global batch count must be positive, got {global_count}")
    return local_count * world / global_count


def local_rows(rows: np.ndarray, info: DistInfo | None = None) -> tuple[np.ndarray, float]:
    """This rank's share ``rows[rank::world]`` of a global batch and its loss weight.

    Multiply the rank's mean loss by the weight (:func:`ddp_loss_weight`) so that DDP's gradient
    average is the gradient of the global batch's mean loss — the single-process step. A rank that
    would get no row (a last batch smaller than the world) gets ``rows[:1]`` with weight 0, so it
    still joins DDP's gradient all-reduce without changing the result. In a single process it returns
    ``(rows, 1.0)``.
    """
    info = info or current()
    rows = np.asarray(rows)
    if info.world_size <= 1:
        return rows, 1.0
    mine = rows[info.rank :: info.world_size]
    if len(mine) == 0:
        return rows[:1], 0.0
    return mine, ddp_loss_weight(len(mine), len(rows), info.world_size)


# --- gathering --------------------------------------------------------------------------------


def _check_complete(indices: np.ndarray, expected: int | None) -> None:
    n = int(indices.size)
    if expected is not None and n != expected:
        raise HakeError(f"gathered {n} samples, expected {expected}")
    if n == 0:
        return
    if indices.min() < 0 or indices.max() >= n:
        raise HakeError(f"gathered indices outside 0..{n - 1}: min {indices.min()}, max {indices.max()}")
    counts = np.bincount(indices, minlength=n)
    if (counts != 1).any():
        dup = np.flatnonzero(counts > 1)[:5].tolist()
        raise HakeError(f"gathered indices are not a permutation of 0..{n - 1} (duplicates such as {dup})")


def gather_exactly_once(items: Sequence[T], indices: Sequence[int], expected: int | None = None) -> list[T]:
    """All-gather per-rank results of variable length and return them in dataset order on every rank.

    Args:
        items: this rank's results (any picklable objects), one per sample.
        indices: the dataset index of each item (e.g. :meth:`ShardedSampler.indices`).
        expected: the dataset size; when given the gathered indices must be exactly ``0..expected-1``.

    Returns:
        ``result[i]`` is the item of dataset index ``i``; every index appears exactly once (a
        duplicate or a gap raises :class:`HakeError`). Without a process group it just sorts.
    """
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size != len(items):
        raise HakeError(f"{len(items)} items but {idx.size} indices")
    world = world_size()
    if world > 1:
        parts: list[Any] = [None] * world
        dist.all_gather_object(parts, (idx, list(items)))
        all_idx = np.concatenate([p[0] for p in parts]) if parts else idx
        all_items = [x for p in parts for x in p[1]]
    else:
        all_idx, all_items = idx, list(items)
    _check_complete(all_idx, expected)
    order = np.argsort(all_idx, kind="stable")
    return [all_items[i] for i in order]


def gather_array(values: np.ndarray, indices: Sequence[int], expected: int | None = None) -> np.ndarray:
    """Like :func:`gather_exactly_once` for a numeric array whose first axis is the sample.

    Uses tensor collectives (no pickling): sizes are exchanged first, shards are padded to the
    largest for ``all_gather`` and the padding is cut away again, so nothing is duplicated.

    Args:
        values: (m, ...) this rank's rows; dtype and trailing shape must agree across ranks.
        indices: (m,) dataset index of each row.
        expected: the dataset size, checked as in :func:`gather_exactly_once`.

    Returns:
        (n, ...) rows ordered by dataset index, identical on every rank.
    """
    values = np.asarray(values)
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size != values.shape[0]:
        raise HakeError(f"{values.shape[0]} rows but {idx.size} indices")
    info = current()
    if info.world_size > 1:
        dev = info.device
        size = torch.tensor([idx.size], dtype=torch.int64, device=dev)
        sizes = [torch.zeros_like(size) for _ in range(info.world_size)]
        dist.all_gather(sizes, size)
        counts = [int(s.item()) for s in sizes]
        top = max(counts)
        pad_rows = top - idx.size
        v = torch.from_numpy(np.ascontiguousarray(values)).to(dev)
        i = torch.from_numpy(idx).to(dev)
        v = torch.cat([v, v.new_zeros((pad_rows, *v.shape[1:]))])
        i = torch.cat([i, i.new_full((pad_rows,), -1)])
        vs = [torch.empty_like(v) for _ in range(info.world_size)]
        is_ = [torch.empty_like(i) for _ in range(info.world_size)]
        dist.all_gather(vs, v)
        dist.all_gather(is_, i)
        values = np.concatenate([t[:c].cpu().numpy() for t, c in zip(vs, counts)])
        idx = np.concatenate([t[:c].cpu().numpy() for t, c in zip(is_, counts)])
    _check_complete(idx, expected)
    return values[np.argsort(idx, kind="stable")]


def all_reduce_sum(value: float) -> float:
    """Sum a Python number over ranks (the number itself in a single process)."""
    if world_size() <= 1:
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64, device=current().device)
    dist.all_reduce(t)
    return float(t.item())


# --- batch size and learning rate -------------------------------------------------------------


def describe(info: DistInfo, global_batch: int) -> dict[str, Any]:
    """What a training run records about its parallelism (``config.json``'s ``distributed``)."""
    return {"world_size": info.world_size, "global_batch": global_batch,
            "per_rank_batch": per_rank_batch(global_batch, info.world_size) if global_batch % info.world_size == 0
            else global_batch / info.world_size, "lr_scaling": "none"}


def effective_batch_size(per_rank: int, world: int, accumulate: int = 1) -> int:
    """Samples per optimizer step: ``per_rank × world × accumulate``."""
    return per_rank * world * accumulate


def scaled_lr(base_lr: float, effective_batch: int, base_batch: int) -> float:
    """Linear scaling rule: ``base_lr × effective_batch / base_batch`` (Goyal et al. 2017).

    Only needed when the effective batch grows with the number of ranks; ``hake train`` keeps
    the global batch fixed by default, so the learning rate stays ``base_lr``.
    """
    if base_batch < 1 or effective_batch < 1:
        raise HakeError("batch sizes must be >= 1")
    return base_lr * effective_batch / base_batch
