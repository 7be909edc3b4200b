"""The Gradio demo, driven through gradio_client (its API) on loopback, with the tiny model behind it."""

import os
import socket
import time
from contextlib import contextmanager

import pytest
from gradio_client import Client, handle_file

from deft.errors import ConfigError
from deft.model.config import DeftConfig
from deft.model.deft import DeftModel
from deft.serve.demo import LocalBackend, build_demo
from deft.serve.engines import TransformersEngine
from tests.tiny import tiny_llm


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def demo_url():
    llm, tok = tiny_llm()
    model = DeftModel(DeftConfig(expert_dim=32, conv_width=8), llm, tok).eval()
    demo = build_demo(LocalBackend(TransformersEngine(model)), max_tokens=8)
    port = _free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_upload_analyse_and_chat(demo_url, happy_mp4):
    client = Client(demo_url, verbose=False)
    table, plot, summary, intervals, timeline = client.predict(handle_file(happy_mp4), api_name="/on_video")
    assert not intervals["data"] and timeline is None  # a short clip has no timeline
    assert "positive" in summary and "happiness" in summary
    assert {row[0] for row in table["data"]} == {"AU6", "AU12"}
    assert plot and open(plot, "rb").read(4) == b"\x89PNG"
    chat, box, checked = client.predict("Which AUs moved?", [], handle_file(happy_mp4), api_name="/explain")
    assert chat[0]["role"] == "user" and chat[-1]["role"] == "assistant" and box == ""
    assert all(c["fact"] is not None for c in checked)  # every claim shown rests on a measured fact


@pytest.mark.slow
def test_a_long_video_shows_its_timeline_and_a_picked_interval_is_explained(demo_url, long_smile_mp4):
    client = Client(demo_url, verbose=False)
    table, plot, summary, intervals, timeline = client.predict(handle_file(long_smile_mp4), api_name="/on_video")
    assert "1 face(s), 1 spotted interval(s)" in summary and not table["data"] and plot is None
    assert open(timeline, "rb").read(4) == b"\x89PNG"
    (number, face, frames, _, kind, emotion, aus), = intervals["data"]
    onset, offset = map(int, frames.split("-"))
    assert number == 1 and face == 0 and abs(onset - 310) <= 2 and abs(offset - 330) <= 2 and kind in ("micro", "macro")
    assert emotion == "happiness" and {"AU6", "AU12"} <= set(aus.split())
    chat, _, _ = client.predict("Which AUs moved?", [], handle_file(long_smile_mp4), api_name="/explain")
    assert "pick an interval" in str(chat[-1]["content"])  # nothing picked yet
    table, plot, summary = client.predict(1, api_name="/pick_interval")  # what a click on its row does
    assert summary.startswith(f"interval 1: face 0, frames {frames}") and "happiness" in summary
    apex = int(summary.split("apex ")[1].split(",")[0])  # the video's frame number, as in the row
    assert onset <= apex <= offset
    assert {"AU6", "AU12"} <= {row[0] for row in table["data"]} and open(plot, "rb").read(4) == b"\x89PNG"
    chat, _, checked = client.predict("Which AUs moved?", [], handle_file(long_smile_mp4), api_name="/explain")
    assert chat[-1]["role"] == "assistant" and chat[-1]["content"] and "pick an interval" not in str(chat[-1]["content"])
    assert all(c["fact"] is not None for c in checked)


def test_a_clip_without_a_face_is_explained_not_crashed(demo_url, tmp_path):
    import numpy as np

    from deft.video import write_video

    path = tmp_path / "wall.mp4"
    write_video(np.full((8, 64, 64, 3), 128, np.uint8), path)
    client = Client(demo_url, verbose=False)
    table, plot, summary, _, _ = client.predict(handle_file(str(path)), api_name="/on_video")
    assert "Cannot analyse this clip" in summary and "no face found" in summary


def test_with_auth_a_login_comes_first(demo_url):
    import httpx

    from deft.errors import ConfigError
    from deft.serve.demo import parse_auth

    assert parse_auth("ana:se:cret") == ("ana", "se:cret")
    for bad in ("ana", "ana:", ":pw"):
        with pytest.raises(ConfigError):
            parse_auth(bad)
    llm, tok = tiny_llm()
    demo = build_demo(LocalBackend(TransformersEngine(DeftModel(DeftConfig(expert_dim=32, conv_width=8), llm, tok))))
    port = _free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                        auth=parse_auth("ana:se:cret"))
    url = f"http://127.0.0.1:{port}"
    try:
        assert httpx.get(url + "/config", timeout=30).status_code == 401
        assert httpx.get(demo_url + "config", timeout=30).status_code == 200  # the same page without --auth
        assert httpx.post(url + "/login", data={"username": "ana", "password": "wrong"}, timeout=30).status_code == 400
        with httpx.Client(base_url=url, timeout=30) as client:
            assert client.post("/login", data={"username": "ana", "password": "se:cret"}).status_code == 200
            assert client.get("/config").status_code == 200
    finally:
        demo.close()


@contextmanager
def _demo_with_an_upload(tmp_path, happy_mp4, **options):
    """(the clip's name, Gradio's cache folder, the analysis shown) while a demo runs with one uploaded,
    uniquely named clip."""
    import shutil
    import tempfile
    import uuid
    from pathlib import Path

    clip = tmp_path / f"clip-{uuid.uuid4().hex}.mp4"
    shutil.copy(happy_mp4, clip)
    llm, tok = tiny_llm()
    demo = build_demo(LocalBackend(TransformersEngine(DeftModel(DeftConfig(expert_dim=32, conv_width=8), llm, tok))),
                      max_tokens=4, **options)
    port = _free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    root = Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")
    try:
        analysed = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(handle_file(str(clip)),
                                                                               api_name="/on_video")
        yield clip.name, root, analysed
    finally:
        demo.close()


def test_uploaded_clips_are_deleted_when_the_demo_closes(tmp_path, happy_mp4):
    with _demo_with_an_upload(tmp_path, happy_mp4) as (name, root, _):
        assert list(root.rglob(name)), "the upload should be in Gradio's cache while the demo runs"
    assert not list(root.rglob(name))


def test_keep_uploads_deletes_a_clip_that_long_after_upload(tmp_path, happy_mp4):
    with _demo_with_an_upload(tmp_path, happy_mp4, keep_uploads_s=2.0) as (name, root, analysed):
        assert "AU" in str(analysed)  # it was uploaded and analysed (and may be gone already: analysis is slow)
        started = time.monotonic()
        while list(root.rglob(name)) and time.monotonic() - started < 8.0:
            time.sleep(0.2)
        assert not list(root.rglob(name))  # while the demo still runs


def test_the_demo_needs_a_clip_kept_a_while():
    with pytest.raises(ConfigError, match="1s or more"):
        build_demo(None, keep_uploads_s=0)
