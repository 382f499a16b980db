"""The one exit-code rule (README, DESIGN.md): 0 ok, 1 the job failed, 2 bad usage or invalid configuration."""

from __future__ import annotations

EXIT_FAILED = 1
EXIT_USAGE = 2


def usage_errors() -> tuple[type[Exception], ...]:
    """The errors of the second kind: the person must change what they typed or set.

    Imported when an error is being reported, not at start: they live beside the code that raises them.
    """
    from integration.composition.intakes import NoIntakeEnabled
    from integration.composition.plugins import CrmNotNamed, NoStoredData, UnknownPlugin
    from integration.composition.runtime import NothingConfigured
    from integration.errors import ConfigError, InvalidSetting, MissingSetting
    from integration.files.exports import ExportError

    return (
        ConfigError,
        MissingSetting,
        InvalidSetting,
        NothingConfigured,
        NoStoredData,
        UnknownPlugin,
        CrmNotNamed,
        NoIntakeEnabled,
        ExportError,
    )


def exit_code(exc: Exception) -> int:
    """The documented exit code of a typed error: 2 for what the person must change, 1 for a failed job."""
    return EXIT_USAGE if isinstance(exc, usage_errors()) else EXIT_FAILED
