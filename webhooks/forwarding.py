"""Which URL the CRM called: forwarded headers count only from a proxy the operator named.

HubSpot signs the public URL it called, so behind a TLS-terminating proxy the app must
rebuild `https://public-host/prefix/path`. Two ways, stated once by the operator:

- a public base URL (`--public-url`, `LEADTHERM_PUBLIC_URL`): every request is taken to have
  arrived there; no forwarded header is read at all (the strongest: nothing a client sends
  can change the verified URL);
- trusted proxies (`--trusted-proxy`, `LEADTHERM_TRUSTED_PROXIES`): `X-Forwarded-Proto/Host/
  Port/Prefix/For` are applied (one hop, the proxy's own values) only when the TCP peer is one
  of them.

Otherwise, and for every other peer, the forwarded headers are removed before the app sees
them. This middleware is the one place that decides; waitress is told to leave them alone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from werkzeug.middleware.proxy_fix import ProxyFix

from integration.errors import LeadthermError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

PUBLIC_URL_ENV = "LEADTHERM_PUBLIC_URL"
TRUSTED_PROXIES_ENV = "LEADTHERM_TRUSTED_PROXIES"


class ProxyConfigError(LeadthermError):
    """The proxy settings cannot be used as given (bad address, bad URL, or both kinds set)."""


@dataclass(frozen=True)
class PublicUrl:
    scheme: str
    netloc: str  # host[:port] exactly as the CRM calls it
    host: str
    port: str
    prefix: str  # path the proxy removes before forwarding, "" or "/hooks"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.prefix}"


@dataclass(frozen=True)
class ProxyPolicy:
    """What, if anything, may tell the app its public URL. The default trusts nothing forwarded."""

    trusted: tuple[Network, ...] = ()
    public_url: PublicUrl | None = None

    def describe(self) -> str:
        if self.public_url is not None:
            return f"public URL {self.public_url}, forwarded headers ignored"
        if self.trusted:
            return "forwarded headers trusted from " + ", ".join(str(n) for n in self.trusted) + " only"
        return "no proxy trusted, forwarded headers ignored"

    def trusts(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False  # a unix socket or no address at all
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.trusted)


TRUST_NOTHING = ProxyPolicy()


def parse_public_url(text: str, source: str = "--public-url") -> PublicUrl:
    """'https://hooks.example.com[:port][/prefix]' -> PublicUrl, or ProxyConfigError naming `source`."""
    try:
        parts = urlsplit(text.strip())
        port = str(parts.port) if parts.port is not None else ("443" if parts.scheme == "https" else "80")
    except ValueError as exc:
        raise ProxyConfigError(f"{source}: {text!r} is not a URL ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProxyConfigError(f"{source}: {text!r} is not an http(s) URL like https://hooks.example.com")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ProxyConfigError(f"{source}: {text!r} must be scheme://host[:port][/prefix], nothing more")
    return PublicUrl(parts.scheme, parts.netloc, parts.hostname, port, parts.path.rstrip("/"))


def parse_trusted_proxies(values: Iterable[str], source: str = "--trusted-proxy") -> tuple[Network, ...]:
    """IP addresses or networks ('127.0.0.1', '10.0.0.0/8', '::1'), comma-separated or repeated."""
    networks: list[Network] = []
    for value in values:
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError as exc:
                raise ProxyConfigError(
                    f"{source}: {item!r} is not an IP address or network (e.g. 127.0.0.1 or 10.0.0.0/8)"
                ) from exc
    return tuple(networks)


def proxy_policy(
    env: Mapping[str, str], trusted_proxies: Iterable[str] | None = None, public_url: str | None = None
) -> ProxyPolicy:
    """The policy from `serve`'s options, else from the environment; both kinds at once is an error."""
    trusted = (
        parse_trusted_proxies(trusted_proxies)
        if trusted_proxies
        else parse_trusted_proxies([env.get(TRUSTED_PROXIES_ENV, "")], TRUSTED_PROXIES_ENV)
    )
    url_text, url_source = (public_url, "--public-url") if public_url else (env.get(PUBLIC_URL_ENV, ""), PUBLIC_URL_ENV)
    url = parse_public_url(url_text, url_source) if url_text.strip() else None
    if url is not None and trusted:
        raise ProxyConfigError(
            "set either a public URL or trusted proxies, not both: with a public URL nothing forwarded is read"
        )
    return ProxyPolicy(trusted, url)


def _strip_forwarded(environ: WSGIEnvironment) -> None:
    for key in [k for k in environ if k.startswith(("HTTP_X_FORWARDED_", "HTTP_FORWARDED"))]:
        del environ[key]


class ForwardingMiddleware:
    """Applies a ProxyPolicy to each request's environ before the app builds `request.url`."""

    def __init__(self, app: WSGIApplication, policy: ProxyPolicy) -> None:
        self.app = app
        self.policy = policy
        # One hop: the values the trusted proxy itself set (it appends to what a client sent).
        self.from_proxy = ProxyFix(app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes] | Any:
        public = self.policy.public_url
        if public is not None:
            _strip_forwarded(environ)
            environ["wsgi.url_scheme"] = public.scheme
            environ["HTTP_HOST"] = public.netloc
            environ["SERVER_NAME"] = public.host
            environ["SERVER_PORT"] = public.port
            environ["SCRIPT_NAME"] = public.prefix
            return self.app(environ, start_response)
        if self.policy.trusted and self.policy.trusts(str(environ.get("REMOTE_ADDR", ""))):
            environ.pop("HTTP_FORWARDED", None)  # RFC 7239: not read by anything, so not kept either
            return self.from_proxy(environ, start_response)
        _strip_forwarded(environ)
        return self.app(environ, start_response)
