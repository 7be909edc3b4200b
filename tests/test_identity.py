"""Identity gallery: known answers on the two real faces, consent, calibration, and a forget proof on disk."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from deft.data.faces import face_photo
from deft.data.synthetic import SyntheticSpec, render
from deft.errors import DeftError, FaceError, VideoError
from deft.face import SAME_PERSON_DISTANCE
from deft.tools.commands import NOT_SAME_PERSON, add_commands
from deft.tools.identity import (
    DB_NAME, THUMBS, ConsentError, Gallery, GalleryError, IdentityConfig, UnknownPersonError, calibrate,
    face_signature,
)

COLLINS, HOPPER = "Eileen Collins", "Grace Hopper"
CONSENT = "yes"
PURPOSE = "deft identity test purpose b2c4"


FRAMES = [0, 14, 29]  # neutral, apex, neutral: each descriptor costs ~0.1-0.2 s on a CPU


@pytest.fixture(scope="module")
def astronaut_clip() -> np.ndarray:
    return render(SyntheticSpec(face="astronaut", seed=4)).frames[FRAMES]


@pytest.fixture(scope="module")
def hopper_clip() -> np.ndarray:
    return render(SyntheticSpec(face="hopper", aus=(("AU4", 2.0),), seed=5)).frames[FRAMES]


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory) -> Path:
    """A gallery holding both real faces, enrolled once; tests work on copies."""
    folder = tmp_path_factory.mktemp("template") / "gallery"
    with Gallery(folder, create=True) as g:
        g.enrol(COLLINS, [face_photo("astronaut")], consent=CONSENT, purpose=PURPOSE)
        g.enrol(HOPPER, [face_photo("hopper")], consent=True, purpose="tests")
    return folder


@pytest.fixture
def gallery(tmp_path, enrolled):
    shutil.copytree(enrolled, tmp_path / "gallery")
    with Gallery(tmp_path / "gallery") as g:
        yield g


def test_the_two_real_faces_do_not_match(gallery):
    matches = gallery.search(face_photo("astronaut"), k=3)
    assert [m.name for m in matches] == [COLLINS, HOPPER]
    assert matches[0].accepted and matches[0].distance < 0.05  # the enrolled photo itself
    assert not matches[1].accepted and matches[1].distance > SAME_PERSON_DISTANCE
    result = gallery.verify(HOPPER, face_photo("astronaut"))
    assert not result.same_person and result.distance > SAME_PERSON_DISTANCE


def test_the_same_person_matches_across_synthetic_frames(gallery, astronaut_clip, hopper_clip):
    for frames, name, other in ((astronaut_clip, COLLINS, HOPPER), (hopper_clip, HOPPER, COLLINS)):
        top, second = gallery.search(frames)  # a clip: sampled frames, descriptors averaged
        assert (top.name, top.accepted, second.accepted) == (name, True, False)
        assert top.distance < 0.25 < SAME_PERSON_DISTANCE < second.distance
        assert gallery.verify(name, frames[len(frames) // 2]).same_person  # one frame at the apex side
        assert not gallery.verify(other, frames[0]).same_person


def test_files_enrol_and_search(tmp_path, happy_mp4):
    photo = tmp_path / "collins.png"
    cv2.imwrite(str(photo), cv2.cvtColor(face_photo("astronaut"), cv2.COLOR_RGB2BGR))
    with Gallery(tmp_path / "g", IdentityConfig(clip_samples=3), create=True) as g:
        assert g.enrol(COLLINS, [happy_mp4], consent="yes", purpose="test").samples_total == 1
        top = g.search(str(photo), k=1)[0]
    assert top.name == COLLINS and top.accepted


def _gallery_bytes(folder: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()]


def test_forget_removes_every_trace(gallery, astronaut_clip):
    folder = gallery.folder
    gallery.enrol(COLLINS, [astronaut_clip], consent=CONSENT, purpose=PURPOSE)  # a second sample
    blobs = [r[0] for r in gallery._db.execute(
        "SELECT s.descriptor FROM samples s JOIN people p ON p.id = s.person_id WHERE p.name = ?", (COLLINS,))]
    thumbs = [folder / THUMBS / r[0] for r in gallery._db.execute(
        "SELECT s.thumbnail FROM samples s JOIN people p ON p.id = s.person_id WHERE p.name = ?", (COLLINS,))]
    secrets = [COLLINS.encode(), PURPOSE.encode(), *blobs]  # consent is "yes" for everyone: no trace of a person
    assert len(blobs) == 2 and all(t.exists() for t in thumbs)
    on_disk = b"".join(b for _, b in _gallery_bytes(folder))
    assert all(s in on_disk for s in secrets)  # the grep below can see them while they exist

    gone = gallery.forget(COLLINS)

    assert (gone.samples_removed, gone.files_removed) == (2, 2)
    assert gallery.names() == [HOPPER]
    assert all(not m.accepted for m in gallery.search(astronaut_clip))
    assert [m.name for m in gallery.search(face_photo("astronaut"))] == [HOPPER]
    assert not any(t.exists() for t in thumbs)
    assert len(list((folder / THUMBS).iterdir())) == 1  # Hopper's
    for path, data in _gallery_bytes(folder):
        for secret in secrets + [blob[:64] for blob in blobs]:
            assert secret not in data, f"{path} still holds {secret[:20]!r}"
    assert {p.name for p in folder.iterdir()} == {DB_NAME, THUMBS}  # no journal or cache left behind
    with pytest.raises(UnknownPersonError, match=COLLINS):
        gallery.verify(COLLINS, face_photo("astronaut"))
    with pytest.raises(UnknownPersonError):
        gallery.forget(COLLINS)
    assert gallery.search(face_photo("hopper"))[0].accepted  # others are untouched


@pytest.mark.parametrize("consent, purpose", [
    ("", "test"), (False, "test"), ("no", "test"), ("yes", ""), (None, "x"), ("nope", "test"), ("n/a", "test"),
    ("declined", "test"), ("no consent", "test"), ("signed form", "test"), ("yes!", "test"), (1, "test")])
def test_enrolment_needs_consent_and_purpose(tmp_path, consent, purpose):
    with Gallery(tmp_path / "g", create=True) as g:
        with pytest.raises(ConsentError):
            g.enrol(COLLINS, [face_photo("astronaut")], consent=consent, purpose=purpose)
        assert g.names() == [] and not list((tmp_path / "g" / THUMBS).iterdir())


def test_bad_inputs_raise_clear_errors(tmp_path, gallery):
    astronaut = face_photo("astronaut")
    with pytest.raises(FaceError, match="no face"):
        face_signature(np.full((200, 200, 3), 128, np.uint8))
    with pytest.raises(FaceError, match="similar size"):
        face_signature(np.hstack([astronaut, astronaut]))
    hopper = cv2.resize(face_photo("hopper"), astronaut.shape[1::-1])
    with pytest.raises(FaceError, match="different people"):
        face_signature(np.stack([astronaut, hopper, astronaut]))
    garbage = tmp_path / "broken.jpg"
    garbage.write_bytes(b"not an image at all")
    with pytest.raises(VideoError, match="broken.jpg"):
        face_signature(str(garbage))
    with pytest.raises(VideoError, match="no such file"):
        face_signature(str(tmp_path / "missing.png"))
    with pytest.raises(VideoError, match="dtype"):
        face_signature(astronaut.astype(np.float32))
    with pytest.raises(UnknownPersonError):
        gallery.verify("Ada Lovelace", astronaut)
    with pytest.raises(GalleryError, match="no gallery"):
        Gallery(tmp_path / "nowhere")
    before = gallery.names(), len(list((gallery.folder / THUMBS).iterdir()))
    with pytest.raises(FaceError):  # all or nothing: the good photo is not enrolled either
        gallery.enrol("Someone", [astronaut, np.zeros((64, 64, 3), np.uint8)], consent="yes", purpose="t")
    assert (gallery.names(), len(list((gallery.folder / THUMBS).iterdir()))) == before


def test_calibrate_picks_the_equal_error_threshold():
    separable = calibrate([0.1, 0.2, 0.3], [0.7, 0.8])
    assert separable.threshold == pytest.approx(0.5) and separable.eer == 0
    overlap = calibrate([0.1, 0.2, 0.5, 0.6], [0.4, 0.7, 0.8, 0.9])
    assert overlap.threshold == pytest.approx(0.55) and overlap.far == overlap.frr == 0.25
    with pytest.raises(DeftError):
        calibrate([], [0.5])


def test_calibrated_threshold_on_real_faces_is_stored(gallery, astronaut_clip, hopper_clip):
    stored = dict(gallery._db.execute("SELECT p.name, s.descriptor FROM samples s JOIN people p ON p.id = s.person_id"))
    refs = {face: np.frombuffer(stored[name], "<f4") for face, name in (("astronaut", COLLINS), ("hopper", HOPPER))}
    genuine, impostor = [], []
    for name, clip in {"astronaut": astronaut_clip, "hopper": hopper_clip}.items():
        for frame in clip:
            d = face_signature(frame)[0]
            genuine.append(np.linalg.norm(d - refs[name]))
            impostor.append(min(np.linalg.norm(d - r) for n, r in refs.items() if n != name))
    cal = calibrate(genuine, impostor)
    assert max(genuine) < cal.threshold < min(impostor) and cal.eer == 0
    gallery.set_threshold(0.01)  # stricter than any real pair: nothing but the enrolled photo passes
    assert not gallery.verify(COLLINS, astronaut_clip[0]).same_person
    assert Gallery(gallery.folder).threshold == 0.01


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="deft")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code = args.func(args)
    return code, capsys.readouterr().out


def test_cli_enrol_search_verify_forget(tmp_path, capsys):
    photo, other = tmp_path / "a.png", tmp_path / "h.jpg"
    cv2.imwrite(str(photo), cv2.cvtColor(face_photo("astronaut"), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(other), cv2.cvtColor(face_photo("hopper"), cv2.COLOR_RGB2BGR))
    g = str(tmp_path / "g")
    enrol = ["identity", "enrol", COLLINS, str(photo), "--gallery", g, "--consent", "yes", "--purpose", "t"]
    code, out = _cli(enrol, capsys)
    assert code == 0 and json.loads(out)["samples_added"] == 1
    code, out = _cli(["identity", "search", str(photo), "--gallery", g, "--json"], capsys)
    assert json.loads(out)["matches"][0]["name"] == COLLINS
    code, out = _cli(["identity", "search", str(photo), "--gallery", g], capsys)
    assert COLLINS in out and "yes" in out
    assert _cli(["identity", "verify", COLLINS, str(other), "--gallery", g], capsys)[0] == NOT_SAME_PERSON
    code, out = _cli(["identity", "forget", COLLINS, "--gallery", g], capsys)
    assert code == 0 and json.loads(out)["samples_removed"] == 1
    with pytest.raises(UnknownPersonError):
        _cli(["identity", "verify", COLLINS, str(photo), "--gallery", g], capsys)


def test_gallery_is_private_and_names_are_plain(tmp_path):
    with Gallery(tmp_path / "g", create=True) as g:
        g.enrol(COLLINS, [face_photo("astronaut")], consent="YES ", purpose="door access")
        for bad in ("Eve\nMallory  0.10  accepted", "Eve\x1b[2J", "Eve\u202eecilA"):
            with pytest.raises(GalleryError, match="control"):
                g.enrol(bad, [face_photo("astronaut")], consent="yes", purpose="t")
        assert g.names() == [COLLINS]
        row = g._db.execute("SELECT consent, purpose, enrolled_at FROM samples").fetchone()
    assert row[0] == "yes" and row[1] == "door access" and row[2]
    folder = tmp_path / "g"
    modes = {p.relative_to(folder).as_posix(): p.stat().st_mode & 0o777 for p in [folder, *folder.rglob("*")]}
    assert modes.pop(".") == 0o700 and modes.pop(THUMBS) == 0o700
    assert modes and set(modes.values()) == {0o600}, modes


def test_group_photo_enrolment_leaves_no_empty_gallery(tmp_path, capsys):
    """Two faces of similar size: refused, and the gallery folder the command would have created is gone."""
    a = np.asarray(face_photo("astronaut"))
    group = tmp_path / "group.png"
    cv2.imwrite(str(group), cv2.cvtColor(np.hstack([a, a[:, ::-1]]), cv2.COLOR_RGB2BGR))
    g = tmp_path / "new-gallery"
    with pytest.raises(FaceError, match="faces"):
        _cli(["identity", "enrol", COLLINS, str(group), "--gallery", str(g), "--consent", "yes", "--purpose", "t"],
             capsys)
    assert not g.exists()
    g.mkdir()  # a folder the user made stays; only what deft created goes
    with pytest.raises(DeftError):
        _cli(["identity", "enrol", COLLINS, str(group), "--gallery", str(g), "--consent", "no", "--purpose", "t"],
             capsys)
    assert g.is_dir() and list(g.iterdir()) == []
