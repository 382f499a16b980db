"""leadtherm's own HTTP session to Salesforce, trusting `SALESFORCE_CA_BUNDLE` when set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from adapters.salesforce.settings import CA_BUNDLE_SETTING
from integration.composition.plugins import Env
from integration.errors import InvalidSetting


class _TrustingSession(requests.Session):
    """A session whose own CA file wins over REQUESTS_CA_BUNDLE (plain requests lets the variable win)."""

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:  # requests' stubs type it as a private TypedDict
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None or verify is True:
            settings["verify"] = self.verify
        return settings


def http_session(env: Env) -> requests.Session:
    """leadtherm's own HTTP session to Salesforce: it trusts `SALESFORCE_CA_BUNDLE` when set, and
    only this session does (unlike REQUESTS_CA_BUNDLE, which every request of the process would use)."""
    ca = env.get(CA_BUNDLE_SETTING, "").strip()
    if not ca:
        return requests.Session()
    if not Path(ca).is_file():
        raise InvalidSetting(CA_BUNDLE_SETTING, "the path of a CA file (PEM) to trust for Salesforce")
    session = _TrustingSession()
    session.verify = ca
    return session
