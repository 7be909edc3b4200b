"""Training log: one JSON line per step or epoch, and the loss/metric curves as a PNG."""

from __future__ import annotations

import json
from pathlib import Path


class TrainingLog:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, **row) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps({k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()}) + "\n")

    def keep(self, row_wanted) -> None:
        """Rewrite the log with only the rows `row_wanted(row)` accepts (a resume drops the steps it will redo)."""
        rows = [r for r in self.rows() if row_wanted(r)]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        tmp.replace(self.path)

    def rows(self) -> list[dict]:
        return [json.loads(x) for x in self.path.read_text().splitlines()] if self.path.exists() else []

    def plot(self, out: str | Path) -> None:
        """One panel per stage: every numeric series against its step."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = self.rows()
        stages = sorted({r["stage"] for r in rows})
        fig, axes = plt.subplots(1, max(1, len(stages)), figsize=(6 * max(1, len(stages)), 4), squeeze=False)
        for ax, stage in zip(axes[0], stages):
            part = [r for r in rows if r["stage"] == stage]
            keys = sorted({k for r in part for k, v in r.items() if isinstance(v, (int, float)) and k not in ("step", "epoch")})
            for key in keys:
                pts = [(r["step"], r[key]) for r in part if key in r]
                ax.plot(*zip(*pts), label=key, marker="." if len(pts) < 40 else None)
            ax.set_title(f"stage: {stage}")
            ax.set_xlabel("step")
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out, dpi=100)
        plt.close(fig)
