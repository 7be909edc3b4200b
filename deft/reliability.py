"""Whether one clip's AU reading can be trusted: `reliable` and a plain reason when it cannot.

Each threshold is where the AU rules measurably fail on the world calibration set (below); the AU
calibration (deft.confidence) fits one model for clips judged reliable and one for the rest.
"""

from __future__ import annotations

from deft.aus import MOTION_THRESHOLD_IOD
from deft.confidence import Covariates
from deft.tracking.quality import MACRO_MAX_S, MAX_OUT_OF_PLANE_DEG, POSE_NOISE_DEG, TrackQuality

# Measured on the world calibration set (560 clips, 7 kinds x 80; registered perception: the rules fired 852
# times; precision = share of fired rules whose AU really moved; `python benchmarks/calibrate_aus.py` prints the
# table, benchmarks/README has it):
# - head residual (stable landmarks onset -> apex after the best similarity): precision 0.53-0.82 under
#   0.01 IOD, 0.60 at 0.01-0.015, 0.52 at 0.015-0.02, 0.21-0.35 above. Since the AU flow's parallax is fitted
#   once the head moves (deft.motion.register.MOVED_IOD), the pose kind alone reads 0.81-0.85 under 0.015,
#   0.75 at 0.015-0.02, 0.60 at 0.02-0.03, 0.00-0.22 above; the all kind 0.25-0.34 at every residual (there
#   speech, blinks and small faces fail the rules, not the head), hence the limit at 0.03;
# - background (10th percentile of the regions' motion): 0.75 under 0.5 motion thresholds, 0.26-0.33 above.
#   The limit sits at 2 because a surprise with a dropped jaw reaches ~1.4 by itself; the calibrated
#   confidences carry the lower precision below it;
# - yaw/pitch change between onset and apex: 0.78 under 1°, 0.55-0.58 at 1-3°, 0.49-0.50 at 3-6°, 0.25-0.30
#   past 6°, but dlib's pose is noisy by a few degrees on some faces, so a turn alone counts only past what a
#   2D alignment cannot undo (deft.tracking.quality: ~5° of parallax plus 3° of pose noise);
# - face size and sharpness showed no step (eyes apart .56-.77 under 30 px, .31 on 36 rules at 30-40 px,
#   .58-.71 above; sharpness .50-.75): their limits sit at the edge of what was calibrated, below which
#   nothing was measured (benchmarks/bench_face_size.py sweeps face size).
MAX_HEAD_RESIDUAL_IOD = 0.03  # TrackQuality.head_residual_iod
MAX_BACKGROUND_IOD = 2 * MOTION_THRESHOLD_IOD  # 10th percentile of the regions' |mean flow| (deft.confidence)
MAX_POSE_CHANGE_DEG = MAX_OUT_OF_PLANE_DEG + POSE_NOISE_DEG  # yaw or pitch change between onset and apex
MIN_IOD_PX = 19.0  # eyes this far apart in the source frames
MIN_SHARPNESS = 7.0  # variance of the Laplacian of the aligned face (eyes 76.8 px apart)
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
        problems.append(f"head turned {covariates.pose_change_deg:.1f}° in depth between onset and apex (more than "
                        f"~{MAX_POSE_CHANGE_DEG:.1f}°: a 2D alignment cannot undo it)")
    if covariates.head_residual_iod > MAX_HEAD_RESIDUAL_IOD:
        problems.append(f"the head moved in a way a 2D alignment cannot undo (nose against eye corners "
                        f"{covariates.head_residual_iod:.3f} IOD between onset and apex, over {MAX_HEAD_RESIDUAL_IOD})")
    if (covariates.registration_error_iod or 0.0) > MAX_REGISTRATION_ERROR_IOD:
        problems.append(f"registration error {covariates.registration_error_iod:.3f} IOD, over "
                        f"{MAX_REGISTRATION_ERROR_IOD} IOD")
    if quality.sharpness < MIN_SHARPNESS:
        problems.append(f"face blurred or heavily compressed (sharpness {quality.sharpness:.1f}, need {MIN_SHARPNESS:g})")
    if covariates.background_iod >= MAX_BACKGROUND_IOD:
        problems.append(f"the whole face moves ({covariates.background_iod:.3f} IOD even in its stillest regions): "
                        "head motion left over, not one muscle")
    if quality.motion_kind == "longer":
        problems.append(f"motion lasts {quality.motion_s:.1f} s, longer than a macro-expression ({MACRO_MAX_S:.0f} s)")
    return not problems, "; ".join(problems)
