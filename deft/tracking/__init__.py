"""Per-frame face tracking, head pose and tracking quality (video -> face)."""

from deft.tracking.pose import HeadPose, head_pose
from deft.tracking.quality import TrackQuality, clip_quality, track_quality, track_warnings
from deft.tracking.tracker import TrackConfig, Tracked, track_face

__all__ = ["HeadPose", "TrackConfig", "TrackQuality", "Tracked", "clip_quality", "head_pose", "track_face", "track_quality",
           "track_warnings"]
