"""The neuron methods: each is an input-space method explaining the selected neuron.

``neuron_selector`` is an int, a tuple of ints and slices (indices into the layer's values
after the batch dimension; a slice sums the neurons it covers) or a callable mapping the
layer's values to one value per example. ``attribute_to_neuron_input`` selects from the
layer's input instead of its output.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from veracity._core.call import Call
from veracity._core.validate import check_grad_kwargs
from veracity.attr._base import GradientAttribution, PerturbationAttribution
from veracity.attr.gradient.deeplift import DeepLift, DeepLiftShap
from veracity.attr.gradient.gradient_shap import GradientShap
from veracity.attr.gradient.guided import Deconvolution, GuidedBackprop
from veracity.attr.gradient.integrated_gradients import (
    IntegratedGradients,
    check_path_settings,
    integrate_path_by,
)
from veracity.attr.gradient.saliency import Saliency
from veracity.attr.neuron.adapter import NeuronAttribution, conductance_call, neuron_call
from veracity.attr.perturbation.ablation import FeatureAblation


class NeuronGradient(NeuronAttribution, GradientAttribution):
    """The gradient of the selected neuron with respect to the inputs.

    Example:
        >>> from veracity.attr import NeuronGradient
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp()
        >>> NeuronGradient(model, model[1]).attribute(x, 5).shape
        torch.Size([3, 4])
    """

    def attribute(self, inputs: Any, neuron_selector: Any, additional_forward_args: Any = None,
                  attribute_to_neuron_input: bool = False) -> Any:
        return self.attribute_call(self._call(inputs, additional_forward_args), neuron_selector,
                                   attribute_to_neuron_input)

    def attribute_call(self, call: Call, neuron_selector: Any, attribute_to_neuron_input: bool = False) -> Any:
        return Saliency(self.forward_func).attribute_call(
            neuron_call(self, call, neuron_selector, attribute_to_neuron_input), abs=False)


class _Multiplying(NeuronAttribution, GradientAttribution):
    def __init__(self, forward_func: Callable[..., Any], layer: nn.Module, device_ids: list[int] | None = None,
                 multiply_by_inputs: bool = True) -> None:
        super().__init__(forward_func, layer, device_ids)
        self._multiply_by_inputs = multiply_by_inputs


class NeuronIntegratedGradients(_Multiplying):
    """Integrated Gradients (Sundararajan et al. 2017) of the selected neuron.

    Example:
        >>> from veracity.attr import NeuronIntegratedGradients
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp()
        >>> NeuronIntegratedGradients(model, model[1]).attribute(x, 5).shape
        torch.Size([3, 4])
    """

    def attribute(self, inputs: Any, neuron_selector: Any, baselines: Any = None, additional_forward_args: Any = None,
                  n_steps: int = 50, method: str = "gausslegendre", internal_batch_size: int | None = None,
                  attribute_to_neuron_input: bool = False, *, show_progress: bool = False) -> Any:
        return self.attribute_call(self._call(inputs, additional_forward_args), neuron_selector, baselines,
                                   n_steps, method, internal_batch_size, attribute_to_neuron_input,
                                   show_progress=show_progress)

    def attribute_call(self, call: Call, neuron_selector: Any, baselines: Any = None, n_steps: int = 50,
                       method: str = "gausslegendre", internal_batch_size: int | None = None,
                       attribute_to_neuron_input: bool = False, *, show_progress: bool = False) -> Any:
        return IntegratedGradients(self.forward_func, self._multiply_by_inputs).attribute_call(
            neuron_call(self, call, neuron_selector, attribute_to_neuron_input), baselines, n_steps, method,
            internal_batch_size, show_progress=show_progress)


class NeuronConductance(_Multiplying):
    """Conductance of each input through the selected neuron to the explained output.

    Dhamdhere et al. (ICLR 2019): Integrated Gradients of the output where gradients pass the
    layer only through the neuron, i.e. ``(dF/dneuron) * (dneuron/dx)`` along the path.
    ``method`` defaults to ``riemann_trapezoid``, as in Captum.

    ``method="exact"`` integrates exactly on a piecewise-linear network (one evaluation per
    linear piece of the path). ``method="adaptive"`` (``tolerance``, ``max_evaluations``) refines
    the path until the estimated error of the neuron's total conductance, relative to
    ``|F(x) - F(x')|``, is below ``tolerance``: unlike IG's, a neuron's share of the output
    has no closed form to check intervals against, so ``report.error_bound`` is an estimate
    (see ``docs/accuracy.md``). ``return_report=True`` appends the
    :class:`~veracity._core.adaptive.PathReport`.

    Example:
        >>> from veracity.attr import NeuronConductance
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp()
        >>> NeuronConductance(model, model[1]).attribute(x, 5, target=1).shape
        torch.Size([3, 4])
        >>> relu = toy_mlp(activation="relu")[0].double()
        >>> attr, report = NeuronConductance(relu, relu[1]).attribute(
        ...     x.double(), 5, target=1, method="exact", return_report=True)
        >>> attr.shape, bool((report.error_bound == 0).all())
        (torch.Size([3, 4]), True)
    """

    def attribute(self, inputs: Any, neuron_selector: Any, baselines: Any = None, target: Any = None,
                  additional_forward_args: Any = None, n_steps: int = 50, method: str = "riemann_trapezoid",
                  internal_batch_size: int | None = None, attribute_to_neuron_input: bool = False,
                  grad_kwargs: Any = None, *, show_progress: bool = False, tolerance: float = 1e-3,
                  max_evaluations: int | None = None, return_report: bool = False) -> Any:
        options = check_grad_kwargs(grad_kwargs)
        call = self._call(inputs, additional_forward_args, target).replace(grad_kwargs=options)
        return self.attribute_call(call, neuron_selector, baselines,
                                   n_steps, method, internal_batch_size, attribute_to_neuron_input,
                                   show_progress=show_progress, tolerance=tolerance,
                                   max_evaluations=max_evaluations, return_report=return_report)

    def attribute_call(self, call: Call, neuron_selector: Any, baselines: Any = None, n_steps: int = 50,
                       method: str = "riemann_trapezoid", internal_batch_size: int | None = None,
                       attribute_to_neuron_input: bool = False, *, show_progress: bool = False,
                       tolerance: float = 1e-3, max_evaluations: int | None = None,
                       return_report: bool = False) -> Any:
        check_path_settings(method, n_steps, tolerance, max_evaluations)
        call = conductance_call(self, call, neuron_selector, attribute_to_neuron_input)
        base = call.baselines(baselines)
        integrated, report = integrate_path_by(call, base, n_steps, method, internal_batch_size, show_progress,
                                               tolerance=tolerance, max_evaluations=max_evaluations, estimate=True)
        if self._multiply_by_inputs:
            integrated = tuple(g * (x - b) for g, x, b in zip(integrated, call.inputs, base))
        result = call.finish(integrated)
        return (result, report) if return_report else result


class NeuronGradientShap(_Multiplying):
    """GradientShap (Lundberg & Lee 2017) of the selected neuron; ``generator`` seeds it.

    Example:
        >>> import torch
        >>> from veracity.attr import NeuronGradientShap
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp()
        >>> NeuronGradientShap(model, model[1]).attribute(x, 5, torch.randn(6, 4)).shape
        torch.Size([3, 4])
    """

    def attribute(self, inputs: Any, neuron_selector: Any, baselines: Any, n_samples: int = 5,
                  stdevs: float = 0.0, additional_forward_args: Any = None, attribute_to_neuron_input: bool = False,
                  *, generator: torch.Generator | None = None, internal_batch_size: int | None = None) -> Any:
        return self.attribute_call(self._call(inputs, additional_forward_args), neuron_selector, baselines,
                                   n_samples, stdevs, attribute_to_neuron_input, generator=generator,
                                   internal_batch_size=internal_batch_size)

    def attribute_call(self, call: Call, neuron_selector: Any, baselines: Any, n_samples: int = 5,
                       stdevs: float = 0.0, attribute_to_neuron_input: bool = False, *,
                       generator: torch.Generator | None = None, internal_batch_size: int | None = None) -> Any:
        return GradientShap(self.forward_func, self._multiply_by_inputs).attribute_call(
            neuron_call(self, call, neuron_selector, attribute_to_neuron_input), baselines, n_samples, stdevs,
            internal_batch_size=internal_batch_size, generator=generator)


class NeuronDeepLift(_Multiplying):
    """DeepLift (Rescale rule, Shrikumar et al. 2017) of the selected neuron.

    Example:
        >>> from veracity.attr import NeuronDeepLift
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp(activation="relu")
        >>> NeuronDeepLift(model, model[1]).attribute(x, 5).shape
        torch.Size([3, 4])
    """

    _eager_only = True

    def __init__(self, model: nn.Module, layer: nn.Module, multiply_by_inputs: bool = True,
                 eps: float = 1e-10) -> None:
        super().__init__(model, layer, None, multiply_by_inputs)
        self.eps = eps

    def attribute(self, inputs: Any, neuron_selector: Any, baselines: Any = None, additional_forward_args: Any = None,
                  attribute_to_neuron_input: bool = False,
                  custom_attribution_func: Callable[..., Any] | None = None) -> Any:
        return self.attribute_call(self._call(inputs, additional_forward_args), neuron_selector, baselines,
                                   attribute_to_neuron_input, custom_attribution_func)

    def attribute_call(self, call: Call, neuron_selector: Any, baselines: Any = None,
                       attribute_to_neuron_input: bool = False,
                       custom_attribution_func: Callable[..., Any] | None = None) -> Any:
        return DeepLift(self.forward_func, self._multiply_by_inputs, self.eps).attribute_call(
            neuron_call(self, call, neuron_selector, attribute_to_neuron_input), baselines,
            custom_attribution_func=custom_attribution_func)


class NeuronDeepLiftShap(NeuronDeepLift):
    """DeepLiftShap of the selected neuron: DeepLift averaged over a baseline distribution.

    Example:
        >>> import torch
        >>> from veracity.attr import NeuronDeepLiftShap
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp(activation="relu")
        >>> NeuronDeepLiftShap(model, model[1]).attribute(x, 5, torch.randn(6, 4)).shape
        torch.Size([3, 4])
    """

    def attribute(self, inputs: Any, neuron_selector: Any, baselines: Any,  # type: ignore[override]
                  additional_forward_args: Any = None, attribute_to_neuron_input: bool = False,
                  custom_attribution_func: Callable[..., Any] | None = None, *,
                  internal_batch_size: int | None = None) -> Any:
        return self.attribute_call(self._call(inputs, additional_forward_args), neuron_selector, baselines,
                                   attribute_to_neuron_input, custom_attribution_func,
                                   internal_batch_size=internal_batch_size)

    def attribute_call(self, call: Call, neuron_selector: Any, baselines: Any = None,
                       attribute_to_neuron_input: bool = False,
                       custom_attribution_func: Callable[..., Any] | None = None, *,
                       internal_batch_size: int | None = None) -> Any:
        return DeepLiftShap(self.forward_func, self._multiply_by_inputs, self.eps).attribute_call(
            neuron_call(self, call, neuron_selector, attribute_to_neuron_input), baselines,
            custom_attribution_func=custom_attribution_func, internal_batch_size=internal_batch_size)


class _Guided(NeuronAttribution, GradientAttribution):
    _input_method: type
    _eager_only = True

    def __init__(self, model: nn.Module, layer: nn.Module, device_ids: list[int] | None = None) -> None:
        super().__init__(model, layer, device_ids)

    def attribute(self, inputs: Any, neuron_selector: Any, additional_forward_args: Any = None,
                  attribute_to_neuron_input: bool = False) -> Any:
        return self.attribute_call(self._call(inputs, additional_forward_args), neuron_selector,
                                   attribute_to_neuron_input)

    def attribute_call(self, call: Call, neuron_selector: Any, attribute_to_neuron_input: bool = False) -> Any:
        return type(self)._input_method(self.forward_func).attribute_call(
            neuron_call(self, call, neuron_selector, attribute_to_neuron_input))


class NeuronGuidedBackprop(_Guided):
    """Guided Backpropagation (Springenberg et al. 2015) of the selected neuron.

    Example:
        >>> from veracity.attr import NeuronGuidedBackprop
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp(activation="relu")
        >>> NeuronGuidedBackprop(model, model[1]).attribute(x, 5).shape
        torch.Size([3, 4])
    """

    _input_method = GuidedBackprop


class NeuronDeconvolution(_Guided):
    """Deconvolution (Zeiler & Fergus 2014) of the selected neuron.

    Example:
        >>> from veracity.attr import NeuronDeconvolution
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp(activation="relu")
        >>> NeuronDeconvolution(model, model[1]).attribute(x, (slice(0, 4),)).shape  # neurons 0-3, summed
        torch.Size([3, 4])
    """

    _input_method = Deconvolution


class NeuronFeatureAblation(NeuronAttribution, PerturbationAttribution):
    """Feature ablation of the inputs, measured on the selected neuron.

    Example:
        >>> import torch
        >>> from veracity.attr import NeuronFeatureAblation
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp(activation="relu")
        >>> attr = NeuronFeatureAblation(model, model[1]).attribute(x, 5, feature_mask=torch.tensor([[0, 0, 1, 1]]))
        >>> bool((attr[:, 0] == attr[:, 1]).all())  # one value per group
        True
    """

    def attribute(self, inputs: Any, neuron_selector: Any, baselines: Any = None, additional_forward_args: Any = None,
                  feature_mask: Any = None, attribute_to_neuron_input: bool = False,
                  perturbations_per_eval: int | None = None, *, show_progress: bool = False) -> Any:
        call = self._call(inputs, additional_forward_args, need_float=False)
        return self.attribute_call(call, neuron_selector, baselines, feature_mask, attribute_to_neuron_input,
                                   perturbations_per_eval, show_progress=show_progress)

    def attribute_call(self, call: Call, neuron_selector: Any, baselines: Any = None, feature_mask: Any = None,
                       attribute_to_neuron_input: bool = False, perturbations_per_eval: int | None = None, *,
                       show_progress: bool = False) -> Any:
        return FeatureAblation(self.forward_func).attribute_call(
            neuron_call(self, call, neuron_selector, attribute_to_neuron_input), baselines, feature_mask,
            perturbations_per_eval, show_progress)
