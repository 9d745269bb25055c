"""Late fusion S = Σ w_k σ(s_k / T_k): fitting, persistence, input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hake.engine.train.metrics import multilabel_map
from hake.errors import DataError
from hake.models.fusion import LateFusion


def _scores(seed: int = 0, n: int = 400, c: int = 5) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, c, generator=g) < 0.3).double()
    signal = 2 * y - 1
    return {
        "good": 12 * signal + 6 * torch.randn(n, c, generator=g, dtype=torch.float64),  # informative, over-confident
        "noise": 3 * torch.randn(n, c, generator=g, dtype=torch.float64),               # uninformative
    }, y


def test_formula_with_given_parameters() -> None:
    f = LateFusion(["a", "b"], weights=[3.0, 1.0], temperatures=[2.0, 0.5])
    a, b = torch.tensor([[0.4, -2.0]]), torch.tensor([[1.0, 0.0]])
    expected = 0.75 * torch.sigmoid(a / 2.0) + 0.25 * torch.sigmoid(b / 0.5)
    torch.testing.assert_close(f({"a": a, "b": b}), expected.double())


def test_fit_prefers_the_informative_stream_and_tempers_it() -> None:
    logits, y = _scores()
    f = LateFusion(list(logits))
    before = torch.nn.functional.binary_cross_entropy(f(logits).detach().clamp(1e-7, 1 - 1e-7), y)
    after = f.fit(logits, y)
    w = dict(zip(f.streams, f.weights))
    t = dict(zip(f.streams, f.temperatures))
    assert after < float(before)
    assert w["good"] > 0.9 > w["noise"]
    # s | y ~ N(±12, 6²): the true log-odds are 48 s / 72, so the ideal temperature is 1.5
    assert 1.3 < t["good"] < 1.8
    fused = f(logits).detach().numpy()
    assert multilabel_map(fused, y.numpy())[1] >= multilabel_map(logits["good"].numpy(), y.numpy())[1] - 1e-9
    assert np.all((fused >= 0) & (fused <= 1))


def test_fit_respects_mask() -> None:
    logits, y = _scores(seed=1)
    mask = torch.zeros_like(y, dtype=torch.bool)
    mask[:, 0] = True
    f = LateFusion(list(logits))
    f.fit(logits, y, mask=mask)
    assert f.weights[0] > 0.9


def test_round_trip_through_dict_is_exact() -> None:
    logits, y = _scores(seed=2)
    f = LateFusion(list(logits))
    f.fit(logits, y, steps=20)
    g = LateFusion.from_dict(f.to_dict())
    torch.testing.assert_close(f(logits), g(logits), rtol=1e-12, atol=1e-12)


def test_bad_inputs_are_data_errors() -> None:
    with pytest.raises(DataError, match="distinct"):
        LateFusion(["a", "a"])
    with pytest.raises(DataError, match="temperature"):
        LateFusion(["a"], temperatures=[0.0])
    with pytest.raises(DataError, match="weights"):
        LateFusion.from_dict({"streams": ["a"], "temperatures": [1.0]})
    with pytest.raises(DataError, match="missing fusion streams"):
        LateFusion(["a", "b"])({"a": torch.zeros(1, 1)})
