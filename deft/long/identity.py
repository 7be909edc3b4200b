"""Who is who across a long video: dlib descriptors (deft.face.face_descriptor) matched to earlier faces."""

from __future__ import annotations

import numpy as np

from deft.face import SAME_PERSON_DISTANCE


class FaceGallery:
    """The faces seen so far: face_id -> mean dlib descriptor. A new track takes the id of the nearest face
    not on screen now when it is closer than `threshold`, else a new id."""

    def __init__(self, threshold: float = SAME_PERSON_DISTANCE):
        self.threshold = threshold
        self._sum: dict[int, np.ndarray] = {}
        self._count: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._sum)

    def mean(self, face_id: int) -> np.ndarray:
        return self._sum[face_id] / self._count[face_id]

    def nearest(self, descriptor: np.ndarray, exclude: set[int] | frozenset = frozenset()) -> tuple[float, int]:
        """(distance, face_id) of the closest face not in `exclude`; (inf, -1) when there is none."""
        return min(((float(np.linalg.norm(self.mean(i) - descriptor)), i) for i in self._sum if i not in exclude),
                   default=(np.inf, -1))

    def identify(self, descriptor: np.ndarray, on_screen: set[int]) -> int:
        """The face_id for this descriptor (recorded in the gallery)."""
        best = self.nearest(descriptor, on_screen)
        face_id = best[1] if best[0] < self.threshold else len(self._sum)
        self.add(face_id, descriptor)
        return face_id

    def add(self, face_id: int, descriptor: np.ndarray) -> None:
        self._sum[face_id] = self._sum.get(face_id, 0.0) + descriptor.astype(np.float64)
        self._count[face_id] = self._count.get(face_id, 0) + 1

