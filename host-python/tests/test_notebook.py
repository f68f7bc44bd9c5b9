"""examples/broker_payouts.ipynb runs end to end (so it never rots)."""

from __future__ import annotations

import os

import nbformat
from nbclient import NotebookClient

from conftest import ROOT


def test_notebook_executes() -> None:
    path = ROOT / "examples" / "broker_payouts.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    os.environ.setdefault("MPLBACKEND", "Agg")
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("total payable" in "".join(o.get("text", "")) for o in outputs)
