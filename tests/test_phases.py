import numpy as np
import pytest

from deft.analyze import analyze_frames
from deft.data.synthetic import SyntheticSpec, profile, render
from deft.errors import ConfigError
from deft.motion.phases import check_given, spot_phases
from tests.conftest import as_video


def test_spot_phases_on_a_clean_curve():
    curve = profile(30, 5, 12, 20) * 0.01
    onset, apex, offset = spot_phases(curve)
    assert apex == 12 and 4 <= onset <= 7 and 18 <= offset <= 21


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
