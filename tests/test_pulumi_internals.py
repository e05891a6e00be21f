"""The private Pulumi symbols the mock engine and the config need, all in one adapter."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tools import pulumi_internals

PROJECT_DIR = Path(__file__).resolve().parent.parent
ADAPTER = PROJECT_DIR / "tools" / "pulumi_internals.py"


def test_the_installed_pulumi_still_has_every_private_symbol_we_use():
    missing = pulumi_internals.missing_internals()
    assert missing == [], ("this Pulumi version changed private symbols used by "
                           f"tools/pulumi_internals.py: {', '.join(missing)}")


def test_a_vanished_symbol_is_named(monkeypatch):
    import pulumi.runtime.settings
    monkeypatch.delattr(pulumi.runtime.settings, "ROOT")
    assert pulumi_internals.missing_internals() == ["pulumi.runtime.settings.ROOT"]
    with pytest.raises(ImportError, match=r"no pulumi\.runtime\.settings\.ROOT"):
        pulumi_internals.reset_stack()


def _private_pulumi_uses(path: Path) -> list[str]:
    """Imports of pulumi.runtime submodules, and imported names starting with '_'."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pulumi")):
            continue
        if node.module.count(".") > 1 or any(a.name.startswith("_") for a in node.names):
            found.append(f"{path.relative_to(PROJECT_DIR)}: from {node.module} import "
                         + ", ".join(a.name for a in node.names))
    return found


def test_no_other_module_imports_pulumi_internals():
    sources = [p for p in PROJECT_DIR.rglob("*.py")
               if not {".venv", ".cache", "node_modules"} & set(p.parts) and p != ADAPTER]
    assert [use for path in sources for use in _private_pulumi_uses(path)] == []
