"""What the command line loads: models given as ``module:function``, data from a folder of
images, a ``.pt``/``.npy``/``.npz`` file or a built-in data set, methods by registry name."""

from __future__ import annotations

import ast
import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
BUILTIN_DATA = ("digits",)
BUILTIN_MODELS = ("digits",)


class UserError(Exception):
    """A mistake in what the user gave (file, model, argument): reported without a traceback."""


@dataclass
class Data:
    """Inputs ``(N, ...)``, true labels when known, class names, and where they came from."""

    inputs: Tensor
    labels: Tensor | None
    classes: list[str] | None
    name: str


def digits_cnn(seed: int = 0, epochs: int = 30, cache: bool = True) -> nn.Module:
    """The digits CNN of ``make demo`` (trained in seconds, seeded): ``--model digits``.

    With ``cache`` the trained weights are kept in ``$VERACITY_CACHE`` (default
    ``~/.cache/veracity``), keyed by seed, epochs and torch version, so later commands skip
    the training.

    Example:
        >>> digits_cnn(epochs=1, cache=False).__class__.__name__
        'DigitsCNN'
    """
    from veracity.data import DigitsCNN, load_digits, train_digits_cnn

    folder = Path(os.environ.get("VERACITY_CACHE", Path.home() / ".cache" / "veracity"))
    path = folder / f"digits_cnn_seed{seed}_epochs{epochs}_torch{torch.__version__}.pt"
    if cache and path.is_file():
        try:
            model = DigitsCNN()
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            return model.eval()
        except Exception:  # a damaged cache file: train again
            pass
    model = train_digits_cnn(load_digits(seed=seed), seed=seed, epochs=epochs)
    if cache:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            torch.save(model.state_dict(), temporary)
            temporary.replace(path)
        except OSError:  # a read-only home: no cache
            pass
    return model


def load_model(spec: str, weights: str | None = None, device: str = "cpu", seed: int = 0) -> nn.Module:
    """``module:function`` (the function returns the model), or ``digits``; ``weights`` is a
    ``state_dict`` file loaded with ``weights_only=True``. The model is put in eval mode."""
    if spec in BUILTIN_MODELS:
        model: Any = digits_cnn(seed)
    else:
        module_name, sep, function_name = spec.partition(":")
        if not sep or not module_name or not function_name.isidentifier():
            raise UserError(f"--model: expected 'module:function' or one of {BUILTIN_MODELS}, got {spec!r}")
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # as `python -m` does: modules of the current folder
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise UserError(f"--model: cannot import module {module_name!r}: {error}") from error
        factory = getattr(module, function_name, None)
        if not callable(factory):
            raise UserError(f"--model: module {module_name!r} has no function {function_name!r}")
        model = factory()
    if not isinstance(model, nn.Module):
        raise UserError(f"--model: {spec!r} returned {type(model).__name__}, expected a torch.nn.Module")
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise UserError(f"--weights: no file {weights!r}")
        try:
            state = torch.load(path, map_location=device, weights_only=True)
            model.load_state_dict(state)
        except Exception as error:  # torch raises many kinds for a wrong file
            raise UserError(f"--weights: cannot load {weights!r} into the model: {error}") from error
    return model.to(device).eval()


def _image(path: Path) -> np.ndarray:
    from matplotlib.image import imread

    try:
        array = np.asarray(imread(path), dtype=np.float64)
    except Exception as error:
        raise UserError(f"--data: cannot read image {str(path)!r}: {error}") from error
    if array.max() > 1.0:
        array = array / 255.0
    if array.ndim == 2:
        array = array[:, :, None]
    if array.shape[2] == 4:
        array = array[:, :, :3]
    return array.transpose(2, 0, 1)


def _folder(root: Path) -> Data:
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    files: list[tuple[Path, int | None]] = []
    if folders:
        for label, folder in enumerate(folders):
            files += [(f, label) for f in sorted(folder.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    else:
        files = [(f, None) for f in sorted(root.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise UserError(f"--data: no images ({', '.join(IMAGE_SUFFIXES)}) in {str(root)!r}")
    arrays = [_image(f) for f, _ in files]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise UserError(f"--data: the images of {str(root)!r} differ in size: {sorted(shapes)}")
    inputs = torch.from_numpy(np.stack(arrays)).float()
    labels = torch.tensor([label for _, label in files]) if folders else None
    return Data(inputs, labels, [p.name for p in folders] if folders else None, str(root))


def _tensor_file(path: Path) -> Data:
    labels: Any = None
    try:
        if path.suffix == ".pt":
            content: Any = torch.load(path, map_location="cpu", weights_only=True)
        else:
            content = np.load(path, allow_pickle=False)
    except Exception as error:
        raise UserError(f"--data: cannot read {str(path)!r}: {error}") from error
    if hasattr(content, "files"):  # .npz
        content = {key: content[key] for key in content.files}
    if isinstance(content, dict):
        inputs = next((content[k] for k in ("inputs", "x", "images") if k in content), None)
        labels = next((content[k] for k in ("labels", "targets", "y") if k in content), None)
    elif isinstance(content, (tuple, list)) and len(content) == 2:
        inputs, labels = content
    else:
        inputs = content
    if inputs is None:
        raise UserError(f"--data: {str(path)!r} holds no 'inputs' (or 'x', 'images') entry")
    inputs = torch.as_tensor(np.asarray(inputs) if not isinstance(inputs, Tensor) else inputs).float()
    if inputs.dim() < 2 or inputs.shape[0] == 0:
        raise UserError(f"--data: expected inputs of shape (N, ...) with N >= 1, got {tuple(inputs.shape)}")
    if labels is not None:
        labels = torch.as_tensor(np.asarray(labels) if not isinstance(labels, Tensor) else labels).long()
        if labels.shape != (inputs.shape[0],):
            raise UserError(f"--data: labels of shape {tuple(labels.shape)} for {inputs.shape[0]} inputs")
    return Data(inputs, labels, None, str(path))


def load_data(spec: str) -> Data:
    """``digits`` (the test split), a folder of images (one subfolder per class, or flat), or a
    ``.pt`` / ``.npy`` / ``.npz`` file (a tensor, ``(inputs, labels)``, or a dict of them)."""
    if spec == "digits":
        from veracity.data import load_digits

        digits = load_digits(seed=0)
        return Data(digits.test_x, digits.test_y, [str(d) for d in range(10)], "digits (test split)")
    path = Path(spec)
    if path.is_dir():
        return _folder(path)
    if path.suffix in (".pt", ".npy", ".npz"):
        if not path.is_file():
            raise UserError(f"--data: no file {spec!r}")
        return _tensor_file(path)
    raise UserError(f"--data: expected one of {BUILTIN_DATA}, a folder of images, or a .pt/.npy/.npz file, "
                    f"got {spec!r}")


def parse_method_args(items: tuple[str, ...], methods: list[str]) -> dict[str, dict[str, Any]]:
    """``NAME.key=value`` items (value a Python literal, else a string) per method name.

    Example:
        >>> parse_method_args(("IntegratedGradients.n_steps=16",), ["IntegratedGradients"])
        {'IntegratedGradients': {'n_steps': 16}}
    """
    out: dict[str, dict[str, Any]] = {m: {} for m in methods}
    for item in items:
        target, eq, raw = item.partition("=")
        name, dot, key = target.partition(".")
        if not eq or not dot or not key.isidentifier():
            raise UserError(f"--arg: expected METHOD.key=value, got {item!r}")
        if name not in out:
            raise UserError(f"--arg: {name!r} is not one of the chosen methods {methods}")
        try:
            value: Any = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        out[name][key] = value
    return out


def method_instances(names: list[str], model: nn.Module, background: Tensor,
                     arguments: dict[str, dict[str, Any]], seed: int) -> dict[str, Any]:
    """``explain(model, inputs, target)`` per registry method name, with its arguments.

    Methods that need a baseline distribution get ``background``; stochastic ones a seeded
    generator (fresh per call, so every call draws the same).
    """
    from veracity import registry

    explainers: dict[str, Any] = {}
    for name in names:
        entry = registry.get(name)
        if not isinstance(entry, registry.MethodEntry):
            raise UserError(f"--method: {name!r} is a metric, not a method")
        if entry.takes_layer:
            raise UserError(f"--method: {name!r} explains a layer; the command line explains inputs")
        kwargs = dict(arguments.get(name, {}))
        if entry.baseline_kind == "distribution":
            kwargs.setdefault("baselines", background)

        def explain(model: Any, x: Tensor, target: Any, _cls: type = entry.cls, _kw: dict = kwargs,
                    _stochastic: bool = entry.stochastic) -> Tensor:
            extra = {"generator": torch.Generator().manual_seed(seed)} if _stochastic else {}
            return _cls(model).attribute(x, target=target, **_kw, **extra)
        explainers[name] = explain
    return explainers
