"""The README's Operations section lists exactly the metrics leadtherm declares."""

from __future__ import annotations

from pathlib import Path

from integration.ports.metric_names import DECLARED

README = Path(__file__).resolve().parent.parent / "README.md"


def operations_table() -> str:
    """The metrics table as the README must show it, built from the declarations."""
    rows = ["| Prometheus name | kind | labels | CloudWatch name (unit) | meaning |", "|---|---|---|---|---|"]
    for d in DECLARED.values():
        labels = ", ".join(f"`{label}`" for label in d.labels) or "—"
        rows.append(f"| `{d.name}` | {d.kind.value} | {labels} | `{d.short}` ({d.unit}) | {d.help} |")
    return "\n".join(rows)


def test_the_readme_operations_table_is_the_declared_metrics() -> None:
    text = README.read_text(encoding="utf-8")
    assert operations_table() in text, "README Operations table differs; paste:\n" + operations_table()


def test_every_alert_in_the_readme_names_a_declared_metric() -> None:
    section = README.read_text(encoding="utf-8").split("**Three alerts to start with**", 1)[1].split("\n## ", 1)[0]
    named = {word.strip("`()") for word in section.replace("{", " ").replace("[", " ").split()}
    used = {n for n in named if n.startswith("leadtherm_")}
    assert used and used <= set(DECLARED), used - set(DECLARED)
