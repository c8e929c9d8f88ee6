"""Position-balanced permutation designs for Shapley sampling, and their standard errors.

A design is a sequence of *rows* drawn in independent *blocks* of ``m`` rows. Every row on its
own is a uniformly random order of the ``n`` groups (so the mean over rows is unbiased for the
Shapley values); within a block the rows are balanced: every group falls once into every
*stratum* (a position, or a pair of mirrored positions), which removes the between-position
part of the variance (proportional stratified sampling).

* ``"stratified"``: a block is a randomised Latin square (rows ``s[(a_i + b_j) mod n]`` for
  independent random permutations ``a``, ``b``, ``s``), every group at every position once;
  stratum = position. (The rows are not the ``n`` rotations of one order: rotations keep each
  group's cyclic neighbours in front of it in almost every row, which correlates the rows of a
  block and made rotation blocks worse than independent orders.)
* ``"antithetic"``: a row is an order *and its reverse* (a pair); the stratum is the folded
  position ``min(j, n - 1 - j)``, which the pair shares. Even ``n``: a block is ``n / 2`` pairs
  in which every group takes every folded position once (a randomised cyclic Latin square of
  folds over a random pairing of the groups, each pair of groups filling the mirrored positions
  ``j, n - 1 - j`` in random orientation). Odd ``n``: a Latin-square block of ``n`` pairs.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def block_rows(n: int, reduction: str | None) -> int:
    """Rows per block (pairs for ``"antithetic"``); 1 for independent orders."""
    if reduction is None or n < 2:
        return 1
    if reduction == "antithetic" and n % 2 == 0:
        return n // 2
    return n


def _perms(count: int, size: int, generator: torch.Generator | None) -> Tensor:
    return torch.rand(count, size, generator=generator).argsort(1)


def design(rows: int, n: int, reduction: str | None, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """``rows`` base orders ``(rows, n)`` (position -> group) and each group's stratum ``(rows, n)``.

    Rows fill whole blocks first; a last partial block takes its first rows (the rows of a block
    come in random order).

    Example:
        >>> import torch
        >>> orders, strata = design(4, 8, "antithetic", torch.Generator().manual_seed(0))
        >>> tuple(orders.shape), bool((strata.sort(0).values == torch.arange(4).unsqueeze(1)).all())
        ((4, 8), True)
    """
    m = block_rows(n, reduction)
    blocks = -(-rows // m)
    if m == 1:
        orders = _perms(rows, n, generator)
        return orders, torch.zeros(rows, n, dtype=torch.long)
    if reduction == "antithetic" and n % 2 == 0:
        shift, label = _perms(blocks, m, generator), _perms(blocks, m, generator)
        column = _perms(blocks, n, generator) // 2                        # group -> column, two each
        cells = (shift.unsqueeze(2) + column.unsqueeze(1)) % m            # (blocks, m rows, n groups)
        fold = label.gather(1, cells.view(blocks, -1)).view(blocks, m, n)
        ranked = (fold + 0.5 * torch.rand(blocks, m, n, generator=generator)).argsort(2)  # by fold, random ties
        orders = torch.cat([ranked[..., 0::2], ranked[..., 1::2].flip(2)], dim=2)
        return orders.reshape(-1, n)[:rows], fold.reshape(-1, n)[:rows]
    shift, column, symbol = (_perms(blocks, n, generator) for _ in range(3))
    cells = (shift.unsqueeze(2) + column.unsqueeze(1)) % n                # (blocks, row, position)
    orders = symbol.gather(1, cells.view(blocks, -1)).view(-1, n)[:rows]
    return orders, orders.argsort(1)


def round_sizes(total: int, m: int, first: int = 8) -> list[int]:
    """Rows per round: at least two blocks (and ``first`` rows) first, then doubling; every
    round but the last is whole blocks, so no block is split between rounds."""
    sizes: list[int] = []
    done = 0
    size = m * -(-max(2 * m, first) // m)
    while done < total:
        size = min(size, total - done)
        sizes.append(size)
        done += size
        size = m * max(1, done // m)
    return sizes


def stratified_error(values: Tensor, strata: Tensor, m: int) -> Tensor:
    """Standard error of the mean over rows of ``values (rows, n, width)``.

    With at least two whole blocks: the proportional stratified-sampling variance
    ``sum_h c_h s_h^2 / rows^2`` (``s_h^2`` the sample variance of the rows in stratum ``h``,
    ``c_h`` their count), plus, for a partial last block of ``r`` rows, the variance of its
    strata drawn without replacement, ``r (1 - r / m) S^2 / rows^2`` (``S^2`` the variance of the
    stratum means). With fewer blocks: the spread of the rows as if independent, which
    overstates the error of a balanced design. ``inf`` for a single row.
    """
    rows, n, width = values.shape
    if rows < 2:
        return torch.full(values.shape[1:], float("inf"), dtype=values.dtype, device=values.device)
    full, rest = divmod(rows, m)
    if m == 1 or full < 2:
        return values.std(0, unbiased=True) / math.sqrt(rows)
    index = strata.to(values.device).unsqueeze(2).expand_as(values)
    count = torch.zeros(m, n, 1, dtype=values.dtype, device=values.device).scatter_add_(
        0, strata.to(values.device).unsqueeze(2), torch.ones(rows, n, 1, dtype=values.dtype, device=values.device))
    means = torch.zeros(m, n, width, dtype=values.dtype, device=values.device).scatter_add_(0, index, values) / count
    centred = values - means.gather(0, index)
    squares = torch.zeros_like(means).scatter_add_(0, index, centred ** 2)
    variance = (squares / (count - 1) * count).sum(0)
    if rest:
        variance = variance + rest * (1 - rest / m) * means.var(0, unbiased=True)
    return variance.clamp(min=0).sqrt() / rows
