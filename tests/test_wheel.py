"""The built wheel works outside the checkout: what deft reads at run time ships inside the package."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(cmd: list, cwd: Path) -> subprocess.CompletedProcess:
    """Run without this checkout on the path (no PYTHONPATH), from `cwd`; fail with its output."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{cmd} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv (outside the checkout) with the wheel built from this checkout's files; its bin folder."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"  # a copy, so the build leaves no build/ or egg-info in the checkout
    shutil.copytree(REPO / "deft", src / "deft", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", root / "dist", src],
         root)
    (wheel,) = (root / "dist").glob("deft-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"deft", wheel.name.split("-py")[0] + ".dist-info"}, "top-level names"
    assert {"deft/instruct/uni_mer/uni_mer_v1.json", "deft/instruct/uni_mer/schema.json",
            "deft/serve/install_vllm.sh", "deft/checkpoints/default/config.json", "deft/au_calibration.json",
            "deft/au_model.json", "deft/apex_model.json"} <= set(names)
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", venv], root)  # dependencies from this python
    _run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel], root)
    return venv / "bin"


@pytest.mark.slow
def test_wheel_runs_outside_the_checkout(installed, tmp_path):
    where = _run([installed / "python", "-c", "import deft; print(deft.__file__)"], tmp_path).stdout.strip()
    assert Path(where).is_relative_to(installed.parent), f"deft imported from {where}, not the venv"
    out = tmp_path / "uni_mer"
    _run([installed / "deft", "build-instructions", "synthetic:4", "--out", out], tmp_path)
    records = (out / "instructions.jsonl").read_text().splitlines()
    assert len(records) >= 4 and '"template_version": "uni-mer-1.0"' in records[0]
    analysis = _run([installed / "deft", "analyze", "--demo", "--json"], tmp_path).stdout
    assert '"AU12"' in analysis  # the embedded demo clip is AU6 + AU12
    assert "--vllm-python" in _run([installed / "python", "-m", "deft.serve.vllm_process", "--help"], tmp_path).stdout


@pytest.mark.slow
def test_wheel_ships_the_vllm_installer(installed, tmp_path):
    script = _run([installed / "python", "-c", "from deft.serve.vllm_process import INSTALL_SCRIPT as s; print(s)"],
                  tmp_path).stdout.strip()
    assert Path(script).is_relative_to(installed.parent)
    usage = subprocess.run(["bash", script], capture_output=True, text=True, cwd=tmp_path)
    assert usage.returncode != 0 and f"usage: bash {script} VENV_DIR" in usage.stderr
