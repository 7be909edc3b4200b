"""Piecewise-affine warp of a triangle mesh: rasterise triangle ids far to near (near triangles hide far
ones), gather each pixel's affine, and sample the texture with one cv2.remap."""

from __future__ import annotations

import cv2
import numpy as np

SUBPIXEL_BITS = 4  # cv2 drawing: vertices at 1/16 px


MIN_AREA = 0.25  # px²: a smaller (collapsed) triangle, e.g. a closed eye's opening, is not drawn


def triangle_affines(out: np.ndarray, texture: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per triangle, the affine (F, 6) taking output pixels to texture pixels, and its signed area in the
    output relative to the texture's orientation (< 0: seen from behind or folded over)."""
    o, t = out[triangles], texture[triangles]  # (F, 3, 2)
    e1, e2 = o[:, 1] - o[:, 0], o[:, 2] - o[:, 0]
    f1, f2 = t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    tex_det = f1[:, 0] * f2[:, 1] - f1[:, 1] * f2[:, 0]
    safe = np.where(np.abs(det) > 1e-9, det, 1.0)
    # A = [f1 f2] @ inv([e1 e2]); inv([[a, b], [c, d]]) = [[d, -b], [-c, a]] / det, columns e1, e2
    i00, i01, i10, i11 = e2[:, 1] / safe, -e2[:, 0] / safe, -e1[:, 1] / safe, e1[:, 0] / safe
    a00 = f1[:, 0] * i00 + f2[:, 0] * i10
    a01 = f1[:, 0] * i01 + f2[:, 0] * i11
    a10 = f1[:, 1] * i00 + f2[:, 1] * i10
    a11 = f1[:, 1] * i01 + f2[:, 1] * i11
    b0 = t[:, 0, 0] - a00 * o[:, 0, 0] - a01 * o[:, 0, 1]
    b1 = t[:, 0, 1] - a10 * o[:, 0, 0] - a11 * o[:, 0, 1]
    return np.stack([a00, a01, b0, a10, a11, b1], 1), 0.5 * det * np.sign(tex_det)


def warp(image: np.ndarray, out: np.ndarray, texture: np.ndarray, triangles: np.ndarray, order: np.ndarray,
         outside: np.ndarray, size: tuple[int, int], cull: np.ndarray | None = None,
         behind: np.ndarray | None = None) -> np.ndarray:
    """The image (texture px) warped so that mesh vertices at `texture` land at `out` (output px), size
    (W, H). Triangles are drawn in `order` (far first); those in `cull` are skipped when seen from behind;
    pixels no triangle covers follow the affine `outside` (2, 3, output -> texture). Borders reflect.
    Triangles in `behind` (the smooth background around a head) are drawn at half resolution together
    with everything beyond the mesh and enlarged; the others go on top at full resolution."""
    width, height = size
    affines, area = triangle_affines(out, texture, triangles)
    n = len(affines)
    table = np.concatenate([affines, np.asarray(outside, np.float64).reshape(1, 6)]).T.astype(np.float32)  # (6, F+1)
    corners = out[triangles]
    lo, hi = corners.min(axis=1), corners.max(axis=1)
    draw = (np.abs(area) > MIN_AREA) & (hi[:, 0] >= 0) & (hi[:, 1] >= 0) & (lo[:, 0] < width) & (lo[:, 1] < height)
    if cull is not None:
        draw &= ~(cull & (area < 0))
    behind = np.zeros(n, bool) if behind is None else behind
    half = ((width + 1) // 2, (height + 1) // 2)
    back, _ = _sample(image, table, corners, order[(draw & behind)[order]], (0, 0, *half), 2)
    frame = cv2.resize(back, size, interpolation=cv2.INTER_LINEAR)
    front = order[(draw & ~behind)[order]]
    if len(front):
        x0, y0 = np.maximum(np.floor(lo[front].min(axis=0)).astype(int) - 1, 0)
        x1, y1 = np.minimum(np.ceil(hi[front].max(axis=0)).astype(int) + 2, (width, height))
        patch, ids = _sample(image, table, corners, front, (x0, y0, x1, y1), 1)
        np.copyto(frame[y0:y1, x0:x1], patch, where=(ids < n)[..., None])
    return frame


def _sample(image: np.ndarray, table: np.ndarray, corners: np.ndarray, faces: np.ndarray,
            box: tuple[int, int, int, int], step: int) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise `faces` in order on a grid of `step` output px (grid pixel (u, v) is output pixel
    (step u + (step - 1) / 2, ...)) over the grid box (x0, y0, x1, y1), and sample the image through each
    grid pixel's affine (the last column of `table` where no face covers it). Returns the patch and ids."""
    x0, y0, x1, y1 = box
    ids = np.full((y1 - y0, x1 - x0), table.shape[1] - 1, np.uint16)
    centre = (step - 1) / 2
    local = np.round(((corners - centre) / step - [x0, y0]) * (1 << SUBPIXEL_BITS)).astype(np.int32)  # (F, 3, 2)
    fill = cv2.fillConvexPoly
    for f in faces.tolist():
        fill(ids, local[f], f, cv2.LINE_8, SUBPIXEL_BITS)
    a = np.take(table, ids, axis=1)  # (6, h, w): each grid pixel's affine
    xs = np.broadcast_to((np.arange(x0, x1, dtype=np.float32) * step + centre)[None, :], ids.shape)
    ys = np.broadcast_to((np.arange(y0, y1, dtype=np.float32) * step + centre)[:, None], ids.shape)
    map_x = cv2.add(cv2.add(cv2.multiply(a[0], xs), cv2.multiply(a[1], ys)), a[2])
    map_y = cv2.add(cv2.add(cv2.multiply(a[3], xs), cv2.multiply(a[4], ys)), a[5])
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101), ids
