"""deft: explain facial micro-expressions with measured evidence."""

from deft.analyze import AnalyzeConfig, Analysis, analyze, analyze_frames
from deft.errors import ConfigError, DeftError, FaceError, VideoError, VideoLimitError

__version__ = "0.1.0"
__all__ = ["AnalyzeConfig", "Analysis", "analyze", "analyze_frames", "DeftError", "VideoError", "VideoLimitError", "FaceError",
           "ConfigError", "__version__"]
