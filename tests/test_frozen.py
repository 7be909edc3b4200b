"""Regions the compression froze (deft.motion.frozen) and the AUs deft then states as unseen."""

from math import inf

import numpy as np
import pytest

from deft.detection_limit import EXPRESSION_AUS, sensitivity, unseen_aus, unseen_warnings
from deft.motion.frozen import FROZEN_SHARE, frozen_regions, frozen_shares
from deft.motion.regions import REGION_NAMES, REGIONS, region_geometry
from tests.test_detection_limit import GOOD



def _face() -> tuple[np.ndarray, float]:
    rng = np.random.default_rng(0)
    lm = np.zeros((68, 2))
    lm[:17] = np.c_[np.linspace(40, 160, 17), 100 + 50 * np.sin(np.linspace(0, np.pi, 17))]  # jaw
    lm[17:22] = np.c_[np.linspace(55, 90, 5), np.full(5, 60.0)]  # right brow
    lm[22:27] = np.c_[np.linspace(110, 145, 5), np.full(5, 60.0)]  # left brow
    lm[27:31] = np.c_[np.full(4, 100.0), np.linspace(75, 105, 4)]  # nose bridge
    lm[31:36] = np.c_[np.linspace(88, 112, 5), np.full(5, 112.0)]  # nostrils
    lm[36:42] = np.c_[np.linspace(60, 85, 6), np.full(6, 78.0)]  # right eye
    lm[42:48] = np.c_[np.linspace(115, 140, 6), np.full(6, 78.0)]  # left eye
    lm[48:60] = np.c_[80 + 40 * (np.cos(np.linspace(0, 2 * np.pi, 12)) + 1) / 2, 130 + 6 * np.sin(np.linspace(0, 2 * np.pi, 12))]
    lm[60:68] = lm[48:56]
    return lm + rng.normal(0, 0.1, lm.shape), 55.0


def _noisy(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(60, 200, (n, 200, 200, 3)).astype(np.uint8)


def test_a_noisy_camera_freezes_nothing_and_a_copied_region_is_frozen():
    lm, iod = _face()
    frames = _noisy(6)
    assert not frozen_shares(frames, lm, iod, 1, 5).any()
    (cx, cy), r = region_geometry(REGIONS[REGION_NAMES.index("glabella")], lm, iod)
    ys, xs = np.mgrid[:200, :200]
    disc = (xs - cx) ** 2 + (ys - cy) ** 2 <= (r + 1) ** 2
    frames[2:6, disc] = frames[1, disc]  # the codec copied the glabella from frame 1 on
    shares = frozen_shares(frames, lm, iod, 5, 1)  # either order
    assert shares[REGION_NAMES.index("glabella")] == 1.0
    assert frozen_regions(shares) == ("glabella",)
    assert frozen_shares(frames, lm, iod, 0, 5)[REGION_NAMES.index("glabella")] == 0.0  # frame 0 differs
    assert not frozen_shares(frames, lm, iod, 3, 3).any()  # no step, nothing to say


def test_an_au_is_unseen_where_its_own_regions_froze_unless_it_fired():
    shares = np.zeros(len(REGION_NAMES))
    shares[[REGION_NAMES.index(n) for n in ("inner_brow_right", "inner_brow_left", "glabella")]] = 1.0
    assert unseen_aus(shares, set()) == ("AU1", "AU4")  # AU1: inner brows; AU4: inner brows and glabella
    assert unseen_aus(shares, {"AU4"}) == ("AU1",)
    shares[REGION_NAMES.index("glabella")] = 0.0  # AU4's regions: two of three frozen, on average enough
    assert unseen_aus(shares, set()) == ("AU1", "AU4")
    shares[shares > 0] = FROZEN_SHARE - 0.1  # most of each disc still changed: seen
    assert unseen_aus(shares, set()) == ()
    assert unseen_aus(np.zeros(len(REGION_NAMES)), set()) == ()
    assert set(unseen_aus(np.ones(len(REGION_NAMES)), set())) == set(EXPRESSION_AUS)


def test_no_au_found_with_an_unseen_au_is_inconclusive_on_a_good_clip():
    assert not sensitivity(GOOD, True, set()).inconclusive
    hidden = sensitivity(GOOD, True, set(), unseen=("AU1", "AU4"))
    assert hidden.inconclusive and "compression froze the regions of AU1, AU4" in hidden.reason
    assert hidden.limits["AU1"] == inf and hidden.limits["AU4"] == inf and hidden.limits["AU12"] < inf
    assert hidden.to_dict()["unseen_aus"] == ["AU1", "AU4"]
    assert not sensitivity(GOOD, True, {"AU12"}, unseen=("AU1",)).inconclusive  # an expression AU was found
    assert unseen_warnings(("AU1",))[0].startswith("AU1 could not be seen") and unseen_warnings(()) == []


def test_the_encoder_states_its_rate_factor(tmp_path):
    from deft.encoder import x264_rate_factor
    from deft.video import read_video, write_video

    frames = _noisy(4)[:, :64, :64]
    for crf in (12, 31):
        write_video(frames, tmp_path / f"c{crf}.mp4", crf=crf)
        assert x264_rate_factor(tmp_path / f"c{crf}.mp4") == crf
        assert read_video(tmp_path / f"c{crf}.mp4").crf == crf
    (tmp_path / "other.bin").write_bytes(b"\x00" * 100 + b"x264 - core 1 - options: rc=abr bitrate=800\x00")
    assert x264_rate_factor(tmp_path / "other.bin") is None  # a bitrate, not a rate factor
    assert x264_rate_factor(tmp_path / "missing.mp4") is None


@pytest.mark.slow
def test_a_still_face_coded_hard_is_inconclusive_not_none(tmp_path):
    from deft.analyze import analyze
    from deft.cli import main

    out = {}
    for crf in (18, 34):
        path = str(tmp_path / f"still{crf}.mp4")
        assert main(["synth", path, "--emotion", "none", "--crf", str(crf), "--seed", "3"]) == 0
        out[crf] = analyze(path).to_dict()
    assert out[18]["encoder_crf"] == 18 and out[18]["unseen_aus"] == [] and not out[18]["inconclusive"]
    hard = out[34]
    assert hard["encoder_crf"] == 34 and {"AU1", "AU4", "AU12"} <= set(hard["unseen_aus"])
    assert hard["inconclusive"] and "compression froze" in hard["inconclusive_reason"]
    assert hard["detection_limit_iod"]["AU4"] is None and any("could not be seen" in w for w in hard["warnings"])
