"""notebooks/quickstart.ipynb runs end to end in a fresh kernel: search, Pareto plot, table, bit-exact export, report."""
import json
import sys
from importlib import metadata
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from helpers_search import HANG

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"


def _python3_kernelspec(tmp_path, monkeypatch):
    """A 'python3' kernelspec that runs *this* interpreter, first on JUPYTER_PATH (nothing global is touched)."""
    from ipykernel.kernelspec import install

    prefix = tmp_path / "jupyter-prefix"
    install(kernel_name="python3", prefix=str(prefix))
    kdir = prefix / "share" / "jupyter" / "kernels" / "python3"
    spec = json.loads((kdir / "kernel.json").read_text())
    spec["argv"][0] = sys.executable
    (kdir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))


def _text(cell) -> str:
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            out.append(o.get("text", ""))
        elif "data" in o:
            out.append(o["data"].get("text/plain", ""))
    return "".join(out)


def test_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= 6


def test_quickstart_notebook_executes(tmp_path, monkeypatch):
    _python3_kernelspec(tmp_path, monkeypatch)
    monkeypatch.delenv("TF_USE_LEGACY_KERAS", raising=False)  # a fresh kernel: the notebook's own imports decide
    work = tmp_path / "work"
    work.mkdir()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=HANG, allow_errors=False,
                            resources={"metadata": {"path": str(work)}})
    client.execute()  # raises CellExecutionError naming the cell if any cell fails

    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not [o for c in code for o in c.outputs if o.get("output_type") == "error"]
    text = "\n".join(_text(c) for c in code)
    # everything went to the notebook's own temporary folder, nothing beside the notebook or in the kernel's cwd
    where = Path(next(l for l in text.splitlines() if l.startswith("outputs go to ")).split("outputs go to ", 1)[1])
    assert where.is_dir() and not any(work.iterdir())
    assert not (NOTEBOOK.parent / "autoq_runs").exists() and not (NOTEBOOK.parent / "hls_projects").exists()
    work = where
    # the search ran and kept its winner
    assert (work / "autoq_runs" / "quickstart" / "best_model.h5").is_file()
    assert f"tensorflow {metadata.version('tensorflow')}" in text  # the stack it ran on
    assert "SearchResult(" in text and "energy pJ" in text and "winner: trial" in text
    # the Pareto plot was displayed as an image
    assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs)
    # the exported project is complete and its C simulation is bit-exact
    prj = work / "hls_projects" / "quickstart"
    assert (prj / "firmware").is_dir() and (prj / "build_prj.tcl").is_file() and (prj / "report.md").is_file()
    assert "bit-exact: True (agreement 100.00%, max |diff| 0)" in text
    assert "DSPs" in text and "latency" in text
    assert "cuda" not in text.lower() and "Traceback" not in text
