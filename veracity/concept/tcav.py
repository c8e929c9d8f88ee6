"""TCAV (Kim et al. 2018): how sensitive a class is to a concept, with Captum 0.9's interface.

CAVs are the weights of linear classifiers separating concepts' activations at a layer;
a prediction's conceptual sensitivity is the directional derivative of the class score along
a CAV. ``interpret`` returns, per experimental set and layer, the fraction of inputs with a
positive sensitivity (``sign_count``) and, as Captum 0.9 computes it, the mean sensitivity
(``magnitude``).

Differences from Captum, all speed or safety: the activations of every layer come from one
forward pass per concept batch and the sensitivities of every layer from one forward and
backward pass per chunk (Captum runs one attribution per layer and writes activations to
disk); the default classifier is torch-native and deterministic; the CAV cache records the
concept names and a fingerprint of the model, and a stale or foreign cache is refused.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from veracity._core.capture import capture_layer_gradients, capture_layers
from veracity._core.validate import fail
from veracity.concept.cav import CAV, model_fingerprint
from veracity.concept.classifier import as_classifier
from veracity.concept.concept import Concept, ConceptInterpreter, check_sets, concept_batches, sets_key
from veracity.neurons.activations import named_layers

Scores = dict[str, dict[str, dict[str, Tensor]]]


def _flat(value: Any) -> Tensor:
    parts = value if isinstance(value, tuple) else (value,)
    return torch.cat([p.reshape(p.shape[0], -1) for p in parts], dim=1)


class TCAV(ConceptInterpreter):
    """Testing with Concept Activation Vectors (Kim et al., ICML 2018), Captum 0.9's signature.

    ``layers`` are names from ``model.named_modules()`` or modules of the model (results are
    keyed by name). ``classifier``: a :class:`~veracity.concept.Classifier`, a scikit-learn
    linear estimator, or None for the torch-native :class:`~veracity.concept.DefaultClassifier`.
    ``layer_attr_method``: None for plain layer gradients (Captum's default), or a layer
    attribution object whose ``layer`` is set per layer (on a copy). ``classifier_kwargs`` go to
    ``train_and_eval`` (e.g. ``test_split_ratio``). Added keywords: ``show_progress`` and
    ``chunk_rows`` (examples per model call; default: the memory budget), and
    ``allow_unbalanced``: by default no concept of a set may have more than twice the examples
    of another (a CAV fitted on unbalanced sets leans toward the larger concept, and its TCAV
    scores with it); Captum accepts any sizes silently, ``allow_unbalanced=True`` does too.

    Example:
        >>> import tempfile, torch
        >>> from veracity.data.toy import toy_mlp
        >>> model, x = toy_mlp(batch=6)
        >>> up = Concept(0, "up", torch.randn(10, 4, generator=torch.Generator().manual_seed(0)) + 1)
        >>> down = Concept(1, "down", torch.randn(10, 4, generator=torch.Generator().manual_seed(1)) - 1)
        >>> tcav = TCAV(model, ["0"], save_path=tempfile.mkdtemp())
        >>> scores = tcav.interpret(x, [[up, down]], target=0)
        >>> float(scores["0-1"]["0"]["sign_count"].sum())
        1.0
    """

    def __init__(self, model: nn.Module, layers: Any, model_id: str = "default_model_id", classifier: Any = None,
                 layer_attr_method: Any = None, attribute_to_layer_input: bool = False, save_path: str = "./cav/",
                 *, show_progress: bool = False, chunk_rows: int | None = None, allow_unbalanced: bool = False,
                 **classifier_kwargs: Any) -> None:
        super().__init__(model)
        if not isinstance(model, nn.Module):
            fail("model", "a torch.nn.Module", model, TypeError)
        if not model_id or not isinstance(model_id, str):
            fail("model_id", "a non-empty string naming the model", model_id)
        self.layer_modules = named_layers(model, layers)
        self.layers = list(self.layer_modules)
        self.model_id = model_id
        self.classifier = as_classifier(classifier)
        self.classifier_kwargs = classifier_kwargs
        self.layer_attr_method = layer_attr_method
        self.attribute_to_layer_input = attribute_to_layer_input
        self.save_path = save_path
        self.show_progress = show_progress
        self.chunk_rows = chunk_rows
        self.allow_unbalanced = allow_unbalanced
        self.cavs: dict[str, dict[str, CAV]] = {}
        CAV.create_cav_dir_if_missing(save_path, model_id)

    # activations and CAVs -----------------------------------------------------------------

    def concept_activations(self, concept: Concept, layers: list[str]) -> dict[str, Tensor]:
        """The concept's examples' flattened activations at ``layers``: one pass per batch."""
        parts: dict[str, list[Tensor]] = {name: [] for name in layers}
        wanted = {name: self.layer_modules[name] for name in layers}
        for batch in concept_batches(concept):
            values = capture_layers(self.model, batch, wanted, to_input=self.attribute_to_layer_input,
                                    chunk_rows=self.chunk_rows)
            assert isinstance(values, dict)
            for name in layers:
                parts[name].append(_flat(values[name]))
        return {name: torch.cat(chunks) for name, chunks in parts.items()}

    def compute_cavs(self, experimental_sets: list[list[Concept]], force_train: bool = False,
                     processes: int | None = None) -> dict[str, dict[str, CAV]]:
        """Load or train the CAVs of every set at every layer (``processes`` is accepted for
        Captum's signature; training runs in this process, it takes milliseconds per CAV)."""
        sets = check_sets(experimental_sets)
        fingerprint = model_fingerprint(self.model)
        missing: list[tuple[list[Concept], str]] = []
        for concepts in sets:
            key = sets_key(concepts)
            for layer in self.layers:
                cav = None if force_train else CAV.load(self.save_path, self.model_id, concepts, layer, fingerprint)
                if cav is None:
                    missing.append((concepts, layer))
                else:
                    self.cavs.setdefault(key, {})[layer] = cav
        needed: dict[int, tuple[Concept, set[str]]] = {}
        for concepts, layer in missing:
            for concept in concepts:
                needed.setdefault(concept.id, (concept, set()))[1].add(layer)
        activations = {cid: self.concept_activations(concept, [n for n in self.layers if n in layers])
                       for cid, (concept, layers) in needed.items()}
        for concepts, layer in missing:
            data = [(activations[c.id][layer], torch.full((activations[c.id][layer].shape[0],), c.id))
                    for c in concepts]
            counts = {c.name: int(values.shape[0]) for c, (values, _) in zip(concepts, data)}
            if max(counts.values()) > 2 * min(counts.values()) and not self.allow_unbalanced:
                fail("experimental_sets", "concepts of comparable sizes in a set, none with more than twice "
                     "the examples of another (or TCAV(..., allow_unbalanced=True))", f"examples per concept {counts}")
            stats = self.classifier.train_and_eval(data, **self.classifier_kwargs) or {}
            weights = torch.as_tensor(self.classifier.weights()).detach()
            classes = [int(c) for c in self.classifier.classes()]
            if weights.dim() != 2 or weights.shape[0] != len(classes):
                fail("classifier", "weights() of shape (classes, features) matching classes()",
                     f"weights of shape {tuple(weights.shape)} for classes {classes}")
            cav = CAV(concepts, layer, {**stats, "weights": weights, "classes": classes}, self.save_path,
                      self.model_id, fingerprint)
            cav.save()
            self.cavs.setdefault(sets_key(concepts), {})[layer] = cav
        return self.cavs

    # sensitivities and scores -------------------------------------------------------------

    def layer_sensitivities(self, inputs: Any, target: Any = None, additional_forward_args: Any = None,
                            **kwargs: Any) -> dict[str, Tensor]:
        """Per layer, ``(examples, features)``: the gradient of the target at the layer (one
        pass for all layers), or ``layer_attr_method``'s attributions."""
        if self.layer_attr_method is None:
            if kwargs:
                fail("kwargs", "no extra arguments (they go to layer_attr_method, which is None)", str(sorted(kwargs)))
            _, grads = capture_layer_gradients(
                self.model, inputs, self.layer_modules, target,
                () if additional_forward_args is None else additional_forward_args,
                to_input=self.attribute_to_layer_input, chunk_rows=self.chunk_rows, show_progress=self.show_progress)
            assert isinstance(grads, dict)
            return {name: _flat(grads[name]) for name in self.layers}
        result = {}
        for name, module in self.layer_modules.items():
            method = copy.copy(self.layer_attr_method)
            method.layer = module
            result[name] = _flat(method.attribute(
                inputs, target=target, additional_forward_args=additional_forward_args,
                attribute_to_layer_input=self.attribute_to_layer_input, **kwargs))
        return result

    def interpret(self, inputs: Any, experimental_sets: list[list[Concept]], target: Any = None,
                  additional_forward_args: Any = None, processes: int | None = None, **kwargs: Any) -> Scores:
        """``scores[set_key][layer] = {"sign_count": (k,), "magnitude": (k,)}``, in the order of
        the concepts of each set (``set_key`` joins their ids with '-', as Captum)."""
        if "attribute_to_layer_input" in kwargs:
            fail("attribute_to_layer_input", "a TCAV constructor argument (used for activations and gradients)",
                 "it as an interpret() argument")
        sets = check_sets(experimental_sets)
        self.compute_cavs(sets, processes=processes)
        sensitivities = self.layer_sensitivities(inputs, target, additional_forward_args, **kwargs)
        scores: Scores = {key: {} for key in (sets_key(c) for c in sets)}
        for layer in self.layers:
            cavs = [self.cavs[sets_key(concepts)][layer] for concepts in sets]
            # every set's CAV rows in one product per layer
            values = self.sensitivities(cavs, sensitivities[layer])
            start = 0
            for concepts, cav in zip(sets, cavs):
                classes = list((cav.stats or {})["classes"])
                part = values[:, start:start + len(classes)]
                start += len(classes)
                order = torch.tensor([classes.index(c.id) for c in concepts], device=part.device)
                scores[sets_key(concepts)][layer] = {"sign_count": (part > 0).float().mean(0).index_select(0, order),
                                                     "magnitude": part.mean(0).index_select(0, order)}
        return scores

    def sensitivities(self, cavs: list[CAV], sensitivity: Tensor) -> Tensor:
        """``(examples, rows)`` directional derivatives along every row of the ``cavs`` of one
        layer, side by side (float32, as Captum)."""
        rows = []
        for cav in cavs:
            weights = torch.as_tensor((cav.stats or {})["weights"]).float().to(sensitivity.device)
            if weights.dim() != 2 or weights.shape[1] != sensitivity.shape[1]:
                fail("save_path", f"CAVs with {sensitivity.shape[1]} features at layer {cav.layer!r}",
                     f"CAVs of shape {tuple(weights.shape)} (trained on another layer shape; pass force_train=True)")
            rows.append(weights)
        return sensitivity.float() @ torch.cat(rows).T
