"""Media that would make FFmpeg open other paths (playlists, concat lists, pipes) is refused unopened."""

import subprocess
import sys

import pytest

from deft import video as video_module
from deft.errors import VideoError
from deft.video import read_video
from tests.open_watch import watch_open


def hls(target) -> str:
    return f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{target}\n#EXT-X-ENDLIST\n"


def test_the_watch_sees_an_open_from_another_process(tmp_path):
    with watch_open(tmp_path / "bait.mp4") as seen:
        subprocess.run([sys.executable, "-c", f"open({str(tmp_path / 'bait.mp4')!r}).read()"], check=True, timeout=30)
    assert seen["opened"]
    with watch_open(tmp_path / "quiet.mp4") as seen:
        pass
    assert not seen["opened"]


@pytest.mark.parametrize("name, text", [
    ("playlist.mp4", hls),
    ("playlist.m3u8", hls),
    ("list.mp4", lambda target: f"ffconcat version 1.0\nfile '{target}'\n"),
])
def test_a_list_of_local_files_is_refused_and_never_followed(tmp_path, name, text):
    bait = tmp_path / "bait.mp4"
    clip = tmp_path / name
    clip.write_text(text(bait))
    with watch_open(bait) as seen:
        with pytest.raises(VideoError, match="playlist or file list") as info:
            read_video(clip)
    assert not seen["opened"], "the decoder opened the path the list named"
    assert str(clip) in str(info.value) and str(bait) not in str(info.value)


@pytest.mark.parametrize("name, text", [
    ("playlist.m3u8", hls), ("list.mp4", lambda target: f"ffconcat version 1.0\nfile '{target}'\n")])
def test_without_the_sniffer_the_demuxer_whitelist_still_refuses(tmp_path, monkeypatch, name, text):
    monkeypatch.setattr(video_module, "_LIST_MAGIC", ())  # the second layer on its own
    bait = tmp_path / "bait.mp4"
    clip = tmp_path / name
    clip.write_text(text(bait))
    with watch_open(bait) as seen:
        with pytest.raises(VideoError, match="not an allowed container"):
            read_video(clip)
    assert not seen["opened"]


def test_a_pipe_is_refused_without_being_opened(tmp_path):
    with watch_open(tmp_path / "pipe.mp4") as seen:
        with pytest.raises(VideoError, match="not a regular file"):
            read_video(tmp_path / "pipe.mp4")
    assert not seen["opened"]


def test_a_protocol_name_is_only_a_file_name(tmp_path, happy_mp4, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(VideoError, match="no such file"):
        read_video(f"concat:{happy_mp4}|{happy_mp4}")
    with pytest.raises(VideoError, match="no such file"):
        read_video(f"file:{happy_mp4}")


PEAK_KB = """
import resource, sys
import av
from deft.errors import VideoError
from deft.video import read_video
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    read_video(sys.argv[1])
except VideoError as err:
    print(err, file=sys.stderr)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_an_image_over_the_pixel_cap_is_refused_undecoded(tmp_path):
    """A 6000x6000 grey PNG (36 MB of pixels, 0.2 MB on disk): refused without FFmpeg decoding it, while probing
    or later (it did, +36 MB and more, before max_pixels reached the decoders)."""
    import cv2
    import numpy as np

    bomb = tmp_path / "bomb.png"
    cv2.imwrite(str(bomb), np.zeros((6000, 6000), np.uint8))
    run = subprocess.run([sys.executable, "-c", PEAK_KB, str(bomb)], capture_output=True, text=True, timeout=120)
    assert "megapixels" in run.stderr or "not a readable video" in run.stderr, run.stderr
    assert int(run.stdout) < 12_000  # kB the peak rose while reading: far under the 36,000 of one decoded frame
