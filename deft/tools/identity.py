"""Face identification gallery: enrol people (with consent and purpose), search, verify, forget.

A gallery is a folder holding `gallery.sqlite` (an index of people, one float32 dlib descriptor per
enrolled sample with the consent and purpose given for it) and `thumbs/` (one PNG face thumbnail per
sample, under a random file name so no name leaks into the file system). `forget` removes every
trace of a person and VACUUMs the database so the freed pages keep none of their bytes.
"""

from __future__ import annotations

import os
import sqlite3
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from deft.errors import ConfigError, DeftError, FaceError, VideoError
from deft.face import SAME_PERSON_DISTANCE, choose_face, detect_faces, face_descriptor
from deft.video import IMAGE_SUFFIXES, VideoLimits, read_video

DB_NAME = "gallery.sqlite"
THUMBS = "thumbs"
CONSENT_YES = "yes"  # the only answer that records consent; anything else ("nope", "n/a", "declined") refuses
EXTRA_IMAGE_SUFFIXES = {".webp"}

# A face source: an image or clip file (or a folder of frames), an RGB image (H, W, 3) or clip (T, H, W, 3).
Source = str | os.PathLike | np.ndarray

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS people (
    id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, enrolled_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    descriptor BLOB NOT NULL,     -- 128 float32, little-endian
    thumbnail TEXT NOT NULL,      -- file name under thumbs/
    source TEXT NOT NULL,         -- where the sample came from (file name or "array")
    consent TEXT NOT NULL,
    purpose TEXT NOT NULL,
    enrolled_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS samples_by_person ON samples(person_id);
"""


class GalleryError(DeftError):
    """The gallery cannot do what was asked (no gallery there, unreadable database, bad name)."""


class ConsentError(GalleryError):
    """Enrolment refused: consent or purpose missing."""


class UnknownPersonError(GalleryError):
    """The name is not enrolled in this gallery."""


@dataclass(frozen=True)
class IdentityConfig:
    """How faces are turned into descriptors and matched."""

    threshold: float | None = None  # accept distance; None: the gallery's calibrated value, else dlib's 0.6
    clip_samples: int = 5  # frames sampled evenly from a clip; their descriptors are averaged
    upsample: int = 1  # HOG upsampling tried when no face is found at native size
    max_side: int = 1024  # larger images are downscaled before detection (pixels, longest side)
    thumb_size: int = 96


@dataclass
class Match:
    """One enrolled person and how close the query face is to them."""

    name: str
    distance: float  # Euclidean distance between dlib descriptors (smaller is closer)
    accepted: bool  # distance <= the gallery's threshold


@dataclass
class Verification:
    name: str
    same_person: bool
    distance: float
    threshold: float


@dataclass
class Enrolment:
    name: str
    samples_added: int
    samples_total: int


@dataclass
class Forgotten:
    name: str
    samples_removed: int
    files_removed: int


@dataclass
class Calibration:
    """The accept threshold at the equal error rate of the given distance sets."""

    threshold: float
    eer: float  # mean of FAR and FRR at the threshold
    far: float  # share of impostor distances accepted (<= threshold)
    frr: float  # share of genuine distances rejected (> threshold)
    n_genuine: int
    n_impostor: int


def read_frames(source: Source, limits: VideoLimits = VideoLimits()) -> tuple[np.ndarray, str]:
    """RGB uint8 frames (T, H, W, 3) of an image file, clip file, frame folder or array, plus a label.

    Images are read at their native size (forensic checks need the original pixels); clips go
    through read_video and its limits. Raises VideoError naming the input when it cannot be read.
    """
    if isinstance(source, np.ndarray):
        arr = source
        if arr.dtype != np.uint8:
            raise VideoError(f"array input has dtype {arr.dtype}; give RGB uint8 pixels (0-255)")
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=-1)
        if arr.ndim == 3 and arr.shape[-1] == 3:
            arr = arr[None]
        if arr.ndim != 4 or arr.shape[-1] != 3 or 0 in arr.shape:
            raise VideoError(f"array input has shape {source.shape}; give an RGB image (H, W, 3) or clip (T, H, W, 3)")
        return arr, "array"
    path = Path(os.fspath(source))
    if not path.exists():
        raise VideoError(f"{path}: no such file or folder")
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES | EXTRA_IMAGE_SUFFIXES:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise VideoError(f"{path}: not a readable image; give a JPEG/PNG photo or a video clip")
        if max(bgr.shape[:2]) > limits.max_side:
            size = f"{bgr.shape[1]}x{bgr.shape[0]}"
            raise VideoError(f"{path}: {size} is above the {limits.max_side}px limit; downscale it")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)[None], str(path)
    return read_video(path, limits).frames, str(path)


def _downscale(rgb: np.ndarray, max_side: int) -> np.ndarray:
    scale = max_side / max(rgb.shape[:2])
    if scale >= 1:
        return rgb
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _thumbnail(rgb: np.ndarray, box: tuple[int, int, int, int], size: int) -> bytes:
    left, top, right, bottom = box
    pad = 0.2 * max(right - left, bottom - top)
    h, w = rgb.shape[:2]
    x0, y0 = max(0, int(left - pad)), max(0, int(top - pad))
    x1, y1 = min(w, int(right + pad)), min(h, int(bottom + pad))
    crop = cv2.resize(rgb[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)
    ok, png = cv2.imencode(".png", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    if not ok:
        raise FaceError("could not encode the face thumbnail as PNG")
    return png.tobytes()


def face_signature(source: Source, config: IdentityConfig = IdentityConfig()) -> tuple[np.ndarray, bytes, str]:
    """(128-d float32 descriptor, PNG thumbnail, label) of the one face in an image, or averaged over a clip.

    A clip is sampled at `config.clip_samples` evenly spaced frames; frames without a face are
    skipped. Raises FaceError when no frame has a face or a frame has several faces of similar size.
    """
    frames, label = read_frames(source)
    n = min(max(1, config.clip_samples), len(frames))
    picks = sorted(set(np.linspace(0, len(frames) - 1, n).round().astype(int).tolist()))
    descriptors, thumb = [], b""
    for i in picks:
        rgb = _downscale(np.ascontiguousarray(frames[i]), config.max_side)
        boxes = detect_faces(rgb, config.upsample)
        if not boxes:
            continue
        where = label if len(frames) == 1 else f"{label} (frame {i})"
        box, _ = choose_face(boxes, where)
        descriptors.append(face_descriptor(rgb, box))
        if not thumb:
            thumb = _thumbnail(rgb, box, config.thumb_size)
    if not descriptors:
        tried = "the image" if len(frames) == 1 else f"frames {', '.join(map(str, picks))}"
        raise FaceError(f"{label}: no face found (tried {tried}); give a photo or clip with one frontal face")
    stack = np.stack(descriptors)  # (n, 128)
    if np.linalg.norm(stack[:, None] - stack[None], axis=-1).max() > SAME_PERSON_DISTANCE:
        raise FaceError(f"{label}: the sampled frames show different people; give a clip of one person")
    return stack.mean(axis=0).astype("<f4"), thumb, label


def calibrate(genuine_distances: Sequence[float], impostor_distances: Sequence[float]) -> Calibration:
    """Pick the accept threshold at the equal error rate (FAR = FRR) of labelled distances.

    Args: distances between descriptors of the same person (genuine) and of different people
    (impostor). Candidates are midpoints between consecutive observed distances; the one with the
    smallest |FAR - FRR| wins (ties: the lower mean error, then the middle candidate).
    Returns the Calibration; pass `.threshold` to Gallery.set_threshold to use it.
    """
    gen = np.asarray(genuine_distances, np.float64).ravel()
    imp = np.asarray(impostor_distances, np.float64).ravel()
    if gen.size == 0 or imp.size == 0:
        raise ConfigError("calibrate needs at least one genuine and one impostor distance")
    if not (np.isfinite(gen).all() and np.isfinite(imp).all()):
        raise ConfigError("calibrate got a NaN or infinite distance; drop it and retry")
    values = np.unique(np.concatenate([gen, imp]))
    candidates = np.concatenate([[values[0] - 1e-6], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-6]])
    far = (imp[None, :] <= candidates[:, None]).mean(axis=1)
    frr = (gen[None, :] > candidates[:, None]).mean(axis=1)
    gap, err = np.abs(far - frr), (far + frr) / 2
    best = np.flatnonzero(np.isclose(gap, gap.min()))
    best = best[np.isclose(err[best], err[best].min())]
    i = int(best[len(best) // 2])
    return Calibration(float(candidates[i]), float(err[i]), float(far[i]), float(frr[i]), gen.size, imp.size)


def _consent_text(consent: str | bool | None) -> str:
    """"yes" when the person explicitly agreed (True or the word yes); a ConsentError for anything else."""
    if consent is True or (isinstance(consent, str) and consent.strip().lower() == CONSENT_YES):
        return CONSENT_YES
    raise ConsentError(
        f"consent {consent!r} is not an explicit yes; enrol only people who agreed (--consent yes), and say "
        "what for (--purpose); the time is recorded with both"
    )


def _private(path: Path, mode: int) -> None:
    """Only the owner may read the gallery (folders 0700, files 0600), older galleries included."""
    if path.stat().st_mode & 0o777 != mode:
        os.chmod(path, mode)


def _wipe(path: Path) -> None:
    """Overwrite a file with zeros, then delete it (best effort: SSDs and journaling file systems may keep copies)."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.write(b"\0" * size)
        f.flush()
        os.fsync(f.fileno())
    path.unlink()


class Gallery:
    """A local face gallery in a folder; use as a context manager or call close()."""

    def __init__(self, folder: str | os.PathLike, config: IdentityConfig = IdentityConfig(), create: bool = False):
        self.folder = Path(folder)
        self.config = config
        db = self.folder / DB_NAME
        if self.folder.exists() and not self.folder.is_dir():
            raise GalleryError(f"{self.folder}: is a file; a gallery is a folder")
        # what this object creates, removed again if the first enrolment fails (no empty gallery left)
        self._made = [p for p in (db, self.folder / THUMBS, self.folder) if not p.exists()]
        if not db.exists():
            if not create:
                raise GalleryError(
                    f"{self.folder}: no gallery here (no {DB_NAME}); enrol someone first with "
                    f"`deft identity enrol NAME FILE --gallery {self.folder} --consent ... --purpose ...`"
                )
            (self.folder / THUMBS).mkdir(parents=True, exist_ok=True)
        _private(self.folder, 0o700)
        try:
            db.touch(mode=0o600)  # created private: SQLite gives its journal the database's mode
            _private(db, 0o600)
            self._db = sqlite3.connect(db)
            # secure_delete zeroes deleted content at once; the rollback journal is deleted after each
            # transaction (WAL would keep old pages in a side file).
            self._db.execute("PRAGMA secure_delete = ON")
            self._db.execute("PRAGMA journal_mode = DELETE")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as err:
            raise GalleryError(
                f"{db}: not a usable gallery database ({err}); point --gallery at another folder"
            ) from None
        (self.folder / THUMBS).mkdir(exist_ok=True)
        _private(self.folder / THUMBS, 0o700)

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the database; a gallery this object created and left empty (a refused first enrolment,
        e.g. a group photo) is removed, so no empty gallery stays behind."""
        empty = bool(self._made) and not self.names()
        self._db.close()
        for path in self._made if empty else []:  # the database, then thumbs/, then the folder
            try:
                path.unlink() if path.name == DB_NAME else path.rmdir()
            except OSError:
                pass

    @property
    def threshold(self) -> float:
        """Accept distance: the config's, else the calibrated one stored in the gallery, else dlib's 0.6."""
        if self.config.threshold is not None:
            return float(self.config.threshold)
        row = self._db.execute("SELECT value FROM meta WHERE key = 'threshold'").fetchone()
        return float(row[0]) if row else SAME_PERSON_DISTANCE

    def set_threshold(self, threshold: float) -> None:
        """Store an accept distance (e.g. calibrate(...).threshold) for every later search and verify."""
        if not 0 < threshold < 2:
            raise ConfigError(f"threshold {threshold} is outside (0, 2), the range of dlib descriptor distances")
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('threshold', ?)", (repr(float(threshold)),))

    def names(self) -> list[str]:
        """Everyone enrolled, sorted by name."""
        return [r[0] for r in self._db.execute("SELECT name FROM people ORDER BY name")]

    def enrol(self, name: str, sources: Sequence[Source], consent: str | bool, purpose: str) -> Enrolment:
        """Add a person's face to the gallery (or more samples of an enrolled person).

        Args: name of the person; sources: image or clip files (or RGB arrays), one sample each
        (a clip's sampled frames are averaged); consent: how the person agreed (text, or True);
        purpose: what the enrolment is for. Refuses (ConsentError) without consent and purpose;
        enrols nothing if any source has no usable face. Returns how many samples were added.
        """
        name = _check_name(name)
        consent_text = _consent_text(consent)
        purpose_text = str(purpose or "").strip()
        if not purpose_text:
            raise ConsentError(f"no purpose given for enrolling {name!r}; say what the gallery is for (--purpose)")
        if isinstance(sources, (str, os.PathLike, np.ndarray)):
            sources = [sources]
        if not sources:
            raise GalleryError(f"no image or clip given to enrol {name!r}")
        signatures = [face_signature(s, self.config) for s in sources]  # all or nothing
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        written: list[Path] = []
        try:
            for _, thumb, _ in signatures:
                path = self.folder / THUMBS / f"{uuid.uuid4().hex}.png"
                with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
                    written.append(path)
                    f.write(thumb)
            with self._db:
                self._db.execute("INSERT OR IGNORE INTO people (name, enrolled_at) VALUES (?, ?)", (name, now))
                (person,) = self._db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
                self._db.executemany(
                    "INSERT INTO samples (person_id, descriptor, thumbnail, source, consent, purpose, enrolled_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(person, desc.tobytes(), path.name, Path(label).name, consent_text, purpose_text, now)
                     for (desc, _, label), path in zip(signatures, written)],
                )
                (total,) = self._db.execute("SELECT COUNT(*) FROM samples WHERE person_id = ?", (person,)).fetchone()
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        return Enrolment(name, len(signatures), int(total))

    def _distances(self, query: np.ndarray) -> dict[str, float]:
        """Each person's distance to the query: the closest of their samples."""
        best: dict[str, float] = {}
        rows = self._db.execute("SELECT p.name, s.descriptor FROM samples s JOIN people p ON p.id = s.person_id")
        for name, blob in rows:
            d = float(np.linalg.norm(np.frombuffer(blob, "<f4") - query))
            best[name] = min(d, best.get(name, np.inf))
        return best

    def search(self, source: Source, k: int = 3) -> list[Match]:
        """Who is this? The k enrolled people closest to the face in an image or clip.

        Args: source: image or clip file (or RGB array) with one face; k: how many candidates.
        Returns Matches sorted by distance; `accepted` is True only within the gallery's threshold.
        An empty gallery gives an empty list.
        """
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        query, _, _ = face_signature(source, self.config)
        ranked = sorted(self._distances(query).items(), key=lambda item: item[1])[:k]
        return [Match(name, round(d, 4), d <= self.threshold) for name, d in ranked]

    def verify(self, name: str, source: Source) -> Verification:
        """Is the face in an image or clip this enrolled person? Returns the decision and the distance."""
        name = _check_name(name)
        self._require(name)
        query, _, _ = face_signature(source, self.config)
        d = self._distances(query)[name]
        return Verification(name, d <= self.threshold, round(d, 4), self.threshold)

    def forget(self, name: str) -> Forgotten:
        """Delete every trace of a person: samples, thumbnails, index row; then VACUUM the database.

        Returns how many samples and files were removed; raises UnknownPersonError if not enrolled.
        """
        name = _check_name(name)
        person = self._require(name)
        thumbs = [r[0] for r in self._db.execute("SELECT thumbnail FROM samples WHERE person_id = ?", (person,))]
        with self._db:
            n = self._db.execute("DELETE FROM samples WHERE person_id = ?", (person,)).rowcount
            self._db.execute("DELETE FROM people WHERE id = ?", (person,))
        files = 0
        for thumb in thumbs:
            path = self.folder / THUMBS / thumb
            if path.exists():
                _wipe(path)
                files += 1
        self._db.execute("VACUUM")  # rewrite the file: no freed page keeps the deleted bytes
        return Forgotten(name, int(n), files)

    def _require(self, name: str) -> int:
        row = self._db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise UnknownPersonError(
                f"{name!r} is not enrolled in the gallery {self.folder}; check the name or enrol them"
            )
        return int(row[0])


def _check_name(name: str) -> str:
    text = str(name or "").strip()
    if not text or len(text) > 200:
        raise GalleryError(f"person name {name!r} must be 1-200 characters")
    if any(unicodedata.category(c).startswith("C") for c in text):  # a line break would forge a table row
        raise GalleryError(f"person name {name!r} holds control or invisible format characters")
    return text
