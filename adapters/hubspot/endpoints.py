"""Where the HubSpot API is, for the plugin's settings and the client (a module without the SDK)."""

from __future__ import annotations

DEFAULT_API_BASE = "https://api.hubapi.com"
