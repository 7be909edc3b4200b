"""The `deft` command as a user runs it: real processes, real files."""

import json
import subprocess
import sys

import pytest

from deft.motion.regions import REGION_NAMES
from deft.video import write_video

DEFT = [sys.executable, "-m", "deft.cli"]


def run(*args, cwd=None):
    return subprocess.run([*DEFT, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_analyze_json(happy_mp4):
    proc = run("analyze", happy_mp4, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) >= {"phases", "aus", "emotion", "regions"}
    assert abs(out["phases"]["apex"] - 14) <= 2
    assert {a["au"] for a in out["aus"]} == {"AU6", "AU12"}
    assert all(set(a) >= {"au", "confidence", "evidence"} for a in out["aus"])
    assert out["emotion"]["label"] == "positive" and out["emotion"]["fine"] == "happiness"
    assert [r["name"] for r in out["regions"]] == list(REGION_NAMES) and {"name", "mean_magnitude", "peak_magnitude", "angle", "direction"} <= set(out["regions"][0])


def test_analyze_table_tvl1_and_plot(happy_mp4, tmp_path):
    png = tmp_path / "apex.png"
    proc = run("analyze", happy_mp4, "--flow", "tvl1", "--plot", png)
    assert proc.returncode == 0, proc.stderr
    assert "emotion: positive (happiness)" in proc.stdout and "AU12" in proc.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


@pytest.mark.slow
def test_demo_runs_without_input(tmp_path):
    proc = run("analyze", "--demo", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["emotion"]["fine"] == "happiness"


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.mp4", b"", "the file is empty"),
        ("notes.mp4", b"hello, not a video\n" * 40, "not a readable video"),
        ("missing.mp4", None, "no such file"),
    ],
)
def test_bad_input_exits_nonzero_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    proc = run("analyze", path)
    assert proc.returncode == 1
    assert str(path) in proc.stderr and message in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_faceless_clip(tmp_path):
    import numpy as np

    path = tmp_path / "wall.mp4"
    write_video(np.full((10, 128, 128, 3), 127, np.uint8), path)
    proc = run("analyze", path)
    assert proc.returncode == 1 and "wall.mp4: no face found" in proc.stderr


def test_batch_keeps_going_and_reports(tmp_path, happy_mp4):
    import shutil

    shutil.copy(happy_mp4, tmp_path / "a.mp4")
    (tmp_path / "b.mp4").write_bytes(b"\x00" * 2048)
    shutil.copy(happy_mp4, tmp_path / "c.mp4")
    proc = run("analyze", tmp_path)
    assert proc.returncode == 1
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [l["source"].rsplit("/", 1)[1] for l in lines] == ["a.mp4", "b.mp4", "c.mp4"]
    assert "error" in lines[1] and "not a readable video" in lines[1]["error"]
    assert lines[0]["emotion"]["label"] == lines[2]["emotion"]["label"] == "positive"
    assert "2 of 3 clips analysed, 1 failed" in proc.stderr


def test_synth_writes_a_clip_with_its_truth(tmp_path):
    out = tmp_path / "s.mp4"
    proc = run("synth", out, "--emotion", "surprise", "--face", "hopper", "--seed", "4")
    truth = json.loads(proc.stdout)
    assert truth["composite"] == "surprise" and {"AU1", "AU2"} <= set(truth["aus"])
    result = json.loads(run("analyze", out, "--json").stdout)
    assert result["emotion"]["label"] == "surprise"


def test_bad_phases_option(happy_mp4):
    proc = run("analyze", happy_mp4, "--phases", "3,x,9")
    assert proc.returncode == 1 and "ONSET,APEX,OFFSET" in proc.stderr


def test_train_defaults_come_from_the_configs():
    from deft.cli import build_parser, train_options
    from deft.model.config import DeftConfig
    from deft.train.experts_stage import ExpertsStage
    from deft.train.instruct_stage import InstructStage

    parse = build_parser().parse_args
    options = train_options(parse(["train", "data", "--out", "m"]))
    assert (options["config"], options["experts"], options["instruct"]) == (DeftConfig(), ExpertsStage(), InstructStage())
    assert "text_eval_clips" not in options  # train()'s own default applies
    options = train_options(parse(["train", "data", "--out", "m", "--lr", "0.01", "--seed", "3", "--qlora",
                                   "--experts", "motion", "--types", "name_aus", "--eval-clips", "5"]))
    assert options["instruct"] == InstructStage(lr=0.01, seed=3, types=("name_aus",))
    assert options["experts"] == ExpertsStage(seed=3) and options["text_eval_clips"] == 5
    assert (options["config"].quantize, options["config"].experts) == ("4bit", ("motion",))


def test_analyze_defaults_come_from_analyze_config():
    from deft.analyze import AnalyzeConfig
    from deft.cli import build_parser

    args = build_parser().parse_args(["analyze", "clip.mp4"])
    assert (args.flow, args.step) == (AnalyzeConfig.flow, AnalyzeConfig.step)
