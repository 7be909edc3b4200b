"""Expression of a single face image (Hy-Facial seed): deep + handcrafted features, PCA, softmax.

Each image gives the dlib 128-d ResNet descriptor of its face (deep) and dense SIFT and ORB
descriptors on the eye-aligned grey crop, turned into bag-of-visual-words histograms over a 2x2
spatial grid (handcrafted). The fused vector is reduced with PCA and classified by multinomial
logistic regression. scikit-learn fits the vocabularies (KMeans), the PCA and the regression; a
model is one .npz file of their fitted arrays and a JSON config (no pickle).

The Hy-Facial paper reduces with UMAP; umap-learn is not installed here, so PCA stands in for it.
The dlib descriptor is trained for identity, not expression: it mostly tells the faces apart, and
the word histograms carry most of the expression signal.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import cv2
import numpy as np

from deft.errors import DeftError, FaceError, VideoError
from deft.face import FaceConfig, align_face, choose_face, detect_faces, face_descriptor
from deft.video import IMAGE_SUFFIXES

# dlib's HOG window is 80x80 px, so it misses faces below ~40 px even upsampled. FER2013 images
# are 48x48 grey crops that are already the face: a small image where no face is found is taken
# whole as the face crop (and its box as the face box for the dlib descriptor).
SMALL_IMAGE_SIDE = 96
WHOLE_IMAGE_SIDE = 192  # such an image is upscaled to this before landmarks and descriptor
DEEP_DIM = 128  # dlib ResNet descriptor
GRID = 2  # spatial pyramid: the whole crop plus GRID x GRID cells, one word histogram each
FACE_SIZE_QUANTILE = 0.05  # faces narrower than this quantile of the training faces get a warning

Image = np.ndarray | str | os.PathLike


class ExpressionModelError(DeftError):
    """An expression model cannot be trained, saved or loaded as asked."""


@dataclass(frozen=True)
class StaticConfig:
    """Every knob of the static (single image) expression pipeline."""

    crop_size: int = 128  # aligned grey crop the handcrafted descriptors are computed on (IOD 38 px)
    grid_step: int = 8  # dense keypoint spacing on the crop, px
    sift_size: float = 12.0  # SIFT keypoint diameter, px
    orb_patch: int = 15  # ORB patch size and edge margin, px (default 31 leaves the mouth out at 128)
    sift_words: int = 48
    orb_words: int = 48
    kmeans_iters: int = 25
    max_kmeans_samples: int = 20000  # descriptors sampled for the vocabularies
    pca_dim: int = 48
    l2: float = 1e-2  # weight decay of the logistic regression (on the mean loss)
    max_iter: int = 400  # L-BFGS iterations of the logistic regression
    upsample: int = 1  # HOG upsampling when no face is found at native size
    seed: int = 0


@dataclass
class ImageFeatures:
    """Raw per-image features, before vocabularies and PCA (cache these to refit cheaply)."""

    deep: np.ndarray  # (128,) float32 dlib descriptor
    sift: np.ndarray  # (P, 128) float32, P dense keypoints
    orb: np.ndarray  # (P', 256) float32, ORB bits unpacked to 0/1
    sift_xy: np.ndarray  # (P, 2) keypoint positions on the crop
    orb_xy: np.ndarray  # (P', 2)
    whole_image: bool  # no face found in a small image: the whole image was used as the face
    face_px: float = 0.0  # face box width in the source image (the image side when whole_image)


@dataclass
class ExpressionPrediction:
    label: str
    probabilities: dict[str, float]  # label -> probability (sums to 1)
    whole_image: bool  # True when no face was found and the whole (small) image was used
    warnings: list[str] = field(default_factory=list)  # e.g. a face smaller than the model was trained on

    def to_dict(self) -> dict:
        return {"label": self.label, "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
                "whole_image": self.whole_image, "warnings": self.warnings}


def read_image(path: str | os.PathLike) -> np.ndarray:
    """RGB uint8 (H, W, 3) pixels of an image file; raises VideoError naming the file when unreadable."""
    p = Path(os.fspath(path))
    if not p.is_file():
        raise VideoError(f"{p}: no such image file")
    bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)  # grey images come back as three equal channels
    if bgr is None:
        raise VideoError(f"{p}: not a readable image; give a PNG or JPEG file")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _as_rgb(image: Image) -> tuple[np.ndarray, str]:
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
            raise VideoError(
                f"image array of shape {image.shape} and dtype {image.dtype}; give uint8 RGB (H, W, 3) or grey (H, W)")
        rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image
        return np.ascontiguousarray(rgb), "array"
    return read_image(image), os.fspath(image)


def _dense_grid(size: int, step: int, margin: int) -> np.ndarray:
    ticks = np.arange(margin, size - margin + 1, step, dtype=np.float32)
    return np.stack(np.meshgrid(ticks, ticks), -1).reshape(-1, 2)


def _face_crop(rgb: np.ndarray, config: StaticConfig, label: str) -> tuple[np.ndarray, np.ndarray, bool, float]:
    """(grey crop (S, S), deep descriptor (128,), whole_image, face width px)."""
    boxes = detect_faces(rgb, config.upsample)
    if boxes:
        box, _ = choose_face(boxes, label)
        crop = align_face(rgb[None], FaceConfig(crop_size=config.crop_size), label).crops[0]
        return cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), face_descriptor(rgb, box), False, float(box[2] - box[0])
    if max(rgb.shape[:2]) > SMALL_IMAGE_SIDE:
        raise FaceError(
            f"{label}: no face found; give a photo with one frontal face (or a face crop under {SMALL_IMAGE_SIDE} px)")
    big = cv2.resize(rgb, (WHOLE_IMAGE_SIDE, WHOLE_IMAGE_SIDE), interpolation=cv2.INTER_CUBIC)
    box = (0, 0, WHOLE_IMAGE_SIDE - 1, WHOLE_IMAGE_SIDE - 1)  # landmarks are fitted inside the whole image
    grey = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (config.crop_size,) * 2, interpolation=cv2.INTER_CUBIC)
    return grey, face_descriptor(big, box), True, float(max(rgb.shape[:2]))


def extract(image: Image, config: StaticConfig = StaticConfig()) -> ImageFeatures:
    """Raw features of one face image (array or file): dlib descriptor plus dense SIFT and ORB on the crop.

    Raises FaceError when a large image has no face, VideoError when the file is unreadable.
    """
    rgb, label = _as_rgb(image)
    grey, deep, whole, face_px = _face_crop(rgb, config, label)
    size = config.crop_size
    pts = _dense_grid(size, config.grid_step, config.grid_step // 2)
    kps = [cv2.KeyPoint(float(x), float(y), config.sift_size) for x, y in pts]
    kps, sift = cv2.SIFT_create().compute(grey, kps)
    sift_xy = np.array([k.pt for k in kps], np.float32)
    orb_pts = _dense_grid(size, config.grid_step, config.orb_patch + 1)
    orb_kps = [cv2.KeyPoint(float(x), float(y), float(config.orb_patch)) for x, y in orb_pts]
    orb_kps, orb = cv2.ORB_create(edgeThreshold=config.orb_patch, patchSize=config.orb_patch).compute(grey, orb_kps)
    if sift is None or orb is None:
        raise FaceError(f"{label}: no SIFT/ORB descriptor on the {size} px face crop; use a larger crop_size")
    orb_bits = np.unpackbits(orb, axis=1).astype(np.float32)  # (P', 256): Hamming = squared Euclidean on bits
    orb_xy = np.array([k.pt for k in orb_kps], np.float32)
    return ImageFeatures(deep.astype(np.float32), sift.astype(np.float32), orb_bits, sift_xy, orb_xy, whole, face_px)


def kmeans(points: np.ndarray, k: int, iters: int, seed: int) -> np.ndarray:
    """Centres (k, D) by scikit-learn's KMeans from one k-means++ start; deterministic for a seed."""
    from sklearn.cluster import KMeans

    fit = KMeans(min(k, len(points)), init="k-means++", n_init=1, max_iter=iters, random_state=seed).fit(points)
    return fit.cluster_centers_.astype(np.float32)


def _histograms(desc: np.ndarray, xy: np.ndarray, vocab: np.ndarray, size: int) -> np.ndarray:
    """Hellinger-normalised word histograms: the whole crop, then GRID x GRID cells. (1 + GRID², K) flattened."""
    from sklearn.metrics import pairwise_distances_argmin

    k = len(vocab)
    words = pairwise_distances_argmin(desc, vocab)
    cells = np.minimum((xy / size * GRID).astype(int), GRID - 1)
    cell = 1 + cells[:, 1] * GRID + cells[:, 0]
    hist = np.zeros((1 + GRID * GRID, k), np.float32)
    np.add.at(hist, (np.zeros_like(words), words), 1.0)
    np.add.at(hist, (cell, words), 1.0)
    hist /= np.maximum(hist.sum(1, keepdims=True), 1.0)
    return np.sqrt(hist).ravel()


def check_training_set(n_items: int, labels: Sequence[str], item: str = "image") -> None:
    """Refuse an empty set, a label count that differs from the item count, or a single class."""
    if n_items == 0:
        raise ExpressionModelError(f"no training {item}s given; give at least two labelled {item}s")
    if n_items != len(labels):
        raise ExpressionModelError(f"{n_items} {item}s but {len(labels)} labels; give one label per {item}")
    if len(set(labels)) < 2:
        raise ExpressionModelError(f"only one class in the labels; give {item}s of at least two expressions")


class StaticExpressionModel:
    """Trainable single-image expression classifier: `fit` / `fit_folder`, `predict`, `save` / `load`."""

    def __init__(self, config: StaticConfig = StaticConfig()):
        self.config = config
        self.labels: list[str] = []
        self.arrays: dict[str, np.ndarray] = {}

    # -- features -------------------------------------------------------------------------------
    def _vector(self, f: ImageFeatures) -> np.ndarray:
        """Fused raw vector: [deep | SIFT words | ORB words] (128 + 5K + 5K,)."""
        size = self.config.crop_size
        return np.concatenate([f.deep, _histograms(f.sift, f.sift_xy, self.arrays["sift_vocab"], size),
                               _histograms(f.orb, f.orb_xy, self.arrays["orb_vocab"], size)])

    def _reduce(self, raw: np.ndarray) -> np.ndarray:
        a = self.arrays
        z = (raw - a["mean"]) / a["scale"] * a["block_weight"]  # each block (deep, SIFT, ORB) weighs the same
        return (z - a["pca_mean"]) @ a["pca"].T / a["pca_std"]  # (N, pca_dim), whitened

    # -- training -------------------------------------------------------------------------------
    def fit(self, images: Sequence[Image], labels: Sequence[str]) -> StaticExpressionModel:
        """Train on face images (RGB arrays or file paths) with one expression label each; returns self."""
        check_training_set(len(images), list(labels))
        return self.fit_features([extract(im, self.config) for im in images], labels)

    def fit_features(self, features: Sequence[ImageFeatures], labels: Sequence[str]) -> StaticExpressionModel:
        """Train on features from `extract` (lets callers cache the slow dlib/SIFT step); returns self."""
        labels = [str(x) for x in labels]
        check_training_set(len(features), labels)
        cfg, rng = self.config, np.random.default_rng(self.config.seed)
        self.labels = sorted(set(labels))
        for name, words in (("sift", cfg.sift_words), ("orb", cfg.orb_words)):
            pool = np.concatenate([getattr(f, name) for f in features])
            pool = pool[rng.permutation(len(pool))[: cfg.max_kmeans_samples]]
            self.arrays[f"{name}_vocab"] = kmeans(pool, words, cfg.kmeans_iters, cfg.seed)
        raw = np.stack([self._vector(f) for f in features])
        dims = [DEEP_DIM, *(len(self.arrays[f"{n}_vocab"]) * (1 + GRID * GRID) for n in ("sift", "orb"))]
        self.arrays["mean"], self.arrays["scale"] = raw.mean(0), raw.std(0) + 1e-6
        self.arrays["block_weight"] = np.concatenate([np.full(d, 1.0 / np.sqrt(d), np.float32) for d in dims])
        z = (raw - self.arrays["mean"]) / self.arrays["scale"] * self.arrays["block_weight"]
        self.arrays.update(_fit_pca(z, cfg.pca_dim))
        x = self._reduce(raw)
        y = np.array([self.labels.index(v) for v in labels])
        self.arrays["weight"], self.arrays["bias"] = _fit_logistic(x, y, len(self.labels), cfg)
        self.arrays["trained_face_px"] = np.array([f.face_px for f in features], np.float32)  # what it was fitted on
        return self

    @property
    def validated_on(self) -> str:
        """What the model was trained on: image count, labels and face sizes (its validity range)."""
        px = self.arrays.get("trained_face_px")
        sizes = "" if px is None or not px.size else (
            f", faces {np.min(px):.0f}-{np.max(px):.0f} px wide (median {np.median(px):.0f})")
        return f"{len(px) if px is not None else '?'} training images of {', '.join(self.labels)}{sizes}"

    def _size_warnings(self, f: ImageFeatures) -> list[str]:
        """A warning when the face is smaller than the smallest FACE_SIZE_QUANTILE of the training faces."""
        px = self.arrays.get("trained_face_px")
        if px is None or not px.size or f.face_px >= np.quantile(px, FACE_SIZE_QUANTILE):
            return []
        return [f"the face is {f.face_px:.0f} px wide, smaller than {1 - FACE_SIZE_QUANTILE:.0%} of the faces the "
                f"model was trained on ({np.quantile(px, FACE_SIZE_QUANTILE):.0f} px and up): not validated at "
                "this size"]

    def fit_folder(self, root: str | os.PathLike) -> StaticExpressionModel:
        """Train on a FER2013-style folder: root/<label>/*.png|jpg (e.g. root/happy/0001.png); returns self."""
        images, labels = folder_dataset(root)
        return self.fit(images, labels)

    # -- inference ------------------------------------------------------------------------------
    def predict(self, images: Sequence[Image]) -> list[ExpressionPrediction]:
        """Expression label and class probabilities for each face image (RGB array or file path)."""
        if not self.labels:
            raise ExpressionModelError("the model is not trained; call fit/fit_folder or load a saved model")
        if len(images) == 0:
            raise ExpressionModelError("no images given to predict; give at least one face image")
        feats = [extract(im, self.config) for im in images]
        probs = self.predict_features(feats)
        return [ExpressionPrediction(self.labels[int(p.argmax())], dict(zip(self.labels, map(float, p))), f.whole_image,
                                     self._size_warnings(f)) for p, f in zip(probs, feats)]

    def predict_features(self, features: Sequence[ImageFeatures]) -> np.ndarray:
        """Class probabilities (N, n_labels), columns in `self.labels` order, from `extract` features."""
        from scipy.special import softmax

        x = self._reduce(np.stack([self._vector(f) for f in features]))
        return softmax(x @ self.arrays["weight"] + self.arrays["bias"], axis=1)

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> str:
        """Write the model to one .npz file (arrays plus a JSON config; no pickled code); returns the path."""
        if not self.labels:
            raise ExpressionModelError("the model is not trained; nothing to save")
        path = os.fspath(path)
        if not path.endswith(".npz"):
            path += ".npz"
        meta = json.dumps({"kind": "deft.static_expression", "labels": self.labels, "config": asdict(self.config)})
        np.savez(path, meta=np.array(meta), **self.arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> StaticExpressionModel:
        """Read a model written by `save`; raises ExpressionModelError naming the file when it is not one."""
        p = os.fspath(path)
        if not os.path.isfile(p):
            raise ExpressionModelError(f"{p}: no such model file; train one with `deft expression fit ROOT --out MODEL`")
        try:
            with np.load(p, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                arrays = {k: data[k] for k in data.files if k != "meta"}
        except (ValueError, KeyError, OSError, zipfile.BadZipFile) as err:  # JSONDecodeError is a ValueError
            raise ExpressionModelError(f"{p}: not a deft expression model ({err})") from err
        if meta.get("kind") != "deft.static_expression":
            raise ExpressionModelError(f"{p}: holds {meta.get('kind')!r}, not a static expression model")
        known = {f.name for f in fields(StaticConfig)}  # models saved before a knob was renamed still load
        model = cls(StaticConfig(**{k: v for k, v in meta["config"].items() if k in known}))
        model.labels, model.arrays = list(meta["labels"]), arrays
        return model


def _fit_pca(z: np.ndarray, dim: int) -> dict[str, np.ndarray]:
    """Whitening PCA of the standardised vectors, as arrays: components, mean, per-component std."""
    from sklearn.decomposition import PCA

    pca = PCA(max(1, min(dim, len(z) - 1)), svd_solver="full").fit(z)
    s = pca.singular_values_
    keep = max(1, int((s > 1e-6 * s[0]).sum()))  # drop directions the few training images do not span
    return {"pca": pca.components_[:keep].astype(np.float32), "pca_mean": pca.mean_.astype(np.float32),
            "pca_std": (np.sqrt(pca.explained_variance_[:keep]) + 1e-6).astype(np.float32)}


def _fit_logistic(x: np.ndarray, y: np.ndarray, n_classes: int, cfg: StaticConfig) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression with L2 (scikit-learn, L-BFGS); (weight (D, C), bias (C,))."""
    from sklearn.linear_model import LogisticRegression

    # sklearn minimises C * sum(loss) + |w|^2 / 2, i.e. mean(loss) + l2 * |w|^2 / 2 with C = 1 / (l2 N)
    fit = LogisticRegression(C=1.0 / (cfg.l2 * len(x)), max_iter=cfg.max_iter).fit(x, y)
    w, b = fit.coef_.T, fit.intercept_
    if n_classes == 2:  # one logit for class 1: softmax over (0, logit) gives the same probabilities
        w, b = np.concatenate([np.zeros_like(w), w], 1), np.concatenate([[0.0], b])
    return w.astype(np.float32), b.astype(np.float32)


def folder_dataset(root: str | os.PathLike) -> tuple[list[str], list[str]]:
    """(image paths, labels) of a folder laid out root/<label>/<image>; raises VideoError when empty or missing."""
    r = Path(os.fspath(root))
    if not r.is_dir():
        raise VideoError(f"{r}: no such folder; give root/<label>/*.png|jpg (FER2013 layout)")
    images, labels = [], []
    for sub in sorted(p for p in r.iterdir() if p.is_dir()):
        for f in sorted(sub.iterdir()):
            if f.suffix.lower() in IMAGE_SUFFIXES:
                images.append(str(f))
                labels.append(sub.name)
    if not images:
        raise VideoError(f"{r}: no images in label subfolders; lay them out as root/<label>/*.png|jpg")
    return images, labels


def predict_expression(model_path: str, image_paths: list[str]) -> list[dict]:
    """Expression of the face in each image file with a saved static model:
    [{label, probabilities, whole_image, warnings, validated_on}].

    Use for still photos; for a video clip use deft.tools.dynamic_expression.predict_clip.
    """
    model = StaticExpressionModel.load(model_path)
    return [p.to_dict() | {"validated_on": model.validated_on} for p in model.predict(image_paths)]


def train_expression_model(root: str, out: str, config: StaticConfig = StaticConfig()) -> dict:
    """Train a static model on root/<label>/*.png|jpg, save it to `out` (.npz); returns {path, labels, n_images}."""
    images, labels = folder_dataset(root)
    model = StaticExpressionModel(config).fit(images, labels)
    return {"path": model.save(out), "labels": model.labels, "n_images": len(images)}

