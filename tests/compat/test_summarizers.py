"""Summarizers: streaming statistics equal those of the concatenated data; parity with Captum."""

from __future__ import annotations

import pytest
import torch

from veracity.attr import (
    MSE,
    ClassSummarizer,
    CommonStats,
    Count,
    Max,
    Mean,
    Min,
    StdDev,
    Sum,
    Summarizer,
    SummarizerSingleTensor,
    Var,
)


def _all_stats() -> list:
    return [Mean(), Var(), Var(order=1), StdDev(), StdDev(order=1), MSE(), Min(), Max(), Sum(), Count()]


def _expected(data: torch.Tensor) -> dict:
    mean = data.mean(0)
    return {"mean": mean, "variance": data.var(0, unbiased=False), "sample_variance": data.var(0),
            "std_dev": data.std(0, unbiased=False), "sample_std_dev": data.std(0),
            "mse": ((data - mean) ** 2).sum(0), "min": data.min(0).values, "max": data.max(0).values,
            "sum": data.sum(0), "count": data.shape[0]}


def _check(summary: dict, data: torch.Tensor, tol: float = 1e-6) -> None:
    expected = _expected(data)
    assert set(summary) == set(expected)
    for name, value in expected.items():
        if name == "count":
            assert summary[name] == value
        else:
            scale = 1.0 + value.abs().max().item() if name in ("mse", "sum") else 1.0
            assert torch.allclose(summary[name].double(), value.double(), rtol=0, atol=tol * scale), name


def test_hundred_uneven_batches_equal_the_concatenated_statistics() -> None:
    """100 batches of 1..40 rows (mean 1e7, spread 1: a sum of squares would lose the
    variance): per class and overall, every statistic equals the one of the concatenated
    data to 1e-6 (float64; Welford/Chan merging)."""
    g = torch.Generator().manual_seed(0)
    sizes = torch.randint(1, 41, (100,), generator=g).tolist()
    batches = [1e7 + torch.randn(k, 3, 2, generator=g, dtype=torch.float64) for k in sizes]
    labels = [torch.randint(0, 3, (k,), generator=g) for k in sizes]
    summarizer = ClassSummarizer(_all_stats())
    for batch, label in zip(batches, labels):
        summarizer.update(batch, label)
    data, all_labels = torch.cat(batches), torch.cat(labels)
    assert len(set(sizes)) > 20
    _check(summarizer.summary[0], data)
    assert set(summarizer.class_summaries) == {0, 1, 2}
    for label in range(3):
        _check(summarizer.class_summaries[label][0], data[all_labels == label])


def test_row_by_row_equals_batches_and_tuples_are_summarised_apart() -> None:
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(57, 4, generator=g, dtype=torch.float64), torch.randn(57, 2, generator=g, dtype=torch.float64)
    one = Summarizer(_all_stats())
    for row_a, row_b in zip(a, b):
        one.update((row_a, row_b))
    assert isinstance(one.summary, list) and len(one.summary) == 2
    _check(one.summary[0], a)
    _check(one.summary[1], b)
    numbers = Summarizer([Mean(), Count(), Max()])
    for value in (2.0, 4.0, 9.0):
        numbers.update(value)
    assert numbers.summary["count"] == 3 and float(numbers.summary["mean"]) == 5.0
    assert float(numbers.summary["max"]) == 9.0


def test_names_defaults_and_errors() -> None:
    assert [s.name for s in CommonStats()] == ["mean", "sample_variance", "sample_std_dev", "min", "max"]
    assert Mean(name="avg").name == "avg" and Var() != Var(order=1) and Mean() == Mean()
    assert Summarizer([Mean()]).summary is None
    single = SummarizerSingleTensor([Mean(), Count()], [1])
    single.update(torch.ones(2))
    assert single.summary == {"count": 1}
    assert torch.equal(single.get(Mean()).get(), torch.ones(2))
    with pytest.raises(TypeError, match="`stats`"):
        Summarizer(Mean())  # type: ignore[arg-type]
    s = ClassSummarizer([Mean()])
    with pytest.raises(ValueError, match="`labels`"):
        s.update(torch.ones(3, 2), torch.tensor([0, 1]))
    structure = Summarizer([Mean()])
    structure.update(torch.ones(2))
    with pytest.raises(ValueError, match="`x`"):
        structure.update((torch.ones(2), torch.ones(2)))


def test_parity_with_captum() -> None:
    """The same updates in Captum 0.9 give the same statistics (Captum keys classes by tensor
    objects, so its labels here are Python ints)."""
    ca = pytest.importorskip("captum.attr")
    g = torch.Generator().manual_seed(2)
    rows = torch.randn(30, 5, generator=g)
    ours, theirs = Summarizer(_all_stats()), ca.Summarizer(
        [ca.Mean(), ca.Var(), ca.Var(order=1), ca.StdDev(), ca.StdDev(order=1), ca.MSE(), ca.Min(), ca.Max(),
         ca.Sum(), ca.Count()])
    for row in rows:
        ours.update(row)
        theirs.update(row)
    assert set(ours.summary) == set(theirs.summary)
    for name, value in theirs.summary.items():
        mine = ours.summary[name]
        if name == "count":
            assert mine == value
        else:
            assert torch.allclose(mine.double(), value.double(), atol=1e-5), name
    ours_c, theirs_c = ClassSummarizer(CommonStats()), ca.ClassSummarizer(ca.CommonStats())
    labels = [int(v) for v in torch.randint(0, 2, (30,), generator=g)]
    for start in range(0, 30, 7):
        ours_c.update(rows[start:start + 7], labels[start:start + 7])
        theirs_c.update(rows[start:start + 7], labels[start:start + 7])
    for label, summaries in theirs_c.class_summaries.items():
        for name, value in summaries[0].items():
            assert torch.allclose(ours_c.class_summaries[label][0][name].double(), value.double(), atol=1e-5)
