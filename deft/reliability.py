"""Whether one clip's AU reading can be trusted: `reliable` and a plain reason when it cannot.

Each threshold is where the AU rules measurably fail on the world calibration set
(`python benchmarks/calibrate_aus.py` prints AU F1 per covariate bin; the numbers are in benchmarks/README.md).
"""

from __future__ import annotations

from deft.aus import MOTION_THRESHOLD_IOD
from deft.confidence import Covariates
from deft.tracking.quality import MACRO_MAX_S, MAX_OUT_OF_PLANE_DEG, POSE_NOISE_DEG, TrackQuality

# Measured on the world calibration set (168 clips, rules fired 393 times; precision = share of fired rules
# whose AU really moved): precision 0.65-0.73 while the median region motion stays under 2 motion thresholds
# (0.01 IOD), 0.17-0.27 above, whatever the head pose did. Under that limit a yaw/pitch change between onset
# and apex still left precision at 0.5-0.74 (pose from dlib landmarks is itself noisy by a few degrees on some
# faces), so a head turn alone is called unreliable only past what a 2D alignment cannot undo
# (deft.tracking.quality: ~5° of parallax plus 3° of pose noise). Face size (eyes 20-100 px apart) and sharpness
# showed no step in the calibrated range, so their limits sit at its edge: below it nothing was measured.
MAX_BACKGROUND_IOD = MOTION_THRESHOLD_IOD  # 10th percentile of the regions' |mean flow| (deft.confidence)
MAX_POSE_CHANGE_DEG = MAX_OUT_OF_PLANE_DEG + POSE_NOISE_DEG  # yaw or pitch change between onset and apex
MIN_IOD_PX = 20.0  # eyes this far apart in the source frames: the smallest faces calibrated
MIN_SHARPNESS = 10.0  # variance of the Laplacian of the aligned face (eyes 76.8 px apart): the blurriest calibrated
# Registration residual of stable landmarks (IOD) past which the registered face is not the onset face.
MAX_REGISTRATION_ERROR_IOD = 0.02


def judge(quality: TrackQuality, covariates: Covariates) -> tuple[bool, str]:
    """(reliable, reason): the reason names every problem found, '' when there is none."""
    problems = []
    if quality.lost_frames:
        problems.append(f"face lost on {quality.lost_frames} of {quality.tracked_frames + quality.lost_frames} frames")
    if quality.iod_px < MIN_IOD_PX:
        problems.append(f"face too small (eyes {quality.iod_px:.0f} px apart, need {MIN_IOD_PX:.0f})")
    if covariates.pose_change_deg > MAX_POSE_CHANGE_DEG:
        problems.append(f"head turned {covariates.pose_change_deg:.0f}° in depth between onset and apex (more than "
                        f"~{MAX_POSE_CHANGE_DEG:.0f}°: a 2D alignment cannot undo it)")
    if (covariates.registration_error_iod or 0.0) > MAX_REGISTRATION_ERROR_IOD:
        problems.append(f"registration error {covariates.registration_error_iod:.3f} IOD, over "
                        f"{MAX_REGISTRATION_ERROR_IOD} IOD")
    if quality.sharpness < MIN_SHARPNESS:
        problems.append(f"face blurred or heavily compressed (sharpness {quality.sharpness:.0f}, need {MIN_SHARPNESS:.0f})")
    if covariates.background_iod >= MAX_BACKGROUND_IOD:
        problems.append(f"the whole face moves ({covariates.background_iod:.3f} IOD even in its stillest regions): "
                        "head motion left over, not one muscle")
    if quality.motion_kind == "longer":
        problems.append(f"motion lasts {quality.motion_s:.1f} s, longer than a macro-expression ({MACRO_MAX_S:.0f} s)")
    return not problems, "; ".join(problems)
