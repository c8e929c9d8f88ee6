"""Summaries of attributions over many samples or batches: Captum 0.9's ``Summarizer``,
``SummarizerSingleTensor`` and ``ClassSummarizer``."""

from __future__ import annotations

from typing import Any, Union

import torch
from torch import Tensor

from veracity._core.validate import fail
from veracity.attr.summary.stats import Stat, StatValue, as_samples

Summary = dict[str, Union[StatValue, None]]


def _check_stats(stats: Any) -> list[Stat]:
    if not isinstance(stats, (list, tuple)) or not all(isinstance(s, Stat) for s in stats):
        fail("stats", "a list of statistics (Mean(), Var(), ... or CommonStats())", stats, TypeError)
    unique: list[Stat] = []
    for stat in stats:
        if stat not in unique:
            unique.append(stat)
    return unique


class SummarizerSingleTensor:
    """Statistics of the samples of one tensor; ``summary`` gives those at
    ``summary_stats_indices`` by name.

    Example:
        >>> import torch
        >>> from veracity.attr import Mean, Count, SummarizerSingleTensor
        >>> s = SummarizerSingleTensor([Mean(), Count()], [0, 1])
        >>> s.update(torch.tensor([1.0, 3.0])); s.update(torch.tensor([3.0, 5.0]))
        >>> s.summary
        {'mean': tensor([2., 4.]), 'count': 2}
    """

    def __init__(self, stats: list[Stat], summary_stats_indices: list[int]) -> None:
        self._stats = [s.fresh() for s in _check_stats(stats)]
        if any(not isinstance(i, int) or not -len(stats) <= i < len(stats) for i in summary_stats_indices):
            fail("summary_stats_indices", f"indices into the {len(stats)} statistics", summary_stats_indices)
        self._shown = [self._stats[self._stats.index(stats[i])] for i in summary_stats_indices]

    def update(self, x: Tensor) -> None:
        """Add one sample."""
        self.update_batch(as_samples(x).unsqueeze(0))

    def update_batch(self, xs: Tensor) -> None:
        """Add ``xs[0], xs[1], ...`` as samples in one merge (an addition to Captum's API)."""
        for stat in self._stats:
            stat.update_batch(xs)

    def get(self, stat: Stat) -> Stat | None:
        """This summarizer's statistic equal to ``stat`` (same kind and name), or None."""
        return next((s for s in self._stats if s == stat), None)

    @property
    def summary(self) -> Summary:
        return {stat.name: stat.get() for stat in self._shown}


class Summarizer:
    """Statistics of a stream of samples: ``update(x)`` adds one sample (a number, a tensor,
    or a tuple of tensors summarised each on its own); ``summary`` is a dict of the
    statistics by name (a list of dicts for tuples), None before the first update.

    Variances use Welford's update merged per batch (Chan et al.), accurate when the mean is
    large compared to the spread.

    Example:
        >>> import torch
        >>> from veracity.attr import Summarizer, CommonStats
        >>> s = Summarizer(CommonStats())
        >>> for attribution in torch.tensor([[1.0, 4.0], [3.0, 8.0]]):
        ...     s.update(attribution)
        >>> s.summary["mean"], s.summary["sample_variance"]
        (tensor([2., 6.]), tensor([2., 8.]))
    """

    def __init__(self, stats: list[Stat]) -> None:
        self._stats = _check_stats(stats)
        self._summarizers: list[SummarizerSingleTensor] = []
        self._was_tuple: bool | None = None

    def _parts(self, x: Any) -> tuple[Tensor, ...]:
        is_tuple = isinstance(x, tuple)
        parts = tuple(as_samples(v, "x") for v in (x if is_tuple else (x,)))
        if self._was_tuple is None:
            self._was_tuple = is_tuple
            self._summarizers = [SummarizerSingleTensor(self._stats, list(range(len(self._stats))))
                                 for _ in parts]
        if is_tuple != self._was_tuple or len(parts) != len(self._summarizers):
            fail("x", f"the same structure as the first update ({len(self._summarizers)} tensor(s), "
                 f"{'a tuple' if self._was_tuple else 'not a tuple'})", x)
        return parts

    def update(self, x: float | Tensor | tuple[float | Tensor, ...]) -> None:
        """Add one sample."""
        parts = self._parts(x)  # first: the first update creates the per-tensor summarizers
        for summarizer, part in zip(self._summarizers, parts):
            summarizer.update(part)

    def update_batch(self, xs: Tensor | tuple[Tensor, ...]) -> None:
        """Add the rows of ``xs`` (of each tensor of a tuple) as samples in one merge (an
        addition to Captum's API, equal to calling ``update`` on each row)."""
        parts = self._parts(xs)
        for summarizer, part in zip(self._summarizers, parts):
            summarizer.update_batch(part)

    @property
    def summary(self) -> Summary | list[Summary] | None:
        if self._was_tuple is None:
            return None
        summaries = [s.summary for s in self._summarizers]
        return summaries if self._was_tuple else summaries[0]


def _label_rows(labels: Any, batch: int) -> list[Any]:
    if isinstance(labels, Tensor):
        if labels.numel() == 1:
            return [labels.reshape(-1)[0].item()] * batch
        if labels.dim() != 1 or labels.shape[0] != batch:
            fail("labels", f"one label per example ({batch})", labels)
        return labels.tolist()
    if isinstance(labels, list):
        if len(labels) != batch:
            fail("labels", f"one label per example ({batch})", labels)
        return [tuple(v) if isinstance(v, list) else v for v in labels]
    if isinstance(labels, (int, tuple)) and not isinstance(labels, bool):
        return [labels] * batch
    fail("labels", "an int, a tuple, a list or a tensor of labels", labels, TypeError)


class ClassSummarizer(Summarizer):
    """A :class:`Summarizer` per label plus one over everything.

    ``update(x, labels)``: each example (row of ``x``, of each tensor of a tuple) is one
    sample, summarised under its label and in the overall ``summary``; ``labels`` is one
    label for all rows or one per row. Without labels, ``x`` is one sample of the overall
    summary. ``class_summaries`` maps each label to its summary (a list of dicts, one per
    input tensor, as in Captum). Labels given as tensors become Python numbers, so one class
    is one key (Captum keys by tensor objects: the same class can appear several times).

    Example:
        >>> import torch
        >>> from veracity.attr import ClassSummarizer, Mean, Count
        >>> s = ClassSummarizer([Mean(), Count()])
        >>> s.update(torch.tensor([[1.0], [3.0], [5.0]]), labels=torch.tensor([0, 1, 0]))
        >>> s.class_summaries[0]
        [{'mean': tensor([3.]), 'count': 2}]
        >>> s.summary
        [{'mean': tensor([3.]), 'count': 3}]
    """

    def __init__(self, stats: list[Stat]) -> None:
        super().__init__(stats)
        self._classes: dict[Any, Summarizer] = {}

    def update(self, x: Any, labels: Any = None) -> None:
        if labels is None:
            super().update(x)
            return
        parts = tuple(as_samples(v, "x") for v in (x if isinstance(x, tuple) else (x,)))
        batch = parts[0].shape[0] if parts[0].dim() else 0
        if batch == 0 or any(p.dim() == 0 or p.shape[0] != batch for p in parts):
            fail("x", "tensors with the same first (batch) dimension when labels are given", x)
        rows = _label_rows(labels, batch)
        super().update_batch(parts)
        groups: dict[Any, list[int]] = {}
        for i, label in enumerate(rows):
            groups.setdefault(label, []).append(i)
        for label, index in groups.items():
            summarizer = self._classes.setdefault(label, Summarizer(self._stats))
            chosen = torch.tensor(index, device=parts[0].device)
            summarizer.update_batch(tuple(p.index_select(0, chosen) for p in parts))

    @property
    def class_summaries(self) -> dict[Any, Summary | list[Summary] | None]:
        return {label: summarizer.summary for label, summarizer in self._classes.items()}
