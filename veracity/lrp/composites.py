"""Composites with Zennit's names: which rule each module gets, plus the canonizers to apply
first. A composite only *describes*; :class:`veracity.attr.LRP` (``composite=``) and the CRP
functions apply it for one pass and undo everything afterwards.

Modules are visited in ``model.named_modules()`` order after the canonizers ran; the first
matching entry wins; a module with no entry keeps its plain gradient (reshapes, max pooling).
Every composite starts from Zennit's base map: activations -> :class:`Pass`, the residual
:class:`Sum` and average pooling -> :class:`Norm`, BatchNorm -> :class:`Pass`.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from veracity._core.canonizers import Sum
from veracity._core.validate import fail
from veracity.lrp.canonizers import Canonizer, _check_canonizers, _factory
from veracity.lrp.rules import AlphaBeta, Epsilon, Flat, Gamma, Norm, Pass, ZBox, ZPlus

__all__ = ["Composite", "LayerMapComposite", "SpecialFirstLayerMapComposite", "NameMapComposite",
           "EpsilonPlus", "EpsilonAlpha2Beta1", "EpsilonPlusFlat", "EpsilonAlpha2Beta1Flat", "EpsilonGammaBox",
           "CONVOLUTION", "LINEAR", "AVG_POOL", "ACTIVATION", "BATCH_NORM"]

CONVOLUTION = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
LINEAR = (*CONVOLUTION, nn.Linear)  # Zennit's "Linear": every affine layer
AVG_POOL = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
            nn.AdaptiveAvgPool3d)
ACTIVATION = (nn.ELU, nn.Hardshrink, nn.Hardsigmoid, nn.Hardtanh, nn.Hardswish, nn.LeakyReLU, nn.LogSigmoid,
              nn.PReLU, nn.ReLU, nn.ReLU6, nn.RReLU, nn.SELU, nn.CELU, nn.GELU, nn.Sigmoid, nn.SiLU,
              nn.Softplus, nn.Softshrink, nn.Softsign, nn.Tanh, nn.Tanhshrink, nn.Threshold)
BATCH_NORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)

LayerMap = Sequence[tuple[Any, Any]]


def layer_map_base(stabilizer: float = 1e-6) -> list[tuple[Any, Any]]:
    """Zennit's base map, the start of every named composite.

    Example:
        >>> [type(rule).__name__ for _, rule in layer_map_base()]
        ['Pass', 'Norm', 'Norm', 'Pass']
    """
    return [(ACTIVATION, Pass()), (Sum, Norm(stabilizer)), (AVG_POOL, Norm(stabilizer)), (BATCH_NORM, Pass())]


def _check_map(name: str, mapping: Any, key_ok: Callable[[Any], bool], key_text: str) -> list[tuple[Any, Any]]:
    if not isinstance(mapping, (list, tuple)):
        fail(name, f"a list of ({key_text}, rule) pairs", mapping, TypeError)
    for pair in mapping:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and key_ok(pair[0])
                and callable(getattr(pair[1], "backward", None))):
            fail(name, f"({key_text}, rule) pairs", pair, TypeError)
    return [tuple(pair) for pair in mapping]


def _is_types(key: Any) -> bool:
    return isinstance(key, type) or (isinstance(key, tuple) and all(isinstance(t, type) for t in key))


def _is_names(key: Any) -> bool:
    return isinstance(key, str) or (isinstance(key, (tuple, list)) and all(isinstance(n, str) for n in key))


class Composite:
    """Base: :meth:`rule_for` ``(context, name, module)`` gives a module's rule or None.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(),
        ...                             torch.nn.Linear(18, 2))
        >>> EpsilonPlusFlat().assignment(model)
        {'0': 'Flat', '1': 'Pass', '3': 'Epsilon'}
    """

    def __init__(self, canonizers: Sequence[Canonizer] | None = None) -> None:
        self.canonizers = _check_canonizers(canonizers)

    def rule_for(self, context: dict, name: str, module: nn.Module) -> Any:
        return None

    def assign(self, model: nn.Module) -> dict[nn.Module, Any]:
        """``{module: rule}`` over ``model`` as it is now (canonizers already applied)."""
        context: dict = {}
        chosen: dict[nn.Module, Any] = {}
        for name, module in model.named_modules():
            rule = self.rule_for(context, name, module)
            if rule is not None and module not in chosen:
                chosen[module] = rule
        return chosen

    def canonizer_factories(self) -> list[Callable]:
        return [_factory(c) for c in self.canonizers]

    def assignment(self, model: nn.Module, example: Tensor | tuple[Tensor, ...] | None = None) -> dict[str, str]:
        """The rule each module gets, by name (the canonizers applied; ``example`` inputs for those
        that probe), e.g. ``{'features.0': 'Flat', ...}``; a readable listing, for checks and docs."""
        from contextlib import ExitStack

        with ExitStack() as stack:
            for canonizer in self.canonizers:
                stack.enter_context(canonizer.context(model, example))
            names = {id(m): n for n, m in model.named_modules()}
            return {names[id(m)]: type(rule).__name__ for m, rule in self.assign(model).items()}


class LayerMapComposite(Composite):
    """Rules by module type: ``layer_map`` is a list of ``(type or tuple of types, rule)``.

    Example:
        >>> composite = LayerMapComposite([(torch.nn.Linear, Epsilon(0.0))])
        >>> composite.assignment(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Tanh()))
        {'0': 'Epsilon'}
    """

    def __init__(self, layer_map: LayerMap, canonizers: Sequence[Canonizer] | None = None) -> None:
        super().__init__(canonizers)
        self.layer_map = _check_map("layer_map", layer_map, _is_types, "module type")

    def rule_for(self, context: dict, name: str, module: nn.Module) -> Any:
        return next((rule for types, rule in self.layer_map if isinstance(module, types)), None)


class SpecialFirstLayerMapComposite(LayerMapComposite):
    """:class:`LayerMapComposite` where the first module matching ``first_map`` (in
    ``named_modules()`` order) gets ``first_map``'s rule instead.

    Example:
        >>> composite = SpecialFirstLayerMapComposite([(torch.nn.Linear, Epsilon())], [(torch.nn.Linear, Flat())])
        >>> composite.assignment(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)))
        {'0': 'Flat', '1': 'Epsilon'}
    """

    def __init__(self, layer_map: LayerMap, first_map: LayerMap, canonizers: Sequence[Canonizer] | None = None) -> None:
        super().__init__(layer_map, canonizers)
        self.first_map = _check_map("first_map", first_map, _is_types, "module type")

    def rule_for(self, context: dict, name: str, module: nn.Module) -> Any:
        if not context.get("first_layer_visited", False):
            for types, rule in self.first_map:
                if isinstance(module, types):
                    context["first_layer_visited"] = True
                    return rule
        return super().rule_for(context, name, module)


class NameMapComposite(Composite):
    """Rules by module name: ``name_map`` is a list of ``(name or list of names, rule)``; a
    name that the model does not have is an error (a typo).

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
        >>> NameMapComposite([(["1"], ZPlus())]).assignment(model)
        {'1': 'ZPlus'}
    """

    def __init__(self, name_map: LayerMap, canonizers: Sequence[Canonizer] | None = None) -> None:
        super().__init__(canonizers)
        self.name_map = _check_map("name_map", name_map, _is_names, "module name(s)")

    def assign(self, model: nn.Module) -> dict[nn.Module, Any]:
        named = dict(model.named_modules())
        for names, _ in self.name_map:
            for name in [names] if isinstance(names, str) else names:
                if name not in named:
                    fail("name_map", "names from model.named_modules()", repr(name))
        return super().assign(model)

    def rule_for(self, context: dict, name: str, module: nn.Module) -> Any:
        return next((rule for names, rule in self.name_map if name == names or
                     (not isinstance(names, str) and name in names)), None)


def _zero(zero_params: Any) -> dict[str, Any]:
    return {"zero_params": zero_params} if zero_params is not None else {}


class EpsilonPlus(LayerMapComposite):
    """Convolutions -> :class:`ZPlus`, dense layers -> :class:`Epsilon`, plus the base map.

    Example:
        >>> EpsilonPlus().assignment(torch.nn.Sequential(torch.nn.Conv1d(1, 1, 1), torch.nn.ReLU()))
        {'0': 'ZPlus', '1': 'Pass'}
    """

    def __init__(self, epsilon: float = 1e-6, stabilizer: float = 1e-6, layer_map: LayerMap | None = None,
                 zero_params: Any = None, canonizers: Sequence[Canonizer] | None = None) -> None:
        z = _zero(zero_params)
        super().__init__([*(layer_map or []), *layer_map_base(stabilizer), (CONVOLUTION, ZPlus(stabilizer, **z)),
                          (nn.Linear, Epsilon(epsilon, **z))], canonizers)


class EpsilonAlpha2Beta1(LayerMapComposite):
    """Convolutions -> :class:`AlphaBeta` (2, 1), dense layers -> :class:`Epsilon`.

    Example:
        >>> EpsilonAlpha2Beta1().assignment(torch.nn.Conv1d(1, 1, 1))
        {'': 'AlphaBeta'}
    """

    def __init__(self, epsilon: float = 1e-6, stabilizer: float = 1e-6, layer_map: LayerMap | None = None,
                 zero_params: Any = None, canonizers: Sequence[Canonizer] | None = None) -> None:
        z = _zero(zero_params)
        super().__init__([*(layer_map or []), *layer_map_base(stabilizer),
                          (CONVOLUTION, AlphaBeta(2.0, 1.0, stabilizer, **z)), (nn.Linear, Epsilon(epsilon, **z))],
                         canonizers)


class EpsilonPlusFlat(SpecialFirstLayerMapComposite):
    """:class:`EpsilonPlus` with :class:`Flat` for the first affine layer.

    Example:
        >>> EpsilonPlusFlat().assignment(torch.nn.Sequential(torch.nn.Conv1d(1, 1, 1), torch.nn.Conv1d(1, 1, 1)))
        {'0': 'Flat', '1': 'ZPlus'}
    """

    def __init__(self, epsilon: float = 1e-6, stabilizer: float = 1e-6, layer_map: LayerMap | None = None,
                 first_map: LayerMap | None = None, zero_params: Any = None,
                 canonizers: Sequence[Canonizer] | None = None) -> None:
        z = _zero(zero_params)
        super().__init__([*(layer_map or []), *layer_map_base(stabilizer), (CONVOLUTION, ZPlus(stabilizer, **z)),
                          (nn.Linear, Epsilon(epsilon, **z))],
                         [*(first_map or []), (LINEAR, Flat(stabilizer, **z))], canonizers)


class EpsilonAlpha2Beta1Flat(SpecialFirstLayerMapComposite):
    """:class:`EpsilonAlpha2Beta1` with :class:`Flat` for the first affine layer.

    Example:
        >>> EpsilonAlpha2Beta1Flat().assignment(torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Conv1d(1, 1, 1)))
        {'0': 'Flat', '1': 'AlphaBeta'}
    """

    def __init__(self, epsilon: float = 1e-6, stabilizer: float = 1e-6, layer_map: LayerMap | None = None,
                 first_map: LayerMap | None = None, zero_params: Any = None,
                 canonizers: Sequence[Canonizer] | None = None) -> None:
        z = _zero(zero_params)
        super().__init__([*(layer_map or []), *layer_map_base(stabilizer),
                          (CONVOLUTION, AlphaBeta(2.0, 1.0, stabilizer, **z)), (nn.Linear, Epsilon(epsilon, **z))],
                         [*(first_map or []), (LINEAR, Flat(stabilizer, **z))], canonizers)


class EpsilonGammaBox(SpecialFirstLayerMapComposite):
    """The first convolution -> :class:`ZBox` (``low``, ``high``: the input's bounds), other
    convolutions -> :class:`Gamma`, dense layers -> :class:`Epsilon`.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3))
        >>> EpsilonGammaBox(low=0.0, high=1.0).assignment(model)
        {'0': 'ZBox', '1': 'Pass', '2': 'Gamma'}
    """

    def __init__(self, low: float | Tensor, high: float | Tensor, epsilon: float = 1e-6, gamma: float = 0.25,
                 stabilizer: float = 1e-6, layer_map: LayerMap | None = None, first_map: LayerMap | None = None,
                 zero_params: Any = None, canonizers: Sequence[Canonizer] | None = None) -> None:
        z = _zero(zero_params)
        super().__init__([*(layer_map or []), *layer_map_base(stabilizer),
                          (CONVOLUTION, Gamma(gamma, stabilizer, **z)), (nn.Linear, Epsilon(epsilon, **z))],
                         [*(first_map or []), (CONVOLUTION, ZBox(low, high, stabilizer, **z))], canonizers)


_ = torch
