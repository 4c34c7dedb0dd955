"""The audit-cost bench's baseline: TokenIDP exactly as `wsgi:app` serves it, except that a
token's records are dropped instead of committed. Only bench/audit_cost_bench.py runs it,
to measure what recording costs; nothing else may serve it."""

from app import create_app
from app.http.application import serve
from app.serving import settings_loaded

if not settings_loaded():
    raise SystemExit("bench.without_records runs under gunicorn --config gunicorn.conf.py")


async def _drop(unit):  # noqa: ANN001, ANN202 - the signature of Storage.write
    return None


app = serve(create_app())
app.services.storage.write = _drop  # the one difference from wsgi:app
