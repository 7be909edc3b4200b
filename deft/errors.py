"""One exception family for deft: every error names its input and what to do."""


class DeftError(Exception):
    """Base class of every error deft raises on purpose."""


class VideoError(DeftError):
    """The input is not a readable video (missing, empty, corrupt, too short, too large)."""


class VideoLimitError(VideoError):
    """The input exceeds one of `VideoLimits` (file size, frame count, resolution): no reader can help."""


class FaceError(DeftError):
    """No usable face: none found, or several of similar size."""


class ConfigError(DeftError):
    """An option has a value deft cannot use."""


class DatasetError(DeftError):
    """A dataset folder or label sheet is missing, unreadable or not in the expected format."""
