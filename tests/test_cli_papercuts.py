"""What a new user hits first: closed pipes, --step frame numbers, quiet libraries, help that names files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from deft.cli import INPUTS_OUTPUTS, build_parser

DEFT = [sys.executable, "-m", "deft.cli"]


def test_closed_pipe_exits_quietly(happy_mp4):
    """`deft analyze ... --json | head` where head has already exited: no BrokenPipe traceback."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before deft writes
    try:
        proc = subprocess.run([*DEFT, "analyze", happy_mp4, happy_mp4, "--json"], stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write)
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
    assert proc.returncode == 0


def test_step_keeps_source_frame_numbers_and_fps(happy_mp4):
    full = json.loads(subprocess.run([*DEFT, "analyze", happy_mp4, "--json"], capture_output=True, text=True,
                                     timeout=300, check=True).stdout)
    half = json.loads(subprocess.run([*DEFT, "analyze", happy_mp4, "--json", "--step", "2"], capture_output=True,
                                     text=True, timeout=300, check=True).stdout)
    assert full["step"] == 1 and full["source_frames"]["apex"] == full["phases"]["apex"]
    assert half["step"] == 2 and half["fps"] == full["fps"] and half["sampled_fps"] == pytest.approx(full["fps"] / 2)
    for phase in ("onset", "apex", "offset"):
        assert half["source_frames"][phase] == 2 * half["phases"][phase]
    assert abs(half["source_frames"]["apex"] - 14) <= 2  # the source video's apex, not the sampled index


def test_library_warnings_stay_off_stderr_unless_verbose(tmp_path):
    """transformers' advisory warnings and loading bars: hidden by `deft`, shown with `deft --verbose`."""
    script = ("import sys, warnings; from deft.cli import main, _quiet_libraries\n"
              "if '--verbose' not in sys.argv: _quiet_libraries()\n"
              "from transformers.utils import logging\n"
              "logging.get_logger('transformers.modeling_utils').warning('advisory from transformers')\n"
              "warnings.warn_explicit('a transformers FutureWarning', FutureWarning, 'x.py', 1, "
              "module='transformers.modeling_utils')\n"
              "print(logging.is_progress_bar_enabled())\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRANSFORMERS_", "HF_HUB_DISABLE"))}
    quiet = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    loud = subprocess.run([sys.executable, "-c", script, "--verbose"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert "advisory" not in quiet.stderr and "FutureWarning" not in quiet.stderr and quiet.stdout.strip() == "False"
    assert "advisory" in loud.stderr and "FutureWarning" in loud.stderr and loud.stdout.strip() == "True"
    assert build_parser().parse_args(["--verbose", "analyze", "--demo"]).verbose


def test_help_names_inputs_and_outputs():
    parser = build_parser()
    top = parser.format_help()
    sub = next(a for a in parser._actions if isinstance(a, type(parser._subparsers._group_actions[0])))
    assert set(sub.choices) == set(INPUTS_OUTPUTS)  # a new subcommand must say what it reads and writes
    for name, command in sub.choices.items():
        text = command.format_help()
        assert "Input:" in text and "Output:" in text, name
        assert name in top
