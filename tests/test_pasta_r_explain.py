"""Explanations: exact for Linear, integrated gradients for the others."""

from __future__ import annotations

import pytest
import torch

from hake.engine.infer.explain import attributions, explain, explanation_dict, explanation_text, feature_names
from hake.engine.infer.explain_input import objects_vector, parts_from_pasta, pasta_vector
from hake.errors import DataError, HakeError
from hake.models.pasta_r import InSpec, PastaR
from hake.vocab.core import load as load_vocab

torch.set_num_threads(1)


def _model(kind: str) -> PastaR:
    torch.manual_seed(0)
    return PastaR(kind, InSpec.pasta(parts=True, objects=True), hidden=16).eval()


def _x() -> torch.Tensor:
    p = pasta_vector("hand:hold, head:inspect, hip: sit on")
    return torch.from_numpy(
        __import__("numpy").concatenate([p, parts_from_pasta(p), objects_vector("horse")]))


def test_pasta_vector_from_names() -> None:
    v = load_vocab()
    p = pasta_vector("hand:hold,head:inspect")
    on = [v.pasta["pasta76"][i] for i in p.nonzero()[0]]
    assert ("hand", "hold") in on and ("head", "inspect") in on
    assert sum(1 for g, s in on if s == "no_interaction") == 4  # the four groups not named
    flags = parts_from_pasta(p)
    assert flags.tolist() == [0, 0, 0, 0, 0, 1, 1, 0, 0, 1]  # head, both hands
    with pytest.raises(DataError, match="hand states"):
        pasta_vector("hand:fly")
    with pytest.raises(DataError, match="group:state"):
        pasta_vector("wing:flap")
    with pytest.raises(DataError, match="unknown object"):
        objects_vector("unicorn")


def test_linear_contributions_are_weight_times_input() -> None:
    model = _model("linear")
    x = _x()
    hois = [3, 10, 250]
    attr = attributions(model, x, hois)
    w = model.head.weight[:600]  # the Linear head reads the flat input directly
    assert torch.allclose(attr, w[hois] * x[None, :], atol=1e-6)
    items = explain(model, x, top_hois=3)
    for e in items:
        assert abs(e.completeness_gap) < 1e-4
    logits = model(*_split(model, x))["hoi"][0]
    assert [e.hoi for e in items] == logits.topk(3).indices.tolist()


def _split(model: PastaR, x: torch.Tensor):
    from hake.models.pasta_r import split_groups

    return split_groups(x[None, :76]), x[None, 86:], x[None, 76:86]


@pytest.mark.parametrize("kind", ["mlp", "gcn", "seq", "tree"])
def test_integrated_gradients_are_complete(kind: str) -> None:
    model = _model(kind)
    items = explain(model, _x(), top_hois=2, top_features=200, steps=256)
    for e in items:
        total = sum(c.contribution for c in e.contributions)
        assert total == pytest.approx(e.logit - e.baseline_logit, abs=0.02 + 0.02 * abs(e.logit - e.baseline_logit))
        assert abs(e.completeness_gap) <= 0.02 + 0.02 * abs(e.logit - e.baseline_logit)
        # features that are 0 in the input contribute nothing
        assert all(c.value != 0 for c in e.contributions)


def test_explanation_renderings() -> None:
    model = _model("linear")
    items = explain(model, _x(), top_hois=2, top_features=3)
    d = explanation_dict(model, items)
    assert d["method"].startswith("exact") and len(d["hois"]) == 2
    assert len(d["hois"][0]["contributions"]) == 3
    text = explanation_text(model, items)
    assert items[0].name in text and items[0].contributions[0].feature in text
    names = feature_names(model)
    assert names[27] == "hand: hold" and names[76].startswith("part: ") and names[86] == "object: airplane"


def test_feature_models_cannot_be_explained() -> None:
    with pytest.raises(HakeError, match="PaSta"):
        feature_names(PastaR("linear", InSpec((8,) * 6)))
