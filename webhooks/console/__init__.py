"""The admin console: rules and mappings, preview, what-if, history, operations (issue #14)."""

from webhooks.console.app import create_console_app, register_console
from webhooks.console.context import ConsoleConfig

__all__ = ["ConsoleConfig", "create_console_app", "register_console"]
