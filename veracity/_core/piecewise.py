"""Breakpoints of a piecewise-linear network along a straight path.

Along ``x(t) = x' + t (x - x')`` a network built from linear maps, convolutions, ReLU /
LeakyReLU / ReLU6, max and average pooling, eval-mode BatchNorm, additions and reshapes is
piecewise linear in ``t`` (the linear restriction of Sotoudeh & Thakur, NeurIPS 2019): its
gradient is constant on each piece. :class:`BreakpointTracer` runs the forward pass with the
path direction as a forward-mode tangent and intercepts every torch function: at each
piecewise-linear non-linearity it reads the input's value ``v`` and derivative ``dv`` along the
path and finds the nearest ``t`` on either side where the non-linearity switches (``v + s dv``
crosses a kink); the smallest such distance over all units bounds the linear piece that holds
the point. Any other operation that the path's values flow through (GELU, softmax, a product
of two path-dependent tensors, normalisation by a statistic...) is refused by name.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import torch
import torch.autograd.forward_ad as fwad
import torch.nn.functional as F
from torch import Tensor
from torch.overrides import TorchFunctionMode

from veracity._core.path_rows import Tracer
from veracity._core.validate import fail

SUPPORTED = ("linear and convolution layers, ReLU/LeakyReLU/ReLU6/Hardtanh, max and average pooling, "
             "BatchNorm in eval mode, additions, reshapes")

# Linear (affine) in all path-dependent arguments together.
_LINEAR = frozenset("""
add __add__ __radd__ __iadd__ add_ sub __sub__ __rsub__ __isub__ sub_ subtract neg __neg__ negative neg_
sum mean cat concat concatenate stack hstack vstack cumsum pad interpolate upsample
avg_pool1d avg_pool2d avg_pool3d adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d
view view_as reshape reshape_as flatten unflatten permute transpose t squeeze unsqueeze contiguous
__getitem__ __setitem__ expand expand_as repeat repeat_interleave split chunk narrow unbind clone to float double
type_as movedim swapaxes swapdims roll flip select index_select gather masked_fill pixel_shuffle pixel_unshuffle
unfold fold detach detach_ requires_grad_ copy_ zero_ __get__ identity dim size numel _make_dual _unpack_dual
""".split())
# Linear when exactly one tensor operand depends on the path (the other is a weight).
_BILINEAR = frozenset("""
mul __mul__ __rmul__ __imul__ mul_ multiply matmul __matmul__ __rmatmul__ mm bmm mv linear bilinear dot
conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d einsum tensordot outer addmm baddbmm
""".split())
_AFFINE = frozenset("conv1d conv2d conv3d linear".split())    # (input, weight, bias, ...)
FAST_TANGENTS = True
_DIVISION = frozenset("div __truediv__ __itruediv__ div_ true_divide divide".split())
_MODE_FLAG = {"batch_norm": (5, "training"), "dropout": (2, "training"), "dropout1d": (2, "training"),
              "dropout2d": (2, "training"), "dropout3d": (2, "training"), "alpha_dropout": (2, "training")}
_KINKS = frozenset("relu relu_ leaky_relu leaky_relu_ relu6 hardtanh hardtanh_ abs absolute clamp clip".split())
_MAX_POOL = frozenset("max_pool1d max_pool2d max_pool1d_with_indices max_pool2d_with_indices "
                      "_max_pool1d _max_pool2d".split())


def _name(func: Any) -> str:
    return str(getattr(func, "__name__", None) or repr(func))


def _tensors(value: Any) -> Iterator[Tensor]:
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)


def _has_tangent(value: Any) -> bool:
    return isinstance(value, Tensor) and fwad.unpack_dual(value).tangent is not None


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else default


def _refuse(func: Any, why: str) -> None:
    fail("forward_func", f"a piecewise-linear network for method='exact' ({SUPPORTED})",
         f"`{_name(func)}` {why}; use method='adaptive' for networks that are not piecewise linear")


class BreakpointTracer(Tracer):
    """Per row of a chunk: the distance along the path to the nearest kink before and after.

    Example:
        >>> import torch
        >>> from veracity._core.path_rows import row_gradients
        >>> from veracity._core.call import Call
        >>> model = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.ReLU()).double()
        >>> with torch.no_grad():
        ...     _ = model[0].weight.fill_(1.0), model[0].bias.fill_(-0.5)
        >>> call = Call.of(model, torch.ones(1, 1, dtype=torch.float64), target=0)
        >>> found = []
        >>> row_gradients(call, (torch.zeros(1, 1, dtype=torch.float64),), torch.tensor([0]),
        ...               torch.tensor([0.25], dtype=torch.float64), found.append, tracer=BreakpointTracer())
        >>> [round(float(v), 6) for v in found[0].traced[1]]   # the kink is 0.25 ahead
        [0.25]
    """

    def __init__(self) -> None:
        self._before: Tensor | None = None
        self._after: Tensor | None = None

    @contextmanager
    def session(self, rows: int) -> Iterator[None]:
        self._before = torch.full((rows,), -float("inf"), dtype=torch.float64)
        self._after = torch.full((rows,), float("inf"), dtype=torch.float64)
        with _Intercept(self):
            yield

    def result(self) -> tuple[Tensor, Tensor]:
        assert self._before is not None and self._after is not None
        return self._before, self._after

    def note(self, value: Tensor, speed: Tensor) -> None:
        """Kinks where ``value + s * speed`` crosses zero; rows are dimension 0."""
        self.note_ratio(speed.detach() / (value.detach() + torch.finfo(value.dtype).tiny))

    def note_ratio(self, q: Tensor) -> None:
        """Kinks at ``s = -1 / q`` (``q = speed / value``; ``q = 0``: no kink): the nearest
        ``s > 0`` is ``-1 / min(q)``, the nearest ``s < 0`` is ``-1 / max(q)``; one pass."""
        assert self._before is not None and self._after is not None
        if q.dim() == 0 or q.shape[0] != self._before.shape[0]:
            fail("forward_func", "a network whose non-linearities keep the batch dimension first for "
                 "method='exact'", f"a non-linearity on a tensor of shape {tuple(q.shape)}")
        q = q.reshape(q.shape[0], -1)
        low, high = q.amin(1), q.amax(1)             # (aminmax is many times slower on CPU)
        if bool(torch.isnan(low).any()):             # 0 / 0 only where a value sits at its kink
            q = torch.where(torch.isnan(q), 0.0, q)
            low, high = q.amin(1), q.amax(1)
        after = torch.where(low < 0, -1.0 / low, float("inf")).to(torch.float64).cpu()
        before = torch.where(high > 0, -1.0 / high, -float("inf")).to(torch.float64).cpu()
        torch.minimum(self._after, after, out=self._after)
        torch.maximum(self._before, before, out=self._before)

    def kinks(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        name = _name(func)
        x = args[0] if args else kwargs.get("input")
        primal, tangent = fwad.unpack_dual(x)
        if tangent is None:
            return
        if name in ("relu", "relu_", "leaky_relu", "leaky_relu_", "abs", "absolute"):
            self.note(primal, tangent)
            return
        if name in ("relu6",):
            low, high = 0.0, 6.0
        elif name.startswith("hardtanh"):
            low, high = _arg(args, kwargs, 1, "min_val", -1.0), _arg(args, kwargs, 2, "max_val", 1.0)
        else:
            low, high = _arg(args, kwargs, 1, "min", None), _arg(args, kwargs, 2, "max", None)
            if isinstance(low, Tensor) or isinstance(high, Tensor):
                _refuse(func, "with tensor bounds")
        for bound in (low, high):
            if bound is not None:
                self.note(primal - bound, tangent)

    def max_pool(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        x = args[0] if args else kwargs["input"]
        primal, tangent = fwad.unpack_dual(x)
        if tangent is None:
            return
        one_d = "1d" in _name(func)
        kernel = _arg(args, kwargs, 1, "kernel_size", None)
        stride = _arg(args, kwargs, 2, "stride", None) or kernel
        padding = _arg(args, kwargs, 3, "padding", 0)
        dilation = _arg(args, kwargs, 4, "dilation", 1)
        if _arg(args, kwargs, 5, "ceil_mode", False):
            _refuse(func, "with ceil_mode=True")
        if primal.dim() != (3 if one_d else 4):
            _refuse(func, f"on an unbatched input of shape {tuple(primal.shape)}")
        pair = (lambda v: (1, v if isinstance(v, int) else v[0])) if one_d else \
            (lambda v: (v, v) if isinstance(v, int) else tuple(v))
        if one_d:
            primal, tangent = primal.unsqueeze(2), tangent.unsqueeze(2)
        k, st, pd, dl = pair(kernel), pair(stride), pair(padding), pair(dilation)
        if k == st and pd == (0, 0) and dl == (1, 1):
            self._tiled_max_pool(primal, tangent, out[0] if isinstance(out, (tuple, list)) else out, k)
            return
        n, c = primal.shape[:2]
        values, speeds = primal.detach(), tangent.detach()
        if pd != (0, 0):
            pads = (pd[1], pd[1], pd[0], pd[0])
            values, speeds = F.pad(values, pads, value=-float("inf")), F.pad(speeds, pads, value=0.0)
        windows, moves = values, speeds
        for dim, (size, step, dil) in enumerate(zip(k, st, dl)):   # strided views, no copy
            span = dil * (size - 1) + 1
            windows, moves = windows.unfold(2 + dim, span, step), moves.unfold(2 + dim, span, step)
        windows = windows[..., ::dl[0], ::dl[1]].reshape(n, c, windows.shape[2], windows.shape[3], -1)
        moves = moves[..., ::dl[0], ::dl[1]].reshape(windows.shape)
        best = windows.argmax(-1, keepdim=True)
        gap = windows.gather(-1, best) - windows          # >= 0; an element overtakes when it closes
        closing = moves - moves.gather(-1, best)
        self.note(-gap, closing)                          # padding: gap inf, never a kink

    def _tiled_max_pool(self, primal: Tensor, tangent: Tensor, out: Tensor, k: tuple[int, int]) -> None:
        """Windows that tile the input: each element against its window's maximum (the pooled
        output and its tangent), a few passes over the input, no copies of windows."""
        best, speed = fwad.unpack_dual(out)
        n, c = primal.shape[:2]
        if speed is None:
            return
        ho, wo = (best.shape[2], best.shape[3]) if best.dim() == 4 else (1, best.shape[-1])
        best, speed = best.detach().reshape(n, c, ho, wo), speed.detach().reshape(n, c, ho, wo)
        values = primal.detach()[:, :, :ho * k[0], :wo * k[1]]
        moves = tangent.detach()[:, :, :ho * k[0], :wo * k[1]]
        # each window's maximum and its speed spread over the window (contiguous, vectorised)
        gap = best.repeat_interleave(k[0], 2).repeat_interleave(k[1], 3).sub_(values)   # >= 0: how far behind
        closing = speed.repeat_interleave(k[0], 2).repeat_interleave(k[1], 3).sub_(moves)
        self.note_ratio(closing.div_(gap.add_(torch.finfo(gap.dtype).tiny)))   # overtakes when it closes


class _Intercept(TorchFunctionMode):
    def __init__(self, tracer: BreakpointTracer) -> None:
        super().__init__()
        self.tracer = tracer

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        name = _name(func)
        dependent = [t for t in _tensors((args, kwargs)) if _has_tangent(t)]
        if dependent:
            if name in _KINKS:
                self.tracer.kinks(func, args, kwargs)
            elif name in _MAX_POOL:
                out = func(*args, **kwargs)
                self.tracer.max_pool(func, args, kwargs, out)
                return out
            elif name in _BILINEAR:
                if len(dependent) > 1:
                    _refuse(func, "multiplies two path-dependent tensors (not linear along the path)")
                if name in _AFFINE and FAST_TANGENTS and args and dependent[0] is args[0]:
                    return _affine_with_tangent(func, args, kwargs)
            elif name in _DIVISION:
                if any(_has_tangent(t) for t in _tensors((args[1:], kwargs))):
                    _refuse(func, "divides by a path-dependent tensor")
            elif name in _MODE_FLAG:
                index, flag = _MODE_FLAG[name]
                if _arg(args, kwargs, index, flag, name != "batch_norm"):
                    _refuse(func, "in training mode (call model.eval())")
            elif name not in _LINEAR:
                _refuse(func, "is not piecewise linear (or not one veracity can find the kinks of)")
        return func(*args, **kwargs)


def _affine_with_tangent(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A convolution or linear layer of a dual input: the primal through ``func`` (recorded for
    the backward pass), the tangent through ``func`` without the bias and without recording.
    The same numbers as torch's forward-mode rule, which costs about half a convolution more."""
    primal, tangent = fwad.unpack_dual(args[0])
    out = func(primal, *args[1:], **kwargs)
    rest, extra = list(args[1:]), dict(kwargs)
    if len(rest) >= 2:
        rest[1] = None
    else:
        extra["bias"] = None
    with torch.no_grad():
        moved = func(tangent, *rest, **extra)
    return fwad.make_dual(out, moved)


def _segmented_cummax(values: Tensor, segment: Tensor) -> Tensor:
    """Running maximum of ``values`` (all in [-1, 2]) that restarts at each new ``segment`` id
    (segments sorted ascending)."""
    shift = segment.to(torch.float64) * 8.0
    return torch.cummax(values + shift, 0).values - shift


def uncovered_gaps(ex: Tensor, lo: Tensor, hi: Tensor, batch: int, tol: float) -> tuple[Tensor, Tensor, Tensor]:
    """The parts of each example's [0, 1] that no interval ``[lo, hi]`` of ``ex`` covers and that
    are longer than ``tol``: ``(example, start, end)``, sorted by example then start.

    Example:
        >>> ex, lo, hi = torch.tensor([0, 0]), torch.tensor([0.0, 0.5]), torch.tensor([0.25, 0.75])
        >>> [t.tolist() for t in uncovered_gaps(ex, lo.double(), hi.double(), 1, 1e-9)]
        [[0, 0], [0.25, 0.75], [0.5, 1.0]]
    """
    examples = torch.arange(batch)
    ex_all = torch.cat([ex, examples, examples])
    lo_all = torch.cat([lo, torch.full((batch,), -1.0, dtype=torch.float64), torch.ones(batch, dtype=torch.float64)])
    hi_all = torch.cat([hi, torch.zeros(batch, dtype=torch.float64), torch.full((batch,), 2.0, dtype=torch.float64)])
    order = torch.argsort(ex_all.to(torch.float64) * 8.0 + lo_all, stable=True)
    ex_s, lo_s, hi_s = ex_all[order], lo_all[order], hi_all[order]
    reach = _segmented_cummax(hi_s, ex_s)
    start, end = reach[:-1], lo_s[1:]
    keep = (ex_s[1:] == ex_s[:-1]) & (end - start > tol)
    return ex_s[1:][keep], start[keep], end[keep]


def exact_path_integral(call: Any, baselines: tuple[Tensor, ...], *, first_points: int = 8,
                        max_evaluations: int | None = None, chunk_rows: int | None = None,
                        show_progress: bool = False, integrand: Any = None
                        ) -> tuple[tuple[Tensor, ...], Tensor, Tensor, int]:
    """``integral_0^1 grad F(x' + t (x - x')) dt`` exactly for a piecewise-linear ``F``: one
    gradient per linear piece, each weighted by the piece's length.

    Rounds of rows evaluated together (chunked by the engine): first ``first_points`` evenly
    spaced points per example; each point's gradient holds on its whole piece, which the
    tracer bounds; then one point in the middle of every stretch of the path that no piece
    found so far covers, until none is left (or ``max_evaluations`` per example are spent).
    Returns the integrals (float64 accumulators cast to the inputs' dtype), the evaluations per
    example, the length of path left uncovered per example (0 unless capped), and the rounds.
    ``integrand(chunk, examples) -> (rows, h)`` integrates other rows than the input gradients
    (constant on each piece too: layer conductance's layer gradient times layer tangent).
    """
    from veracity._core.path_rows import row_gradients

    inputs = call.inputs
    batch = call.batch
    tol = 1e-9 if inputs[0].dtype == torch.float64 else 1e-5
    totals: list[Tensor] = []
    dtypes: list[torch.dtype] = []
    cov_ex = torch.zeros(0, dtype=torch.long)
    cov_lo = torch.zeros(0, dtype=torch.float64)
    cov_hi = torch.zeros(0, dtype=torch.float64)
    used = torch.zeros(batch, dtype=torch.long)
    tracer = BreakpointTracer()
    k = torch.arange(first_points, dtype=torch.float64)
    ex = torch.arange(batch).repeat_interleave(first_points)
    alphas = ((k + 0.5) / first_points).repeat(batch)
    gap_lo, gap_hi = torch.zeros_like(alphas), torch.ones_like(alphas)
    rounds = 0
    while ex.numel():
        if max_evaluations is not None:
            rank = torch.arange(ex.numel()) - torch.searchsorted(ex, ex, side="left")
            keep = used[ex] + rank < max_evaluations
            ex, alphas, gap_lo, gap_hi = ex[keep], alphas[keep], gap_lo[keep], gap_hi[keep]
            if not ex.numel():
                break
        rounds += 1
        before = torch.empty_like(alphas)
        after = torch.empty_like(alphas)
        found: list[tuple[int, int, tuple[Tensor, ...]]] = []
        ex_device = ex.to(inputs[0].device)

        def consume(chunk: Any, before: Tensor = before, after: Tensor = after, ex_device: Tensor = ex_device,
                    found: list[tuple[int, int, tuple[Tensor, ...]]] = found) -> None:
            before[chunk.start:chunk.stop], after[chunk.start:chunk.stop] = chunk.traced
            rows = chunk.grads if integrand is None else integrand(chunk, ex_device[chunk.start:chunk.stop])[0]
            found.append((chunk.start, chunk.stop, rows))

        row_gradients(call, baselines, ex_device, alphas, consume, chunk_rows=chunk_rows,
                      tracer=tracer, show_progress=show_progress, desc="exact IG")
        piece_lo = torch.maximum(alphas + before, gap_lo)
        piece_hi = torch.minimum(alphas + after, gap_hi)
        gap_id = torch.cumsum(torch.cat([torch.ones(1, dtype=torch.long),
                                         ((gap_lo[1:] != gap_lo[:-1]) | (ex[1:] != ex[:-1])).long()]), 0)
        reach = _segmented_cummax(piece_hi, gap_id)
        earlier = torch.cat([torch.full((1,), -1.0, dtype=torch.float64), reach[:-1]])
        earlier = torch.where(torch.cat([torch.ones(1, dtype=torch.bool), gap_id[1:] != gap_id[:-1]]),
                              torch.full_like(earlier, -1.0), earlier)
        weights = (piece_hi - torch.maximum(piece_lo, earlier)).clamp(min=0)
        for first, last, rows in found:
            if not totals:
                totals = [torch.zeros((batch, *r.shape[1:]), dtype=torch.float64, device=r.device) for r in rows]
                dtypes = [r.dtype for r in rows]
            w = weights[first:last].to(totals[0].device)
            e = ex_device[first:last]
            for total, grad in zip(totals, rows):
                total.index_add_(0, e, grad.to(torch.float64) * w.view(-1, *([1] * (grad.dim() - 1))))
        used += torch.bincount(ex, minlength=batch)
        cov_ex, cov_lo, cov_hi = torch.cat([cov_ex, ex]), torch.cat([cov_lo, piece_lo]), torch.cat([cov_hi, piece_hi])
        ex, start, end = uncovered_gaps(cov_ex, cov_lo, cov_hi, batch, tol)
        alphas, gap_lo, gap_hi = (start + end) / 2, start, end
    gap_ex, start, end = uncovered_gaps(cov_ex, cov_lo, cov_hi, batch, tol)
    left = torch.zeros(batch, dtype=torch.float64).index_add_(0, gap_ex, end - start)
    if not totals:      # no evaluation at all (max_evaluations reached before the first)
        return tuple(torch.zeros_like(x) for x in inputs), used, left, rounds
    return tuple(t.to(d) for t, d in zip(totals, dtypes)), used, left, rounds
