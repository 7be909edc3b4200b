"""A long video explained and served per spotted interval (issue 12, item 5)."""

import json

import pytest

from deft.model.config import DeftConfig
from deft.model.deft import DeftModel
from deft.serve.api import create_app
from deft.serve.engines import TransformersEngine
from deft.serve.settings import ServeSettings
from tests.loopback import run_in_thread
from tests.tiny import tiny_llm

SMILE = (310, 318, 330)  # onset, apex, offset of the smile in long_smile_mp4


def _is_the_smile(interval: dict) -> bool:
    onset, apex, offset = SMILE
    return (abs(interval["onset"] - onset) <= 2 and abs(interval["apex"] - apex) <= 2
            and abs(interval["offset"] - offset) <= 2 and interval["emotion"]["label"] == "positive")


@pytest.mark.slow
def test_explain_a_long_video_one_line_per_interval_model_loaded_once(long_smile_mp4, capsys):
    from deft.cli import main
    from deft.explain import load_model

    load_model.cache_clear()
    capsys.readouterr()
    assert main(["explain", long_smile_mp4, "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 1 and lines[0]["face_id"] == 0 and lines[0]["kind"] in ("micro", "macro")
    assert _is_the_smile(lines[0]) and lines[0]["explanation"] and lines[0]["model"]
    assert {"AU6", "AU12"} <= {a["au"] for a in lines[0]["aus"]}
    assert load_model.cache_info().misses == 1


@pytest.mark.slow
def test_api_analyze_answers_the_long_object_for_a_long_upload(long_smile_mp4):
    import httpx

    llm, tok = tiny_llm()
    engine = TransformersEngine(DeftModel(DeftConfig(expert_dim=32, conv_width=8), llm, tok).eval())
    url, server, thread = run_in_thread(create_app(engine, ServeSettings(request_timeout_s=600)))
    try:
        with open(long_smile_mp4, "rb") as f:
            up = httpx.post(url + "/v1/files", timeout=30, files={"file": ("long.mp4", f)})
        r = httpx.post(url + "/v1/deft/analyze", json={"file_id": up.json()["id"]}, timeout=600)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "uploaded video" and body["n_frames"] == 640
    assert [f["face_id"] for f in body["faces"]] == [0] and body["faces"][0]["frames"] == [0, 639]
    intervals = body["faces"][0]["intervals"]
    assert len(intervals) == 1 and _is_the_smile(intervals[0])


@pytest.mark.slow
def test_api_chat_about_a_long_video_answers_per_interval(long_smile_mp4, monkeypatch):
    import httpx

    import deft.long.analyze

    analysed = []  # the video is tracked and analysed once; the second question (kept uploads) reuses it
    real = deft.long.analyze.analyze_long_clips
    monkeypatch.setattr(deft.long.analyze, "analyze_long_clips", lambda *a: analysed.append(1) or real(*a))
    llm, tok = tiny_llm()
    engine = TransformersEngine(DeftModel(DeftConfig(expert_dim=32, conv_width=8), llm, tok).eval())
    url, server, thread = run_in_thread(create_app(engine, ServeSettings(request_timeout_s=600, keep_uploads_s=600)))
    ask = {"model": "deft", "max_tokens": 6}
    try:
        with open(long_smile_mp4, "rb") as f:
            file_id = httpx.post(url + "/v1/files", timeout=30, files={"file": ("long.mp4", f)}).json()["id"]
        content = [{"type": "text", "text": "What did the face do?"}, {"type": "file", "file": {"file_id": file_id}}]
        r = httpx.post(url + "/v1/chat/completions", timeout=600,
                       json={**ask, "messages": [{"role": "user", "content": content}]})
        wrong = httpx.post(url + "/v1/chat/completions", timeout=600, json={
            **ask, "messages": [{"role": "user", "content": content}], "interval": {"face_id": 0, "onset": 5}})
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    (interval,) = body["deft"]["faces"][0]["intervals"]  # the evidence: the long object
    assert _is_the_smile(interval) and body["deft"]["n_frames"] == 640
    text = body["choices"][0]["message"]["content"]
    assert text.startswith(f"[face 0, frames {interval['onset']}-{interval['offset']} (") and "positive]" in text
    assert [c["face_id"] for c in body["claims"]] == [0] and body["claims"][0]["onset"] == interval["onset"]
    assert wrong.status_code == 400 and "no spotted interval of face 0 starts at frame 5" in wrong.text
    assert len(analysed) == 1
