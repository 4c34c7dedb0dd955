"""How gunicorn runs the IdP, shared by `gunicorn.conf.py`, `app.gunicorn_config` and
`tokenidp serve`: validated bind and workers, one log format, and the hooks that make a
bad address one line (exit 2) and say "ready" only once the sockets are bound."""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import gc
import ipaddress
import logging
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.config.values import shown
from app.errors import ConfigError
from app.http.h1c import name_unsupported_transfer_coding
from app.logs import GunicornLogger, log_format, refusal_line

log = logging.getLogger("tokenidp")
MAX_WORKERS = 256
METRICS_DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
KEEPALIVE_SECONDS = 5  # an idle keep-alive connection is closed after this long
GRACEFUL_TIMEOUT_SECONDS = 10  # on SIGTERM, in-flight requests get this long to finish
# On SIGTERM a worker answers with `Connection: close` this long before gunicorn's shutdown.
DRAIN_SECONDS = 0.25
# A worker's young-generation garbage collection runs after this many new container objects
# (Python's default: 700). See `collect_garbage_less_often`.
YOUNG_OBJECTS_PER_COLLECTION = 20_000
_settings_loaded = False
_owned_metrics_directory: Path | None = None
_metrics_directory: str | None = None


def gunicorn_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """Bind and workers from TOKENIDP_BIND (or PORT) and TOKENIDP_WORKERS; the app preloaded.

    `preload_app` resolves the signing key once in the master: a configuration error
    stops the server at once instead of crash-looping workers, and keys are parsed once.
    """
    global _settings_loaded
    _settings_loaded = True
    name_unsupported_transfer_coding()
    log_format(environ)  # refused here: one line and exit 2 before gunicorn starts
    prepare_metrics_directory(environ)
    return {
        "bind": bind_address(environ),
        "workers": worker_count(environ),
        "worker_class": "asgi",
        "preload_app": True,
        "keepalive": KEEPALIVE_SECONDS,
        "http_parser": "fast",  # gunicorn_h1c (see app/http/h1c.py)
        "timeout": 30,
        "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
        "logger_class": GunicornLogger,
        "control_socket_disable": True,  # one per host otherwise, shared by every instance
        "on_starting": refuse_unusable_addresses,
        "when_ready": announce_ready,
        "pre_fork": freeze_startup_objects,
        "post_fork": start_worker,
        "child_exit": forget_worker_metrics,
        "on_exit": remove_metrics_directory,
        "on_reload": rebuild_app,
    }


def prepare_metrics_directory(environ: Mapping[str, str]) -> str:
    """An empty folder for prometheus_client's multiprocess files, named in
    `PROMETHEUS_MULTIPROC_DIR` before prometheus_client is imported (it reads the variable
    once, at import): each worker writes its own files and a scrape adds them all up.

    An operator's folder is emptied (counts of a previous run would be added to this
    one's); otherwise a new private folder under the temporary directory, removed at exit.
    """
    global _owned_metrics_directory, _metrics_directory
    if _metrics_directory is not None:  # gunicorn reads its settings again on HUP: keep it
        return _metrics_directory
    configured = environ.get(METRICS_DIRECTORY_VARIABLE)
    if configured:
        folder = Path(configured)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink(missing_ok=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="tokenidp-metrics-"))
        _owned_metrics_directory = folder
    os.environ[METRICS_DIRECTORY_VARIABLE] = _metrics_directory = str(folder)
    return _metrics_directory


def forget_worker_metrics(server: Any, worker: Any) -> None:
    """gunicorn's `child_exit`: a dead worker's gauges leave /metrics (its counts stay)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def remove_metrics_directory(server: Any) -> None:
    """gunicorn's `on_exit`: the folder this master made goes with it."""
    if _owned_metrics_directory is not None:
        shutil.rmtree(_owned_metrics_directory, ignore_errors=True)


def settings_loaded() -> bool:
    """Whether this process's gunicorn took TokenIDP's settings (not gunicorn's defaults)."""
    return _settings_loaded


def bind_address(environ: Mapping[str, str]) -> str:
    """`TOKENIDP_BIND` (HOST:PORT, [IPv6]:PORT or unix:PATH), else 127.0.0.1:$PORT."""
    raw = environ.get("TOKENIDP_BIND")
    setting = "TOKENIDP_BIND"
    if not raw:
        raw, setting = f"127.0.0.1:{environ.get('PORT') or '5000'}", "PORT"
    if raw.startswith("unix:"):
        if len(raw) == len("unix:"):
            raise ConfigError(setting, "unix: needs a socket path, e.g. unix:/run/tokenidp.sock")
        return raw
    host, colon, port = raw.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(setting, f"{shown(raw)} is not HOST:PORT with a port from 0 to 65535")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not _is_host(host):
        raise ConfigError(setting, f"{shown(raw)} does not name a valid host")
    return raw


def worker_count(environ: Mapping[str, str]) -> int:
    raw = environ.get("TOKENIDP_WORKERS")
    if not raw:
        return os.cpu_count() or 1
    if not raw.strip().isdigit() or not 1 <= int(raw) <= MAX_WORKERS:
        raise ConfigError(
            "TOKENIDP_WORKERS",
            f"{shown(raw)} is not a whole number of workers from 1 to {MAX_WORKERS}",
        )
    return int(raw)


def refuse_unusable_addresses(server: Any) -> None:
    """gunicorn's `on_starting`: an address in use is one line and exit 2, not five retries."""
    for address in server.cfg.address:
        if isinstance(address, str):  # a unix socket path: gunicorn replaces a stale one
            continue
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                reason = (
                    f"TOKENIDP_BIND: cannot listen on {_format_address(address)}: "
                    f"{_bind_failure(error)}"
                )
                print(refusal_line(reason), file=sys.stderr, flush=True)
                raise SystemExit(2) from None


def announce_ready(server: Any) -> None:
    """gunicorn's `when_ready`: the sockets are bound, so the IdP is ready for traffic."""
    from app.services import IdpServices

    services: IdpServices = server.app.wsgi().services
    listening = ", ".join(str(listener) for listener in server.LISTENERS)
    log.info("TokenIDP ready on %s: %s", listening, services.describe_signing(_now(services)))


def rebuild_app(server: Any) -> None:
    """gunicorn's `on_reload` (`HUP`): build the app anew from the configuration files and
    the store, in the master, before the new workers fork from it; the old workers finish
    their requests and stop. A configuration error keeps the running app (one line)."""
    from app import create_app
    from app.http.application import serve

    gc.unfreeze()  # the previous app's cycles may be collected once it is replaced
    previous = server.app.wsgi()
    try:
        rebuilt = serve(create_app())
    except ConfigError as error:
        log.error("reload refused, still serving the previous configuration: %s", error)
        return
    except Exception as error:  # noqa: BLE001 - whatever it is, the running app stays
        log.error(
            "reload failed, still serving the previous configuration: %s: %s",
            type(error).__name__,
            " ".join(str(error).split()),
        )
        return
    server.app.callable = rebuilt
    previous.services.storage.engine.dispose()
    log.info("reloaded: %s", rebuilt.services.describe_signing(_now(rebuilt.services)))


def start_worker(server: Any, worker: Any) -> None:
    """gunicorn's `post_fork`: a worker makes its own database connections and threads, and
    re-evaluates its keyring on its own interval (app/keys/live.py)."""
    services = server.app.wsgi().services
    services.storage.after_fork()
    services.limit_storage.after_fork()
    services.keys.after_fork()
    drain_before_stopping(worker, server.app.wsgi().asgi)
    collect_garbage_less_often()


def freeze_startup_objects(server: Any, worker: Any) -> None:
    """gunicorn's `pre_fork`, in the master: everything the preloaded app made goes to the
    garbage collector's permanent generation, which the workers' collections never walk
    (nor write to, so the pages stay shared between the workers)."""
    gc.freeze()


def collect_garbage_less_often() -> None:
    """In a worker: a young-generation collection every YOUNG_OBJECTS_PER_COLLECTION new
    objects instead of 700. With many requests in flight, each collection walked their live
    frames, futures and dicts again and again: measured here at 64 connections (ES256, one
    pinned worker), this and `freeze_startup_objects` took 240 µs of CPU a token to 193
    (1.15x the tokens/s, alternating A/B, 6 rounds); at 1, 4 and 16 connections no change.
    At most that many objects' worth of cyclic garbage waits a little longer."""
    gc.set_threshold(YOUNG_OBJECTS_PER_COLLECTION)


def drain_before_stopping(worker: Any, adapter: Any) -> None:
    """SIGTERM (a stop, or the old workers after `kill -HUP`) first makes every answer say
    `Connection: close`, then, DRAIN_SECONDS later, starts gunicorn's graceful shutdown.

    gunicorn alone closes a kept-alive connection when SIGTERM lands between an answer that
    announced keep-alive and the worker's next read: a client that already sent its next
    request on it sees the connection drop (seen in tests/app/test_reload.py). Once every
    answer announces the close, no client reuses a connection the worker then closes.
    """
    stop = getattr(worker, "handle_exit_signal", None)
    if stop is None:  # not gunicorn's asgi worker: nothing to wrap
        return

    def handle_exit_signal() -> None:
        adapter.drain()
        asyncio.get_running_loop().call_later(DRAIN_SECONDS, stop)

    worker.handle_exit_signal = handle_exit_signal  # init_signals binds it after post_fork


def _now(services: Any) -> dt.datetime:
    return dt.datetime.fromtimestamp(services.clock(), dt.UTC)


def _bind_failure(error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return "the address is in use (another server is listening there)"
    if error.errno == errno.EACCES:
        return "permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)"
    if error.errno == errno.EADDRNOTAVAIL:
        return "this host has no such address"
    return (error.strerror or str(error)).lower()


def _format_address(address: tuple) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        labels = host.rstrip(".").split(".")
        return all(
            0 < len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii()
            for label in labels
        )
