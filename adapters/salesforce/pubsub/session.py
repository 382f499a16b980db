"""The Pub/Sub API's authentication: the REST session's token, instance URL and org id, refreshable."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from simple_salesforce.api import Salesforce

from adapters.salesforce.errors import call


@dataclass(frozen=True)
class PubSubSession:
    access_token: str
    instance_url: str
    tenant_id: str  # the org id
    user_id: str  # the integration user: its changes are our own writes

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The gRPC metadata headers every Pub/Sub API call carries."""
        return (("accesstoken", self.access_token), ("instanceurl", self.instance_url), ("tenantid", self.tenant_id))


class SalesforceSessions:
    """The REST client's session to start with; a new login through `connect` once it expires.

    `on_refresh` hands the new session back to the REST client, so both keep sharing one.
    """

    def __init__(
        self,
        connect: Callable[[], Salesforce],
        shared: Salesforce | None = None,
        on_refresh: Callable[[Salesforce], None] | None = None,
    ) -> None:
        self._connect = connect
        self._shared = shared
        self._on_refresh = on_refresh
        self._lock = threading.Lock()
        self._session: PubSubSession | None = None
        self.refreshes = 0

    def current(self) -> PubSubSession:
        with self._lock:
            if self._session is None:
                shared, self._shared = self._shared, None
                self._session = self._describe(shared) if shared is not None else self._login()
            return self._session

    def refresh(self, stale: PubSubSession | None = None) -> PubSubSession:
        """A new session, unless another thread already replaced `stale`."""
        with self._lock:
            if self._session is None or stale is None or self._session.access_token == stale.access_token:
                self._session = self._login()
                self.refreshes += 1
            return self._session

    def _login(self) -> PubSubSession:
        sf = call(self._connect)
        session = self._describe(sf)
        if self._on_refresh is not None:
            self._on_refresh(sf)
        return session

    @staticmethod
    def _describe(sf: Salesforce) -> PubSubSession:
        info = call(lambda: sf.oauth2("userinfo")) or {}
        return PubSubSession(
            access_token=str(sf.session_id),
            instance_url=f"https://{sf.sf_instance}",
            tenant_id=str(info.get("organization_id", "")),
            user_id=str(info.get("user_id", "")),
        )
