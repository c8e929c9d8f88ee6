"""The ``veracity`` command: explain, evaluate, report, serve, methods (Click).

Exit codes: 0 done; 1 the work failed (a file, model or method the user gave does not work:
the message says which, no traceback unless ``--debug``); 2 a usage error (Click's); 130
interrupted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import click
import torch

from veracity.cli.guard import run_guarded
from veracity.cli.loading import UserError, load_data, load_model, method_instances, parse_method_args

DEFAULT_METHODS = ("Saliency", "IntegratedGradients", "DeepLift", "GradientShap")
DEFAULT_METRICS = ("faithfulness_correlation", "max_sensitivity", "sparseness")


def _method_names() -> list[str]:
    from veracity import registry

    return [m.name for m in registry.methods()]


def _check_methods(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    known = _method_names()
    for name in value:
        if name not in known:
            import difflib

            close = difflib.get_close_matches(name, known, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else " (see `veracity methods`)"
            raise click.BadParameter(f"unknown method {name!r}{hint}", ctx, param)
    return value


def common(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by explain, evaluate and report."""
    options = [
        click.option("--model", "model_spec", required=True, metavar="MODULE:FUNCTION",
                     help="A function returning the torch.nn.Module, or 'digits' (the demo's CNN)."),
        click.option("--weights", type=click.Path(dir_okay=False), help="A state_dict file for the model."),
        click.option("--data", "data_spec", required=True, metavar="SOURCE",
                     help="'digits', a folder of images (one subfolder per class), or a .pt/.npy/.npz file."),
        click.option("--method", "methods", multiple=True, callback=_check_methods,
                     help="A method from `veracity methods` (repeat; default: " + ", ".join(DEFAULT_METHODS) + ")."),
        click.option("--arg", "method_args", multiple=True, metavar="METHOD.KEY=VALUE",
                     help="An argument of a method's attribute(), e.g. IntegratedGradients.n_steps=16 (repeat)."),
        click.option("--target", default="predicted", show_default=True,
                     help="The class to explain: 'predicted', 'label' (the data's), or a class index."),
        click.option("-n", "--n-examples", "n_examples", type=click.IntRange(min=1), default=64, show_default=True,
                     help="How many examples (the first n)."),
        click.option("--device", default="cpu", show_default=True, help="torch device, e.g. cpu or cuda:0."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw."),
        click.option("--out", type=click.Path(file_okay=False), default="out", show_default=True,
                     help="Folder for the files written."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _setup(model_spec: str, weights: str | None, data_spec: str, methods: tuple[str, ...], method_args: tuple[str, ...],
           target: str, n_examples: int, device: str, seed: int) -> dict[str, Any]:
    from veracity._core.predict import predict

    torch.manual_seed(seed)
    try:
        torch.device(device)
    except RuntimeError as error:
        raise UserError(f"--device: {error}") from error
    model = load_model(model_spec, weights, device, seed)
    data = load_data(data_spec)
    x = data.inputs[:n_examples].to(device)
    labels = None if data.labels is None else data.labels[:n_examples].to(device)
    try:
        outputs = predict(model, x)
    except Exception as error:
        raise UserError(f"the model fails on the data (inputs of shape {tuple(x.shape)}): {error}") from error
    if outputs.dim() != 2:
        raise UserError(f"the model returns outputs of shape {tuple(outputs.shape)}; expected (N, classes)")
    if target == "predicted":
        targets = outputs.argmax(1)
    elif target == "label":
        if labels is None:
            raise UserError("--target label: the data has no labels (use 'predicted' or a class index)")
        targets = labels
    else:
        try:
            index = int(target)
        except ValueError:
            raise UserError(f"--target: expected 'predicted', 'label' or a class index, got {target!r}") from None
        if not 0 <= index < outputs.shape[1]:
            raise UserError(f"--target: class {index} is outside 0..{outputs.shape[1] - 1}")
        targets = torch.full((len(x),), index, dtype=torch.long, device=x.device)
    names = list(methods) or list(DEFAULT_METHODS)
    background = data.inputs[: min(16, len(data.inputs))].to(device)
    explainers = method_instances(names, model, background, parse_method_args(method_args, names), seed)
    classes = data.classes or [str(i) for i in range(outputs.shape[1])]
    return {"model": model, "data": data, "x": x, "labels": labels, "targets": targets, "methods": explainers,
            "classes": classes, "outputs": outputs}


def _run(work: Callable[[], None], debug: bool) -> None:
    """Run ``work``: user mistakes and failures become messages and exit code 1."""
    run_guarded(work, debug)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show the traceback of a failure.")
@click.version_option(package_name="veracity")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """veracity: explain a PyTorch model and check whether the explanations can be trusted."""
    ctx.obj = {"debug": debug}


@cli.command()
@click.option("--family", type=click.Choice(["gradient", "perturbation", "layer", "neuron", "cam"]))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per method.")
def methods(family: str | None, as_json: bool) -> None:
    """List the attribution methods with what they claim."""
    from veracity import registry

    entries = registry.methods(family)
    claims = ("completeness", "closed_form", "dummy_exact", "batch_invariant", "stochastic")
    if as_json:
        click.echo(json.dumps([{"name": e.name, "family": e.family, "scope": e.scope, "baseline": e.baseline_kind,
                                **{c: getattr(e, c) for c in claims}} for e in entries], indent=1))
        return
    rows = [("method", "family", "scope", "claims")]
    for e in entries:
        said = [c.replace("_", " ") for c in ("completeness", "dummy_exact", "batch_invariant") if getattr(e, c)]
        if e.closed_form:
            said.append(f"linear: {e.closed_form}")
        if e.stochastic:
            said.append("stochastic (seeded)")
        rows.append((e.name, e.family, e.scope, ", ".join(said) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row[:3], widths)) + "  " + row[3])


@cli.command()
@common
@click.pass_context
def explain(ctx: click.Context, out: str, **options: Any) -> None:
    """Explain the first n examples; write attributions.pt and attributions.png to --out."""
    def work() -> None:
        from tqdm.auto import tqdm

        from veracity.report.build import explain as run_method
        from veracity.viz import attribution_grid

        setup = _setup(**options)
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        maps = {name: run_method(method, setup["model"], setup["x"], setup["targets"]).cpu()
                for name, method in tqdm(setup["methods"].items(), desc="explain", delay=2.0)}
        torch.save({"attributions": maps, "targets": setup["targets"].cpu()}, folder / "attributions.pt")
        shown = min(8, len(setup["x"]))
        if setup["x"].dim() == 4:
            classes, targets = setup["classes"], setup["targets"].tolist()
            titles = [f"#{i}: {classes[t] if t < len(classes) else t}" for i, t in enumerate(targets[:shown])]
            attribution_grid(setup["x"][:shown].cpu(), {k: v[:shown] for k, v in maps.items()},
                             folder / "attributions.png", titles)
        for name, value in maps.items():
            click.echo(f"{name}: attributions {tuple(value.shape)}, mean |sum| "
                       f"{value.flatten(1).sum(1).abs().mean():.4g}")
        click.echo(f"wrote {folder / 'attributions.pt'}")
    _run(work, ctx.obj["debug"])


@cli.command()
@common
@click.option("--metric", "metrics", multiple=True,
              help="A metric name (repeat; default: " + ", ".join(DEFAULT_METRICS) + ").")
@click.pass_context
def evaluate(ctx: click.Context, out: str, metrics: tuple[str, ...], **options: Any) -> None:
    """Score the methods with metrics (bootstrap intervals); print the table, write evaluation.json."""
    def work() -> None:
        from veracity.metrics import builtin_metrics
        from veracity.metrics import evaluate as run_grid

        known = builtin_metrics()
        for name in metrics:
            if name not in known:
                raise UserError(f"--metric: unknown metric {name!r}; known: {', '.join(sorted(known))}")
        setup = _setup(**options)
        table = run_grid(setup["model"], setup["x"], setup["targets"], setup["methods"],
                         list(metrics or DEFAULT_METRICS),
                         seed=options["seed"], show_progress=True)
        click.echo(table.to_markdown())
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        from veracity.report.build import finite
        cells = [{"method": m, "metric": metric.name, "mean": finite(table[m, metric.name].mean),
                  "low": finite(table[m, metric.name].low), "high": finite(table[m, metric.name].high),
                  "count": table[m, metric.name].count} for m in table.methods for metric in table.metrics]
        (folder / "evaluation.json").write_text(json.dumps(cells, indent=1))
        click.echo(f"wrote {folder / 'evaluation.json'}")
    _run(work, ctx.obj["debug"])


@cli.command()
@common
@click.option("--shown", type=click.IntRange(min=1), default=8, show_default=True, help="Examples drawn in the figure.")
@click.option("--example", "examples", type=click.IntRange(min=0), multiple=True,
              help="Draw this example (its index among the first n; repeat) instead of the first --shown.")
@click.option("--randomisation/--no-randomisation", default=True, show_default=True,
              help="Run the cascading model parameter randomisation check.")
@click.pass_context
def report(ctx: click.Context, out: str, shown: int, examples: tuple[int, ...], randomisation: bool,
           **options: Any) -> None:
    """Write the trust report: report.html (self-contained) and report.json to --out."""
    def work() -> None:
        from veracity.report import build_report, write_report

        setup = _setup(**options)
        built = build_report(setup["model"], setup["x"], setup["targets"], setup["methods"], labels=setup["labels"],
                             classes=setup["classes"], shown=list(examples) or shown, randomisation=randomisation,
                             seed=options["seed"],
                             model_name=options["model_spec"], data_name=setup["data"].name, show_progress=True)
        html_path, json_path = write_report(built, out)
        for method in built.data["methods"]:
            verdicts = ", ".join(f"{v['check']}: {v['verdict']}" for v in method["verdicts"])
            click.echo(f"{method['name']}: {verdicts}")
        click.echo(f"wrote {html_path} and {json_path}")
    _run(work, ctx.obj["debug"])


@cli.command()
@click.option("--demo", is_flag=True, help="Serve the digits CNN of `make demo` on its test digits.")
@click.option("--model", "model_spec", metavar="MODULE:FUNCTION", help="The model (with --data), as for explain.")
@click.option("--weights", type=click.Path(dir_okay=False))
@click.option("--data", "data_spec", metavar="SOURCE")
@click.option("--host", default="127.0.0.1", show_default=True, help="Other hosts need --token.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--token", envvar="VERACITY_TOKEN", help="Required for a non-local --host (or $VERACITY_TOKEN).")
@click.option("-n", "--n-examples", "n_examples", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_context
def serve(ctx: click.Context, demo: bool, model_spec: str | None, weights: str | None, data_spec: str | None,
          host: str, port: int, token: str | None, n_examples: int, device: str, seed: int) -> None:
    """Serve the Insights app (explore examples, methods and their trust scores in a browser)."""
    if not demo and not (model_spec and data_spec):
        raise click.UsageError("give --demo, or --model and --data")

    def work() -> None:
        from veracity.insights import AttributionVisualizer, Batch, ImageFeature

        torch.manual_seed(seed)
        model = load_model("digits" if demo else str(model_spec), weights, device, seed)
        data = load_data("digits" if demo else str(data_spec))
        x = data.inputs[:n_examples].to(device)
        labels = data.labels[:n_examples] if data.labels is not None else torch.zeros(len(x), dtype=torch.long)
        classes = data.classes or [str(i) for i in range(int(labels.max()) + 1)]
        app = AttributionVisualizer([model], classes, [ImageFeature("image")], [Batch(x, labels)])
        click.echo(f"serving on http://{host}:{port}/ (Ctrl-C to stop)", err=True)
        app.serve(port=port, host=host, token=token)
    _run(work, ctx.obj["debug"])


# dataset-scale runs into a resumable store (veracity.cli.dataset)
from veracity.cli.dataset import evaluate_dataset, explain_dataset, summarize_store  # noqa: E402

cli.add_command(explain_dataset)
cli.add_command(evaluate_dataset)
cli.add_command(summarize_store)
