"""The Hubspot adapter, found by the core through the `leadtherm.crms` entry point."""

from adapters.hubspot.plugin import plugin

__all__ = ["plugin"]
