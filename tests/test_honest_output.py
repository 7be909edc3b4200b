"""Where deft cannot tell (inconclusive), no output reads as "certainly no expression"."""

import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from deft.agent import _compose
from deft.emotion import classify_emotion, undetermined
from deft.instruct.faithful import ClipFacts, caveat, check, claims
from deft.instruct.world_source import emotion_disagreement
from deft.instruct.facts import ClipLabels
from deft.labels import COMPOSITE_LABELS, NONE, UNDETERMINED, said_emotion
from deft.data.world.events import add_event, still_track
from deft.data.world.identity import load_identity
from deft.data.world.render import render_face
from deft.data.world.track import Camera
from deft.long.intervals import analyse_intervals, in_source_frames
from deft.long.overlay import _label
from deft.long.report import _interval_line
from deft.long.series import FaceSeries
from deft.long.spotting import Interval
from deft.analyze import analyze_frames
from deft.motion.phases import smooth_curve
from deft.motion.regions import REGIONS, region_geometry
from deft.motion.register import landmark_depth
from deft.ordinary.result import Ordinary, OrdinaryEvent
from deft.plot import curve_title, draw_analysis, regions_on_crop
from tests.conftest import as_video

README = (Path(__file__).parents[1] / "README.md").read_text()
REASON = "no expression AU was found, but in this clip most expression AUs could not have been reported"


def test_an_undetermined_emotion_keeps_its_keys_but_claims_no_class():
    sure = classify_emotion([])
    assert sure.scores[NONE] == 1.0 and not sure.inconclusive and sure.describe() == "none (none)"
    unsure = undetermined(sure)
    out = unsure.to_dict()
    assert {"label", "fine", "scores"} <= set(out) and out["inconclusive"] is True
    assert (out["label"], out["fine"]) == (NONE, NONE)  # the benchmarks and builders compare it with the truth
    assert set(out["scores"]) == set(COMPOSITE_LABELS) and len(set(out["scores"].values())) == 1
    assert max(out["scores"].values()) < 0.5  # no label, `none` included, is claimed
    assert unsure.describe().startswith(UNDETERMINED) and "none" not in unsure.describe()
    assert sure.to_dict()["inconclusive"] is False


def _analysis(inconclusive: bool) -> dict:
    emotion = (undetermined if inconclusive else lambda e: e)(classify_emotion([])).to_dict()
    return {"aus": [], "regions": [], "emotion": emotion, "phases": {"onset": 3, "apex": 29, "offset": 41},
            "inconclusive": inconclusive, "inconclusive_reason": REASON if inconclusive else ""}


def test_an_answer_may_not_call_an_inconclusive_clip_neutral():
    text = "The face stays neutral (none)."
    assert all(c.fact for c in claims(text, ClipFacts.from_analysis(_analysis(False))) if c.kind == "emotion")
    facts = ClipFacts.from_analysis(_analysis(True))
    said = [c for c in claims(text, facts) if c.kind == "emotion"]
    assert said and all(c.fact is None for c in said)
    assert check(text, facts, final=True).fix is None  # there is no label to write in instead
    assert caveat(facts).startswith("deft cannot tell")
    assert [c.fact for c in claims("The scores are 25% each.", facts)] == [None]  # equal scores: not measured
    # the emotion block alone (a long video's interval carries no top-level key) says it too
    assert ClipFacts.from_analysis({**_analysis(True), "inconclusive": False}).inconclusive


def test_short_displays_and_the_agent_say_cannot_tell():
    unsure, sure = _analysis(True)["emotion"], _analysis(False)["emotion"]
    assert said_emotion(unsure) == UNDETERMINED and said_emotion(sure) == NONE
    assert said_emotion(None, missing="not analysed") == "not analysed"
    assert said_emotion({"label": None, "fine": "others"}, "label") == "no MEGC class"
    line = _interval_line({"onset": 3, "offset": 41, "apex": 29, "kind": "micro", "aus": [], "emotion": unsure}, 30.0)
    assert line.rstrip().endswith(UNDETERMINED)
    out = {"aus": [], "emotion": unsure, "phases": {"onset": 3, "apex": 29, "offset": 41}, "reliable": True,
           "inconclusive": True, "inconclusive_reason": REASON}
    text = _compose([{"tool": "analyze_clip", "output": json.dumps(out)}])
    assert f"Emotion: {UNDETERMINED}" in text and "none (none)" not in text


def test_the_world_builder_leaves_out_clips_deft_cannot_tell():
    labels = ClipLabels(set(), NONE, NONE)
    sure, unsure = classify_emotion([]), undetermined(classify_emotion([]))
    assert emotion_disagreement(SimpleNamespace(emotion=sure), labels) == []
    assert "cannot tell" in emotion_disagreement(SimpleNamespace(emotion=unsure), labels)[0]


def test_the_curve_title_says_what_deft_knows():
    unsure = SimpleNamespace(emotion=undetermined(classify_emotion([])), aus=[])
    title = curve_title(unsure)
    assert UNDETERMINED in title and "none (none)" not in title and "no expression AU" in title
    fired = SimpleNamespace(emotion=classify_emotion([]), aus=["AU12"])
    assert curve_title(fired) == "emotion: none (none)"


@pytest.mark.slow
def test_the_hard_clip_reads_honestly(tmp_path):
    """Issue 18's hard clip: head turn, speech, a wink and two blinks, eyes 30 px apart, CRF 30, no expression."""
    from deft.analyze import analyze
    from deft.cli import main
    from deft.explain import explain_analysis
    from deft.report import format_table

    path = str(tmp_path / "hard.mp4")
    assert main(["synth", path, "--face", "astronaut-dark", "--emotion", "none", "--pose", "--speech", "--blinks",
                 "--iod", "30", "--crf", "30", "--seed", "5"]) == 0
    result = analyze(path)
    out = result.to_dict()
    assert out["inconclusive"] and out["emotion"]["inconclusive"] and out["emotion"]["scores"][NONE] < 0.5
    table = format_table(result)
    assert f"emotion: {UNDETERMINED}" in table and "emotion: none" not in table
    assert UNDETERMINED in curve_title(result)
    # the right eye's wink (frames 3-13) is not stated as a blink (it was "blink 6-9"): a right wink or unsure
    lids = [e for e in result.ordinary.events if e.onset <= 13 and e.offset >= 3 and e.kind in ("blink", "wink")]
    assert lids and all(e.side == "right" if e.kind == "wink" else e.said_kind() == "blink or wink" for e in lids)
    assert "blink 6-9" not in table
    # region pixels are the crop's, not the video's; "no AU" and the ordinary AUs listed below do not clash
    assert f"{result.quality.iod_px:.1f} in the video" in table and "net IOD" in table
    assert "the AUs of ordinary motion are listed apart" in table
    text = explain_analysis(result)  # no model call: nothing expressive to explain
    assert text.startswith("deft cannot tell") and "no expression" not in text.lower().replace("no expression au", "")


def _moving_head(frames: np.ndarray) -> np.ndarray:
    """The clip with its head sliding 24 px right, 12 px down and rolling 6 degrees over the clip."""
    h, w = frames.shape[1:3]
    out = []
    for i, f in enumerate(frames):
        k = i / (len(frames) - 1)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 6 * k, 1.0)
        m[:, 2] += (24 * k, 12 * k)
        out.append(cv2.warpAffine(f, m, (w, h), borderMode=cv2.BORDER_REPLICATE))
    return np.stack(out)


def test_the_json_names_both_eye_distances(happy_clip):
    result = analyze_frames(as_video(happy_clip.frames))
    out = result.to_dict()
    assert out["iod_px"] == out["crop_iod_px"] == round(result.iod, 2)  # the contract's key is the crop's
    assert out["source_iod_px"] == out["quality"]["iod_px"] and "crop" in out["units"]["px"]
    assert "crop_iod_px" in README and "source_iod_px" in README


def test_the_plot_draws_regions_where_the_moved_face_is(happy_clip):
    result = analyze_frames(as_video(_moving_head(happy_clip.frames)))
    reg, apex = result.registration, result.phases.apex
    # where the apex face is in its displayed (registered) crop: its landmarks through its own map, inverted
    m, z = reg.maps[apex], landmark_depth(reg.iod)
    lm = result.tracked.landmarks[apex] - m[:, 2][None] * z[:, None] - m[:, 3][None]
    face = np.linalg.solve(m[:, :2], lm.T).T
    for spec, (centre, radius), measured in zip(REGIONS, regions_on_crop(result, apex), result.regions):
        assert np.allclose(centre, measured.centre) and radius == measured.radius
        # (placed by the apex's landmarks through the reference's alignment, they were 0.06-0.11 IOD off)
        assert np.linalg.norm(centre - region_geometry(spec, face, reg.iod)[0]) < 0.03 * reg.iod, spec.name


def test_the_plot_legend_leaves_the_curve_alone(happy_clip):
    import matplotlib.pyplot as plt

    result = analyze_frames(as_video(happy_clip.frames))
    fig = draw_analysis(result)
    try:
        fig.canvas.draw()
        curve_ax = fig.axes[1]
        legend = curve_ax.get_legend().get_window_extent()
        assert not legend.overlaps(curve_ax.get_window_extent())
        apex = result.phases.apex
        x, y = curve_ax.lines[-1].get_data()  # the apex marker sits on the smoothed curve at the apex
        assert list(x) == [apex] and y[0] == pytest.approx(smooth_curve(np.asarray(result.phases.curve))[apex])
    finally:
        plt.close(fig)


def test_clip_warnings_name_the_source_videos_frames():
    text = Ordinary([OrdinaryEvent("wink", 0, 0, 1, ("AU46",), "right", 0.2, "a turn")]).warnings()[0]
    assert "frames 0-1" in text
    said = in_source_frames(text + "; face lost on 2 of 15 frames (first: frame 3)", list(range(382, 397)))
    assert "frames 382-383" in said and "lost on 2 of 15 frames (first: frame 385)" in said


def test_a_long_interval_says_its_blink_and_whether_to_trust_it():
    """A blink spotted as a "micro" interval: its line names the blink, in the source video's frames."""
    track = still_track(40)
    add_event(track, "blink", 14, 6, np.random.default_rng(0), 30.0)
    rendered = render_face(load_identity("hopper"), track, Camera(width=256, height=256, iod_px=60.0))
    first = 100  # the video's frame numbers: the clip's frame 0 is source frame 100
    series = FaceSeries(0, np.arange(first, first + 40), rendered.landmarks, np.zeros((40, 3)), np.full(40, 60.0),
                        np.ones(40), np.zeros((40, 18, 2)), 6)
    seen = []
    iv = analyse_intervals(enumerate(rendered.frames, start=first), [series], {0: [Interval(112, 116, 122, "micro", 2)]},
                           30.0, first + 40, (256, 256), extra=lambda a: seen.append(a.warnings) or {})[0][0]
    assert iv["aus"] == [] and {"reliable", "reliable_reason", "inconclusive", "ordinary"} <= set(iv)
    blinks = [e for e in iv["ordinary"] if e["kind"] == "blink"]
    assert blinks and all(first + 5 <= e["onset"] <= e["offset"] <= first + 26 for e in blinks)
    assert seen == [iv["warnings"]]  # the explanation reads the same frames
    line = _interval_line(iv, 30.0)
    assert f"ordinary motion: blink AU45 {blinks[0]['onset']}-" in line
    assert "not reliable: too dark" in _interval_line({**iv, "reliable": False, "reliable_reason": "too dark"}, 30.0)
    assert _label(0, [{**iv, "reliable": False}], 114).endswith("(not reliable)")


def test_a_long_video_says_it_draws_no_plot(happy_mp4, tmp_path, capsys):
    from deft.cli import main

    png = tmp_path / "apex.png"
    assert main(["analyze", happy_mp4, "--face", "all", "--plot", str(png)]) == 0  # --face all: the long path
    assert not png.exists() and "--plot is for a short clip" in capsys.readouterr().err


def test_an_intervals_plot_and_summary_count_the_videos_frames(happy_clip):
    """The demo's interval view shows the frame numbers its row, warnings and the long report use."""
    import matplotlib.pyplot as plt

    from deft.report import one_line

    result = analyze_frames(as_video(happy_clip.frames))
    ph, first = result.phases, 300
    frames = list(range(first, first + result.n_frames))  # the clip's frame 0 is the video's frame 300
    assert f"onset {first + ph.onset}, apex {first + ph.apex}, offset {first + ph.offset}" in one_line(result, frames)
    assert f"onset {ph.onset}, apex {ph.apex}, offset {ph.offset}" in one_line(result)  # a short clip: its own
    fig = draw_analysis(result, frames)
    try:
        image_ax, curve_ax = fig.axes[:2]
        assert image_ax.get_title().startswith(f"apex frame {first + ph.apex}:")
        assert list(curve_ax.lines[0].get_xdata()) == frames[: len(ph.curve)]
        assert [line.get_xdata()[0] for line in curve_ax.lines[2:5]] == [first + ph.onset, first + ph.apex,
                                                                         first + ph.offset]
        assert list(curve_ax.lines[-1].get_xdata()) == [first + ph.apex]
    finally:
        plt.close(fig)
