"""FACS rules: measured region motion -> Action Units, each with a confidence and its evidence.

Every rule reads the head-motion-free onset->apex flow, in IOD units, of the regions FACS names
for that AU (Ekman, Friesen & Hager, FACS Manual 2002: the "appearance changes" of each AU),
projected on the direction the muscle pulls. Left/right are the subject's sides.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from math import exp

from deft.labels import AU_NAMES
from deft.motion.regions import RegionMotion

# Minimum motion, in IOD, for an AU to count: 0.005 IOD is 0.38 px in a 256 crop, about three
# times the residual flow of still regions on the synthetic set (measured: 0.001-0.002 IOD).
MOTION_THRESHOLD_IOD = 0.005
SPILL = 0.3  # share of a neighbouring region's rise that one muscle drags along
CONFIDENCE_SPREAD = 0.35  # logistic width, as a share of the threshold


@dataclass
class AUEvidence:
    au: str
    name: str
    confidence: float  # 0..1: how likely the muscle moved (calibrated by deft.confidence)
    strength_iod: float  # motion along the muscle's pull, IOD
    side: str  # "both" | "left" | "right" | "centre"
    evidence: list[str]  # regions whose motion supports the AU (empty when it did not fire)
    regions: list[str] = field(default_factory=list)  # regions the rule read, fired or not
    pull_iod: float = 0.0  # motion along the muscle's pull in those regions, before telling neighbours apart
    rule_confidence: float | None = None  # the rule's own logistic, kept when deft.confidence calibrated `confidence`
    threshold: float = 0.5  # the confidence at which the AU is reported (deft.confidence: per AU, F1-best)

    @property
    def fired(self) -> bool:
        """Reported: the rule's own test passed (it names evidence) and the confidence reaches the threshold."""
        return bool(self.evidence) and self.confidence >= self.threshold

    @property
    def rule_score(self) -> float:
        """The rule's own (uncalibrated) confidence: what the trained experts were fitted on."""
        return self.confidence if self.rule_confidence is None else self.rule_confidence

    def to_dict(self) -> dict:
        return {
            "au": self.au, "name": self.name, "confidence": round(self.confidence, 3),
            "strength_iod": round(self.strength_iod, 5), "side": self.side, "evidence": self.evidence,
        }


class _Motion:
    """Region vectors in IOD (image dx, dy) with face-anatomical components (up, down, outward, inward)."""

    def __init__(self, vectors: dict[str, tuple[float, float]]):
        self.vectors = vectors

    @classmethod
    def of_regions(cls, regions: list[RegionMotion], iod: float) -> _Motion:
        return cls({r.name: (r.dx / iod, r.dy / iod) for r in regions})

    def vec(self, name: str) -> tuple[float, float]:
        return self.vectors[name]

    def up(self, name: str) -> float:
        return -self.vec(name)[1]

    def out(self, name: str) -> float:
        """Component away from the face midline (subject's right = image left)."""
        dx = self.vec(name)[0]
        return -dx if name.endswith("_right") else dx


def _confidence(strength: float, threshold: float = MOTION_THRESHOLD_IOD) -> float:
    z = (strength - threshold) / (CONFIDENCE_SPREAD * threshold)
    return 1.0 / (1.0 + exp(-max(-60.0, min(60.0, z))))


def _sided(au: str, per_side: dict[str, tuple[float, bool, list[str]]]) -> AUEvidence:
    """Combine left/right (pull, rule passed, regions): strength is the stronger passing side."""
    strength_of = {s: (pull if ok else 0.0) for s, (pull, ok, _) in per_side.items()}
    fired = [s for s, v in strength_of.items() if v >= MOTION_THRESHOLD_IOD]
    best = max(per_side, key=lambda s: (strength_of[s], per_side[s][0]))
    side = "both" if len(fired) == 2 else best
    regions = [r for s in (fired or [best]) for r in per_side[s][2]]
    strength = strength_of[best]
    return AUEvidence(au, AU_NAMES[au], _confidence(strength), strength, side, regions if fired else [], regions,
                      max(pull for pull, _, _ in per_side.values()))


def _centre(au: str, pull: float, ok: bool, regions: list[str]) -> AUEvidence:
    strength = pull if ok else 0.0
    fired = strength >= MOTION_THRESHOLD_IOD
    return AUEvidence(au, AU_NAMES[au], _confidence(strength), strength, "centre", regions if fired else [], regions, pull)


def au_rules(m: _Motion) -> list[AUEvidence]:
    """One AUEvidence per AU in DETECTED_AUS (fired or not).

    Each rule gives the pull (motion along the muscle's direction in its regions) and a test that
    tells it apart from neighbouring muscles moving the same regions; it fires when both hold.
    """
    sides = ("right", "left")
    out: list[AUEvidence] = []

    def per_side(fn):
        return {s: fn(s) for s in sides}

    # Inner brows: the corrugator (AU4) draws them together and down, the frontalis (AU1) lifts
    # them. Drawing together is AU4's own signature; in AU1+4 it also masks part of the lift, so
    # the lift is read as the rise plus what AU4's lowering (twice its inward pull) took away.
    def inward(s):
        return max(0.0, -m.out(f"inner_brow_{s}"))

    def brow(part, other):
        def fn(s):
            inner_up = m.up(f"inner_brow_{s}") + 2.0 * inward(s)
            up, up_other = (inner_up, m.up(f"outer_brow_{s}")) if part == "inner" else (m.up(f"outer_brow_{s}"), inner_up)
            return up, up >= SPILL * up_other, [f"{part}_brow_{s}"]  # more than the other muscle drags along
        return fn

    out.append(_sided("AU1", per_side(brow("inner", "outer"))))
    out.append(_sided("AU2", per_side(brow("outer", "inner"))))
    # A rising glabella (the frontalis lifting the inner brows) contradicts the corrugator. AU4 also lowers the
    # brows: its pull is the larger of the drawing together and the drop, since a coded video often keeps only
    # the drop (along a brow's edge the sideways part is what the codec leaves out).
    glabella_rise = max(0.0, m.up("glabella"))

    def lowerer(s):
        pull = max(2.0 * inward(s), -m.up(f"inner_brow_{s}")) - glabella_rise
        return pull, True, [f"inner_brow_{s}", "glabella"]

    out.append(_sided("AU4", per_side(lowerer)))

    # AU6 raises the cheek (and with it the lower lid); AU7 tightens the lower lid more than the cheek.
    def cheek(s):
        cheek_up, lid_up = m.up(f"cheek_{s}"), m.up(f"lower_eyelid_{s}")
        corner = abs(complex(*m.vec(f"mouth_corner_{s}")))
        return cheek_up, cheek_up >= 0.8 * lid_up and cheek_up >= 0.6 * corner, [f"cheek_{s}", f"lower_eyelid_{s}"]

    def lid(s):
        cheek_up, lid_up = m.up(f"cheek_{s}"), m.up(f"lower_eyelid_{s}")
        return lid_up, lid_up >= 1.5 * max(cheek_up, 0.0), [f"lower_eyelid_{s}"]

    out.append(_sided("AU6", per_side(cheek)))
    out.append(_sided("AU7", per_side(lid)))
    # AU9 lifts the nose wings, AU10 the upper lip; each also drags the other region a little,
    # so each region's rise is discounted by SPILL x the other's.
    lip_up = m.up("upper_lip")
    wings_up = max(m.up("nose_wing_right"), m.up("nose_wing_left"))

    def nose(s):
        up = m.up(f"nose_wing_{s}")
        # AU6 and AU12 lift the cheek or mouth corner more than the nose wing beside them; AU9 the reverse.
        leads = up > m.up(f"cheek_{s}") and up > m.up(f"mouth_corner_{s}")
        return up - SPILL * lip_up, leads, [f"nose_wing_{s}"]

    out.append(_sided("AU9", per_side(nose)))
    out.append(_centre("AU10", lip_up - SPILL * wings_up, True, ["upper_lip"]))

    # Mouth corners: AU12 up and out, AU14 straight out (tightened), AU15 down.
    def corner(kind):
        def fn(s):
            name = f"mouth_corner_{s}"
            up, lateral = m.up(name), m.out(name)
            if kind == "AU12":
                return 0.6 * up + 0.8 * lateral, up > 0.25 * abs(lateral) and lateral > 0, [name]
            if kind == "AU14":
                return lateral, abs(up) <= 0.25 * lateral, [name]
            return -up + 0.2 * lateral, -up > abs(lateral), [name]
        return fn

    for au in ("AU12", "AU14", "AU15"):
        out.append(_sided(au, per_side(corner(au))))
    # AU17 pushes the chin boss (and lower lip) up; AU25 parts the lips: lower lip away from upper.
    out.append(_centre("AU17", m.up("chin"), True, ["chin", "lower_lip"]))
    out.append(_centre("AU25", m.up("upper_lip") - m.up("lower_lip"), m.up("lower_lip") < 0, ["lower_lip", "upper_lip"]))
    return out


def rules_on(vectors: dict[str, tuple[float, float]]) -> list[AUEvidence]:
    """au_rules on region motion given directly: region name -> (image dx, dy) in IOD."""
    return au_rules(_Motion(vectors))


# Where the registration cannot be trusted (deft.motion.register.trusted) no AU is reported as confident: each
# keeps its measured strength but its confidence stays under the firing line.
UNTRUSTED_CONFIDENCE = 0.45


def distrust(aus: list[AUEvidence]) -> list[AUEvidence]:
    """The same rules' evidence with confidences capped below firing (and no supporting regions)."""
    return [replace(a, confidence=min(a.confidence, UNTRUSTED_CONFIDENCE), evidence=[]) for a in aus]


# A head turned in depth between onset and apex leaves false motion after registration that grows with the
# turn's parallax (deft.motion.register): about 0.2 x the parallax past the landmarks' own noise floor on rendered
# turns (benchmarks/README), so the threshold rises by that much.
PARALLAX_SHARE, PARALLAX_FLOOR_IOD = 0.2, 0.01


def motion_threshold(parallax_iod: float = 0.0) -> float:
    """The least motion (IOD) a rule counts as evidence, raised by a head turn's parallax."""
    return MOTION_THRESHOLD_IOD + PARALLAX_SHARE * max(parallax_iod - PARALLAX_FLOOR_IOD, 0.0)


def detect_aus(regions: list[RegionMotion], iod: float, parallax_iod: float = 0.0) -> list[AUEvidence]:
    """All AU rules on the regions' onset->apex motion; fired ones (`fired`) have confidence >= 0.5. `parallax_iod`: what a
    2D registration would leave of the head's turn between onset and apex, which raises the threshold."""
    aus = au_rules(_Motion.of_regions(regions, iod))
    threshold = motion_threshold(parallax_iod)
    if threshold == MOTION_THRESHOLD_IOD:
        return aus
    return [replace(a, confidence=_confidence(a.strength_iod, threshold),
                    evidence=a.evidence if a.strength_iod >= threshold else []) for a in aus]
