"""KSSD, CCM and FAM for any attribution method, and a table across methods and artifacts.

A method is a veracity (or Captum-style) attribution class built from the model alone
(``Saliency``, ``IntegratedGradients``, ...; ``attribute_kwargs`` go to ``attribute``) or a
function ``explain(model, inputs, target) -> maps`` (for methods that need more to build:
``NoiseTunnel(Saliency(model))``, ``LayerGradCam(model, layer)`` upsampled, ...). Maps are
``(batch, C, H, W)`` with the inputs' height and width (any ``C``: they are summed).

Each model is explained with one batched call over the inputs with and without the artifact
together; the library's engine does the chunking, no Python loop runs over examples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import Tensor

from veracity._core.predict import predict
from veracity._core.progress import progress_bar
from veracity._core.validate import fail
from veracity.spurious.measures import (
    Similarity,
    cause_for_concern,
    false_alarm,
    known_spurious_signal_detection,
)

__all__ = ["SpuriousScores", "explain_with", "spurious_signal_scores", "evaluate_methods", "markdown_table"]


def explain_with(method: Any, model: Any, inputs: Tensor, target: Any, **attribute_kwargs: Any) -> Tensor:
    """The maps of ``method`` (a class or ``explain(model, inputs, target)``) for ``model``,
    checked to be ``(batch, C, H, W)`` with the inputs' batch, height and width; detached.

    Example:
        >>> import torch
        >>> from veracity.attr import Saliency
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
        >>> explain_with(Saliency, model, torch.ones(3, 1, 2, 2), 0).shape
        torch.Size([3, 1, 2, 2])
    """
    if isinstance(method, type) and hasattr(method, "attribute"):
        try:
            instance = method(model)
        except TypeError as error:
            fail("method", "an attribution class built from the model alone, or a function explain(model, "
                 f"inputs, target) (e.g. for a layer method) ({error})", method.__name__, TypeError)
        maps = instance.attribute(inputs, target=target, **attribute_kwargs)
    elif hasattr(method, "attribute"):
        fail("method", "an attribution class or a function explain(model, inputs, target) (an instance is "
             "bound to one model; the metrics explain two)", f"an instance of {type(method).__name__}", TypeError)
    elif callable(method):
        if attribute_kwargs:
            fail("attribute_kwargs", "none with a function (give them to the function itself)",
                 repr(sorted(attribute_kwargs)), TypeError)
        with torch.enable_grad():
            maps = method(model, inputs, target)
    else:
        fail("method", "an attribution class or a function explain(model, inputs, target)", method, TypeError)
    if not isinstance(maps, Tensor) or maps.dim() != 4 or maps.shape[0] != inputs.shape[0] \
            or maps.shape[-2:] != inputs.shape[-2:]:
        fail("method", f"maps shaped (batch, C, H, W) for the inputs {tuple(inputs.shape)}",
             maps if isinstance(maps, Tensor) else type(maps).__name__)
    return maps.detach()


@dataclass(frozen=True)
class SpuriousScores:
    """Per-example KSSD, CCM and FAM of one method (see :mod:`veracity.spurious.measures`), the
    KSSD of uniformly random maps on the same masks (``kssd_random``), and the four maps."""

    kssd: Tensor
    ccm: Tensor
    fam: Tensor
    kssd_random: Tensor
    measure: str
    maps: dict[str, Tensor]

    def means(self) -> dict[str, float]:
        """``{"kssd", "kssd_random", "ccm", "fam"}``: means over examples (NaN skipped)."""
        return {name: float(getattr(self, name).double().nanmean())
                for name in ("kssd", "kssd_random", "ccm", "fam")}


def _check_inputs(name: str, inputs: Any) -> Tensor:
    if not isinstance(inputs, Tensor) or inputs.dim() != 4 or not inputs.is_floating_point():
        fail(name, "a floating-point tensor shaped (batch, C, H, W)", inputs, TypeError)
    return inputs


def _targets(model: Any, inputs: Tensor, target: Any) -> Any:
    """Each model's own predicted class when ``target`` is None, else ``target`` for both halves."""
    if target is None:
        return predict(model, inputs).argmax(1)
    if isinstance(target, Tensor) and target.dim() == 1:
        return torch.cat([target, target]).to(inputs.device)
    return target


def spurious_signal_scores(method: Any, spurious_model: Any, normal_model: Any, with_artifact: Tensor,
                           masks: Tensor, without_artifact: Tensor, *, target: Any = None, measure: str = "ssim",
                           similarity: Similarity | None = None, seed: int = 0,
                           **attribute_kwargs: Any) -> SpuriousScores:
    """KSSD, CCM and FAM of ``method`` (Adebayo et al., ICLR 2022).

    ``with_artifact`` and ``without_artifact`` are the same inputs with and without the
    artifact (e.g. ``data.test.images`` and ``data.test.clean`` of :func:`spurious_digits`),
    ``masks`` the planted pixels. ``target=None`` explains each model's own predicted class
    (what a user would look at); an int or a 1-d tensor of labels explains that class in both
    models (a list of ints is taken as such a tensor). ``seed`` draws the random maps of ``kssd_random``.

    Example:
        >>> import torch
        >>> from veracity.attr import Saliency
        >>> from veracity.data.toy import toy_cnn
        >>> (spurious, x), (normal, _) = toy_cnn(batch=4, seed=0), toy_cnn(seed=1)
        >>> masks = torch.zeros(4, 1, 8, 8, dtype=torch.bool); masks[..., :2, :2] = True
        >>> scores = spurious_signal_scores(Saliency, spurious, normal, x, masks, x, measure="roc_auc")
        >>> scores.kssd.shape, sorted(scores.means())
        (torch.Size([4]), ['ccm', 'fam', 'kssd', 'kssd_random'])
    """
    with_artifact = _check_inputs("with_artifact", with_artifact)
    without_artifact = _check_inputs("without_artifact", without_artifact)
    if without_artifact.shape[1:] != with_artifact.shape[1:]:
        features = ", ".join(map(str, with_artifact.shape[1:]))
        fail("without_artifact", f"inputs shaped like with_artifact (n, {features})", without_artifact)
    n = with_artifact.shape[0]
    both = torch.cat([with_artifact, without_artifact])
    if isinstance(target, (list, tuple)) and all(isinstance(t, int) for t in target):
        target = torch.tensor(target, dtype=torch.long)
    if isinstance(target, Tensor) and target.dim() == 1 and target.shape[0] != n:
        fail("target", f"one label per input ({n})", target)
    if isinstance(target, Tensor) and target.dim() == 1 and without_artifact.shape[0] != n:
        fail("without_artifact", f"as many inputs as with_artifact ({n}) when target is a tensor", without_artifact)
    spurious = explain_with(method, spurious_model, both, _targets(spurious_model, both, target), **attribute_kwargs)
    normal = explain_with(method, normal_model, both, _targets(normal_model, both, target), **attribute_kwargs)
    kssd = known_spurious_signal_detection(spurious[:n], masks, measure)
    generator = torch.Generator().manual_seed(seed)
    random_maps = torch.rand(spurious[:n].shape, generator=generator).to(spurious.device)
    return SpuriousScores(
        kssd=kssd,
        ccm=cause_for_concern(spurious[:n], normal[:n], similarity),
        fam=false_alarm(spurious[n:], normal[n:], similarity),
        kssd_random=known_spurious_signal_detection(random_maps, masks, measure),
        measure=measure,
        maps={"spurious_with": spurious[:n], "normal_with": normal[:n],
              "spurious_without": spurious[n:], "normal_without": normal[n:]},
    )


def evaluate_methods(methods: Mapping[str, Any], spurious_model: Any, normal_model: Any, with_artifact: Tensor,
                     masks: Tensor, without_artifact: Tensor, *, show_progress: bool = False,
                     **options: Any) -> dict[str, SpuriousScores]:
    """:func:`spurious_signal_scores` for each method of ``methods`` (name -> method);
    ``options`` (``target``, ``measure``, ``similarity``, ``seed``) are shared.

    Example:
        >>> import torch
        >>> from veracity.attr import InputXGradient, Saliency
        >>> from veracity.data.toy import toy_cnn
        >>> (spurious, x), (normal, _) = toy_cnn(seed=0), toy_cnn(seed=1)
        >>> masks = torch.zeros(2, 1, 8, 8, dtype=torch.bool); masks[..., 0, :] = True
        >>> sorted(evaluate_methods({"Gradient": Saliency, "IxG": InputXGradient},
        ...                         spurious, normal, x, masks, x))
        ['Gradient', 'IxG']
    """
    if not isinstance(methods, Mapping) or not methods:
        fail("methods", "a non-empty mapping name -> method", methods, TypeError)
    results: dict[str, SpuriousScores] = {}
    with progress_bar(len(methods), show_progress, "spurious-signal metrics") as bar:
        for name, method in methods.items():
            results[name] = spurious_signal_scores(method, spurious_model, normal_model, with_artifact, masks,
                                                   without_artifact, **options)
            bar.update()
    return results


def markdown_table(results: Mapping[str, Mapping[str, SpuriousScores]]) -> str:
    """A Markdown table, one row per (artifact, method): mean KSSD (and the random-map KSSD),
    CCM and FAM. ``results`` maps an artifact name to :func:`evaluate_methods`'s result.

    Example:
        >>> import torch
        >>> scores = SpuriousScores(torch.ones(2), torch.zeros(2), torch.ones(2), torch.full((2,), 0.5),
        ...                         "roc_auc", {})
        >>> print(markdown_table({"patch": {"Gradient": scores}}))
        | artifact | method | KSSD (roc_auc) ↑ | random map | CCM ↓ | FAM ↑ |
        |---|---|---|---|---|---|
        | patch | Gradient | 1.000 | 0.500 | 0.000 | 1.000 |
    """
    measures = {s.measure for rows in results.values() for s in rows.values()}
    label = measures.pop() if len(measures) == 1 else "mixed"
    lines = [f"| artifact | method | KSSD ({label}) ↑ | random map | CCM ↓ | FAM ↑ |", "|---|---|---|---|---|---|"]
    for artifact, rows in results.items():
        for method, scores in rows.items():
            m = scores.means()
            cells = [m["kssd"], m["kssd_random"], m["ccm"], m["fam"]]
            lines.append(f"| {artifact} | {method} | " + " | ".join(
                "nan" if math.isnan(c) else f"{c:.3f}" for c in cells) + " |")
    return "\n".join(lines)
