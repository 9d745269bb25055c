"""The documented configuration of ``hake train a2v`` (YAML file <-> dataclasses).

Every field has a default and a comment; a YAML file only needs the fields it changes::

    data: {root: data/synth}
    train: {epochs: 12}

:func:`load_config` rejects unknown keys (naming the file and the key), so a typo does not pass
silently. :func:`synthetic_defaults` is what ``hake train a2v --data SYNTH_DIR`` uses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from hake.errors import DataError
from hake.models.activity2vec import A2VSpec


@dataclass
class DataConfig:
    """Where the images and annotations are."""

    root: str = ""                      # dataset folder; images are at root/<path_prefix>/<name>
    level: str = "instance"             # instance (HAKE-HICO-DET pairs) | image (HAKE-HICO, person max-pooling)
    image_dir: str = ""                 # image-level only: image folder inside root (HICO train2015 images)
    train: str = "train.json"           # instance-level annotation (HAKE-HICO-DET format), relative to root
    val: str = "test.json"              # held-out annotation used for the per-epoch metrics and fusion fitting
    keypoints: str = "keypoints.json"   # keypoint cache from `hake data keypoints` ("" = no poses)
    image_size: int = 0                 # resize so the longer side has this many pixels (0 = keep size)
    negatives: int = 2                  # negative (no_interaction) pairs sampled per training image
    augment: bool = True                # flip / brightness / scale augmentation on the training split
    only_with_pasta: bool = False       # train only on images whose pairs carry part-state labels
    num_workers: int = 0                # DataLoader worker processes
    features: str = ""                  # feature cache of the training split (`hake features extract`);
    #                                     stage2/transfer then train from disk instead of pixels
    val_features: str = ""              # feature cache of the held-out split


@dataclass
class TrainConfig:
    """How to optimise."""

    mode: str = "stage1"                # stage1 (PaSta heads) | stage2 (PaSta-R on frozen A2V) |
    #                                     transfer (new last FC, A2V frozen) | gt_hake (PaSta-R on GT PaSta)
    init: str = ""                      # weight file (model.safetensors) to start from; needed by stage2/transfer
    reasoner: str = "linear"            # PaSta-R kind for stage2/transfer/gt_hake: linear | mlp | gcn | seq | tree
    target: str = "verb117"             # label space PaSta-R predicts: verb117 | hoi600
    epochs: int = 12                    # passes over the training split
    batch_size: int = 16                # images per step
    lr: float = 1e-3                    # AdamW learning rate (cosine decay to 0 over the epochs)
    weight_decay: float = 1e-4          # AdamW weight decay
    max_pos_weight: float = 10.0        # cap of the per-class positive weight of the weighted BCE
    verb_loss: float = 1.0              # weight of the verb loss next to the PaSta loss in stage 1
    precision: str = "32-true"          # Lightning precision: 32-true | bf16-mixed | 16-mixed (GPU)
    accelerator: str = "auto"           # cpu | gpu | auto
    devices: int = 1                    # devices for DDP (run under torchrun for several nodes)
    seed: int = 0                       # seed of weights, sampling and augmentation
    threads: int = 1                    # torch intra-op threads on CPU
    resume: str = ""                    # checkpoint to resume from ("last" = RUN/checkpoints/last.ckpt)


@dataclass
class A2VConfig:
    """Everything ``hake train a2v`` needs."""

    data: DataConfig = field(default_factory=DataConfig)
    model: A2VSpec = field(default_factory=A2VSpec)
    train: TrainConfig = field(default_factory=TrainConfig)
    out: str = "runs/a2v"               # run folder: metrics.json, model.safetensors, checkpoints/, logs/

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fill(cls: type, raw: dict[str, Any], where: str, prefix: str) -> Any:
    if not isinstance(raw, dict):
        raise DataError("expected a mapping", file=where, field=prefix or "<root>")
    known = {f.name: f for f in fields(cls)}
    defaults = cls()
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise DataError(f"unknown key (known: {', '.join(known)})", file=where, field=f"{prefix}{key}")
        factory = known[key].default_factory
        default = getattr(defaults, key)
        if isinstance(factory, type) and is_dataclass(factory):
            kwargs[key] = _fill(factory, value or {}, where, f"{prefix}{key}.")
        elif isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            kwargs[key] = float(value)
        elif not isinstance(value, type(default)) or (isinstance(value, bool) and not isinstance(default, bool)):
            raise DataError(f"expected {type(default).__name__}, got {value!r}", file=where, field=f"{prefix}{key}")
        else:
            kwargs[key] = value
    return cls(**kwargs)


def config_from_dict(raw: dict[str, Any], where: str = "<config>") -> A2VConfig:
    """Build an :class:`A2VConfig` from nested dicts (unknown keys are a :class:`DataError`)."""
    return _fill(A2VConfig, raw or {}, where, "")


def load_config(path: str | Path) -> A2VConfig:
    """Read a YAML config file."""
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise DataError(f"cannot read: {err.strerror}", file=path) from None
    except yaml.YAMLError as err:
        raise DataError(f"invalid YAML: {err}", file=path) from None
    return config_from_dict(raw or {}, str(path))


def synthetic_defaults(root: str | Path, out: str | Path) -> A2VConfig:
    """Defaults for a folder written by ``hake data synth``: small random-init CNN, a few CPU minutes."""
    cfg = A2VConfig(out=str(out))
    cfg.data.root = str(root)
    cfg.model = A2VSpec(backbone="tiny", pretrained=False, neck=64, roi_size=3, hidden=256, language=False,
                        image_size=128)
    cfg.train.epochs, cfg.train.batch_size, cfg.train.lr = 8, 8, 2e-3
    return cfg


def resolve_config(config: str | Path | None = None, *, data: str | Path | None = None, out: str | Path | None = None,
                   epochs: int | None = None, resume: str | None = None) -> A2VConfig:
    """The config of ``hake train a2v``: the YAML file, else the synthetic defaults for a folder from
    ``hake data synth``, else the documented defaults; then the command-line overrides.

    Raises:
        HakeError: no data root and no feature cache.
    """
    from hake.datasets.builders.synth import is_synthetic
    from hake.errors import HakeError

    if config is not None:
        cfg = load_config(config)
    elif data is not None and is_synthetic(data):
        cfg = synthetic_defaults(data, out or "runs/a2v")
    else:
        cfg = A2VConfig()
    if data is not None:
        cfg.data.root = str(data)
    if out is not None:
        cfg.out = str(out)
    if epochs is not None:
        cfg.train.epochs = epochs
    if resume is not None:
        cfg.train.resume = resume
    if not cfg.data.root and not cfg.data.features:
        raise HakeError("no data: pass --data DIR or a --config with data.root")
    return cfg
