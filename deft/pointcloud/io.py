"""Save and load a fine-tuned point-cloud classifier: config.json + model.safetensors in a folder."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from deft.errors import ConfigError
from deft.pointcloud.model import PointClassifier, PointEncoder, PointMAEConfig

CONFIG, WEIGHTS = "config.json", "model.safetensors"


def save_classifier(model: PointClassifier, folder: str | Path) -> None:
    from safetensors.torch import save_file

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG).write_text(json.dumps({"kind": "deft-pointcloud", **asdict(model.encoder.cfg)}, indent=1))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / WEIGHTS))


def load_classifier(folder: str | Path) -> PointClassifier:
    from safetensors.torch import load_file

    path = Path(folder)
    if not (path / CONFIG).is_file() or not (path / WEIGHTS).is_file():
        raise ConfigError(f"{folder}: not a point-cloud model folder (needs {CONFIG} and {WEIGHTS}); "
                          "write one with benchmarks/bench_seeds.py --save FOLDER")
    cfg = json.loads((path / CONFIG).read_text())
    if cfg.pop("kind", None) != "deft-pointcloud":
        raise ConfigError(f"{folder}: {CONFIG} is not a deft point-cloud model's")
    model = PointClassifier(PointEncoder(PointMAEConfig(**cfg)))
    model.load_state_dict(load_file(str(path / WEIGHTS)))
    return model.eval()
