"""Load the versioned Uni-MER templates from instruction_data/templates/."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from deft.errors import ConfigError

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "instruction_data" / "templates"
DEFAULT_TEMPLATES = "uni_mer_v1.json"
INSTRUCTION_TYPES = ("describe_motion", "name_aus", "classify_emotion", "structured", "contrast")


@lru_cache(maxsize=4)
def load_templates(path: str | None = None) -> dict:
    """Templates as a dict; every instruction type must have at least one instruction phrasing."""
    file = Path(path) if path else TEMPLATES_DIR / DEFAULT_TEMPLATES
    if not file.exists():
        raise ConfigError(f"{file}: template file missing (deft reads templates from the source checkout)")
    try:
        data = json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"{file}: not valid JSON ({err})") from None
    missing = [t for t in INSTRUCTION_TYPES if not data.get(t, {}).get("instructions")]
    if missing or "version" not in data:
        raise ConfigError(f"{file}: needs 'version' and instructions for {', '.join(missing) or 'all types'}")
    return data
