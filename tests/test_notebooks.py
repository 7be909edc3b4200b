"""The walkthrough notebooks: committed without outputs, in step with their generator, and every cell runs."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
CELL_TIMEOUT_S = 180  # one cell; each notebook takes well under a minute on 2 cores
KERNEL = "python3"  # the kernelspec ipykernel installs; jupyter_client starts it with this interpreter


def _generator():
    spec = importlib.util.spec_from_file_location("make_notebooks", NOTEBOOKS / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_notebook_is_generated_and_committed_without_outputs():
    rendered = _generator().render_all()
    assert sorted(rendered) == [p.name for p in PATHS]
    for path in PATHS:
        assert path.read_text() == rendered[path.name], f"{path.name}: out of step; run python notebooks/make_notebooks.py"
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name} cell {i} has outputs"


def _kernel_manager():
    """The python3 kernel, checked to run this interpreter (a user-level kernelspec could point elsewhere)."""
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name=KERNEL)
    command = km.format_kernel_cmd()
    if Path(command[0]).resolve() != Path(sys.executable).resolve():
        pytest.fail(f"the {KERNEL} kernelspec at {km.kernel_spec.resource_dir} starts {command[0]}, not this "
                    f"interpreter ({sys.executable}); remove it (jupyter kernelspec remove {KERNEL}) or reinstall it "
                    f"with {sys.executable} -m ipykernel install --user")
    return km


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_runs(path: Path, tmp_path: Path):
    """Every cell, in order, in a fresh kernel whose working folder is a temporary one (nothing lands in the repo)."""
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, km=_kernel_manager(), timeout=CELL_TIMEOUT_S, resources={"metadata": {"path": str(tmp_path)}})
    started = time.perf_counter()
    with client.setup_kernel(cleanup_kc=True):  # shut the kernel down even though the manager is ours
        probe = nbformat.v4.new_code_cell("import os, sys; print(sys.executable); print(os.getcwd())")
        client.execute_cell(probe, -1)
        executable, cwd = probe.outputs[0]["text"].split()
        assert Path(executable).resolve() == Path(sys.executable).resolve()
        assert Path(cwd).resolve() == tmp_path.resolve()
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, index)
            except nbclient.exceptions.CellExecutionError as error:
                pytest.fail(f"{path.name}, cell {index} failed:\n{cell.source}\n\n{error}", pytrace=False)
            except nbclient.exceptions.CellTimeoutError:
                pytest.fail(f"{path.name}, cell {index} ran over {CELL_TIMEOUT_S} s:\n{cell.source}", pytrace=False)
    print(f"{path.name}: {time.perf_counter() - started:.1f} s")
