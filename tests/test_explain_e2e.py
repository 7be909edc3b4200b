"""The embedded default checkpoint on the real Gemma 3 270M backbone explains a held-apart synthetic clip."""

import json
from pathlib import Path

import pytest

from deft.instruct.claims import named_aus
from deft.labels import DETECTED_AUS


@pytest.mark.slow
def test_default_checkpoint_explains_a_clip(tmp_path):
    from deft.cli import main
    from deft.explain import explain
    from deft.data.synthetic import SyntheticSpec, render
    from deft.video import write_video

    path = tmp_path / "surprise.mp4"
    write_video(render(SyntheticSpec(face="hopper", aus=(("AU1", 2.5), ("AU2", 2.5)), seed=4242)).frames, path)
    result = explain(path)
    measured = {a.au for a in result.analysis.aus}
    named = named_aus(result.text)
    assert result.text and named, result.text
    # faithful by construction: every AU the text names was measured (checked decoding); most measured ones are named
    recall = len(named & measured) / len(measured)
    assert named <= measured and recall >= 0.5, (result.text, measured)
    assert all(c["fact"] is not None for c in result.to_dict()["claims"]), result.text
    assert set(named) <= set(DETECTED_AUS)
    from deft.explain import load_model

    assert len(load_model(None).drafts) > 1000  # the checkpoint's training answers draft its decoding
    assert main(["explain", str(path), "--json"]) == 0


@pytest.mark.slow
def test_explain_a_folder_loads_the_model_once(tmp_path, capsys):
    from deft.cli import main
    from deft.data.synthetic import SyntheticSpec, render
    from deft.explain import load_model
    from deft.video import write_video

    folder = tmp_path / "clips"
    folder.mkdir()
    for i, aus in enumerate([(("AU6", 2.0), ("AU12", 2.5)), (("AU4", 2.5), ("AU7", 2.0))]):
        write_video(render(SyntheticSpec(aus=aus, seed=77 + i)).frames, folder / f"clip{i}.mp4")
    (folder / "broken.mp4").write_bytes(b"not a video")
    load_model.cache_clear()
    capsys.readouterr()

    assert main(["explain", str(folder)]) == 1  # one clip failed; the batch went on
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [Path(line["source"]).name for line in lines] == ["broken.mp4", "clip0.mp4", "clip1.mp4"]
    assert "error" in lines[0] and all(line["explanation"] for line in lines[1:])
    assert load_model.cache_info().misses == 1  # the model was loaded once for the whole folder
