"""Long videos: spotting F1 (MEGC, IoU >= 0.5; micro, macro, overall) and composite UF1 of the spotted
micro-expressions, on long synthetic videos with truth (deft.data.world.long).

Each video (1-2 people, speech, blinks, winks, head moves, AU5 widening among the expressions) is rendered
once into --out (kept: a second run reuses it), its faces tracked (deft.long.tracks), spotted
(deft.long.spotting) and every spotted interval analysed (deft.long.intervals). A face is paired with
the truth person whose half of the frame holds its landmarks. UF1 is over the spotted micro intervals
that hit a truth micro interval, truth = that event's composite class. `--truth-series` spots series
made from the truth instead of tracking (spotting alone, no perception; tests/long_series.py). Per video and
in all: identity switches (a truth person's face_id changing), tracking CPU seconds, video frames per tracking
CPU-second and the process's peak RSS; per face: its identity, false positives and IOD read against the
rendered one (iod_px x the track's scale, frontal: a turned face reads a little less).
Run: python benchmarks/bench_long.py [--videos 20] [--min-s 60] [--max-s 600] [--out DIR] [--seed 0]
Tracks alone (speed, memory, identity switches): python benchmarks/bench_long.py tracks [--seconds 60]
[--people 1] [--loops 10] (the rendered video played --loops times in a row).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from deft.data.world.long import LongVideoSpec, write_long_video
from deft.eval.metrics import uf1
from deft.eval.spotting_eval import Counts, match, spotting_counts
from deft.long.intervals import iter_intervals
from deft.long.spotting import SpotConfig, spot, spot_all

KINDS = ("micro", "macro")
FIELDS = ("frames", "landmarks", "pose", "iod", "quality", "motion")  # FaceSeries arrays, in order


def load_note() -> str:
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


def video_specs(n: int, min_s: float, max_s: float, seed: int) -> list[LongVideoSpec]:
    """n videos: durations drawn log-uniformly in [min_s, max_s], 1 and 2 people alternating."""
    rng = np.random.default_rng(seed)
    durations = np.exp(rng.uniform(np.log(min_s), np.log(max_s), n))
    return [LongVideoSpec(duration_s=float(round(d)), people=1 + i % 2, seed=seed * 1000 + i)
            for i, d in enumerate(durations)]


def rendered(spec: LongVideoSpec, folder: Path) -> tuple[str, dict]:
    path = folder / f"long_{spec.seed}_{int(spec.duration_s)}s_{spec.people}p.mp4"
    truth_path = path.with_suffix(".json")
    if not truth_path.exists():
        write_long_video(path, spec, truth_path)
    return str(path), json.loads(truth_path.read_text())


def truth_face(truth: dict, landmarks: np.ndarray) -> dict | None:
    """The truth person whose region holds this track's landmarks (median x)."""
    x = float(np.nanmedian(landmarks[..., 0])) if np.isfinite(landmarks).any() else -1.0
    return next((f for f in truth["faces"] if f["region"][0] <= x < f["region"][2]), None)


def tracked_faces(path: str, truth: dict):
    """(series, fps) per tracked face of the video, by deft.long.tracks; kept beside the video
    (NAME.series.npz) so a second run re-spots without re-tracking."""
    from deft.long.series import FaceSeries

    cache = Path(path).with_suffix(".series.npz")
    if cache.exists():
        z = np.load(cache)
        faces = [FaceSeries(int(fid), *(z[f"{fid}_{k}"] for k in FIELDS), int(z[f"{fid}_lag"]))
                 for fid in z["face_ids"]]
        return faces, float(z["fps"])
    from deft.long.tracks import track_video

    analysis = track_video(path)
    arrays = {f"{f.face_id}_{k}": getattr(f, k) for f in analysis.faces for k in (*FIELDS, "lag")}
    np.savez_compressed(cache, face_ids=[f.face_id for f in analysis.faces], fps=analysis.fps, **arrays)
    return analysis.faces, analysis.fps


def truth_faces(truth: dict):
    """Series made from the truth (the renderer's AU fields + flow noise): spotting without perception."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from deft.data.world.track import FaceTrack
    from tests.long_series import series_from_track

    faces = []
    for k, face in enumerate(truth["faces"]):
        fr = face["frames"]
        n = truth["n_frames"]
        track = FaceTrack(np.array(fr["yaw"]), np.array(fr["pitch"]), np.array(fr["roll"]), np.array(fr["scale"]),
                          np.zeros((n, 2)))
        for key, values in fr["aus"].items():
            au, _, side = key.partition(":")
            track.aus[(au, side or "both")] = np.array(values)
        s = series_from_track(track, seed=k)
        s.landmarks[..., 0] += face["region"][0] - np.nanmedian(s.landmarks[..., 0]) + 10
        faces.append(s)
    return faces, truth["fps"]


def frames_of(path: str):
    from deft.long.stream import stream_frames

    for chunk in stream_frames(path):
        yield from zip(chunk.indices.tolist(), chunk.frames)


def score_video(path: str, truth: dict, use_truth: bool, analyse: bool) -> dict:
    cached = Path(path).with_suffix(".series.npz").exists()
    start, cpu = time.perf_counter(), time.process_time()
    faces, fps = truth_faces(truth) if use_truth else tracked_faces(path, truth)
    track_s = None if cached or use_truth else time.perf_counter() - start
    track_cpu_s = None if cached or use_truth else time.process_time() - cpu
    switches = None if use_truth else sum(p["switches"] for p in identity_switches(faces, truth, 1).values())
    start_spot = time.perf_counter()
    counts = {k: Counts() for k in ("overall", *KINDS)}
    pairs, spotted, kinds_seen, per_face = [], {}, {}, []
    for series in faces:
        face = truth_face(truth, series.landmarks)
        every = spot_all(series, fps)
        for iv in every:
            kinds_seen[iv.kind] = kinds_seen.get(iv.kind, 0) + 1
        found = [iv for iv in every if iv.kind in SpotConfig().report]
        spotted[series.face_id] = found
        events = face["events"] if face else []
        face_counts = spotting_counts(events, [iv.to_dict() for iv in found])
        for k, c in face_counts.items():
            counts[k].add(c)
        if face:
            rendered = face["iod_px"] * np.asarray(face["frames"]["scale"])[series.frames]
            per_face.append({"face": series.face_id, "identity": face["identity"], "fp": face_counts["overall"].fp,
                             "iod_read_over_rendered": round(float(np.nanmedian(series.iod / rendered)), 3)})
        micro_truth = [e for e in events if e["kind"] == "micro"]
        micro_found = [(k, iv) for k, iv in enumerate(found) if iv.kind == "micro"]
        for i, j in match([(e["onset"], e["offset"]) for e in micro_truth],
                          [(iv.onset, iv.offset) for _, iv in micro_found]):
            pairs.append((series.face_id, micro_found[j][0], micro_truth[i]["composite"]))
    spot_s = time.perf_counter() - start_spot
    labels = {}
    if analyse and pairs and not use_truth:
        wanted = {fid: spotted[fid] for fid in {p[0] for p in pairs}}
        size = (truth["width"], truth["height"])
        for fid, k, d in iter_intervals(frames_of(path), faces, wanted, fps, truth["n_frames"], size, path):
            labels[(fid, k)] = d.get("emotion", {}).get("label", "error")
    return {"video": path, "counts": counts, "micro_pairs": [(t, labels.get((fid, k))) for fid, k, t in pairs],
            "n_faces": len(faces), "per_face": per_face, "kinds": kinds_seen, "track_s": track_s,
            "track_cpu_s": track_cpu_s, "switches": switches, "face_frames": sum(len(f.frames) for f in faces),
            "spot_s": spot_s, "total_s": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=20)
    ap.add_argument("--min-s", type=float, default=60.0)
    ap.add_argument("--max-s", type=float, default=600.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench_long_videos")
    ap.add_argument("--truth-series", action="store_true", help="spot series made from the truth (no tracking)")
    ap.add_argument("--no-analysis", action="store_true", help="skip analysing the spotted micro intervals")
    args = ap.parse_args(argv)
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    print(f"start: {load_note()}", flush=True)
    total = {k: Counts() for k in ("overall", *KINDS)}
    pairs: list[tuple[str, str | None]] = []
    minutes, switches, frames, cpu_s = 0.0, 0, 0, 0.0
    for spec in video_specs(args.videos, args.min_s, args.max_s, args.seed):
        path, truth = rendered(spec, folder)
        row = score_video(path, truth, args.truth_series, not args.no_analysis)
        minutes += truth["n_frames"] / truth["fps"] / 60
        for k in total:
            total[k].add(row["counts"][k])
        pairs += row["micro_pairs"]
        switches += row["switches"] or 0
        if row["track_cpu_s"]:
            frames, cpu_s = frames + truth["n_frames"], cpu_s + row["track_cpu_s"]
        print(json.dumps({"video": Path(path).name, "faces": row["n_faces"],
                          **{k: row["counts"][k].to_dict() for k in total}, "per_face": row["per_face"],
                          "kinds": row["kinds"],
                          "micro_truth_read": row["micro_pairs"],
                          "switches": row["switches"], "track_s": row["track_s"] and round(row["track_s"], 1),
                          "track_cpu_s": row["track_cpu_s"] and round(row["track_cpu_s"], 1),
                          "spot_s": round(row["spot_s"], 2), "total_s": round(row["total_s"], 1),
                          "max_rss_mb": round(max_rss_mb(), 1)}), flush=True)
    scored = [(t, p) for t, p in pairs if t and p is not None]
    summary = {"videos": args.videos, "minutes": round(minutes, 1), "source": "truth series" if args.truth_series
               else "tracked", **{f"f1_{k}": total[k].to_dict() for k in total},
               "micro_uf1": round(uf1([t for t, _ in scored], [p for _, p in scored]), 4) if scored else None,
               "micro_analysed": len(scored), "id_switches_per_10_min": round(10 * switches / max(minutes, 1e-9), 2),
               "frames_per_cpu_s": round(frames / cpu_s, 1) if cpu_s else None, "max_rss_mb": round(max_rss_mb(), 1),
               "end": load_note()}
    print(json.dumps(summary), flush=True)


# ---- tracks: speed, memory and identity switches (D1); `python benchmarks/bench_long.py tracks --help` ----

def max_rss_mb() -> float:
    """The process's peak resident memory so far."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def looped(path: str, times: int) -> str:
    """The video played `times` times in a row (packets copied, no re-encoding): a long video cheaply. Each
    seam is a cut back to the start (the face jumps): identity must survive it."""
    import av

    if times <= 1:
        return path
    out = str(Path(path).with_name(f"{Path(path).stem}_x{times}.mp4"))
    if Path(out).exists():
        return out
    with av.open(path) as src, av.open(out, "w") as dst:
        stream = src.streams.video[0]
        copy = dst.add_stream_from_template(stream)
        packets = [p for p in src.demux(stream) if p.dts is not None]
        span = max(p.pts + p.duration for p in packets) - min(p.pts for p in packets)
        for k in range(times):
            for p in packets:
                q = av.Packet(bytes(p))
                q.pts, q.dts, q.duration, q.is_keyframe = p.pts + k * span, p.dts + k * span, p.duration, p.is_keyframe
                q.time_base, q.stream = p.time_base, copy
                dst.mux(q)
    return out


def identity_switches(faces, truth: dict, loops: int) -> dict:
    """Per truth person (their half of the frame), the face_ids that followed them over time: a switch is a
    change of id between consecutive tracked frames (a gap or a cut in between does not excuse it)."""
    n = truth["n_frames"]
    owners: dict[int, list[tuple[int, int]]] = {}
    for f in faces:
        ok = np.isfinite(f.landmarks[:, 30, 0])
        for frame, x in zip(f.frames[ok], f.landmarks[ok, 30, 0]):
            person = next((i for i, p in enumerate(truth["faces"]) if p["region"][0] <= x < p["region"][2]), -1)
            owners.setdefault(person, []).append((int(frame), f.face_id))
    out = {}
    for person, seq in sorted(owners.items()):
        seq.sort()
        ids = [fid for _, fid in seq]
        out[person] = {"ids": sorted(set(ids)), "switches": sum(a != b for a, b in zip(ids, ids[1:])),
                       "tracked": round(len({fr for fr, _ in seq}) / (n * loops), 4)}
    return out


def bench_tracks(seconds: float = 60.0, people: int = 1, loops: int = 1, out: str = "bench_long_videos",
                 seed: int = 0) -> dict:
    """Track every face of a rendered 640x480 30 fps video (looped `loops` times): frames/s (wall and per
    CPU-second), RSS over the run, identity switches against the truth."""
    import threading

    from deft.face import load_models
    from deft.long.tracks import track_video

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    path, truth = rendered(LongVideoSpec(duration_s=seconds, people=people, seed=seed), folder)
    path = looped(path, loops)
    load_models()
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(1.0):
            samples.append((time.perf_counter(), rss_mb()))
            if len(samples) % 60 == 0:  # a line a minute: a run cut short still shows its memory
                print(json.dumps({"elapsed_s": len(samples), "rss_mb": round(samples[-1][1], 1),
                                  "cpu_s": round(time.process_time() - cpu, 1)}), file=sys.stderr, flush=True)

    start_load, rss0 = os.getloadavg()[0], rss_mb()
    sampler = threading.Thread(target=sample, daemon=True)
    start, cpu = time.perf_counter(), time.process_time()
    sampler.start()
    analysis = track_video(path)
    wall, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    done.set()
    sampler.join()
    rss = [m for _, m in samples] or [rss_mb()]
    tenth = [round(rss[min(len(rss) - 1, int(len(rss) * k / 10))], 1) for k in range(1, 11)]
    return {"video": Path(path).name, "frames": analysis.n_frames, "people": people, "loops": loops,
            "faces": len(analysis.faces), "wall_s": round(wall, 1), "cpu_s": round(cpu_s, 1),
            "fps_wall": round(analysis.n_frames / wall, 1), "fps_per_cpu_s": round(analysis.n_frames / cpu_s, 1),
            "rss_start_mb": round(rss0, 1), "rss_by_tenth_mb": tenth, "rss_peak_mb": round(max(rss), 1),
            "identity": identity_switches(analysis.faces, truth, loops), "warnings": analysis.warnings,
            "load": f"{start_load:.2f} -> {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"}


def tracks_main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="tracks: speed, memory, identity switches on a long video")
    ap.add_argument("--seconds", type=float, default=60.0, help="rendered length (30-600)")
    ap.add_argument("--people", type=int, default=1)
    ap.add_argument("--loops", type=int, default=1, help="play the rendered video this many times in a row")
    ap.add_argument("--out", default="bench_long_videos")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    print(json.dumps(bench_tracks(args.seconds, args.people, args.loops, args.out, args.seed)), flush=True)


if __name__ == "__main__":
    tracks_main(sys.argv[2:]) if sys.argv[1:2] == ["tracks"] else main()
