"""Render assessments for people (rich tables); integration.files.score_output streams them for programs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from integration.composition.plugins import SetupReport
from integration.domain.model import Temperature, signed
from integration.domain.verdicts import Verdict
from integration.domain.written import change
from integration.ports import AuditEntry, DeadLetter, RecordRef, StoredAssessment
from mappings.catalogue import OUTPUTS

TEMPERATURE_STYLE = {
    Temperature.COLD: "blue",
    Temperature.COOL: "cyan",
    Temperature.WARM: "yellow",
    Temperature.HOT: "bold red",
}
UNWRAPPED_WIDTH = 10_000  # tables take only the width they need; text never wraps below this
# The score table shows the outputs a person reads at a glance (the catalogue's order).
COLUMNS = (
    "id",
    *(o.key for o in OUTPUTS if not (o.on_temperature_change or o.optional or o.value == "short_text")),
)


# `score --score all`: per named score, these columns (before the reasons), empty outside its segment.
NAMED_COLUMNS = ("score", "temperature")


@dataclass(frozen=True, slots=True)
class ScoredRow:
    record_id: str
    verdict: Verdict
    named: tuple[tuple[str, Verdict | None], ...] = ()  # each named score; None outside its segment


def columns(named: Sequence[str] = ()) -> tuple[str, ...]:
    """The columns of a scored row: COLUMNS, with each named score's before the reasons."""
    return (*COLUMNS[:-1], *(f"{name}_{column}" for name in named for column in NAMED_COLUMNS), COLUMNS[-1])


def make_console(stderr: bool = False) -> Console:
    """A console that wraps at the terminal's width, and never when its output goes to a file or pipe."""
    console = Console(stderr=stderr)
    if console.is_terminal:
        return console
    # Rich assumes 80 columns off a terminal: one-line errors would split and ids be cut.
    return Console(stderr=stderr, width=UNWRAPPED_WIDTH, soft_wrap=True)


def score_values(row: ScoredRow) -> list[str | int | None]:
    """One scored row's cells in `columns` order (None: outside a named score's segment)."""
    v = row.verdict
    if not row.named:
        return [row.record_id, v.score, v.fit, v.engagement, v.temperature.value, v.stage.value, v.reasons]
    named: list[str | int | None] = []
    for _, found in row.named:
        named += [None, None] if found is None else [found.score, found.temperature.value]
    return [row.record_id, v.score, v.fit, v.engagement, v.temperature.value, v.stage.value, *named, v.reasons]


def print_distribution(console: Console, counts: Counter[Temperature], title: str) -> None:
    total = sum(counts.values()) or 1
    table = Table(title=title, header_style="bold")
    table.add_column("temperature")
    table.add_column("leads", justify="right")
    table.add_column("share", justify="right")
    for temperature in Temperature:
        n = counts.get(temperature, 0)
        label = f"[{TEMPERATURE_STYLE[temperature]}]{temperature.value}[/]"
        table.add_row(label, str(n), f"{100 * n / total:.0f}%")
    console.print(table)


# The formula's order: where the score starts, what each axis adds, then what caps and silence take away.
_LINE_ORDER = {"start": 0, "fit": 1, "engagement": 2, "penalty": 3, "cap": 4, "decay": 5}


def print_explanation(console: Console, ref: RecordRef, stored: StoredAssessment, history: list[AuditEntry]) -> None:
    """Points per rule by axis, the verdict, and the record's history of decisions."""
    temperature = Temperature(stored.temperature)
    console.print(
        f"[bold]{ref}[/]  score {stored.score} (fit {stored.fit}, engagement {stored.engagement})  "
        f"[{TEMPERATURE_STYLE[temperature]}]{temperature.value}[/]  stage {stored.stage}"
    )
    console.print(f"assessed {stored.assessed_at:%Y-%m-%d %H:%M:%S %Z}", highlight=False)
    if stored.temperature_changed_at:
        console.print(
            f"temperature changed {stored.temperature_changed_at:%Y-%m-%d %H:%M:%S} "
            f"(from {stored.previous_temperature or 'unset'})",
            highlight=False,
        )
    if stored.next_drop_at:
        console.print(f"cools down at {stored.next_drop_at:%Y-%m-%d %H:%M:%S} unless something happens")
    rules = Table("axis", "rule", "points", header_style="bold", show_footer=True)
    for axis, label, points in sorted(stored.reasons, key=lambda r: (_LINE_ORDER.get(r[0], 9), -abs(r[2]))):
        rules.add_row(axis, label, signed(points))
    rules.columns[1].footer = "score (the points add up to it)"
    rules.columns[2].footer = str(stored.score)
    console.print(rules)
    console.print(f"next action: {stored.next_action}")
    if stored.unmapped:
        console.print(
            f"[yellow]read as the default[/]: {', '.join(stored.unmapped)} held a value its map does not list "
            "(add it to the map in the mapping file)"
        )
    if history:
        table = Table("when", "action", "changes / reason", title="history", header_style="bold")
        for entry in history:
            # A named score's changes (`analytics.score`) are its own explanation's (`explain --score analytics`).
            shown = {k: v for k, v in entry.changes.items() if k != "reasons" and "." not in k}
            if entry.changes and not shown:
                continue
            detail = ", ".join(change(k, old, new) for k, (old, new) in shown.items())
            table.add_row(f"{entry.at:%Y-%m-%d %H:%M:%S}", entry.action, detail or "; ".join(entry.reasons))
        console.print(table)


def named_history(score: str, history: list[AuditEntry]) -> list[tuple[AuditEntry, dict[str, tuple[Any, Any]]]]:
    """The writes of a named score's fields, newest first, each with its changes by output key."""
    prefix = f"{score}."
    found = []
    for entry in history:
        changes = {k.removeprefix(prefix): v for k, v in entry.changes.items() if k.startswith(prefix)}
        if changes:
            found.append((entry, changes))
    return found


def print_named_explanation(console: Console, ref: RecordRef, score: str, history: list[AuditEntry]) -> bool:
    """What leadtherm last wrote for a named score and when each value changed; False when it never wrote one.

    Only the default score's assessment is stored; a named score is explained from the writes of its fields.
    """
    writes = named_history(score, history)
    if not writes:
        return False
    latest: dict[str, Any] = {}
    for _, changes in reversed(writes):  # oldest first: the newest value of each output wins
        latest.update({key: new for key, (_, new) in changes.items()})
    temperature = str(latest.get("temperature", ""))
    style = next((v for t, v in TEMPERATURE_STYLE.items() if t.value == temperature), "")
    console.print(
        f"[bold]{ref}[/]  {score}: score {latest.get('score', '?')} (fit {latest.get('fit', '?')}, engagement "
        f"{latest.get('engagement', '?')})  [{style}]{temperature}[/]  stage {latest.get('stage', '?')}"
        if style
        else f"[bold]{ref}[/]  {score}: score {latest.get('score', '?')}  stage {latest.get('stage', '?')}"
    )
    console.print(f"last written {writes[0][0].at:%Y-%m-%d %H:%M:%S %Z}", highlight=False)
    if "reasons" in latest:
        console.print(f"reasons: {latest['reasons']}", highlight=False)
    if "next_action" in latest:
        console.print(f"next action: {latest['next_action']}", highlight=False)
    table = Table("when", "changes", title=f"history of {score}", header_style="bold")
    for entry, changes in writes:
        detail = ", ".join(f"{k}: {old} -> {new}" for k, (old, new) in changes.items() if k != "reasons")
        table.add_row(f"{entry.at:%Y-%m-%d %H:%M:%S}", detail or "reasons")
    console.print(table)
    return True


def print_dead_letters(console: Console, letters: list[DeadLetter]) -> None:
    if not letters:
        console.print("the dead-letter queue is empty")
        return
    table = Table("id", "record", "attempts", "failed at", "reason", header_style="bold")
    for letter in letters:
        table.add_row(
            letter.id,
            str(letter.event.ref),
            str(letter.attempts),
            f"{letter.failed_at:%Y-%m-%d %H:%M:%S}",
            letter.reason,
        )
    console.print(table)


def print_setup(console: Console, crm: str, report: SetupReport) -> None:
    for name in report.created:
        console.print(f"[green]created[/]   {name}")
    for name in report.unchanged:
        console.print(f"[dim]exists[/]    {name}")
    for problem in report.conflicts:
        console.print(f"[red]conflict[/]  {problem}")
    for name in report.missing:
        console.print(f"[red]missing[/]   {name}: read by the mapping but not in {crm}; fix the mapping or create it")
    if report.instructions:
        console.print(f"\n[bold]Still to do by hand in {crm}:[/]")
        for line in report.instructions:
            console.print(line, highlight=False)
