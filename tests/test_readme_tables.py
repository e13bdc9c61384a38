"""README's function and callback tables match the registry and core/callbacks.py (issue 15)."""

from __future__ import annotations

import re
from pathlib import Path

from core.callbacks import CALLBACKS, EXTRA_CALLBACKS
from tests.support.readme_tables import README, render

CORE = Path(__file__).resolve().parents[1] / "core"


def test_readme_tables_are_generated_from_the_registry() -> None:
    text = README.read_text()
    assert "<!-- functions table: generated" in text and "<!-- callbacks table: generated" in text
    assert render(text) == text, (
        "README tables are stale: run `.venv/bin/python -m tests.support.readme_tables --write`"
    )


def test_every_emitted_callback_is_catalogued() -> None:
    """Each `emit(<listener>, "OnX", ...)` in core names a callback of core/callbacks.py."""
    emitted = set()
    for path in CORE.rglob("*.py"):
        emitted |= set(re.findall(r'emit\(\s*\w+,\s*"(On[A-Za-z]+)"', path.read_text()))
        emitted |= set(re.findall(r'\(\w+, "(On[A-Za-z]+)"\) for', path.read_text()))
    known = {c.name for c in (*CALLBACKS, *EXTRA_CALLBACKS)}
    assert emitted, "the pattern found no emit call"
    assert emitted <= known, f"emitted but not in core/callbacks.py: {sorted(emitted - known)}"
    assert len(CALLBACKS) == 49 and len({c.name for c in CALLBACKS}) == 49, "v3.8 declares 49 callbacks"
