"""What the command line loads: image folders, tensor files, models and their weights, the
cached digits CNN, the console script."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("matplotlib")

from veracity.cli.loading import UserError, digits_cnn, load_data, load_model, parse_method_args  # noqa: E402


def test_image_folder_with_class_subfolders(tmp_path: Path) -> None:
    from matplotlib.image import imsave

    pictures = {"cat": np.random.default_rng(0).random((2, 5, 6)), "dog": np.random.default_rng(1).random((1, 5, 6))}
    for label, images in pictures.items():
        (tmp_path / label).mkdir()
        for i, image in enumerate(images):
            imsave(tmp_path / label / f"{i}.png", image, cmap="gray", vmin=0, vmax=1)
    data = load_data(str(tmp_path))
    assert data.classes == ["cat", "dog"] and data.labels is not None and data.labels.tolist() == [0, 0, 1]
    assert data.inputs.shape == (3, 3, 5, 6)  # PNGs come back RGB(A); alpha dropped
    torch.testing.assert_close(data.inputs[2, 0].double(), torch.from_numpy(pictures["dog"][0]), atol=1 / 255, rtol=0)


def test_tensor_files(tmp_path: Path) -> None:
    x, y = torch.rand(4, 2, 3), torch.tensor([1, 0, 1, 0])
    torch.save({"inputs": x, "labels": y}, tmp_path / "d.pt")
    torch.save((x, y), tmp_path / "t.pt")
    np.save(tmp_path / "x.npy", x.numpy())
    for name in ("d.pt", "t.pt"):
        data = load_data(str(tmp_path / name))
        assert torch.equal(data.inputs, x) and data.labels is not None and torch.equal(data.labels, y)
    data = load_data(str(tmp_path / "x.npy"))
    assert torch.equal(data.inputs, x) and data.labels is None
    torch.save({"inputs": x, "labels": y[:3]}, tmp_path / "bad.pt")
    with pytest.raises(UserError, match="labels of shape"):
        load_data(str(tmp_path / "bad.pt"))
    with pytest.raises(UserError, match="expected one of"):
        load_data(str(tmp_path / "x.csv"))


def test_weights_are_loaded(tmp_path: Path) -> None:
    model = load_model("tests.cli.models:linear")
    state = {k: torch.full_like(v, 0.5) for k, v in model.state_dict().items()}
    torch.save(state, tmp_path / "w.pt")
    loaded = load_model("tests.cli.models:linear", str(tmp_path / "w.pt"))
    assert all(torch.equal(v, torch.full_like(v, 0.5)) for v in loaded.state_dict().values())
    assert not loaded.training
    torch.save({"nope": torch.zeros(1)}, tmp_path / "wrong.pt")
    with pytest.raises(UserError, match="cannot load"):
        load_model("tests.cli.models:linear", str(tmp_path / "wrong.pt"))


def test_digits_cnn_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERACITY_CACHE", str(tmp_path))
    first = digits_cnn(epochs=1)
    assert len(list(tmp_path.glob("digits_cnn_seed0_epochs1_*.pt"))) == 1
    import veracity.data

    monkeypatch.setattr(veracity.data, "train_digits_cnn", lambda *a, **k: pytest.fail("trained again"))
    second = digits_cnn(epochs=1)
    x = torch.rand(3, 1, 8, 8)
    assert torch.equal(first(x), second(x))


def test_method_arguments_are_parsed() -> None:
    parsed = parse_method_args(("IntegratedGradients.n_steps=8", "Saliency.abs=False", "X.method=riemann_left"),
                               ["IntegratedGradients", "Saliency", "X"])
    assert parsed == {"IntegratedGradients": {"n_steps": 8}, "Saliency": {"abs": False},
                      "X": {"method": "riemann_left"}}
    with pytest.raises(UserError, match="METHOD.key=value"):
        parse_method_args(("n_steps=8",), ["IntegratedGradients"])
    with pytest.raises(UserError, match="not one of the chosen methods"):
        parse_method_args(("DeepLift.x=1",), ["Saliency"])


def test_console_script_is_declared() -> None:
    scripts = {e.name: e.value for e in entry_points(group="console_scripts")}
    assert scripts.get("veracity") == "veracity.cli:main"
