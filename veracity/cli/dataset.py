"""``veracity explain-dataset`` / ``evaluate-dataset`` / ``summarize-store``: dataset-scale runs into a
resumable store (:mod:`veracity.dataset`), one process or the ranks of ``torchrun``::

    torchrun --nproc-per-node 2 -m veracity.cli evaluate-dataset --model digits --data digits --store runs/eval

Run the same command again after an interruption: it continues from the last complete chunk.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any, Callable

import click
import torch
from torch import Tensor

from veracity.cli.guard import run_guarded
from veracity.cli.loading import UserError, load_data, load_model, parse_method_args

DEFAULT_METHOD = "IntegratedGradients"
DEFAULT_METHODS = ("Saliency", "IntegratedGradients")
DEFAULT_METRICS = ("sparseness", "completeness")


def _explain_with(model: Any, inputs: Tensor, target: Any, *, cls: type, kwargs: dict[str, Any]) -> Tensor:
    """``cls(model).attribute(inputs, target=target, **kwargs)``: a method of the command line, as
    ``functools.partial(_explain_with, cls=..., kwargs=...)`` so the store's manifest records both."""
    return cls(model).attribute(inputs, target=target, **kwargs)


def _is_rank_0() -> bool:
    import torch.distributed as dist

    return dist.get_rank() == 0 if dist.is_available() and dist.is_initialized() else os.environ.get("RANK", "0") == "0"


def _guard(ctx: click.Context, work: Callable[[], None]) -> None:
    """Run ``work``: user mistakes and failures become messages and exit code 1 (130 on Ctrl-C)."""
    run_guarded(work, bool(ctx.obj and ctx.obj.get("debug")),
                interrupted="interrupted: run the same command again to continue from the last complete chunk",
                user_errors=(UserError, ValueError))


def _dataset(model: torch.nn.Module, data_spec: str, target: str, n_examples: int | None,
             device: str) -> tuple[torch.utils.data.TensorDataset, Tensor]:
    """The ``(input, target)`` pairs of ``--data`` (the first ``n``) and a background for baselines."""
    from veracity._core.predict import predict

    data = load_data(data_spec)
    inputs = data.inputs[:n_examples] if n_examples else data.inputs
    if target == "label":
        if data.labels is None:
            raise UserError("--target label: the data has no labels (use 'predicted' or a class index)")
        targets = data.labels[: len(inputs)]
    elif target == "predicted":
        try:
            targets = predict(model, inputs.to(device)).argmax(1).cpu()
        except Exception as error:
            raise UserError(f"the model fails on the data (inputs of shape {tuple(inputs.shape)}): {error}") from error
    else:
        try:
            targets = torch.full((len(inputs),), int(target), dtype=torch.long)
        except ValueError:
            raise UserError(f"--target: expected 'label', 'predicted' or a class index, got {target!r}") from None
    return torch.utils.data.TensorDataset(inputs, targets), data.inputs[: min(16, len(data.inputs))].to(device)


def _method(name: str, arguments: dict[str, Any], background: Tensor) -> tuple[type, dict[str, Any]]:
    from veracity import registry

    try:
        entry = registry.get(name)
    except KeyError as error:
        raise UserError(f"--method: {error.args[0]} (see `veracity methods`)") from None
    if not isinstance(entry, registry.MethodEntry) or entry.takes_layer:
        raise UserError(f"--method: {name!r} is not a method that explains the inputs")
    kwargs = dict(arguments)
    if entry.baseline_kind == "distribution":
        kwargs.setdefault("baselines", background)
    return entry.cls, kwargs


def options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options of explain-dataset and evaluate-dataset."""
    for option in reversed([
        click.option("--model", "model_spec", required=True, metavar="MODULE:FUNCTION",
                     help="A function returning the torch.nn.Module, or 'digits' (the demo's CNN)."),
        click.option("--weights", type=click.Path(dir_okay=False), help="A state_dict file for the model."),
        click.option("--data", "data_spec", required=True, metavar="SOURCE",
                     help="'digits', a folder of images (one subfolder per class), or a .pt/.npy/.npz file."),
        click.option("--store", required=True, type=click.Path(file_okay=False),
                     help="The store's directory (new, empty, or a store of the same run to continue)."),
        click.option("--arg", "method_args", multiple=True, metavar="METHOD.KEY=VALUE",
                     help="An argument of a method's attribute(), e.g. IntegratedGradients.n_steps=16 (repeat)."),
        click.option("--target", default="label", show_default=True,
                     help="The class to explain: 'label' (the data's), 'predicted', or a class index."),
        click.option("-n", "--n-examples", "n_examples", type=click.IntRange(min=1), default=None,
                     help="Only the first n examples (default: all)."),
        click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True),
        click.option("--chunk-size", type=click.IntRange(min=1), default=256, show_default=True,
                     help="Examples per chunk of the store (the unit of resume and of work per rank)."),
        click.option("--device", default="cpu", show_default=True,
                     help="torch device; under torchrun with CUDA use cuda (each rank takes its LOCAL_RANK GPU)."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
    ]):
        func = option(func)
    return func


def _setup(model_spec: str, weights: str | None, data_spec: str, target: str, n_examples: int | None,
           device: str, seed: int) -> tuple[torch.nn.Module, Any, Tensor]:
    torch.manual_seed(seed)
    if device == "cuda" and torch.cuda.is_available() and "LOCAL_RANK" in os.environ:
        device = f"cuda:{int(os.environ['LOCAL_RANK'])}"
    try:
        torch.device(device)
    except RuntimeError as error:
        raise UserError(f"--device: {error}") from error
    model = load_model(model_spec, weights, device, seed)
    dataset, background = _dataset(model, data_spec, target, n_examples, device)
    return model, dataset, background


def _print_summary(summary: dict[str, Any]) -> None:
    store = summary["store"]
    accuracy = "" if summary["accuracy"] is None else f", accuracy {summary['accuracy']:.3f}"
    click.echo(f"{store}: {summary['n_done']}/{summary['n_examples']} examples in {summary['chunks_complete']}/"
               f"{summary['n_chunks']} chunks{accuracy}")
    for cell in summary["metrics"]:
        interval = "n/a" if cell["mean"] is None else f"{cell['mean']:.4g} [{cell['low']:.4g}, {cell['high']:.4g}]"
        worst = "" if not cell["worst"] else " worst: " + ", ".join(f"#{w['index']}" for w in cell["worst"])
        click.echo(f"  {cell['method']} / {cell['metric']}: {interval}{worst}")


@click.command("explain-dataset")
@options
@click.option("--method", "method_name", default=DEFAULT_METHOD, show_default=True,
              help="A method from `veracity methods`.")
@click.pass_context
def explain_dataset(ctx: click.Context, model_spec: str, weights: str | None, data_spec: str, store: str,
                    method_args: tuple[str, ...], target: str, n_examples: int | None, batch_size: int,
                    chunk_size: int, device: str, seed: int, quiet: bool, method_name: str) -> None:
    """Attribute every example of --data into a resumable store (attributions, outputs, targets).
    Under torchrun the ranks share the chunks; run it again to continue after an interruption."""
    def work() -> None:
        from veracity.dataset import attribute_dataset

        model, dataset, background = _setup(model_spec, weights, data_spec, target, n_examples, device, seed)
        cls, kwargs = _method(method_name, parse_method_args(method_args, [method_name])[method_name], background)
        attribute_dataset(cls(model), dataset, store, batch_size=batch_size, chunk_size=chunk_size, seed=seed,
                          show_progress=not quiet, **kwargs)
        if _is_rank_0():
            from veracity.dataset import summarize

            _print_summary(summarize(store))
    _guard(ctx, work)


@click.command("evaluate-dataset")
@options
@click.option("--method", "methods", multiple=True,
              help="A method from `veracity methods` (repeat; default: " + ", ".join(DEFAULT_METHODS) + ").")
@click.option("--metric", "metrics", multiple=True,
              help="A metric name (repeat; default: " + ", ".join(DEFAULT_METRICS) + ").")
@click.option("--metric-arg", "metric_args", multiple=True, metavar="METRIC.KEY=VALUE",
              help="An argument of a metric, e.g. max_sensitivity.n_samples=5 (repeat).")
@click.pass_context
def evaluate_dataset(ctx: click.Context, model_spec: str, weights: str | None, data_spec: str, store: str,
                     method_args: tuple[str, ...], target: str, n_examples: int | None, batch_size: int,
                     chunk_size: int, device: str, seed: int, quiet: bool, methods: tuple[str, ...],
                     metrics: tuple[str, ...], metric_args: tuple[str, ...]) -> None:
    """Score every example of --data: each method's attributions and each metric's per-example value
    into a resumable store; prints the summary (means with 95% intervals, worst examples)."""
    def work() -> None:
        from veracity.dataset import evaluate_dataset as run
        from veracity.metrics import builtin_metrics

        names, chosen_metrics = list(methods or DEFAULT_METHODS), list(metrics or DEFAULT_METRICS)
        known = builtin_metrics()
        for name in chosen_metrics:
            if name not in known:
                raise UserError(f"--metric: unknown metric {name!r}; known: {', '.join(sorted(known))}")
        try:
            metric_kwargs = parse_method_args(metric_args, chosen_metrics)
        except UserError as error:
            raise UserError(str(error).replace("--arg", "--metric-arg").replace("METHOD", "METRIC")) from None
        model, dataset, background = _setup(model_spec, weights, data_spec, target, n_examples, device, seed)
        arguments = parse_method_args(method_args, names)
        explainers = {}
        for name in names:
            cls, kwargs = _method(name, arguments[name], background)
            explainers[name] = functools.partial(_explain_with, cls=cls, kwargs=kwargs)
        specs = [(m, metric_kwargs[m]) if metric_kwargs[m] else m for m in chosen_metrics]
        run(model, dataset, explainers, specs, store, batch_size=batch_size, chunk_size=chunk_size, seed=seed,
            show_progress=not quiet)
        if _is_rank_0():
            from veracity.dataset import summarize

            _print_summary(summarize(store))
    _guard(ctx, work)


@click.command("summarize-store")
@click.option("--store", required=True, type=click.Path(file_okay=False, exists=True), help="A dataset store.")
@click.option("--worst", type=click.IntRange(min=0), default=5, show_default=True, help="Worst examples per cell.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the JSON summary to this file.")
@click.pass_context
def summarize_store(ctx: click.Context, store: str, worst: int, as_json: bool, out: str | None) -> None:
    """Summarize a dataset store: progress, accuracy, per-method metric means with 95% intervals and
    the worst examples (the JSON the report and the app read)."""
    def work() -> None:
        from veracity.dataset import summarize

        summary = summarize(store, n_worst=worst)
        if out:
            Path(out).write_text(json.dumps(summary, indent=1))
        if as_json:
            click.echo(json.dumps(summary, indent=1))
        else:
            _print_summary(summary)
    _guard(ctx, work)
