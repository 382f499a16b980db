"""The production packages outside `adapters/` know no CRM by name: a CRM is one folder (or one package)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEUTRAL_PACKAGES = ("integration", "mappings", "webhooks")
CRM_NAMES = re.compile(r"hubspot|salesforce|hubapi|sobject|soql", re.IGNORECASE)


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _words(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every name, import and string literal the code uses (docstrings and comments are prose, not code)."""
    prose = _docstrings(tree)
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            yield line, node.value
        elif isinstance(node, ast.Name):
            yield line, node.id
        elif isinstance(node, ast.Attribute):
            yield line, node.attr
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield line, node.name
        elif isinstance(node, ast.arg) or (isinstance(node, ast.keyword) and node.arg):
            yield line, node.arg
        elif isinstance(node, ast.ImportFrom):
            yield line, node.module or ""
        elif isinstance(node, ast.alias):
            yield line, node.name


def crm_names_in_code(package: Path) -> list[str]:
    hits = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for line, word in _words(tree):
            if CRM_NAMES.search(word):
                hits.append(f"{path.relative_to(package.parent)}:{line}: {word[:80]!r}")
    return hits


def test_no_production_module_outside_the_adapters_names_a_crm() -> None:
    hits = [hit for package in NEUTRAL_PACKAGES for hit in crm_names_in_code(ROOT / package)]
    assert hits == [], "CRM knowledge belongs in adapters/<crm>/ (its plugin):\n" + "\n".join(hits)


def test_the_check_finds_a_crm_named_in_code_but_not_in_prose(tmp_path: Path) -> None:
    (tmp_path / "prose.py").write_text('"""Works with HubSpot."""\n# and Salesforce\nX = 1\n')
    (tmp_path / "code.py").write_text('def f(crms: list[str]) -> bool:\n    return "salesforce" in crms\n')
    (tmp_path / "imports.py").write_text("from adapters.hubspot.client import HubSpotClient\n")
    hits = crm_names_in_code(tmp_path)
    assert [hit.split(":")[0].rsplit("/", 1)[-1] for hit in hits] == ["code.py", "imports.py", "imports.py"]
