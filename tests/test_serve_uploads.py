"""Uploaded clips are private by default: deleted once analysed, or kept only as long as --keep-uploads says,
and always at shutdown. Loopback only."""

import os
import time

import httpx
import pytest

from deft.errors import ConfigError
from deft.model.config import DeftConfig
from deft.model.deft import DeftModel
from deft.serve import media
from deft.serve.api import create_app
from deft.serve.engines import TransformersEngine
from deft.serve.settings import ServeSettings, parse_duration
from tests.loopback import run_in_thread
from tests.tiny import tiny_llm


@pytest.fixture(scope="module")
def engine():
    llm, tok = tiny_llm()
    return TransformersEngine(DeftModel(DeftConfig(expert_dim=32, conv_width=8), llm, tok).eval())


def serving(engine, keep_s: float):
    """(base URL, the app's upload store, stop) for a server keeping uploads `keep_s` seconds."""
    app = create_app(engine, ServeSettings(keep_uploads_s=keep_s))
    url, server, thread = run_in_thread(app)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)

    return url, app.state.serving.files, stop


def upload(url: str, clip) -> str:
    r = httpx.post(url + "/v1/files", timeout=30, files={"file": ("c.mp4", open(clip, "rb"))})
    assert r.status_code == 200
    return r.json()["id"]


def analyse(url: str, file_id: str) -> httpx.Response:
    return httpx.post(url + "/v1/deft/analyze", json={"file_id": file_id}, timeout=120)


def test_by_default_an_upload_is_deleted_once_analysed(engine, happy_mp4):
    url, files, stop = serving(engine, 0.0)
    try:
        file_id = upload(url, happy_mp4)
        path = files.path(file_id)
        assert os.path.exists(path)
        assert analyse(url, file_id).status_code == 200
        assert not os.path.exists(path) and os.listdir(files.dir) == []
        again = analyse(url, file_id)
        assert again.status_code == 404 and again.json()["error"]["code"] == "file_not_found"
    finally:
        stop()


def test_keep_uploads_keeps_a_clip_for_reuse(engine, happy_mp4):
    url, files, stop = serving(engine, 3600.0)
    try:
        file_id = upload(url, happy_mp4)
        assert analyse(url, file_id).status_code == 200 and analyse(url, file_id).status_code == 200
        assert os.path.exists(files.path(file_id))
    finally:
        stop()
    assert not os.path.exists(files.dir)  # all deleted at shutdown


def test_a_kept_upload_is_deleted_when_its_time_is_up(engine, happy_mp4):
    url, files, stop = serving(engine, 1.0)
    try:
        file_id = upload(url, happy_mp4)
        uploaded, path = time.monotonic(), os.path.join(files.dir, file_id + ".mp4")
        while os.path.exists(path) and time.monotonic() - uploaded < 5.0:
            time.sleep(0.1)
        assert not os.path.exists(path) and time.monotonic() - uploaded >= 1.0  # swept, no request needed
        assert analyse(url, file_id).status_code == 404
    finally:
        stop()


def test_an_upload_no_request_uses_expires(monkeypatch):
    monkeypatch.setattr(media, "UNUSED_UPLOAD_S", 0.3)
    store = media.FileStore(max_files=4)
    try:
        path = store.path(store.add(b"clip"))
        store.sweep()
        assert os.path.exists(path)
        time.sleep(0.4)
        store.sweep()
        assert not os.path.exists(path) and store.files == {}
    finally:
        store.close()


@pytest.mark.parametrize("text, seconds", [("0", 0), ("90", 90), ("90s", 90), ("30m", 1800), ("1.5h", 5400),
                                           ("2d", 172800)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "soon", "-1m", "nan", "inf"])
def test_a_bad_duration_is_refused(text):
    with pytest.raises(ConfigError, match="no duration"):
        parse_duration(text)
