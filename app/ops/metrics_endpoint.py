"""`GET /metrics`: Prometheus text, for the networks and bearer secret `Metrics` allows.

The address checked is the TCP peer's (no forwarding header is trusted), so a scraper
reaches each instance directly; through a proxy every request would share its address,
which is why a bearer secret can be required as well.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from app.config.settings import MetricsOptions
from app.http.messages import OAuthRequest, OAuthResponse, response
from app.oauth.errors import MethodNotAllowedError, OAuthError
from app.ops.metrics import CONTENT_TYPE, KeyCollector, render
from app.services import IdpServices

METRICS_PATH = "/metrics"
HEADERS = ((b"content-type", CONTENT_TYPE.encode()), (b"cache-control", b"no-store"))


class MetricsForbiddenError(OAuthError):
    """403: this address may not read the metrics (`Metrics:AllowedNetworks`)."""

    error = "access_denied"
    status = 403


class MetricsUnauthorizedError(OAuthError):
    """401 with a Bearer challenge: `Metrics:BearerSecretSha256` is set and not met."""

    error = "invalid_token"
    status = 401

    def __init__(self, description: str) -> None:
        super().__init__(
            description, headers={"WWW-Authenticate": 'Bearer realm="tokenidp-metrics"'}
        )


class MetricsEndpoint:
    """GET /metrics."""

    reads_body = False

    def __init__(self, services: IdpServices) -> None:
        self.options = services.settings.metrics
        from prometheus_client import CollectorRegistry

        self.keys = CollectorRegistry(auto_describe=False)
        self.keys.register(KeyCollector(services.keys, clock=services.clock))

    async def handle(self, request: OAuthRequest) -> OAuthResponse:
        if request.method not in ("GET", "HEAD"):
            raise MethodNotAllowedError(request.method, allowed="GET, HEAD")
        check_access(self.options, request)
        body = render(self.keys)
        answer = response(200, body, HEADERS)
        return answer if request.method == "GET" else OAuthResponse(200, answer.headers, b"")


def check_access(options: MetricsOptions, request: OAuthRequest) -> None:
    """Raise unless the peer is in an allowed network and, when one is configured, the
    bearer secret matches (its SHA-256 compared in constant time)."""
    if not address_allowed(request.remote_address, options):
        raise MetricsForbiddenError("metrics are not served to this address")
    expected = options.bearer_secret_sha256
    if expected is None:
        return
    scheme, _, secret = (request.header(b"authorization") or "").partition(" ")
    presented = hashlib.sha256(secret.strip().encode()).digest()
    if not (hmac.compare_digest(presented, expected) and scheme.lower() == "bearer"):
        raise MetricsUnauthorizedError("a valid bearer secret is required for the metrics")


def address_allowed(address: str, options: MetricsOptions) -> bool:
    """Whether `address` (an IP, or `-` for a unix socket peer) is in an allowed network.

    A unix socket peer has no address and is refused unless every address is allowed
    (which needs a bearer secret): a local proxy may be forwarding anyone.
    """
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return any(network.prefixlen == 0 for network in options.allowed_networks)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in options.allowed_networks)
