"""Concept activation vectors and their cache on disk, keyed by concepts, layer and model."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import torch
from torch import nn

from veracity._core.validate import fail
from veracity.concept.concept import Concept, sets_key

FORMAT = "veracity.cav/1"


def model_fingerprint(model: nn.Module) -> str:
    """A short hash of the model's parameter and buffer names, shapes and values (sums and
    sums of squares in float64, rounded to 10 digits so a device move keeps it). A retrained or
    edited model gets another fingerprint; its cached CAVs are then reported stale.

    Example:
        >>> a = torch.nn.Linear(2, 2)
        >>> before = model_fingerprint(a)
        >>> with torch.no_grad():
        ...     _ = a.weight.add_(1.0)
        >>> model_fingerprint(a) != before
        True
    """
    digest = hashlib.sha256()
    with torch.no_grad():
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            values = tensor.detach().to(torch.float64)
            stats = (float(values.sum()), float((values * values).sum())) if values.numel() else (0.0, 0.0)
            digest.update(f"{name}{tuple(tensor.shape)}{stats[0]:.10g}{stats[1]:.10g};".encode())
    return digest.hexdigest()[:16]


class CAV:
    """The CAVs of one experimental set at one layer: ``stats["weights"]`` (concepts x features),
    ``stats["classes"]`` (concept ids in the order of the rows) and the classifier's accuracy.

    Captum's ``CAV(concepts, layer, stats, save_path, model_id)``. :meth:`save` writes
    ``<save_path>/<model_id>/<ids>-<layer>.pkl`` with the concept names and the model's
    fingerprint; :meth:`load` refuses a file written for other concepts, another layer, another
    model state or by another library (a clear error naming ``save_path``).

    Example:
        >>> import tempfile
        >>> concepts = [Concept(0, "striped", None), Concept(1, "random", None)]
        >>> folder = tempfile.mkdtemp()
        >>> cav = CAV(concepts, "fc1", {"weights": torch.ones(2, 3), "classes": [0, 1]}, folder, "m")
        >>> CAV.create_cav_dir_if_missing(folder, "m"); cav.save()
        >>> CAV.load(folder, "m", concepts, "fc1").stats["classes"]
        [0, 1]
    """

    def __init__(self, concepts: list[Concept], layer: str, stats: dict[str, Any] | None = None,
                 save_path: str = "./cav/", model_id: str = "default_model_id", fingerprint: str = "") -> None:
        self.concepts = concepts
        self.layer = layer
        self.stats = stats
        self.save_path = save_path
        self.model_id = model_id
        self.fingerprint = fingerprint

    @staticmethod
    def assemble_save_path(path: str, model_id: str, concepts: list[Concept], layer: str) -> str:
        return os.path.join(path, model_id, f"{sets_key(concepts)}-{layer}.pkl")

    @staticmethod
    def create_cav_dir_if_missing(save_path: str, model_id: str) -> None:
        os.makedirs(os.path.join(save_path, model_id), exist_ok=True)

    def save(self) -> None:
        stats = dict(self.stats or {})
        record = {
            "format": FORMAT,
            "concept_ids": [int(c.id) for c in self.concepts],
            "concept_names": [str(c.name) for c in self.concepts],
            "layer": self.layer,
            "model_id": self.model_id,
            "fingerprint": self.fingerprint,
            "weights": torch.as_tensor(stats.pop("weights")).detach().cpu(),
            "classes": [int(c) for c in stats.pop("classes")],
            "accs": float(stats.pop("accs", float("nan"))),
        }
        torch.save(record, CAV.assemble_save_path(self.save_path, self.model_id, self.concepts, self.layer))

    @staticmethod
    def load(cavs_path: str, model_id: str, concepts: list[Concept], layer: str,
             fingerprint: str | None = None) -> "CAV | None":
        """The cached CAV, None when there is none; ``fingerprint`` (of the model now) given, a
        CAV of another model state is refused as stale."""
        path = CAV.assemble_save_path(cavs_path, model_id, concepts, layer)
        if not os.path.exists(path):
            return None
        fix = "delete the file, use another save_path or model_id, or pass force_train=True"
        try:
            record = torch.load(path, weights_only=True)
        except Exception as error:  # a pickle of another library (Captum's numpy arrays) or a broken file
            fail("save_path", f"a CAV cache written by veracity ({fix})",
                 f"{path!r}, which cannot be read as one ({type(error).__name__})")
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            fail("save_path", f"a CAV cache written by veracity ({fix})", f"{path!r} in another format")
        names = [str(c.name) for c in concepts]
        if record["concept_names"] != names or record["layer"] != layer or record["model_id"] != model_id:
            fail("save_path", f"a CAV cache of concepts {names} at layer {layer!r} of model {model_id!r} ({fix})",
                 f"{path!r} holding concepts {record['concept_names']} at layer {record['layer']!r} "
                 f"of model {record['model_id']!r}")
        if fingerprint is not None and record["fingerprint"] != fingerprint:
            fail("save_path", f"CAVs trained on the model as it is now ({fix})",
                 f"{path!r}, a stale cache: model {model_id!r} has changed since its CAVs were trained")
        stats = {"weights": record["weights"], "classes": record["classes"], "accs": record["accs"]}
        return CAV(list(concepts), layer, stats, cavs_path, model_id, record["fingerprint"])
