"""The realistic synthetic world: real face photos posed in depth, speaking, blinking, filmed by an
ordinary camera, with micro- and macro-expressions of known truth on top.

Flow: identity (photo + 68 landmarks + mean-3D depth) -> track (per-frame pose and AU intensities,
from scheduled events) -> render (3D-aware mesh warp + AU motion in the face's own axes) ->
camera (resolution, blur, lighting, noise, H.264) -> frames + truth.
"""
