"""The Salesforce adapter, found by the core through the `leadtherm.crms` entry point."""

from adapters.salesforce.plugin import plugin

__all__ = ["plugin"]
