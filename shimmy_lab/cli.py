"""The ``shimmy-lab`` command line (typer).

``serve``'s flags are generated from :class:`shimmy_lab.settings.Settings`, so every
setting has exactly one definition (name, default, help) shared by the CLI, the
environment (``SHIMMY_*``) and ``shimmy.toml``.

::

    shimmy-lab serve --port auto --parallel 2 --api-key secret
    shimmy-lab models
    shimmy-lab generate "Once upon a time" --max-tokens 32
    shimmy-lab config show
"""

from __future__ import annotations

import inspect
import json
import sys
import typing
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer
from pydantic import BaseModel

from .cli_eval import eval_app
from .errors import ShimmyError
from .lab import Lab
from .settings import Settings

__all__ = ["app", "main"]

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="shimmy-lab: local LLM engines, an OpenAI-compatible server, narrative tools.")
config_app = typer.Typer(no_args_is_help=True, help="Inspect the merged settings.")
app.add_typer(config_app, name="config")
app.add_typer(eval_app, name="eval")


def _settings_options() -> list[tuple[str, str, Any, Any]]:
    """``(kwarg, flag, annotation, help)`` for every (flattened) settings field."""
    out = []
    for name, field in Settings.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            for sub, subfield in ann.model_fields.items():
                out.append(_option(f"{name}_{sub}", subfield))
        else:
            out.append(_option(name, field))
    return out


def _option(name: str, field: Any) -> tuple[str, str, Any, Any]:
    extra = field.json_schema_extra or {}
    flag = extra.get("cli") or "--" + name.replace("_", "-")
    ann = field.annotation
    if ann is bool:
        return name, f"{flag}/--no-{flag[2:]}", Optional[bool], field.description
    if getattr(ann, "__origin__", None) is list or "list[" in str(ann):
        return name, flag, Optional[List[str]], (field.description or "") + " Repeatable."
    return name, flag, Optional[str], field.description


def _metavar(ann: Any) -> str:
    """``INT``, ``FLOAT``, ``PATH``, ``INT|auto``, ``a|b|c`` for a settings annotation."""
    args = typing.get_args(ann) or (ann,)
    parts = []
    for a in args:
        if a is type(None):
            continue
        if typing.get_origin(a) is typing.Literal:
            parts += [str(x) for x in typing.get_args(a)]
        elif isinstance(a, type):
            parts.append("PATH" if issubclass(a, Path) else a.__name__.upper())
    return "|".join(parts) or "TEXT"


def _with_settings_flags(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``func(**settings_kwargs)`` one typer option per settings field."""
    params, annotations = [], {}

    fields = {n: f for n, f in Settings.model_fields.items()}
    for name, flag, ann, help_text in _settings_options():
        field = fields.get(name)
        metavar = _metavar(field.annotation) if field is not None and ann is Optional[str] else None
        default = typer.Option(None, flag, help=help_text, show_default=False, metavar=metavar)
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=ann))
        annotations[name] = ann
    func.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    func.__annotations__ = annotations
    return func


def _load_settings(kwargs: dict[str, Any]):
    config = kwargs.pop("config", None)
    try:
        return Settings.load(config=config, **kwargs)
    except Exception as exc:
        typer.secho(f"Invalid settings: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


def _serve(**kwargs: Any) -> None:
    """Serve the OpenAI-compatible API (flags > SHIMMY_* > shimmy.toml > defaults)."""
    # late binding: tests monkeypatch it
    from .server.logs import configure_logging
    from .server.run import serve

    settings = _load_settings(kwargs)
    configure_logging(settings.log_format, settings.log_level)  # --log-format json: one JSON object per line
    serve(settings=settings)


app.command("serve", help=_serve.__doc__)(_with_settings_flags(_serve))


@app.command("models")
def models_cmd(
    paths: bool = typer.Option(False, "--paths", help="Show file paths."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON records."),
) -> None:
    """List the models found on disk (the bundled model is always there)."""
    df = Lab().models()
    if json_out:
        typer.echo(df.to_json(orient="records", indent=1))
        return
    if not paths:
        df = df.drop(columns=["path"])
    typer.echo(df.to_string(index=False))


@app.command("generate")
def generate_cmd(
    prompt: str = typer.Argument(..., help="User message (chat) or raw prompt (--raw)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model id or path (default: bundled)."),
    system: Optional[str] = typer.Option(None, "--system", help="System message."),
    max_tokens: int = typer.Option(128, "--max-tokens", "-n", help="Tokens to generate at most."),
    temperature: float = typer.Option(0.7, "--temperature", "-t"),
    seed: Optional[int] = typer.Option(None, "--seed"),
    raw: bool = typer.Option(False, "--raw", help="Plain completion, no chat template."),
) -> None:
    """Generate text inline, streaming it to stdout."""
    lab = Lab(model)
    params = {"max_tokens": max_tokens, "temperature": temperature, "seed": seed}
    try:
        if raw:
            for chunk in lab.engine().complete(prompt, stream=True, **params):
                for choice in chunk["choices"]:
                    sys.stdout.write(choice.get("text") or "")
                    sys.stdout.flush()
            sys.stdout.write("\n")
        else:
            messages = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": prompt}]
            lab.chat(messages, display=True, **params)
    except ShimmyError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


@config_app.command("show")
def config_show(
    config: Optional[str] = typer.Option(None, "--config", help="shimmy.toml path (also $SHIMMY_CONFIG)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Print the merged settings and where each value came from (cli, env, toml, default)."""
    settings = _load_settings({"config": config})
    rows = settings.table()
    if json_out:
        typer.echo(json.dumps({n: {"value": v, "source": s} for n, v, s in rows}, indent=1, default=str))
        return
    width = max(len(n) for n, _, _ in rows)
    for name, value, source in rows:
        typer.echo(f"{name:<{width}}  {str(value):<28}  {source}")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
