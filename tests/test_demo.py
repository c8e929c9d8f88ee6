"""The main job: runs end to end, writes its PNGs, reports completeness errors that are right and
sanity-check numbers in the paper's direction."""

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
from veracity.metrics import RandomisationResult  # noqa: E402


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


def _sanity(text: str) -> dict[str, tuple[float, float]]:
    """(|maps|, signed maps) similarity after the full cascade, by method, from the sanity table."""
    return {line.split()[0]: (float(line.split()[1]), float(line.split()[2]))
            for line in text.splitlines() if line.split() and line.split()[0] in demo.SANITY_METHODS}


def _grid(text: str) -> tuple[list[str], dict[str, list[tuple[float, float, float]]]]:
    """Header and (mean, low, high) per cell by method, from the Markdown evaluation table."""
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in text.splitlines()
            if line.startswith("| ")]
    cells = {row[0]: [tuple(float(v) for v in cell.replace("[", "").replace("]", "").replace(",", "")
                            .split()) for cell in row[1:]] for row in rows[1:]}
    return rows[0], cells


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

    explained, marker, trust = first.partition("can these explanations be trusted?")
    assert marker
    rows = _table(explained)
    assert set(rows) == {"Saliency", "IntegratedGradients", "DeepLift", "GradientShap"}
    assert rows["Saliency"][-3:] == ["n/a", "n/a", "n/a"]
    # DeepLift's Rescale rule is exact through ReLU and max-pool: error ~ float32 rounding
    scale, mean_error, max_error = (float(v) for v in rows["DeepLift"][-3:])
    assert 0 <= mean_error <= max_error < 1e-4 * max(scale, 1.0)
    for name in ("IntegratedGradients", "GradientShap"):
        scale, mean_error, max_error = (float(v) for v in rows[name][-3:])
        assert scale > 0 and 0 < mean_error <= max_error

    # the sanity check shows the paper's direction: Saliency's maps are gone once the model is
    # random; the input multiplier keeps IG's and InputXGradient's |maps|, not their signs
    sanity_png = tmp_path / "from_env" / "sanity_checks.png"
    assert f"wrote {sanity_png}" in trust and sanity_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width = imread(sanity_png).shape[:2]
    assert width > height > 0  # two panels side by side
    sanity = _sanity(trust)
    assert set(sanity) == {"Saliency", "IntegratedGradients", "InputXGradient"}
    assert sanity["Saliency"][0] < 0.3
    for name in ("IntegratedGradients", "InputXGradient"):
        absolute, signed = sanity[name]
        assert absolute > 0.7 and signed < 0.3

    header, grid = _grid(trust)
    assert header[1:] == ["faithfulness_correlation ↑", "max_sensitivity ↓", "sparseness ↑"]
    assert set(grid) == {"Saliency", "IntegratedGradients", "DeepLift", "GradientShap"}
    for cells in grid.values():
        assert len(cells) == 3 and all(low <= mean <= high for mean, low, high in cells)
        assert -1 <= cells[0][0] <= 1 and cells[1][0] >= 0 and 0 <= cells[2][0] <= 1

    second_path = demo.main(tmp_path / "from_argument", epochs=3)
    second = capsys.readouterr().out
    assert second_path == tmp_path / "from_argument" / "attributions.png"
    assert second.replace(str(second_path.parent), str(path.parent)) == first
    assert (imread(second_path) == imread(path)).all()
    assert (imread(second_path.parent / "sanity_checks.png") == imread(sanity_png)).all()


def test_sanity_table_reports_the_last_stage() -> None:
    """The printed numbers are the mean over examples after the last stage, not the first."""
    scores = {"spearman_abs": torch.tensor([[0.9, 0.9], [0.2, 0.4]]),
              "spearman": torch.tensor([[0.8, 0.8], [-0.1, 0.1]])}
    table = demo.sanity_table({"InputXGradient": RandomisationResult(["fc2", "conv1"], scores,
                                                                     torch.zeros(2))})
    assert _sanity(table) == {"InputXGradient": (0.3, 0.0)}


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
