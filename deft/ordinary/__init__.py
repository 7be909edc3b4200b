"""Ordinary face motion: blinks, winks, eyes closed or widened, lips parting, jaw drop, speech.

None of it is an expression: it is found, named and kept from being read as one.
"""

from deft.ordinary.detect import OrdinaryConfig, at_source_size, detect_ordinary
from deft.ordinary.explain import explained_aus, set_aside, supporting_aus
from deft.ordinary.result import Ordinary, OrdinaryEvent
from deft.ordinary.separate import matched_reference, separator

__all__ = ["Ordinary", "OrdinaryConfig", "OrdinaryEvent", "at_source_size", "detect_ordinary", "explained_aus",
           "matched_reference", "separator", "set_aside", "supporting_aus"]
