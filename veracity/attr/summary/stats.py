"""Streaming statistics of attributions, with Captum 0.9's names (``Mean``, ``Var``, ...).

Each statistic is self-contained: it keeps what it needs (a count, a running mean, the sum of
squared deviations) and merges new data by Welford's update, generalised to a whole batch of
samples at once by Chan, Golub & LeVeque's pairwise formula, so variances stay accurate when
the mean is large compared to the spread (no sum of squares minus square of sums).
"""

from __future__ import annotations

from typing import Any, Callable, Union

import torch
from torch import Tensor

from veracity._core.validate import fail

StatValue = Union[Tensor, int, float]
"""What a statistic returns: a tensor (or the count, an int), as Captum 0.9's alias."""


def as_samples(x: Any, name: str = "x") -> Tensor:
    """A float or tensor sample as a tensor (numbers become 0-d tensors)."""
    if isinstance(x, Tensor):
        return x.detach()
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return torch.tensor(float(x))
    fail(name, "a tensor or a number", x, TypeError)


class _Moments:
    """Count, mean and sum of squared deviations (M2) of the samples seen, merged per batch."""

    def __init__(self) -> None:
        self.n = 0
        self.mean: Tensor | None = None
        self.m2: Tensor | None = None

    def add(self, batch: Tensor) -> None:
        """Merge ``batch`` (samples along dimension 0)."""
        k = batch.shape[0]
        if k == 0:
            return
        dtype = torch.promote_types(batch.dtype, torch.float32)
        batch = batch.to(dtype)
        batch_mean = batch.mean(0)
        batch_m2 = ((batch - batch_mean) ** 2).sum(0)
        if self.mean is None or self.m2 is None:
            self.n, self.mean, self.m2 = k, batch_mean, batch_m2
            return
        total = self.n + k
        delta = batch_mean - self.mean
        self.mean = self.mean + delta * (k / total)
        self.m2 = self.m2 + batch_m2 + delta ** 2 * (self.n * k / total)
        self.n = total


class Stat:
    """Base of the statistics: ``update`` with one sample (``update_batch`` with many), ``get``
    the value (None before any sample); ``init`` resets. Two statistics are equal when they
    have the same class and name (``Var()`` and ``Var(order=1)`` differ)."""

    def __init__(self, name: str | None = None, **params: Any) -> None:
        self._name = name
        self.params = params
        self.init()

    def init(self) -> None:
        raise NotImplementedError

    def update(self, x: Tensor) -> None:
        """Add one sample."""
        self.update_batch(as_samples(x).unsqueeze(0))

    def update_batch(self, xs: Tensor) -> None:
        """Add the samples ``xs[0], xs[1], ...`` (an addition to Captum's API)."""
        raise NotImplementedError

    def get(self) -> StatValue | None:
        raise NotImplementedError

    def _default_name(self) -> str:
        return type(self).__name__.lower()

    @property
    def name(self) -> str:
        return self._name if self._name is not None else self._default_name()

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and isinstance(other, Stat) and self.name == other.name

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.name))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def fresh(self) -> "Stat":
        """An empty statistic of the same kind and parameters."""
        return type(self)(name=self._name, **self.params)


class Count(Stat):
    """The number of samples.

    Example:
        >>> import torch
        >>> c = Count(); c.update_batch(torch.zeros(5, 2)); c.get()
        5
    """

    def init(self) -> None:
        self.n = 0

    def update_batch(self, xs: Tensor) -> None:
        self.n += int(xs.shape[0])

    def get(self) -> int | None:
        return self.n if self.n else None


class _MomentStat(Stat):
    def init(self) -> None:
        self.moments = _Moments()

    def update_batch(self, xs: Tensor) -> None:
        self.moments.add(xs.detach())


class Mean(_MomentStat):
    """The element-wise mean of the samples.

    Example:
        >>> import torch
        >>> m = Mean(); m.update(torch.tensor([1.0, 2.0])); m.update(torch.tensor([3.0, 6.0])); m.get()
        tensor([2., 4.])
    """

    def get(self) -> Tensor | None:
        return self.moments.mean


class MSE(_MomentStat):
    """The sum of squared deviations from the mean (Captum's ``MSE``; Welford's M2).

    Example:
        >>> import torch
        >>> m = MSE(); m.update_batch(torch.tensor([1.0, 2.0, 3.0])); m.get()
        tensor(2.)
    """

    def get(self) -> Tensor | None:
        return self.moments.m2


class Var(_MomentStat):
    """The element-wise variance, ``M2 / (n - order)``: ``order=0`` the population variance
    (name ``variance``), ``order=1`` the sample variance (``sample_variance``).

    Example:
        >>> import torch
        >>> v = Var(order=1); v.update_batch(torch.tensor([1.0, 2.0, 3.0])); v.get()
        tensor(1.)
    """

    def __init__(self, name: str | None = None, order: int = 0) -> None:
        if isinstance(order, bool) or not isinstance(order, int) or order < 0:
            fail("order", "an integer >= 0", order, TypeError)
        self.order = order
        super().__init__(name, order=order)

    def _default_name(self) -> str:
        return {0: "variance", 1: "sample_variance"}.get(self.order, f"variance({self.order})")

    def get(self) -> Tensor | None:
        m2 = self.moments.m2
        return None if m2 is None else m2 / (self.moments.n - self.order)


class StdDev(Var):
    """The element-wise standard deviation, ``sqrt(M2 / (n - order))`` (names ``std_dev``,
    ``sample_std_dev``).

    Example:
        >>> import torch
        >>> s = StdDev(); s.update_batch(torch.tensor([1.0, 3.0])); s.get()
        tensor(1.)
    """

    def _default_name(self) -> str:
        return {0: "std_dev", 1: "sample_std_dev"}.get(self.order, f"std_dev({self.order})")

    def get(self) -> Tensor | None:
        variance = super().get()
        return None if variance is None else variance.sqrt()


class _Fold(Stat):
    """A running reduction with a binary element-wise function (min, max, add)."""

    _param = ""
    _default: Any  # the element-wise function (torch.min, ...)
    _reduce: Any  # the same reduction over a batch at once (when the default function is used)

    def __init__(self, name: str | None = None, fn: Callable[[Tensor, Tensor], Tensor] | None = None) -> None:
        self.fn = fn if fn is not None else type(self)._default
        if not callable(self.fn):
            fail(self._param, "a callable (tensor, tensor) -> tensor", self.fn, TypeError)
        super().__init__(name, **{self._param: self.fn})

    def init(self) -> None:
        self.value: Tensor | None = None

    def fresh(self) -> "Stat":
        return type(self)(self._name, self.fn)

    def update_batch(self, xs: Tensor) -> None:
        xs = xs.detach()
        if self.fn is type(self)._default and xs.shape[0]:
            reduced = type(self)._reduce(xs)
            self.value = reduced if self.value is None else self.fn(self.value, reduced)
            return
        for x in xs:
            self.value = x.clone() if self.value is None else self.fn(self.value, x)

    def get(self) -> Tensor | None:
        return self.value


def _min0(xs: Tensor) -> Tensor:
    return xs.min(0).values


def _max0(xs: Tensor) -> Tensor:
    return xs.max(0).values


def _sum0(xs: Tensor) -> Tensor:
    return xs.sum(0)


class Min(_Fold):
    """The element-wise minimum (``min_fn`` combines the running value and a sample).

    Example:
        >>> import torch
        >>> m = Min(); m.update(torch.tensor([1.0, 5.0])); m.update(torch.tensor([3.0, 2.0])); m.get()
        tensor([1., 2.])
    """

    _param, _default, _reduce = "min_fn", staticmethod(torch.min), staticmethod(_min0)

    def __init__(self, name: str | None = None, min_fn: Callable[[Tensor, Tensor], Tensor] = torch.min) -> None:
        super().__init__(name, min_fn)


class Max(_Fold):
    """The element-wise maximum (``max_fn`` combines the running value and a sample).

    Example:
        >>> import torch
        >>> m = Max(); m.update_batch(torch.tensor([[1.0, 5.0], [3.0, 2.0]])); m.get()
        tensor([3., 5.])
    """

    _param, _default, _reduce = "max_fn", staticmethod(torch.max), staticmethod(_max0)

    def __init__(self, name: str | None = None, max_fn: Callable[[Tensor, Tensor], Tensor] = torch.max) -> None:
        super().__init__(name, max_fn)


class Sum(_Fold):
    """The element-wise sum (``add_fn`` combines the running value and a sample).

    Example:
        >>> import torch
        >>> s = Sum(); s.update_batch(torch.ones(4, 2)); s.get()
        tensor([4., 4.])
    """

    _param, _default, _reduce = "add_fn", staticmethod(torch.add), staticmethod(_sum0)

    def __init__(self, name: str | None = None, add_fn: Callable[[Tensor, Tensor], Tensor] = torch.add) -> None:
        super().__init__(name, add_fn)


def CommonStats() -> list[Stat]:  # noqa: N802  (Captum's name)
    """The usual statistics: mean, sample variance, sample standard deviation, min and max.

    Example:
        >>> [s.name for s in CommonStats()]
        ['mean', 'sample_variance', 'sample_std_dev', 'min', 'max']
    """
    return [Mean(), Var(order=1), StdDev(order=1), Min(), Max()]
