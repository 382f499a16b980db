"""Every setting declared once: the core's and each plugin's, read through one `Settings`, tabled in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from integration.composition.settings import (
    CORE,
    DuplicateSetting,
    Setting,
    Settings,
    UndeclaredSetting,
    checked_settings,
    declarations,
    installed_declarations,
    interval_seconds,
    load_settings,
    markdown,
    settings_model,
    with_table,
)
from integration.errors import ConfigError

README = Path(__file__).resolve().parent.parent / "README.md"
TABLE = re.compile(r"<!-- settings table:[^\n]*-->\n(.*?)<!-- end of settings table -->\n", re.DOTALL)

TOKEN = Setting("ACME_TOKEN", "the API token", secret=True, required=True)
REGION = Setting("ACME_REGION", "which data centre", default="eu")
PAGE = Setting("ACME_PAGE", "records per page", check=lambda text: None if text.isdigit() else "a whole number")


def test_the_readme_configuration_table_is_the_one_the_declarations_generate() -> None:
    readme = README.read_text(encoding="utf-8")
    assert TABLE.search(readme), "README.md lost its generated settings table markers"
    assert with_table(readme, markdown(installed_declarations())) == readme, (
        "README's configuration table differs from the declarations: "
        "python -m integration.composition.settings --readme README.md"
    )


def test_the_table_generator_replaces_only_the_table() -> None:
    readme = "intro\n<!-- settings table: generated -->\n| old |\n<!-- end of settings table -->\nafter\n"
    replaced = with_table(readme, "| new |\n")
    assert replaced == "intro\n<!-- settings table: generated -->\n| new |\n<!-- end of settings table -->\nafter\n"


def test_every_installed_crm_declares_its_settings_apart_from_the_core() -> None:
    owners = {owner for owner, _ in installed_declarations().values()}
    assert {CORE, "hubspot", "salesforce"} <= owners
    assert installed_declarations()["HUBSPOT_ACCESS_TOKEN"][1].secret


def test_reading_a_setting_nobody_declared_is_refused() -> None:
    settings = Settings(declarations({"acme": [TOKEN]}), {"ACME_TOKEN": "t", "ACME_SECRET_SAUCE": "x"})
    assert settings.get("ACME_TOKEN") == "t"
    with pytest.raises(UndeclaredSetting, match="ACME_SECRET_SAUCE"):
        settings.get("ACME_SECRET_SAUCE")
    assert "ACME_SECRET_SAUCE" not in dict(settings)


def test_a_declared_setting_that_is_unset_reads_as_absent_and_its_default_is_at_hand() -> None:
    settings = Settings(declarations({"acme": [REGION]}), {})
    assert settings.get("ACME_REGION") is None
    assert settings.value("ACME_REGION") == "eu"


def test_two_owners_declaring_one_name_is_an_error() -> None:
    with pytest.raises(DuplicateSetting, match="ACME_TOKEN is declared by both acme and other"):
        declarations({"acme": [TOKEN], "other": [Setting("ACME_TOKEN", "again")]})


def test_each_state_says_where_its_value_came_from_masks_secrets_and_names_every_problem() -> None:
    env = {"ACME_PAGE": "many", "LEADTHERM_MAX_RECEIVES": "0", "LEADTHERM_ADMIN_SECRET": "hunter2hunter2"}
    states = {s.setting.name: s for s in Settings(declarations({"acme": [TOKEN, REGION, PAGE]}), env).states(["acme"])}
    assert (states["ACME_REGION"].source, states["ACME_REGION"].shown) == ("default", "eu")
    assert (states["LEADTHERM_ADMIN_SECRET"].source, states["LEADTHERM_ADMIN_SECRET"].shown) == ("environment", "***")
    assert states["ACME_TOKEN"].source == "unset"
    problems = sorted(s.problem for s in states.values() if s.problem)
    assert problems == [
        "ACME_PAGE: a whole number",
        "ACME_TOKEN: required but not set",
        "LEADTHERM_MAX_RECEIVES: a whole number >= 1",
    ]


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90.0), ("15m", 900.0), ("1.5h", 5400.0), ("2", 2.0)])
def test_an_interval_setting_reads_in_seconds(text: str, seconds: float) -> None:
    assert interval_seconds(text) == seconds


def test_a_malformed_interval_setting_is_a_problem() -> None:
    states = Settings(declarations({}), {"LEADTHERM_MAX_EVENT_AGE": "soon"}).states()
    assert [s.problem for s in states if s.problem] == ["LEADTHERM_MAX_EVENT_AGE: an interval like 30s, 15m, 1h"]


def test_a_required_setting_of_a_crm_not_in_use_is_no_problem() -> None:
    states = Settings(declarations({"acme": [TOKEN]}), {}).states([])
    assert [s.problem for s in states if s.problem] == []


def test_the_process_settings_hold_only_declared_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADTHERM_DB", "/tmp/x.db")
    monkeypatch.setenv("LEADTHERM_NOT_A_SETTING", "1")
    settings = load_settings()
    assert settings["LEADTHERM_DB"] == "/tmp/x.db"
    assert "LEADTHERM_NOT_A_SETTING" not in settings


READS = re.compile(r"""\b(?:env|environment|settings|os\.environ)(?:\.get\(|\[)["']([A-Z][A-Z0-9_]+)["']""")


def test_every_variable_the_production_code_reads_by_name_is_declared() -> None:
    root = README.parent
    declared = installed_declarations()
    read = {
        (name, str(path.relative_to(root)))
        for package in ("integration", "adapters", "webhooks", "mappings")
        for path in (root / package).rglob("*.py")
        for name in READS.findall(path.read_text(encoding="utf-8"))
    }
    assert read, "the pattern no longer finds the reads"
    assert sorted((name, where) for name, where in read if name not in declared) == []


def test_the_settings_model_is_typed_from_the_declarations_secrets_hidden_and_defaults_filled() -> None:
    model = settings_model(declarations({"acme": [TOKEN, REGION, PAGE]}))
    settings = model.model_validate({"ACME_TOKEN": "t0ken", "ACME_PAGE": "50"})
    values = settings.model_dump()
    assert isinstance(values["ACME_TOKEN"], SecretStr) and "t0ken" not in repr(settings)
    assert values["ACME_TOKEN"].get_secret_value() == "t0ken"
    assert (values["ACME_REGION"], values["ACME_PAGE"], values["LEADTHERM_BACKEND"]) == ("eu", "50", "sqlite")


def test_one_validation_names_every_bad_value_and_no_value() -> None:
    model = settings_model(declarations({"acme": [TOKEN, PAGE]}), active=["acme"])
    with pytest.raises(ValidationError) as caught:
        model.model_validate({"ACME_PAGE": "many", "LEADTHERM_LOG_FORMAT": "xml-please"})
    names = sorted(str(e["loc"][0]) for e in caught.value.errors())
    assert names == ["ACME_PAGE", "ACME_TOKEN", "LEADTHERM_LOG_FORMAT"]
    assert "xml-please" not in str(caught.value) and "many" not in str(caught.value)


def test_loading_the_settings_refuses_every_bad_value_at_once() -> None:
    env = {"LEADTHERM_MAX_RECEIVES": "0", "LEADTHERM_MAX_EVENT_AGE": "soon", "LEADTHERM_DB": "/tmp/x.db"}
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert sorted(p.field for p in caught.value.problems) == ["LEADTHERM_MAX_EVENT_AGE", "LEADTHERM_MAX_RECEIVES"]
    assert load_settings({"LEADTHERM_MAX_RECEIVES": "3"})["LEADTHERM_MAX_RECEIVES"] == "3"


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"LEADTHERM_MAX_RECEIVES": "0"},
        {"LEADTHERM_MAX_RECEIVES": "x", "LEADTHERM_RULES_STORE": "s3", "LEADTHERM_MAX_EVENT_AGE": "1w"},
        {"LEADTHERM_LOG_FORMAT": "json", "LEADTHERM_MAX_EVENT_AGE": "90s"},
        {"LEADTHERM_LOG_FORMAT": ""},
    ],
)
def test_the_lambdas_checks_without_pydantic_find_what_the_model_finds(env: dict[str, str]) -> None:
    settings = Settings(declarations({"acme": [TOKEN, PAGE]}), {**env, "ACME_PAGE": "ten"})
    assert settings.checked(["acme"]) == settings.problems(["acme"])
    assert settings.checked() == settings.problems()
    model_refuses = bool(Settings(installed_declarations(), env).problems())
    try:
        checked_settings(env)
    except ConfigError:
        assert model_refuses
    else:
        assert not model_refuses


def test_a_declaration_differing_only_in_its_check_gets_a_model_of_its_own() -> None:
    only_one = Setting("ACME_PAGE", "records per page", check=lambda text: None if text == "1" else "exactly 1")
    env = {"ACME_PAGE": "5"}
    assert Settings(declarations({"acme": [PAGE]}), env).problems() == {}
    assert Settings(declarations({"acme": [only_one]}), env).problems() == {"ACME_PAGE": "exactly 1"}
