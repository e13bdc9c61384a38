"""The README's function and callback tables, generated from core's registry and core/callbacks.py.

`python -m tests.support.readme_tables --write` rewrites them between their markers;
tests/test_readme_tables.py fails while the README differs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from core.callbacks import CALLBACKS, EXTRA_CALLBACKS
from core.registry import all_functions

__all__ = ["README", "render", "rewrite"]

README = Path(__file__).resolve().parents[2] / "README.md"
_BLOCK = re.compile(
    r"(<!-- (functions|callbacks) table: generated[^>]*-->\n)(.*?)(<!-- end (functions|callbacks) table -->)", re.S
)


def _functions() -> str:
    by_module: dict[str, list[str]] = {}
    for fn in sorted(all_functions().values(), key=lambda f: f.name):
        by_module.setdefault(fn.module, []).append(f"`{fn.name}`")
    rows = [f"| {m} | {', '.join(names)} |" for m, names in sorted(by_module.items())]
    return "| module | functions |\n| --- | --- |\n" + "\n".join(rows) + "\n"


def _callbacks() -> str:
    rows = [f"| {c.listener} | `{c.name}` | {c.when} |" for c in (*CALLBACKS, *EXTRA_CALLBACKS)]
    return "| listener | callback | fires when |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n"


def render(text: str) -> str:
    """`text` with both tables regenerated."""
    tables = {"functions": _functions(), "callbacks": _callbacks()}
    return _BLOCK.sub(lambda m: m.group(1) + tables[m.group(2)] + m.group(4), text)


def rewrite() -> bool:
    old = README.read_text()
    new = render(old)
    README.write_text(new)
    return new != old


if __name__ == "__main__":
    if "--write" in sys.argv:
        print("README tables", "rewritten" if rewrite() else "already current")
