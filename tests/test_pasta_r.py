"""PaSta-R reasoners: shapes, gradients, the Tree's auxiliary losses, GCN selection, save/load."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from hake.errors import DataError, HakeError
from hake.models.pasta_r import KINDS, InSpec, PastaR, load_pasta_r, save_pasta_r, split_groups
from hake.vocab.core import load as load_vocab

torch.set_num_threads(1)
FEATURE_SPEC = InSpec((32, 16, 8, 40, 12, 24), n_objects=80, obj_embed_dim=16)


def _pasta_batch(b: int, seed: int = 0) -> torch.Tensor:
    """(b, 76) one state per group, uniformly at random."""
    g = torch.Generator().manual_seed(seed)
    out = torch.zeros(b, 76)
    for s in load_vocab().pasta_slices("pasta76").values():
        idx = torch.randint(s.start, s.stop, (b,), generator=g)
        out[torch.arange(b), idx] = 1
    return out


def _inputs(spec: InSpec, b: int, seed: int = 0) -> tuple[list[torch.Tensor], torch.Tensor | None, torch.Tensor | None]:
    g = torch.Generator().manual_seed(seed)
    if spec.group_dims == (12, 10, 5, 31, 5, 13):
        groups = split_groups(_pasta_batch(b, seed))
    else:
        groups = [torch.randn(b, d, generator=g) for d in spec.group_dims]
    obj = F.one_hot(torch.randint(0, 80, (b,), generator=g), 80).float() if spec.n_objects else None
    parts = torch.randint(0, 2, (b, 10), generator=g).float() if spec.n_parts else None
    return groups, obj, parts


SPECS = [
    InSpec.pasta(parts=True, objects=True),
    InSpec.pasta(parts=False, objects=False, language=True),
    FEATURE_SPEC,
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("spec", SPECS, ids=["pasta+parts+obj", "pasta+language", "features+objemb"])
def test_output_shapes(kind: str, spec: InSpec) -> None:
    model = PastaR(kind, spec, hidden=32)
    out = model(*_inputs(spec, 5))
    assert out["hoi"].shape == (5, 600) and out["verb"].shape == (5, 117)
    assert torch.isfinite(out["hoi"]).all() and torch.isfinite(out["verb"]).all()
    if kind == "tree":
        assert set(out["aux"]) == {"arm", "leg", "upper", "lower", "body"}
    else:
        assert out["aux"] == {}


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_reaches_every_parameter(kind: str) -> None:
    spec = InSpec.pasta(parts=True, objects=True, obj_embed_dim=8, language=True)
    torch.manual_seed(0)
    model = PastaR(kind, spec, hidden=16, dropout=0.0)
    groups, obj, parts = _inputs(spec, 256, seed=1)
    if kind == "gcn":  # every group is among the top 3 of some sample, so every projection is used
        assert set(model.core.select(groups).flatten().tolist()) == set(range(6))
    out = model(groups, obj, parts)
    loss = out["hoi"].square().mean() + out["verb"].square().mean()
    loss = loss + model.aux_loss(out, torch.cat(groups, dim=1))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert p.grad.abs().sum() > 0, name


def test_tree_auxiliary_losses() -> None:
    spec = InSpec.pasta(parts=False)
    model = PastaR("tree", spec, hidden=16)
    x = _pasta_batch(8)
    out = model(split_groups(x))
    sizes = dict(zip(("foot", "leg", "hip", "hand", "arm", "head"), load_vocab().group_sizes("pasta76")))
    covered = {"arm": ("hand", "arm"), "leg": ("foot", "leg"), "upper": ("hand", "arm", "head"),
               "lower": ("foot", "leg", "hip"), "body": tuple(sizes)}
    for node, groups in covered.items():
        assert out["aux"][node].shape == (8, sum(sizes[g] for g in groups))
    sl = load_vocab().pasta_slices("pasta76")
    manual = torch.stack([
        F.binary_cross_entropy_with_logits(out["aux"][n], torch.cat([x[:, sl[g]] for g in gs], dim=1))
        for n, gs in covered.items()
    ]).mean()
    assert torch.allclose(model.aux_loss(out, x), manual)
    # the auxiliary loss alone trains the node heads: it falls when optimised
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = model.aux_loss(model(split_groups(x)), x).item()
    for _ in range(30):
        loss = model.aux_loss(model(split_groups(x)), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
    lin = PastaR("linear", spec)
    assert float(lin.aux_loss(lin(split_groups(x)), x)) == 0.0


def test_gcn_selects_top3_groups_by_attention() -> None:
    spec = InSpec((8,) * 6)
    model = PastaR("gcn", spec, hidden=16).eval()
    groups, _, _ = _inputs(spec, 32, seed=3)
    idx = model.core.select(groups)
    _, att = model.core.nodes_and_attention(groups)
    assert idx.shape == (32, 3)
    for i in range(32):
        expected = set(att[i].argsort(descending=True)[:3].tolist())
        assert set(idx[i].tolist()) == expected
    base = model(groups)["hoi"]
    # an unselected group does not influence the output while it stays unselected
    row = 0
    unselected = sorted(set(range(6)) - set(idx[row].tolist()))[0]
    changed = [g.clone() for g in groups]
    changed[unselected][row] += 1e-3 * torch.randn(8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(model.core.select(changed)[row], idx[row])
    assert torch.equal(model(changed)["hoi"][row], base[row])
    # a selected group does
    selected = int(idx[row, 0])
    changed = [g.clone() for g in groups]
    changed[selected][row] += 1.0
    assert not torch.allclose(model(changed)["hoi"][row], base[row])


def test_inputs_are_checked() -> None:
    model = PastaR("mlp", InSpec.pasta(parts=True, objects=True), hidden=8)
    groups, obj, parts = _inputs(model.in_spec, 2)
    with pytest.raises(HakeError, match="object input"):
        model(groups, None, parts)
    with pytest.raises(HakeError, match="part flags"):
        model(groups, obj, None)
    with pytest.raises(HakeError, match="group hand"):
        model([*groups[:3], groups[3][:, :5], *groups[4:]], obj, parts)
    with pytest.raises(HakeError, match="kind"):
        PastaR("transformer", model.in_spec)
    with pytest.raises(HakeError, match="six"):
        InSpec((10, 10))
    with pytest.raises(HakeError, match="language"):
        InSpec((4,) * 6, language=True)
    with pytest.raises(HakeError, match="76"):
        split_groups(torch.zeros(2, 75))


def test_split_groups_follows_vocab_slices() -> None:
    x = torch.arange(76.0)[None].repeat(2, 1)
    parts = split_groups(x)
    assert [p.shape[1] for p in parts] == [12, 10, 5, 31, 5, 13]
    assert torch.equal(torch.cat(parts, dim=1), x)
    assert parts[3][0, 0] == 27  # hand starts after foot 12 + leg 10 + hip 5


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(kind: str, tmp_path) -> None:
    spec = InSpec.pasta(parts=True, objects=True, language=kind == "mlp")
    torch.manual_seed(0)
    model = PastaR(kind, spec, hidden=16).eval()
    path = tmp_path / "m.safetensors"
    save_pasta_r(model, path)
    back = load_pasta_r(path)
    assert back.config_dict() == model.config_dict()
    args = _inputs(spec, 4)
    with torch.no_grad():
        a, b = model(*args), back(*args)
    assert torch.equal(a["hoi"], b["hoi"]) and torch.equal(a["verb"], b["verb"])


def test_load_rejects_bad_files(tmp_path) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(DataError, match="bad.safetensors"):
        load_pasta_r(bad)
    from safetensors.torch import save_file

    no_cfg = tmp_path / "nocfg.safetensors"
    save_file({"w": torch.zeros(2)}, str(no_cfg))
    with pytest.raises(DataError, match="config"):
        load_pasta_r(no_cfg)
