import numpy as np
import pytest

from deft.analyze import analyze_frames
from deft.data.synthetic import SyntheticSpec, profile, render
from deft.errors import ConfigError
from deft.motion.phases import check_given, spot_phases, weighted_motion
from deft.motion.regions import REGION_NAMES
from tests.conftest import as_video


def test_spot_phases_on_a_clean_curve():
    curve = profile(30, 5, 12, 20) * 0.01
    onset, apex, offset = spot_phases(curve)
    assert apex == 12 and 4 <= onset <= 7 and 18 <= offset <= 21


def test_a_rise_that_never_falls_is_not_the_apex():
    """A fast head turn at the clip's end leaves registered motion that grows to the last frame, higher than the
    expression's (dev pose clips: .005-.03 IOD against the expression's .002-.003): the apex is the expression's
    rise and fall, not the end."""
    rng = np.random.default_rng(0)
    t = np.arange(45)
    turn = 0.012 * np.clip((t - 38) / 6, 0, 1) ** 2
    curve = 0.001 + 0.003 * profile(45, 16, 21, 27) + turn + rng.normal(0, 0.0001, 45)
    assert int(np.argmax(curve)) == 44
    onset, apex, offset = spot_phases(curve)
    assert abs(apex - 21) <= 1 and 14 <= onset < 21 < offset <= 30


@pytest.mark.parametrize("onset, apex, offset", [(2, 8, 15), (9, 18, 27), (4, 10, 29)])
def test_apex_on_synthetic_clips(onset, apex, offset):
    clip = render(SyntheticSpec(face="hopper", aus=(("AU1", 1.5), ("AU2", 1.5)), onset=onset, apex=apex, offset=offset, seed=apex))
    ph = analyze_frames(as_video(clip.frames)).phases
    assert abs(ph.apex - apex) <= 2
    assert ph.onset < ph.apex <= ph.offset
    assert abs(ph.onset - onset) <= 4


def test_given_phases_are_used_and_checked(happy_clip):
    result = analyze_frames(as_video(happy_clip.frames), phases=(5, 13, 20))
    assert result.phases.to_dict() == {"onset": 5, "apex": 13, "offset": 20, "source": "given"}
    with pytest.raises(ConfigError, match="must satisfy"):
        check_given((10, 5, 20), 30, "clip")
    with pytest.raises(ConfigError, match="< 30"):
        check_given((1, 5, 30), 30, "clip")


T = 45


def _still(rng: np.random.Generator) -> np.ndarray:
    """(T, R, 2) region motion vs frame 0 of a still face: flow noise .0005 IOD."""
    vectors = rng.normal(0, 0.0005, (T, len(REGION_NAMES), 2))
    vectors[0] = 0.0
    return vectors


def _move(vectors: np.ndarray, names: tuple[str, ...], motion: np.ndarray) -> None:
    for name in names:
        vectors[:, REGION_NAMES.index(name), 1] += motion


def test_a_region_moving_all_clip_long_weighs_less_than_a_brief_expression():
    """Speech left over after separation moves the mouth all clip long (syllables at 4 Hz, stressed or not, as the
    world's speech), together more than the brows' micro-expression."""
    rng = np.random.default_rng(0)
    vectors = _still(rng)
    cycles = 4.0 * np.arange(T) / 30.0
    syllables = 0.02 * (0.5 - 0.5 * np.cos(2 * np.pi * cycles)) * rng.uniform(0.6, 1.0, 8)[cycles.astype(int)]
    _move(vectors, ("lower_lip", "chin", "mouth_corner_right", "mouth_corner_left"), syllables)
    _move(vectors, ("inner_brow_right", "inner_brow_left"), -0.01 * profile(T, 16, 22, 28))
    plain = np.linalg.norm(vectors, axis=-1).mean(axis=1)
    assert abs(spot_phases(plain)[1] - 22) > 2  # the syllables win the unweighted curve
    onset, apex, offset = spot_phases(weighted_motion(vectors))
    assert abs(apex - 22) <= 2 and 14 <= onset < 20 and 24 < offset <= 30


def test_a_long_expression_keeps_its_apex():
    """A macro-expression over most of the clip, in three regions: they weigh less, but stay in the curve."""
    vectors = _still(np.random.default_rng(1))
    _move(vectors, ("mouth_corner_right", "mouth_corner_left", "cheek_right"), -0.06 * profile(T, 2, 24, 42))
    onset, apex, offset = spot_phases(weighted_motion(vectors))
    assert abs(apex - 24) <= 2 and onset < 12 and offset > 36

