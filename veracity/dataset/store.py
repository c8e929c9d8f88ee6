"""The on-disk store of a dataset-scale run: Zarr arrays chunked by examples and a JSON manifest.

Layout of a store directory::

    manifest.json     method, arguments, fingerprints, version, array names, complete chunks
    attributions/     Zarr array (examples, *input shape), one Zarr chunk per store chunk
    outputs/          Zarr array (examples, *output shape): the model's outputs
    targets/          Zarr array (examples,): the targets the data set gave

A store of :func:`~veracity.dataset.evaluate_dataset` holds ``attributions/<method>`` and
``metrics/<method>/<metric>`` (one score per example) instead of ``attributions``; the manifest's
``arrays`` lists a store's arrays.

A chunk is listed in ``manifest["complete"]`` only after its rows of every array are written,
and the manifest is replaced atomically (temporary file, then ``os.replace``), so a crash at any
point leaves a store whose listed chunks are whole.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

MANIFEST = "manifest.json"
ARRAYS = ("attributions", "outputs", "targets")
FORMAT = 2
# The fields that must agree for a store to be resumed, with the word used when one differs.
IDENTITY = (("method", "method"), ("arguments", "arguments"), ("model", "model"), ("data", "data"),
            ("chunk_size", "chunk_size"), ("batch_size", "batch_size"), ("seed", "seed"), ("arrays", "arrays"))


def zarr_module() -> Any:
    """The ``zarr`` package, or an ImportError saying which extra installs it."""
    try:
        return importlib.import_module("zarr")
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("veracity.dataset needs zarr: pip install 'veracity[store]'") from error


def _hash_tensor(digest: Any, tensor: Tensor) -> None:
    t = tensor.detach().to("cpu").contiguous()
    digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
    digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")


def model_fingerprint(model: Any) -> str:
    """SHA-256 over the model's ``state_dict`` (names, dtypes, shapes, values).

    A plain function (no ``state_dict``) is named by its module and qualified name.

    Example:
        >>> a, b = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
        >>> _ = b.load_state_dict(a.state_dict())
        >>> model_fingerprint(a) == model_fingerprint(b)
        True
    """
    digest = hashlib.sha256()
    state = getattr(model, "state_dict", None)
    if callable(state):
        for name, value in state().items():
            digest.update(name.encode())
            if isinstance(value, Tensor):
                _hash_tensor(digest, value)
            else:
                digest.update(repr(value).encode())
    else:
        digest.update(f"{getattr(model, '__module__', '')}.{getattr(model, '__qualname__', repr(model))}".encode())
    return digest.hexdigest()


def example_hash(example: Any) -> str:
    """SHA-256 of one ``(input, target)`` example (tensors by value, other values by ``repr``).

    Example:
        >>> example_hash((torch.ones(2), 1)) == example_hash((torch.ones(2), 1)) != example_hash((torch.ones(2), 0))
        True
    """
    digest = hashlib.sha256()
    for part in example if isinstance(example, (tuple, list)) else (example,):
        if isinstance(part, Tensor):
            _hash_tensor(digest, part)
        elif isinstance(part, np.ndarray):
            _hash_tensor(digest, torch.from_numpy(np.ascontiguousarray(part)))
        else:
            digest.update(repr(part).encode())
    return digest.hexdigest()


def jsonable(value: Any) -> Any:
    """``value`` as JSON: tensors and arrays by shape and SHA-256, unknown objects by ``repr``.

    Example:
        >>> jsonable({"n_steps": 8, "baselines": None, "method": "riemann_trapezoid"})
        {'baselines': None, 'method': 'riemann_trapezoid', 'n_steps': 8}
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (Tensor, np.ndarray)):
        tensor = value if isinstance(value, Tensor) else torch.from_numpy(np.ascontiguousarray(value))
        digest = hashlib.sha256()
        _hash_tensor(digest, tensor)
        return {"tensor": list(tensor.shape), "sha256": digest.hexdigest()}
    return repr(value)


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest`` to ``path/manifest.json`` atomically (temporary file, fsync, ``os.replace``)."""
    final = path / MANIFEST
    temporary = path / (MANIFEST + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, final)


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the store at ``path``; ValueError naming the store when it is missing or corrupt."""
    file = path / MANIFEST
    if not file.is_file():
        raise ValueError(f"`store`: {str(path)!r} is not a veracity dataset store (no {MANIFEST})")
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"`store`: the manifest of {str(path)!r} is corrupt ({error})") from error
    required = {"format", "complete", "checksums", "n_chunks", "n_examples", *(key for key, _ in IDENTITY)}
    if not isinstance(manifest, dict) or not required <= set(manifest):
        missing = sorted(required - set(manifest)) if isinstance(manifest, dict) else sorted(required)
        raise ValueError(f"`store`: the manifest of {str(path)!r} is corrupt (missing {missing})")
    if manifest.get("format") != FORMAT:
        raise ValueError(f"`store`: {str(path)!r} has store format {manifest.get('format')!r}; "
                         f"this veracity reads format {FORMAT}")
    complete = manifest["complete"]
    if (not isinstance(complete, list) or not all(isinstance(c, int) for c in complete)
            or any(c < 0 or c >= manifest["n_chunks"] for c in complete)):
        raise ValueError(f"`store`: the manifest of {str(path)!r} is corrupt (bad list of complete chunks)")
    checksums = manifest["checksums"]
    if not isinstance(checksums, dict) or any(str(c) not in checksums for c in complete):
        raise ValueError(f"`store`: the manifest of {str(path)!r} is corrupt (complete chunks without checksums)")
    names = manifest["arrays"]
    if (not isinstance(names, list) or not all(isinstance(n, str) and n and ".." not in n for n in names)
            or any(set(checksums[str(c)]) != set(names) for c in complete)):
        raise ValueError(f"`store`: the manifest of {str(path)!r} is corrupt (bad list of arrays)")
    return manifest


def chunk_checksum(rows: np.ndarray) -> str:
    """SHA-256 of one chunk's rows of an array (dtype, shape and bytes).

    Example:
        >>> chunk_checksum(np.zeros(2)) == chunk_checksum(np.zeros(2)) != chunk_checksum(np.zeros(2, np.float32))
        True
    """
    digest = hashlib.sha256()
    digest.update(f"{rows.dtype.str}{rows.shape}".encode())
    digest.update(np.ascontiguousarray(rows).tobytes())
    return digest.hexdigest()


def differences(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """What differs between a stored manifest and the run asked for, as ``"model differs"`` etc."""
    found = []
    for key, word in IDENTITY:
        if stored.get(key) != wanted.get(key):
            verb = "differ" if word == "arguments" else "differs"
            found.append(f"{word} {verb} (store: {stored.get(key)!r}, now: {wanted.get(key)!r})")
    return found


@dataclass(frozen=True)
class DatasetStore:
    """A store written by :func:`veracity.dataset.attribute_dataset` or
    :func:`~veracity.dataset.evaluate_dataset`, opened for reading.

    ``arrays`` maps each array's name (the manifest's ``arrays``) to its Zarr array (rows =
    examples); ``attributions``, ``outputs`` and ``targets`` are the arrays of those names (None
    where a store has none); ``numpy(name)`` reads one whole; ``complete`` says whether every
    chunk was written; ``verify()`` checks every complete chunk against its checksum.

    Example:
        >>> import tempfile, veracity.attr as va
        >>> from veracity.dataset import attribute_dataset
        >>> model = torch.nn.Linear(3, 2)
        >>> data = torch.utils.data.TensorDataset(torch.ones(4, 3), torch.tensor([0, 1, 0, 1]))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     stored = attribute_dataset(va.Saliency(model), data, d, chunk_size=3, show_progress=False)
        ...     stored.verify()
        ...     stored.numpy("targets").tolist(), stored.manifest["n_chunks"], stored.complete
        ([0, 1, 0, 1], 2, True)
    """

    path: Path
    manifest: dict[str, Any]
    arrays: dict[str, Any]

    @property
    def attributions(self) -> Any:
        return self.arrays.get("attributions")

    @property
    def outputs(self) -> Any:
        return self.arrays.get("outputs")

    @property
    def targets(self) -> Any:
        return self.arrays.get("targets")

    @property
    def complete(self) -> bool:
        return len(self.manifest["complete"]) == self.manifest["n_chunks"]

    def numpy(self, name: str) -> np.ndarray:
        """The array ``name`` (one of the manifest's ``arrays``) as a NumPy array."""
        if name not in self.arrays:
            raise ValueError(f"`name`: expected one of {sorted(self.arrays)}, got {name!r}")
        if self.arrays[name] is None:
            raise ValueError(f"`name`: {name!r} has not been written yet in {str(self.path)!r}")
        return np.asarray(self.arrays[name][...])

    def verify(self) -> None:
        """Check every complete chunk against the checksums in the manifest; a ValueError names
        the first chunk and array that differ (a corrupt or altered store)."""
        size = self.manifest["chunk_size"]
        for chunk in self.manifest["complete"]:
            for name in self.manifest["arrays"]:
                rows = np.asarray(self.arrays[name][chunk * size:(chunk + 1) * size])
                if chunk_checksum(rows) != self.manifest["checksums"][str(chunk)][name]:
                    raise ValueError(f"`store`: chunk {chunk} of the {name!r} array of {str(self.path)!r} is "
                                     "corrupt (its checksum differs from the manifest's)")


def open_arrays(path: Path, names: list[str], mode: str = "r") -> dict[str, Any]:
    """The Zarr arrays ``names`` of the store at ``path``; ValueError naming one that is corrupt."""
    zarr = zarr_module()
    arrays = {}
    for name in names:
        try:
            arrays[name] = zarr.open_array(store=str(path / name), mode=mode)
        except Exception as error:
            raise ValueError(f"`store`: the {name!r} array of {str(path)!r} is corrupt ({error})") from error
    return arrays


def open_store(store: str | os.PathLike[str], verify: bool = False) -> DatasetStore:
    """Open a dataset store for reading: its manifest and its arrays (read-only Zarr arrays);
    ``verify=True`` also checks every complete chunk against its checksum (reads the whole store).

    Example:
        >>> import tempfile, veracity.attr as va
        >>> from veracity.data.toy import toy_mlp
        >>> model, x = toy_mlp(batch=5)
        >>> data = torch.utils.data.TensorDataset(x, torch.zeros(5, dtype=torch.long))
        >>> from veracity.dataset import attribute_dataset
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = attribute_dataset(va.InputXGradient(model), data, d, chunk_size=2, show_progress=False)
        ...     opened = open_store(d)
        ...     opened.complete, opened.numpy("attributions").shape
        (True, (5, 4))
    """
    path = Path(store)
    manifest = read_manifest(path)
    names = list(manifest["arrays"])
    present = [name for name in names if (path / name).exists()]
    if manifest["complete"] and len(present) < len(names):
        missing = next(name for name in names if name not in present)
        raise ValueError(f"`store`: {str(path)!r} lists complete chunks but has no {missing!r} array")
    arrays: dict[str, Any] = dict.fromkeys(names)
    arrays.update(open_arrays(path, present))
    opened = DatasetStore(path=path, manifest=manifest, arrays=arrays)
    if verify:
        try:
            opened.verify()
        except ValueError:
            raise
        except Exception as error:  # an unreadable chunk file
            raise ValueError(f"`store`: {str(path)!r} has an unreadable chunk ({error})") from error
    return opened
