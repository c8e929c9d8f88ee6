"""attribute_dataset: closed forms on a linear model, resume after an interruption, refused stores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

pytest.importorskip("zarr")

import veracity.attr as va  # noqa: E402
from veracity.dataset import attribute_dataset, open_store  # noqa: E402

N, FEATURES, CLASSES = 10, 5, 3


class Counting(torch.nn.Module):
    """A linear model that counts the rows it is called on (the counter is not in its state_dict)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.linear = torch.nn.Linear(FEATURES, CLASSES)
        self.rows = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.rows += x.shape[0]
        return self.linear(x)


class Interrupted(Exception):
    pass


class Flaky(va.IntegratedGradients):
    """IntegratedGradients that raises on its ``limit``-th call and counts the examples it attributes."""

    def __init__(self, model: torch.nn.Module, limit: int | None = None) -> None:
        super().__init__(model)
        self.limit, self.calls, self.examples = limit, 0, 0

    def attribute(self, inputs, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.limit is not None and self.calls >= self.limit:
            raise Interrupted(f"interrupted at call {self.calls}")
        self.examples += inputs.shape[0]
        return super().attribute(inputs, *args, **kwargs)


def data(seed: int = 1) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(N, FEATURES, generator=g), torch.randint(0, CLASSES, (N,), generator=g))


def arrays(path: Path) -> dict[str, np.ndarray]:
    opened = open_store(path)
    return {name: opened.numpy(name) for name in ("attributions", "outputs", "targets")}


@pytest.mark.parametrize("method", [va.IntegratedGradients, va.InputXGradient])
def test_store_holds_the_closed_form_and_the_in_memory_attribution(tmp_path: Path, method: type) -> None:
    model, ds = Counting(), data()
    x, t = ds.tensors
    kwargs = {"n_steps": 4} if method is va.IntegratedGradients else {}
    result = attribute_dataset(method(model), ds, tmp_path / "s", batch_size=3, chunk_size=4,
                               show_progress=False, **kwargs)
    assert result.complete and result.manifest["complete"] == [0, 1, 2]
    closed = (x * model.linear.weight.detach()[t]).numpy()  # zero baseline, linear model: x * W[target]
    got = result.numpy("attributions")
    assert got.shape == (N, FEATURES)
    np.testing.assert_allclose(got, closed, rtol=1e-5, atol=1e-6)
    in_memory = method(model).attribute(x, target=t, **kwargs).detach().numpy()
    np.testing.assert_allclose(got, in_memory, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(result.numpy("outputs"), model(x).detach().numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(result.numpy("targets"), t.numpy())
    assert result.manifest["method"] == method.__name__ and result.manifest["arguments"] == kwargs


def test_a_dataloader_is_read_in_order_and_shuffling_is_refused(tmp_path: Path) -> None:
    model, ds = Counting(), data()
    a = attribute_dataset(va.InputXGradient(model), ds, tmp_path / "a", chunk_size=4, show_progress=False)
    b = attribute_dataset(va.InputXGradient(model), DataLoader(ds, batch_size=7), tmp_path / "b", chunk_size=4,
                          show_progress=False)
    np.testing.assert_array_equal(a.numpy("attributions"), b.numpy("attributions"))
    with pytest.raises(ValueError, match="`data`.*in order"):
        attribute_dataset(va.InputXGradient(model), DataLoader(ds, shuffle=True), tmp_path / "c", show_progress=False)


def test_resume_after_an_interruption_gives_the_uninterrupted_store_and_recomputes_nothing(tmp_path: Path) -> None:
    ds = data()
    kwargs = dict(batch_size=2, chunk_size=4, show_progress=False, n_steps=4)
    reference_model = Counting()
    attribute_dataset(Flaky(reference_model), ds, tmp_path / "ref", **kwargs)
    full_rows = reference_model.rows

    # chunk 0 = calls 1, 2; call 3 writes nothing yet (half of chunk 1), call 4 raises
    with pytest.raises(Interrupted):
        attribute_dataset(Flaky(Counting(), limit=4), ds, tmp_path / "run", **kwargs)
    assert open_store(tmp_path / "run").manifest["complete"] == [0]
    # a half-written chunk: rows of chunk 1 hold garbage that the manifest does not vouch for
    import zarr

    zarr.open_array(store=str(tmp_path / "run" / "attributions"), mode="r+")[4:6] = 99.0

    model = Counting()
    resumed = Flaky(model)
    result = attribute_dataset(resumed, ds, tmp_path / "run", **kwargs)
    assert resumed.examples == N - 4  # only chunks 1 and 2
    assert model.rows * N == full_rows * (N - 4)  # model calls: those of the missing chunks, no more
    reference, got = arrays(tmp_path / "ref"), arrays(tmp_path / "run")
    for name in reference:
        assert got[name].tobytes() == reference[name].tobytes(), name
    assert result.manifest == open_store(tmp_path / "ref").manifest

    again = Flaky(Counting())  # a complete store: nothing is computed
    attribute_dataset(again, ds, tmp_path / "run", **kwargs)
    assert again.calls == 0


@pytest.mark.parametrize("change, message", [
    ("model", "model differs"),
    ("arguments", "arguments differ"),
    ("data", "data differs"),
    ("method", "method differs"),
    ("chunk_size", "chunk_size differs"),
])
def test_a_foreign_store_is_refused_naming_what_differs(tmp_path: Path, change: str, message: str) -> None:
    ds = data()
    attribute_dataset(va.IntegratedGradients(Counting()), ds, tmp_path, chunk_size=4, show_progress=False, n_steps=4)
    before = (tmp_path / "manifest.json").read_bytes()
    method = {"model": va.IntegratedGradients(Counting(seed=7)), "method": va.InputXGradient(Counting())}.get(
        change, va.IntegratedGradients(Counting()))
    kwargs: dict = {"n_steps": 5 if change == "arguments" else 4} if change != "method" else {}
    other = data()
    other.tensors[0][-1] += 1.0
    with pytest.raises(ValueError, match=f"`store`.*{message}"):
        attribute_dataset(method, other if change == "data" else ds, tmp_path,
                          chunk_size=5 if change == "chunk_size" else 4, show_progress=False, **kwargs)
    assert (tmp_path / "manifest.json").read_bytes() == before


@pytest.mark.parametrize("text", ["{not json", json.dumps({"format": 1}), json.dumps([1, 2])])
def test_a_corrupt_manifest_is_refused(tmp_path: Path, text: str) -> None:
    ds = data()
    attribute_dataset(va.InputXGradient(Counting()), ds, tmp_path, chunk_size=4, show_progress=False)
    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(ValueError, match="`store`.*corrupt"):
        attribute_dataset(va.InputXGradient(Counting()), ds, tmp_path, chunk_size=4, show_progress=False)
    with pytest.raises(ValueError, match="corrupt"):
        open_store(tmp_path)


def test_a_manifest_listing_impossible_chunks_is_refused(tmp_path: Path) -> None:
    ds = data()
    attribute_dataset(va.InputXGradient(Counting()), ds, tmp_path, chunk_size=4, show_progress=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["complete"] = [0, 7]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="corrupt.*complete chunks"):
        open_store(tmp_path)


def test_bad_arguments_are_named(tmp_path: Path) -> None:
    ds, method = data(), va.InputXGradient(Counting())
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="`store`.*not empty"):
        attribute_dataset(method, ds, tmp_path / "other", show_progress=False)
    with pytest.raises(ValueError, match="`chunk_size`"):
        attribute_dataset(method, ds, tmp_path / "a", chunk_size=0, show_progress=False)
    with pytest.raises(TypeError, match="`method`"):
        attribute_dataset(object(), ds, tmp_path / "a", show_progress=False)
    with pytest.raises(ValueError, match="`attribute_kwargs`"):
        attribute_dataset(method, ds, tmp_path / "a", show_progress=False, target=0)
    with pytest.raises(TypeError, match="`data`.*pairs"):
        attribute_dataset(method, [torch.zeros(3)], tmp_path / "b", show_progress=False)
    with pytest.raises(ValueError, match="not a veracity dataset store"):
        open_store(tmp_path / "nowhere")


def _chunk_files(array: Path) -> list[Path]:
    return sorted(p for p in array.rglob("*") if p.is_file() and p.name not in
                  {"zarr.json", ".zarray", ".zattrs", ".zgroup"})


@pytest.mark.parametrize("damage", ["value", "bytes", "deleted"])
def test_a_corrupt_chunk_is_refused(tmp_path: Path, damage: str) -> None:
    import zarr

    ds, kwargs = data(), dict(chunk_size=4, show_progress=False)
    attribute_dataset(va.InputXGradient(Counting()), ds, tmp_path, **kwargs)
    open_store(tmp_path, verify=True)  # intact
    files = _chunk_files(tmp_path / "attributions")
    assert len(files) == 3
    if damage == "value":
        zarr.open_array(store=str(tmp_path / "attributions"), mode="r+")[5, 0] = 42.0
    elif damage == "bytes":
        files[1].write_bytes(b"\x00garbage" * 3)
    else:
        files[1].unlink()
    with pytest.raises(ValueError, match="`store`.*(corrupt|unreadable)"):
        attribute_dataset(va.InputXGradient(Counting()), ds, tmp_path, **kwargs)
    with pytest.raises(ValueError, match="(corrupt|unreadable)"):
        open_store(tmp_path, verify=True)


KILL_SCRIPT = r"""
import os, signal, sys
sys.path.insert(0, {root!r})
import veracity.dataset.runner as attribute
from tests.dataset.test_attribute_dataset import Counting, Flaky, data

real, calls = attribute.write_manifest, [0]

def write_manifest(path, manifest):
    calls[0] += 1
    if calls[0] == {kill_at}:  # chunk {chunk}'s arrays are written: half a temporary manifest, then kill -9
        with open(path / "manifest.json.tmp", "w") as handle:
            handle.write('{{"complete": [0, 1, 2')
        os.kill(os.getpid(), signal.SIGKILL)
    real(path, manifest)

attribute.write_manifest = write_manifest
from veracity.dataset import attribute_dataset
attribute_dataset(Flaky(Counting()), data(), {store!r}, batch_size=2, chunk_size=4,
                            show_progress=False, n_steps=4)
"""


@pytest.mark.parametrize("kill_at, committed", [(2, []), (3, [0])])
def test_kill_9_mid_run_then_resume_gives_the_uninterrupted_store(tmp_path: Path, kill_at: int,
                                                                  committed: list[int]) -> None:
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[2])
    kwargs = dict(batch_size=2, chunk_size=4, show_progress=False, n_steps=4)
    attribute_dataset(Flaky(Counting()), data(), tmp_path / "ref", **kwargs)
    # write_manifest calls: 1 = the empty manifest, 2 = chunk 0 done, 3 = chunk 1 done (killed before it lands)
    script = KILL_SCRIPT.format(root=root, kill_at=kill_at, chunk=kill_at - 2, store=str(tmp_path / "run"))
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    assert (tmp_path / "run" / "attributions").exists()  # arrays of the killed chunk are on disk
    assert open_store(tmp_path / "run").manifest["complete"] == committed  # the half manifest never landed
    resumed = Flaky(Counting())
    result = attribute_dataset(resumed, data(), tmp_path / "run", **kwargs)
    assert resumed.examples == N - 4 * len(committed)  # the written-not-committed chunk again, no committed one
    reference = arrays(tmp_path / "ref")
    for name, values in arrays(tmp_path / "run").items():
        assert values.tobytes() == reference[name].tobytes(), name
    assert result.manifest == open_store(tmp_path / "ref").manifest
    open_store(tmp_path / "run", verify=True)


def test_batch_size_does_not_change_the_store_and_the_progress_bar_runs(tmp_path: Path) -> None:
    model, ds = Counting(), data()
    one = attribute_dataset(va.InputXGradient(model), ds, tmp_path / "one", batch_size=1, chunk_size=3)
    all_ = attribute_dataset(va.InputXGradient(model), ds, tmp_path / "all", batch_size=N, chunk_size=3,
                             show_progress=False)
    for name in ("attributions", "outputs", "targets"):
        np.testing.assert_allclose(one.numpy(name), all_.numpy(name), rtol=1e-6, atol=1e-7)
    assert one.manifest["n_chunks"] == 4 and one.complete


def test_examples_of_another_shape_are_refused(tmp_path: Path) -> None:
    class Mixed(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 4

        def __getitem__(self, i: int):  # type: ignore[no-untyped-def]
            return torch.ones(FEATURES if i < 2 else FEATURES + 1), 0

    class Sum(torch.nn.Module):  # any width: attributions of chunk 1 are wider than the array's rows
        def __init__(self) -> None:
            super().__init__()
            self.scale = torch.nn.Parameter(torch.tensor(2.0))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.scale * x.sum(-1, keepdim=True)

    with pytest.raises(ValueError, match=r"`data`.*attributions.*\(5,\).*\(6,\).*chunk 1"):
        attribute_dataset(va.InputXGradient(Sum()), Mixed(), tmp_path, chunk_size=2, show_progress=False)
    assert open_store(tmp_path, verify=True).manifest["complete"] == [0]  # chunk 0 stays committed and intact


def test_a_map_style_dataset_gives_the_store_of_a_sliced_tensor_dataset(tmp_path: Path) -> None:
    class Pairs(torch.utils.data.Dataset):  # read example by example (a TensorDataset is sliced)
        def __init__(self, inner: TensorDataset) -> None:
            self.inner = inner

        def __len__(self) -> int:
            return len(self.inner)

        def __getitem__(self, i: int):  # type: ignore[no-untyped-def]
            x, y = self.inner[i]
            return x.clone(), int(y)

    model, ds = Counting(), data()
    sliced = attribute_dataset(va.IntegratedGradients(model), ds, tmp_path / "a", batch_size=3, chunk_size=4,
                               show_progress=False, n_steps=4)
    read = attribute_dataset(va.IntegratedGradients(model), Pairs(ds), tmp_path / "b", batch_size=3, chunk_size=4,
                             show_progress=False, n_steps=4)
    for name in ("attributions", "outputs", "targets"):
        assert sliced.numpy(name).tobytes() == read.numpy(name).tobytes(), name
