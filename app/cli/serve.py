"""`tokenidp serve` and `tokenidp check`: start the IdP, or only prove that it would start."""

from __future__ import annotations

import os
from typing import Any

import click
from gunicorn.app.base import BaseApplication

from app import create_app
from app.cli import cli, command_settings
from app.http.application import serve as serve_application
from app.serving import gunicorn_settings


class _GunicornServer(BaseApplication):
    def __init__(self, application: Any, options: dict[str, Any]) -> None:
        self.application = application
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        return self.application


@cli.command()
@click.option("--bind", help="host:port (default TOKENIDP_BIND, or 127.0.0.1:$PORT, or :5000)")
@click.option("--workers", type=click.IntRange(min=1), help="default TOKENIDP_WORKERS or cores")
def serve(bind: str | None, workers: int | None) -> None:
    """Resolve the signing key, then serve under gunicorn (exit 2 if the key is refused)."""
    options = gunicorn_settings(os.environ)  # first: it names the metrics folder
    app = serve_application(create_app(command_settings()))
    if bind:
        options["bind"] = bind
    if workers:
        options["workers"] = workers
    _GunicornServer(app, options).run()


@cli.command()
def check() -> None:
    """Load configuration and resolve the keys as start-up would; exit 2 naming what is wrong."""
    app = create_app(command_settings())
    keys = app.extensions["tokenidp"].keys
    why_not = keys.why_not_signing()
    if why_not is not None:
        raise click.ClickException(f"no key would sign: {why_not}")
    signing = keys.keyring.signing
    click.echo(f"ok: {signing.kid} ({signing.algorithm}, {signing.subject}) would sign")
