"""Load the versioned Uni-MER templates, shipped inside the package (deft/instruct/uni_mer/)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from deft.errors import ConfigError

TEMPLATES_DIR = Path(__file__).resolve().parent / "uni_mer"  # package data: installed with deft
DEFAULT_TEMPLATES = "uni_mer_v1.json"
SCHEMA_PATH = TEMPLATES_DIR / "schema.json"  # JSON Schema of one record
INSTRUCTION_TYPES = ("describe_motion", "name_aus", "classify_emotion", "structured", "contrast")


@lru_cache(maxsize=4)
def load_templates(path: str | None = None) -> dict:
    """Templates as a dict; every instruction type must have at least one instruction phrasing."""
    file = Path(path) if path else TEMPLATES_DIR / DEFAULT_TEMPLATES
    if not file.exists():
        hint = "" if path else " (the default ships inside the package: reinstall deft)"
        raise ConfigError(f"{file}: template file missing{hint}")
    try:
        data = json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"{file}: not valid JSON ({err})") from None
    missing = [t for t in INSTRUCTION_TYPES if not data.get(t, {}).get("instructions")]
    if missing or "version" not in data:
        raise ConfigError(f"{file}: needs 'version' and instructions for {', '.join(missing) or 'all types'}")
    return data
