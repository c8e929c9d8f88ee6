"""Score-CAM and Ablation-CAM: channel weights from forward passes only, batched by the engine."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from veracity._core.call import Call
from veracity._core.engine import Points, forward_points, outputs_at
from veracity._core.inputs import softmax_outputs
from veracity._core.validate import check_choice, check_optional_positive_int, fail
from veracity.attr._base import PerturbationAttribution
from veracity.attr.cam.combiner import activations_of, combine, finish, upsample
from veracity.attr.layer.adapter import LayerAttribution, at_layers
from veracity.attr.layer.perturbation import LayerFeatureAblation

SCORES = ("increase", "channel_softmax")


def normalised_maps(activations: Tensor, size: tuple[int, ...], mode: str | None) -> Tensor:
    """Each channel's map upsampled to ``size`` and min-max scaled to [0, 1] (constant: 0)."""
    maps = upsample(activations, size, mode)
    flat = maps.flatten(2)
    low, high = flat.min(2, keepdim=True).values, flat.max(2, keepdim=True).values
    span = high - low
    scaled = torch.where(span > 0, (flat - low) / torch.where(span > 0, span, torch.ones_like(span)),
                         torch.zeros_like(flat))
    return scaled.view_as(maps)


def _chunk_rows(perturbations_per_eval: int | None, batch: int) -> int | None:
    check_optional_positive_int("perturbations_per_eval", perturbations_per_eval)
    return None if perturbations_per_eval is None else perturbations_per_eval * batch


class LayerScoreCam(LayerAttribution, PerturbationAttribution):
    """Score-CAM: each channel weighted by how much its map, used as a mask, raises the score.

    Wang et al., "Score-CAM: Score-Weighted Visual Explanations for CNNs" (CVPRW 2020). Each
    activation map is upsampled to the input (bilinear), min-max scaled to [0, 1] and used to
    mask the input: ``baseline + map * (x - baseline)`` (``baselines`` default 0, i.e.
    ``x * map``). With ``score="increase"`` (the paper's) the weight is the softmax
    probability of the target for the masked input minus that for the baseline; with
    ``score="channel_softmax"`` (pytorch-grad-cam's variant) it is the softmax over channels
    of the target's raw output. The CAM is ``relu(sum_c w_c A_c)`` (``relu_attributions``).
    All ``channels x batch`` masked inputs go through the engine in chunks (no gradients;
    ``perturbations_per_eval`` channels per model call, or the memory budget). Inputs with
    as many dimensions as the layer are masked; others are passed as they are.

    Example:
        >>> from veracity.attr import LayerScoreCam
        >>> from veracity.data import toy_cnn
        >>> model, x = toy_cnn()
        >>> cam = LayerScoreCam(model, model[1]).attribute(x, target=0, perturbations_per_eval=2)
        >>> cam.shape, bool((cam >= 0).all())
        (torch.Size([2, 1, 8, 8]), True)
    """

    def attribute(self, inputs: Any, target: Any = None, additional_forward_args: Any = None,
                  attribute_to_layer_input: bool = False, relu_attributions: bool = True, *,
                  baselines: Any = None, score: str = "increase", perturbations_per_eval: int | None = None,
                  upsample_to_input: bool = False, interpolate_mode: str | None = None,
                  show_progress: bool = False) -> Tensor:
        call = Call.of(self.forward_func, inputs, target, additional_forward_args, need_float=True)
        return self.attribute_call(call, attribute_to_layer_input, relu_attributions, baselines=baselines, score=score,
                                   perturbations_per_eval=perturbations_per_eval, upsample_to_input=upsample_to_input,
                                   interpolate_mode=interpolate_mode, show_progress=show_progress)

    def attribute_call(self, call: Call, attribute_to_layer_input: bool = False, relu_attributions: bool = True, *,
                       baselines: Any = None, score: str = "increase", perturbations_per_eval: int | None = None,
                       upsample_to_input: bool = False, interpolate_mode: str | None = None,
                       show_progress: bool = False) -> Tensor:
        call = at_layers(self, call, attribute_to_layer_input)
        check_choice("score", score, SCORES)
        rows = _chunk_rows(perturbations_per_eval, call.batch)
        base = call.baselines(baselines)
        activations = activations_of(call)
        weights = self.channel_weights(call, activations, base, score, rows, show_progress)
        return finish(call, combine(activations, weights, relu_attributions), upsample_to_input, interpolate_mode)

    def channel_weights(self, call: Call, activations: Tensor, base: tuple[Tensor, ...], score: str,
                        rows: int | None, show_progress: bool) -> Tensor:
        """The ``(batch, channels)`` Score-CAM weights."""
        masked = [i for i, x in enumerate(call.inputs) if x.dim() == activations.dim()]
        if not masked:
            fail("inputs", f"an input with {activations.dim() - 2} spatial dimensions, like the layer",
                 [tuple(x.shape) for x in call.inputs])
        maps = {i: normalised_maps(activations, tuple(call.inputs[i].shape[2:]), None) for i in masked}
        differences = [x - b for x, b in zip(call.inputs, base)]

        def build(start: int, stop: int) -> tuple[Tensor, ...]:
            k = stop - start
            result = []
            for i, (x, b, d) in enumerate(zip(call.inputs, base, differences)):
                if i in maps:
                    mask = maps[i][:, start:stop].transpose(0, 1).unsqueeze(2)  # (k, B, 1, *spatial)
                    result.append((b.unsqueeze(0) + mask * d.unsqueeze(0)).reshape(k * call.batch, *x.shape[1:]))
                else:
                    result.append(x.repeat(k, *([1] * (x.dim() - 1))))
            return tuple(result)

        scores: list[Tensor] = []
        model = softmax_outputs(self.forward_func) if score == "increase" else self.forward_func
        points = Points.of(activations.shape[1], call.inputs, build)
        forward_points(call.with_forward(model), points, lambda s, e, v: scores.append(v), chunk_rows=rows,
                       show_progress=show_progress, desc="LayerScoreCam")
        per_channel = torch.cat(scores).t().to(activations.dtype)  # (B, C)
        if score == "channel_softmax":
            return torch.softmax(per_channel, dim=1)
        reference = outputs_at(call.with_forward(model), [base])[0].to(activations.dtype)
        return per_channel - reference.unsqueeze(1)


class LayerAblationCam(LayerAttribution, PerturbationAttribution):
    """Ablation-CAM: each channel weighted by the relative drop of the score when it is zeroed.

    Desai & Ramaswamy, "Ablation-CAM" (WACV 2020): ``w_c = (y - y_c) / y`` where ``y_c`` is the
    target's output with channel ``c`` of the layer set to 0; the CAM is ``relu(sum_c w_c A_c)``
    (``relu_attributions``). The ablations are LayerFeatureAblation's, one group per channel,
    batched by the engine (``perturbations_per_eval`` channels per model call, or the budget).

    Example:
        >>> from veracity.attr import LayerAblationCam
        >>> from veracity.data import toy_cnn
        >>> model, x = toy_cnn(size=6)
        >>> LayerAblationCam(model, model[1]).attribute(x, target=2, upsample_to_input=True).shape
        torch.Size([2, 1, 6, 6])
    """

    def attribute(self, inputs: Any, target: Any = None, additional_forward_args: Any = None,
                  attribute_to_layer_input: bool = False, relu_attributions: bool = True, *,
                  perturbations_per_eval: int | None = None, upsample_to_input: bool = False,
                  interpolate_mode: str | None = None, show_progress: bool = False) -> Tensor:
        return self.attribute_call(Call.of(self.forward_func, inputs, target, additional_forward_args),
                                   attribute_to_layer_input, relu_attributions,
                                   perturbations_per_eval=perturbations_per_eval, upsample_to_input=upsample_to_input,
                                   interpolate_mode=interpolate_mode, show_progress=show_progress)

    def attribute_call(self, call: Call, attribute_to_layer_input: bool = False, relu_attributions: bool = True, *,
                       perturbations_per_eval: int | None = None, upsample_to_input: bool = False,
                       interpolate_mode: str | None = None, show_progress: bool = False) -> Tensor:
        call = at_layers(self, call, attribute_to_layer_input)
        activations = activations_of(call)
        channels = torch.arange(activations.shape[1], device=activations.device)
        channel_mask = channels.view(1, -1, *([1] * (activations.dim() - 2))).expand(1, *activations.shape[1:])
        drops = LayerFeatureAblation(self.forward_func, self.layer).attribute_call(
            call, 0.0, channel_mask, attribute_to_layer_input, perturbations_per_eval, show_progress=show_progress)
        drops = drops.flatten(2)[:, :, 0]  # one value per channel
        original = outputs_at(call, [call.inputs])[0].to(drops.dtype)
        weights = drops / original.unsqueeze(1)
        return finish(call, combine(activations, weights, relu_attributions), upsample_to_input, interpolate_mode)
