"""python -m examples.downstream_api --jwks-uri URL --issuer ISS --audience AUD --port N"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from werkzeug.serving import make_server

from examples.downstream_api import create_app

# Each option can come from the environment instead: --jwks-uri is DOWNSTREAM_API_JWKS_URI.
ENVIRONMENT_PREFIX = "DOWNSTREAM_API_"


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options, each defaulting to its DOWNSTREAM_API_* environment variable."""
    parser = argparse.ArgumentParser(prog="python -m examples.downstream_api", description=__doc__)
    for option, help_text in (
        ("--jwks-uri", "URL of the issuer's JWKS"),
        ("--issuer", "the iss value tokens must carry"),
        ("--audience", "the aud value tokens must carry"),
    ):
        variable = ENVIRONMENT_PREFIX + option[2:].replace("-", "_").upper()
        parser.add_argument(
            option,
            default=os.environ.get(variable),
            required=variable not in os.environ,
            help=f"{help_text} (env {variable})",
        )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get(ENVIRONMENT_PREFIX + "PORT", "8081")),
        help="port on 127.0.0.1; 0 picks a free one (env DOWNSTREAM_API_PORT, default 8081)",
    )
    parser.add_argument(
        "--refresh-cooldown",
        type=float,
        default=float(os.environ.get(ENVIRONMENT_PREFIX + "REFRESH_COOLDOWN", "30")),
        help="seconds between JWKS refreshes caused by unknown kids "
        "(env DOWNSTREAM_API_REFRESH_COOLDOWN, default 30)",
    )
    parser.add_argument(
        "--max-staleness",
        type=float,
        default=float(os.environ.get(ENVIRONMENT_PREFIX + "MAX_STALENESS", "86400")),
        help="seconds the cached keys are trusted without a successful JWKS fetch; then "
        "requests get 503 (env DOWNSTREAM_API_MAX_STALENESS, default 86400)",
    )
    parser.add_argument(
        "--allow-development-keys",
        action="store_true",
        default=_environment_flag(ENVIRONMENT_PREFIX + "ALLOW_DEVELOPMENT_KEYS"),
        help="trust a development IdP's key, for local use only; never in production "
        "(env DOWNSTREAM_API_ALLOW_DEVELOPMENT_KEYS=1)",
    )
    return parser.parse_args(argv)


def _environment_flag(variable: str) -> bool:
    """1/true/yes (any case) turn a flag on; unset, empty, 0/false/no leave it off."""
    value = os.environ.get(variable, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise SystemExit(f"{variable}: {value!r} is not one of 1, true, yes, 0, false, no")


def main(argv: list[str] | None = None) -> int:
    """Serve on 127.0.0.1 until SIGTERM or Ctrl-C; print the URL once listening."""
    arguments = parse_arguments(argv)
    app = create_app(
        jwks_uri=arguments.jwks_uri,
        issuer=arguments.issuer,
        audience=arguments.audience,
        refresh_cooldown_seconds=arguments.refresh_cooldown,
        max_staleness_seconds=arguments.max_staleness,
        allow_development_keys=arguments.allow_development_keys,
    )
    if arguments.allow_development_keys:
        print(
            "WARNING: trusting development keys (--allow-development-keys): local use only",
            file=sys.stderr,
            flush=True,
        )
    server = make_server("127.0.0.1", arguments.port, app, threaded=True)

    def stop(signal_number: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"downstream API listening on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    print("downstream API stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
