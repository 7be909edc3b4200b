import numpy as np
import pytest
import cv2

from deft.errors import VideoError, VideoLimitError
from deft.video import VideoLimits, read_video, write_video


def test_reads_mp4(happy_mp4, happy_clip):
    video = read_video(happy_mp4)
    assert video.reader == "pyav"
    assert video.frames.shape == happy_clip.frames.shape
    assert video.fps == pytest.approx(30.0)
    # near-lossless H.264: decoded frames stay close to what was rendered
    assert np.abs(video.frames.astype(int) - happy_clip.frames).mean() < 3.0


def test_step_and_downscale(happy_mp4):
    video = read_video(happy_mp4, VideoLimits(work_side=128), step=2)
    assert video.frames.shape == (15, 128, 128, 3)
    assert video.frame_indices == list(range(0, 30, 2))
    assert video.original_size == (256, 256)


def test_downscaled_frames_are_what_pyav_gives_frame_by_frame(happy_mp4):
    import av  # read_video converts through one reformatter per stream: the pixels must not change

    with av.open(str(happy_mp4)) as container:
        expected = [f.to_ndarray(format="rgb24", width=96, height=96) for f in container.decode(video=0)]
    assert np.array_equal(read_video(happy_mp4, VideoLimits(work_side=96)).frames, np.stack(expected))


def test_image_folder_in_natural_order(tmp_path, happy_clip):
    for i in (0, 1, 2, 10, 11):  # img10 must come after img2
        cv2.imwrite(str(tmp_path / f"img{i}.jpg"), cv2.cvtColor(happy_clip.frames[i], cv2.COLOR_RGB2BGR))
    video = read_video(tmp_path)
    assert video.reader == "images" and video.n_frames == 5
    assert np.abs(video.frames[3].astype(int) - happy_clip.frames[10]).mean() < 4.0


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("this is not a video\n" * 50), "not a readable video"),
        (lambda p: p.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()), "not a readable video"),
    ],
    ids=["missing", "empty", "text", "random-bytes"],
)
def test_bad_files_raise_named_errors(tmp_path, make, message):
    path = tmp_path / "clip.mp4"
    make(path)
    with pytest.raises(VideoError, match=message) as info:
        read_video(path)
    assert str(path) in str(info.value)


def test_truncated_mp4(tmp_path, happy_mp4):
    data = open(happy_mp4, "rb").read()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(VideoError, match="cut.mp4"):
        read_video(path)


def test_one_frame_video(tmp_path, happy_clip):
    path = tmp_path / "one.mp4"
    write_video(happy_clip.frames[:1], path)
    with pytest.raises(VideoError, match="only 1 frame"):
        read_video(path)


def test_limits(tmp_path, happy_mp4):
    with pytest.raises(VideoLimitError, match="MiB limit"):
        read_video(happy_mp4, VideoLimits(max_bytes=1000))
    with pytest.raises(VideoLimitError, match="20-frame limit"):
        read_video(happy_mp4, VideoLimits(max_frames=20))
    with pytest.raises(VideoLimitError, match="above the 200px limit"):
        read_video(happy_mp4, VideoLimits(max_side=200))


def test_odd_size_is_refused_by_writer(tmp_path):
    with pytest.raises(VideoError, match="even"):
        write_video(np.zeros((3, 15, 16, 3), np.uint8), tmp_path / "odd.mp4")
