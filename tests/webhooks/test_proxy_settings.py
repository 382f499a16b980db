"""The operator's proxy settings: read once, validated with a message naming the option or variable."""

from __future__ import annotations

import ipaddress

import pytest

from webhooks.forwarding import ProxyConfigError, ProxyPolicy, proxy_policy


def test_nothing_configured_trusts_nothing() -> None:
    assert proxy_policy({}) == ProxyPolicy()


def test_trusted_proxies_come_from_the_option_or_else_the_environment() -> None:
    from_env = proxy_policy({"LEADTHERM_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"})
    assert from_env.trusted == (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))
    from_option = proxy_policy({"LEADTHERM_TRUSTED_PROXIES": "10.0.0.0/8"}, ["::1"])
    assert from_option.trusted == (ipaddress.ip_network("::1/128"),)
    assert from_option.trusts("::1") and not from_option.trusts("10.0.0.1")


def test_an_ipv4_peer_seen_as_ipv6_is_still_recognised() -> None:
    assert proxy_policy({}, ["127.0.0.1"]).trusts("::ffff:127.0.0.1")


def test_a_public_url_keeps_its_port_and_prefix() -> None:
    url = proxy_policy({"LEADTHERM_PUBLIC_URL": "https://hooks.example.com/in/"}).public_url
    assert url is not None
    assert (url.scheme, url.netloc, url.port, url.prefix) == ("https", "hooks.example.com", "443", "/in")


@pytest.mark.parametrize(
    ("env", "trusted", "public", "names"),
    [
        ({}, ["proxy.internal"], None, "--trusted-proxy: 'proxy.internal'"),
        ({"LEADTHERM_TRUSTED_PROXIES": "10.0.0.300"}, None, None, "LEADTHERM_TRUSTED_PROXIES: '10.0.0.300'"),
        ({}, None, "hooks.example.com", "--public-url: 'hooks.example.com'"),
        ({"LEADTHERM_PUBLIC_URL": "ftp://x"}, None, None, "LEADTHERM_PUBLIC_URL: 'ftp://x'"),
        ({}, None, "https://x.example/?a=1", "nothing more"),
        ({}, None, "https://x.example:99999", "--public-url"),
        ({}, ["127.0.0.1"], "https://x.example", "not both"),
    ],
)
def test_a_bad_setting_is_one_clear_error(
    env: dict[str, str], trusted: list[str] | None, public: str | None, names: str
) -> None:
    with pytest.raises(ProxyConfigError, match=names.replace("?", r"\?")):
        proxy_policy(env, trusted, public)
