"""Chunk auto-tuning and the memory budget context (veracity._core.chunking, config)."""

from __future__ import annotations

import threading
import time
from typing import Callable

import pytest
import torch

import veracity
from tests.conftest import SmallCNN
from veracity import attr
from veracity._core import chunking, config
from veracity._core.chunking import ChunkPlan, Points, points_per_chunk, run_chunks

ROW_BYTES = 16  # one row of the fake workload: 4 float32 values


@pytest.fixture(autouse=True)
def _fresh_tuning() -> None:
    chunking.forget_tuned_sizes()
    yield
    chunking.forget_tuned_sizes()


def fake_points(n_points: int) -> Points:
    return Points.of(n_points, (torch.zeros(1, 4),), lambda start, stop: ())


def sleeping_step(seconds: Callable[[int], float], sizes: list[int]) -> Callable[[int, int], None]:
    """A step whose duration is ``seconds(points in the chunk)``; it records chunk sizes."""
    def step(start: int, stop: int) -> None:
        sizes.append(stop - start)
        time.sleep(seconds(stop - start))
    return step


def quadratic(scale: float) -> Callable[[int], float]:
    """Seconds per chunk growing with its square: small chunks are faster per point."""
    return lambda k: scale * k * k


def run_fake(n_points: int, seconds: Callable[[int], float], ceiling: int = 8, tune: bool = True) -> list[int]:
    sizes: list[int] = []
    points = fake_points(n_points)
    with veracity.memory_budget(ceiling * ROW_BYTES, tune=tune):
        plan = points_per_chunk(points, None)
        run_chunks(points, plan, False, "", sleeping_step(seconds, sizes))
    assert sum(sizes) == n_points
    return sizes


def test_a_budget_below_two_points_or_without_tuning_is_a_plain_int() -> None:
    points = fake_points(100)
    with veracity.memory_budget(8 * ROW_BYTES, tune=True):
        assert isinstance(points_per_chunk(points, None), ChunkPlan) and points_per_chunk(points, None) == 8
    with veracity.memory_budget(8 * ROW_BYTES):  # a byte count alone fixes the size, as it always has
        assert type(points_per_chunk(points, None)) is int
    with veracity.memory_budget(ROW_BYTES, tune=True):
        assert type(points_per_chunk(points, None)) is int


SCHEDULE = [2, 8, 4, 2, 8, 4, 2]  # warm-up at the smallest, then every candidate twice, largest first


def test_tuner_keeps_the_larger_size_when_calls_are_expensive() -> None:
    sizes = run_fake(80, lambda k: 0.008 + 0.0002 * k)  # fixed cost per call dominates
    assert sizes[:7] == SCHEDULE
    assert set(sizes[7:-1]) == {8}


def test_tuner_keeps_the_smaller_size_when_big_chunks_are_slow_per_point() -> None:
    sizes = run_fake(80, quadratic(0.001))
    assert sizes[:7] == SCHEDULE
    assert set(sizes[7:]) == {2}


def test_tuner_finds_a_size_between_the_extremes() -> None:
    # 8 points: 4.5 ms per point, 4: 3.0, 2: 3.0 -> 4 (2 does not win by the 3% margin)
    sizes = run_fake(80, lambda k: 0.004 + 0.0005 * k * k)
    assert sizes[:7] == SCHEDULE
    assert set(sizes[7:-1]) == {4} and sizes[-1] == 2  # 50 points left: twelve chunks of 4, then 2


def test_the_decision_is_remembered_for_short_workloads() -> None:
    run_fake(80, quadratic(0.001))
    assert run_fake(10, quadratic(0.0)) == [2] * 5  # too short to tune, starts at the tuned size
    assert run_fake(10, lambda k: 0.0) == [8, 2]  # another step function: another workload
    assert run_fake(10, quadratic(0.0), tune=False) == [8, 2]  # tuning off: the ceiling


def test_too_short_workloads_use_the_ceiling() -> None:
    assert run_fake(10, lambda k: 0.0) == [8, 2]


def test_the_cache_key_separates_models() -> None:
    first, second = torch.nn.Linear(4, 1), torch.nn.Linear(4, 1)
    points, sizes = fake_points(80), []
    with veracity.memory_budget(8 * ROW_BYTES, tune=True):
        run_chunks(points, points_per_chunk(points, None), False, "",
                   sleeping_step(quadratic(0.001), sizes), model=first)
        for model, expected in ((first, [2] * 5), (second, [8, 2])):
            sizes.clear()
            short = fake_points(10)
            run_chunks(short, points_per_chunk(short, None), False, "",
                       sleeping_step(quadratic(0.0), sizes), model=model)
            assert sizes == expected


def test_explicit_chunk_arguments_are_honoured_exactly() -> None:
    model = SmallCNN().eval()
    rows: list[int] = []

    def spy(x: torch.Tensor) -> torch.Tensor:
        rows.append(x.shape[0])
        return model(x)

    x = torch.randn(2, 1, 8, 8)
    with veracity.memory_budget(tune=True):
        attr.IntegratedGradients(spy).attribute(x, target=0, n_steps=30, internal_batch_size=6)
        assert set(rows[:-1]) == {6} and sum(rows) == 60
        rows.clear()
        mask = torch.arange(64).reshape(1, 1, 8, 8)
        attr.FeatureAblation(spy).attribute(x, target=0, feature_mask=mask, perturbations_per_eval=3)
        assert set(rows[1:-1]) == {6} and sum(rows) == 2 + 64 * 2  # the unperturbed run, then 3 points a call


def test_the_context_nests_and_restores_after_an_error() -> None:
    assert config.current_budget() == config.BudgetSettings()
    with pytest.raises(RuntimeError):
        with veracity.memory_budget(4096) as outer:
            assert outer.bytes_per_chunk == 4096 and not outer.tuning
            with veracity.memory_budget(tune=True) as inner:
                assert inner.bytes_per_chunk == 4096 and inner.tuning
                raise RuntimeError("boom")
    assert config.current_budget() == config.BudgetSettings()
    with pytest.raises(ValueError, match="bytes_per_chunk"):
        with veracity.memory_budget(0):
            pass


def test_the_context_is_per_thread_and_the_setting_is_the_default() -> None:
    seen: list[config.BudgetSettings] = []
    try:
        veracity.set_memory_budget(2048)
        with veracity.memory_budget(1024):
            worker = threading.Thread(target=lambda: seen.append(config.current_budget()))
            worker.start()
            worker.join()
            assert config.chunk_budget_bytes(torch.device("cpu")) == 1024
        assert config.chunk_budget_bytes(torch.device("cpu")) == 2048
    finally:
        veracity.set_memory_budget(None)
    assert seen[0].bytes_per_chunk == 2048


@pytest.mark.parametrize("method", ["ig", "ablation"])
def test_results_do_not_depend_on_tuning_or_chunk_size(method: str) -> None:
    model = SmallCNN().eval()
    x = torch.randn(3, 1, 8, 8)
    mask = torch.arange(64).reshape(1, 1, 8, 8) // 2

    def explain(**chunk: int) -> torch.Tensor:
        if method == "ig":
            return attr.IntegratedGradients(model).attribute(x, target=1, n_steps=48,
                                                             internal_batch_size=chunk.get("rows"))
        return attr.FeatureAblation(model).attribute(x, target=1, feature_mask=mask,
                                                     perturbations_per_eval=chunk.get("points"))

    with veracity.memory_budget(tune=False):
        reference = explain()
    results = [explain(rows=r, points=p) for r, p in ((6, 1), (21, 7), (999, 64))]
    for _ in range(2):  # tuning, then the remembered size
        with veracity.memory_budget(3 * 8 * 8 * 4 * 12, tune=True):  # a ceiling of 12 points
            results.append(explain())
    for result in results:
        torch.testing.assert_close(result, reference, atol=1e-5, rtol=1e-4)
