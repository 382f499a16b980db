"""Every environment setting, declared once: the core's here, each CRM's by its plugin.

From the declarations, `settings_model` builds one typed pydantic model (secrets as SecretStr,
defaults, each declaration's check as its validator); `load_settings` validates the environment
through it once, raising a ConfigError with every problem, and returns `Settings`, a read-only
mapping of the validated values that refuses a name nobody declared, so a new variable cannot be
read without appearing in `leadtherm check --env` and in the README's configuration table
(`python -m integration.composition.settings --markdown` prints it).

The Lambda HTTP handler validates with `checked_settings` instead: the same declarations' checks
without pydantic, whose import and model would cost its cold start about 50 ms of the 0.3 s it has
(webhooks/lambda_handlers.py); tests/test_settings.py holds the two to the same problems.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from integration.errors import ConfigError, LeadthermError, Problem

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

Source = Literal["environment", "default", "unset"]
Check = Callable[[str], str | None]


@dataclass(frozen=True)
class Setting:
    """One environment variable: what it means, whether it is a secret, needed, and its default."""

    name: str
    meaning: str
    secret: bool = False
    required: bool = False  # needed whenever its owner (the core, or the CRM when configured) runs
    default: str | None = None
    # The value -> None when usable, else what it should hold (never repeating the value).
    check: Check | None = field(default=None, compare=False, repr=False)


class UndeclaredSetting(LeadthermError):
    """Code read an environment variable that no declaration names: declare it (a programming error)."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"setting {name} is read but not declared (add a Setting for it)")


class DuplicateSetting(LeadthermError):
    """Two declarations name the same variable."""

    def __init__(self, name: str, owners: Sequence[str]) -> None:
        super().__init__(f"setting {name} is declared by both {' and '.join(owners)}")


_INTERVAL = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def interval_seconds(text: str) -> float | None:
    """'90s', '15m', '1h', '1d' or plain seconds -> seconds; None when it is no positive interval."""
    match = _INTERVAL.match(text.strip())
    if not match or float(match.group(1)) <= 0:
        return None
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def number_setting(env: Mapping[str, str], name: str, default: float, low: float, problems: list[Problem]) -> float:
    """A numeric setting at least `low`, or its default; a bad value adds a Problem naming the variable."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = low - 1
    if value < low:
        problems.append(Problem("environment", None, name, f"{text!r} is not a number >= {low:g}"))
        return default
    return value


def _interval(text: str) -> str | None:
    return None if interval_seconds(text) is not None else "an interval like 30s, 15m, 1h"


def _whole_number(low: int) -> Check:
    def check(text: str) -> str | None:
        stripped = text.strip()
        return None if stripped.isdigit() and int(stripped) >= low else f"a whole number >= {low}"

    return check


def _one_of(*choices: str) -> Check:
    def check(text: str) -> str | None:
        return None if text.strip() in choices else f"one of {', '.join(choices)}"

    return check


CORE = "leadtherm"
CORE_SETTINGS: tuple[Setting, ...] = (
    Setting("LEADTHERM_BACKEND", "the storage: `sqlite` (embedded) or `aws` (SQS and DynamoDB)", default="sqlite"),
    Setting("LEADTHERM_DB", "SQLite file of the embedded backend", default="./leadtherm.db"),
    Setting("LEADTHERM_MAPPINGS", "folder of mapping files (default: the packaged `mappings/`)"),
    Setting(
        "LEADTHERM_RULES_STORE",
        "where applied rules versions live: `folder` (the mappings folder) or `dynamodb` (the `LEADTHERM_TABLE` table)",
        default="folder",
        check=_one_of("folder", "dynamodb"),
    ),
    Setting(
        "LEADTHERM_MAX_RECEIVES",
        "leases of an event before it is dead-lettered; serverless.yml sets it to the SQS queue's `maxReceiveCount`",
        default="5",
        check=_whole_number(1),
    ),
    Setting(
        "LEADTHERM_ADMIN_SECRET",
        "the console's login secret; when set, `serve` also serves the console under `/admin`",
        secret=True,
    ),
    Setting(
        "LEADTHERM_PUBLIC_URL",
        "`serve --public-url`: the base URL the CRMs call (e.g. `https://hooks.example.com`); "
        "forwarded headers are then ignored",
    ),
    Setting(
        "LEADTHERM_TRUSTED_PROXIES",
        "`serve --trusted-proxy`: comma-separated IPs or networks whose `X-Forwarded-*` headers count (default: none)",
    ),
    Setting(
        "LEADTHERM_MAX_EVENT_AGE",
        "`serve --max-event-age`: `/healthz` is degraded once the oldest pending event has waited longer",
        default="15m",
        check=_interval,
    ),
    Setting(
        "LEADTHERM_LOG_FORMAT",
        "`json`: one JSON object per log line (ids only, no personal data); `text` for plain lines",
        default="text",
        check=_one_of("text", "json"),
    ),
    Setting(
        "LEADTHERM_METRICS_TOKEN",
        "when set, `/metrics` answers only `Authorization: Bearer <token>`; unset: open like `/healthz`",
        secret=True,
    ),
    Setting("LEADTHERM_QUEUE_URL", "the SQS work queue (the `aws` backend; serverless.yml sets it)"),
    Setting("LEADTHERM_DLQ_URL", "the SQS dead-letter queue (the `aws` backend; serverless.yml sets it)"),
    Setting("LEADTHERM_TABLE", "the DynamoDB table of state and rules (the `aws` backend; serverless.yml sets it)"),
    Setting(
        "REQUESTS_CA_BUNDLE",
        "CA file every HTTPS request of the process trusts (the `requests` library's own variable); "
        "prefer a CRM's own CA setting",
    ),
)


@dataclass(frozen=True)
class SettingState:
    """A setting as `check --env` shows it: where its value came from, masked when secret."""

    owner: str
    setting: Setting
    source: Source
    shown: str  # the value, `***` for a secret, or empty when unset
    problem: str | None = None


class Settings(Mapping[str, str]):
    """The environment as the declarations see it: the set variables, read only by declared name."""

    def __init__(self, declared: Mapping[str, tuple[str, Setting]], env: Mapping[str, str]) -> None:
        self._declared = dict(declared)
        self._values = {name: env[name] for name in declared if name in env}

    def __getitem__(self, name: str) -> str:
        if name not in self._declared:
            raise UndeclaredSetting(name)
        return self._values[name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def value(self, name: str) -> str | None:
        """The set value, else the declared default (None when neither)."""
        if name not in self._declared:
            raise UndeclaredSetting(name)
        return self._values.get(name) or self._declared[name][1].default

    def source(self, name: str) -> Source:
        if self._values.get(name):
            return "environment"
        return "default" if self._declared[name][1].default is not None else "unset"

    def set_values(self) -> dict[str, str]:
        """The values the environment sets (an empty one counts as unset, as everywhere)."""
        return {name: text for name, text in self._values.items() if text}

    def typed(self, active: Iterable[str] = ()) -> BaseModel:
        """The values through the settings model; ValidationError with every problem at once."""
        return settings_model(self._declared, active).model_validate(self.set_values())

    def problems(self, active: Iterable[str] = ()) -> dict[str, str]:
        """Setting name -> what is wrong with it, from the model's one ValidationError (nothing stops at the first)."""
        from pydantic import ValidationError

        try:
            self.typed(active)
        except ValidationError as exc:
            return model_problems(exc)
        return {}

    def checked(self, active: Iterable[str] = ()) -> dict[str, str]:
        """The same problems as `problems`, from the declarations' checks alone (no pydantic)."""
        wanted = {CORE, *active}
        found: dict[str, str] = {}
        for name, (owner, setting) in self._declared.items():
            text = self._values.get(name, "")
            if text and setting.check is not None and (problem := setting.check(text)):
                found[name] = problem
            elif not text and setting.required and owner in wanted:
                found[name] = REQUIRED
        return found

    def states(self, active: Iterable[str] = ()) -> list[SettingState]:
        """Every declared setting with its source; `active` owners (configured CRMs) must have their required ones."""
        problems = self.problems(active)
        found: list[SettingState] = []
        for name, (owner, setting) in self._declared.items():
            source = self.source(name)
            text = self._values.get(name, "")
            shown = ("***" if setting.secret else text) if source == "environment" else (setting.default or "")
            problem = problems.get(name)
            found.append(SettingState(owner, setting, source, shown, problem and f"{name}: {problem}"))
        return found


REQUIRED = "required but not set"


def _validator(check: Check) -> Callable[[Any], Any]:
    """A declaration's check as a pydantic validator: its words are the error's, the value is never repeated."""
    from pydantic_core import PydanticCustomError

    def validate(value: Any) -> Any:
        problem = check(value) if isinstance(value, str) else None
        if problem is not None:
            raise PydanticCustomError("setting", "{problem}", {"problem": problem})
        return value

    return validate


def settings_model(declared: Mapping[str, tuple[str, Setting]], active: Iterable[str] = ()) -> type[BaseModel]:
    """The typed model of the declared settings: a str field each (SecretStr for a secret), its default,
    its check as validator; the required ones of the core and of the `active` owners (configured CRMs)
    without default. Built once per set of declarations."""
    # The check by identity too: a Setting compares without it.
    key = tuple((name, owner, setting, setting.check) for name, (owner, setting) in declared.items())
    return _model(key, frozenset({CORE, *active}))


@cache
def _model(declared: tuple[tuple[str, str, Setting, Check | None], ...], wanted: frozenset[str]) -> type[BaseModel]:
    from pydantic import BeforeValidator, ConfigDict, Field, SecretStr, create_model

    fields: dict[str, Any] = {}
    for name, owner, setting, _ in declared:
        kind: Any = SecretStr if setting.secret else str
        required = setting.required and owner in wanted
        if not required:
            kind = kind | None
        if setting.check is not None:
            kind = Annotated[kind, BeforeValidator(_validator(setting.check))]
        fields[name] = (kind, Field(... if required else setting.default, description=setting.meaning))
    config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True, str_strip_whitespace=False)
    model: type[BaseModel] = create_model("LeadthermSettings", __config__=config, **fields)
    return model


def model_problems(error: ValidationError) -> dict[str, str]:
    """Setting name -> problem, from the settings model's ValidationError (never holding the value)."""
    found: dict[str, str] = {}
    for detail in error.errors(include_url=False, include_input=False):
        name = str(detail["loc"][0])
        found.setdefault(name, REQUIRED if detail["type"] == "missing" else str(detail["msg"]))
    return found


def _refused(problems: Mapping[str, str]) -> ConfigError:
    return ConfigError([Problem("environment", None, name, problem) for name, problem in problems.items()])


def declarations(plugin_settings: Mapping[str, Sequence[Setting]]) -> dict[str, tuple[str, Setting]]:
    """The core's and each plugin's settings by name, with their owner; DuplicateSetting on a clash."""
    declared: dict[str, tuple[str, Setting]] = {}
    for owner, settings in {CORE: CORE_SETTINGS, **plugin_settings}.items():
        for setting in settings:
            if setting.name in declared:
                raise DuplicateSetting(setting.name, [declared[setting.name][0], owner])
            declared[setting.name] = (owner, setting)
    return declared


def installed_declarations() -> dict[str, tuple[str, Setting]]:
    """The core's settings and those of every installed CRM plugin."""
    from integration.composition.plugins import crm_names, load_crm  # the plugins declare through this module

    return declarations({name: load_crm(name).settings() for name in crm_names()})


def core_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The core's settings alone, unvalidated: no plugin is loaded for it (what `--mappings` reads)."""
    return Settings(declarations({}), os.environ if env is None else env)


def read_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Every installed declaration's value, not validated: for `check --env`, which reports the problems."""
    return Settings(installed_declarations(), os.environ if env is None else env)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The process environment (or `env`) read through every installed declaration, validated once
    through the settings model: ConfigError naming every bad value (required ones are the CRM's to ask
    for when it is used, and `check --env`'s to report)."""
    settings = read_settings(env)
    problems = settings.problems()
    if problems:
        raise _refused(problems)
    return settings


def checked_settings(env: Mapping[str, str] | None = None) -> Settings:
    """`load_settings` without pydantic, for the Lambda HTTP handler's cold start: the declarations' own checks."""
    settings = read_settings(env)
    problems = settings.checked()
    if problems:
        raise _refused(problems)
    return settings


def markdown(declared: Mapping[str, tuple[str, Setting]]) -> str:
    """The README's configuration table."""
    lines = ["| variable | owner | meaning |", "|---|---|---|"]
    for name, (owner, setting) in declared.items():
        notes = [n for n in ("secret" if setting.secret else "", "required" if setting.required else "") if n]
        if setting.default is not None:
            notes.append(f"default `{setting.default}`")
        meaning = (setting.meaning + (f" ({'; '.join(notes)})" if notes else "")).replace("|", "\\|")
        lines.append(f"| `{name}` | {owner} | {meaning} |")
    return "\n".join(lines) + "\n"


TABLE_START = "<!-- settings table:"
TABLE_END = "<!-- end of settings table -->"


def with_table(readme: str, table: str) -> str:
    """The README text with its generated settings table replaced by `table`."""
    start = readme.index("\n", readme.index(TABLE_START)) + 1
    return readme[:start] + table + readme[readme.index(TABLE_END, start) :]


def main(argv: Sequence[str]) -> int:
    """`--markdown`: print the configuration table; `--readme FILE`: rewrite the table in that README."""
    table = markdown(installed_declarations())
    if list(argv) == ["--markdown"]:
        sys.stdout.write(table)
        return 0
    if len(argv) == 2 and argv[0] == "--readme":
        path = Path(argv[1])
        path.write_text(with_table(path.read_text(encoding="utf-8"), table), encoding="utf-8")
        return 0
    print("usage: python -m integration.composition.settings --markdown | --readme README.md", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
