"""The main job: runs end to end, writes a PNG, reports completeness errors that are right."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

from matplotlib.image import imread  # noqa: E402

from veracity import demo  # noqa: E402
from veracity.data import DigitsCNN  # noqa: E402


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Training under `pytest -n 2` on 2 cores with 2 torch threads per worker crawls."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _table(text: str) -> dict[str, list[str]]:
    """Rows of the completeness table by method name."""
    return {line.split()[0]: line.split() for line in text.splitlines()
            if line.split() and line.split()[0] in ("Saliency", "IntegratedGradients", "DeepLift",
                                                    "GradientShap")}


def test_demo_end_to_end_is_reproducible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str],
                                         one_thread: None) -> None:
    monkeypatch.setenv(demo.OUT_ENV, str(tmp_path / "from_env"))
    path = demo.main(epochs=3)
    first = capsys.readouterr().out
    assert path == tmp_path / "from_env" / "attributions.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width = imread(path).shape[:2]
    assert height > width > 0  # 8 rows, 5 columns
    assert f"wrote {path}" in first and "test accuracy" in first

    rows = _table(first)
    assert set(rows) == {"Saliency", "IntegratedGradients", "DeepLift", "GradientShap"}
    assert rows["Saliency"][-3:] == ["n/a", "n/a", "n/a"]
    # DeepLift's Rescale rule is exact through ReLU and max-pool: error ~ float32 rounding
    scale, mean_error, max_error = (float(v) for v in rows["DeepLift"][-3:])
    assert 0 <= mean_error <= max_error < 1e-4 * max(scale, 1.0)
    for name in ("IntegratedGradients", "GradientShap"):
        scale, mean_error, max_error = (float(v) for v in rows[name][-3:])
        assert scale > 0 and 0 < mean_error <= max_error

    second_path = demo.main(tmp_path / "from_argument", epochs=3)
    second = capsys.readouterr().out
    assert second_path == tmp_path / "from_argument" / "attributions.png"
    assert second.replace(str(second_path), str(path)) == first
    assert (imread(second_path) == imread(path)).all()


@pytest.mark.parametrize("name", ["IntegratedGradients", "DeepLift", "GradientShap"])
def test_reported_error_is_the_completeness_gap(name: str) -> None:
    """The errors derived from convergence deltas equal |sum attr - (F(x) - F(reference))|."""
    model = DigitsCNN().double().eval()
    x = torch.rand(3, 1, 8, 8, dtype=torch.float64)
    y = torch.tensor([1, 4, 7])
    background = torch.rand(1, 1, 8, 8, dtype=torch.float64)  # one baseline: its mean is itself
    attr, errors = demo.explainers(model, background)[name].run(x, y)
    reference = background if name == "GradientShap" else torch.zeros_like(background)
    with torch.no_grad():
        gap = model(x)[torch.arange(3), y] - model(reference)[0, y]
    expected = (attr.flatten(1).sum(1) - gap).abs()
    torch.testing.assert_close(errors, expected, rtol=0, atol=1e-9)


def test_saliency_reports_no_error() -> None:
    model = DigitsCNN().eval()
    attr, errors = demo.explainers(model, torch.rand(2, 1, 8, 8))["Saliency"].run(
        torch.rand(2, 1, 8, 8), torch.tensor([0, 1]))
    assert errors is None and attr.shape == (2, 1, 8, 8) and bool((attr >= 0).all())


def test_table_is_aligned() -> None:
    rows = {"Saliency": ("none", torch.ones(2, 3), None),
            "DeepLift": ("black image", torch.ones(2, 3), torch.tensor([1e-6, 3e-6]))}
    lines = demo.completeness_table(rows).splitlines()
    assert len({len(line) for line in lines}) == 1
    assert lines[2].split()[-3:] == ["n/a", "n/a", "n/a"]
    assert lines[3].split()[-3:] == ["3.000", "2.00e-06", "3.00e-06"]


def test_output_dir_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(demo.OUT_ENV, raising=False)
    assert demo.output_dir() == Path("out")
    monkeypatch.setenv(demo.OUT_ENV, "/tmp/elsewhere")
    assert demo.output_dir() == Path("/tmp/elsewhere")
    assert demo.output_dir("given") == Path("given")


def test_pick_examples_takes_the_first_of_each_class() -> None:
    labels = torch.tensor([3, 0, 1, 0, 2, 1, 3])
    assert demo.pick_examples(labels, 4).tolist() == [1, 2, 4, 0]
