"""Long-video analyses kept for follow-up questions only as long as the server keeps uploads."""

import time

from deft.serve.api.recent import RecentAnalyses


def _video(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_the_same_bytes_reuse_the_analysis_other_bytes_do_not(tmp_path):
    made = []
    recent = RecentAnalyses(size=1, keep_s=60.0)
    make = lambda tag: lambda: made.append(tag) or tag  # noqa: E731
    a, same, b = _video(tmp_path, "a.mp4", b"A" * 100), _video(tmp_path, "copy.mp4", b"A" * 100), _video(tmp_path, "b.mp4", b"B")
    assert recent.get(a, make("a")) == "a" and recent.get(same, make("again")) == "a"  # same content, other name
    assert recent.get(b, make("b")) == "b" and made == ["a", "b"]
    assert recent.get(a, make("a2")) == "a2" and made == ["a", "b", "a2"]  # size 1: b pushed a out


def test_nothing_is_kept_when_uploads_are_not(tmp_path):
    made = []
    a = _video(tmp_path, "a.mp4", b"A")
    for recent in (RecentAnalyses(size=1, keep_s=0.0), RecentAnalyses(size=0, keep_s=60.0)):
        recent.get(a, lambda: made.append(1))
        recent.get(a, lambda: made.append(1))
    assert len(made) == 4


def test_a_kept_analysis_expires_with_the_uploads(tmp_path):
    made = []
    recent = RecentAnalyses(size=2, keep_s=0.05)
    a = _video(tmp_path, "a.mp4", b"A")
    recent.get(a, lambda: made.append(1))
    assert len(recent) == 1
    time.sleep(0.1)
    recent.expire()  # the server's sweep
    assert len(recent) == 0
    recent.get(a, lambda: made.append(1))
    assert len(made) == 2
