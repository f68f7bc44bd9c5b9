"""The README's Python section runs as written."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys

from conftest import ROOT


def python_blocks() -> list:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("<!-- section: python -->")
    nxt = text.find("<!-- section:", start + 10)
    section = text[start: nxt if nxt != -1 else len(text)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_blocks_run() -> None:
    blocks = python_blocks()
    assert len(blocks) >= 2
    ns: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for b in blocks:
            exec(compile(b, "README.md", "exec"), ns)
    assert "Decimal('1690.00')" in out.getvalue()


def test_readme_example_with_python_c() -> None:
    first = python_blocks()[0]
    r = subprocess.run([sys.executable, "-c", first], capture_output=True, text=True, check=True)
    assert r.stdout.strip().splitlines()[-1] == "Decimal('1690.00')"
