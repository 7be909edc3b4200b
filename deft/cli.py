"""`deft ...` subcommands: thin wrappers that parse arguments and print results."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from deft.errors import DeftError
from deft.motion.flow import FLOW_METHODS
from deft.motion.register import MODELS as REGISTRATION_MODELS
from deft.options import given
from deft.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES, VideoLimits

ENGINES = ("auto", "vllm", "transformers")  # the kinds deft.serve.server.make_engine accepts


def _split(text: str | None) -> tuple[str, ...] | None:
    return tuple(text.split(",")) if text is not None else None


def _clips(paths: list[str]) -> list[str]:
    """Expand folders of videos into their files; a folder of images is one clip (frame sequence)."""
    out = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            videos = sorted(str(f) for f in path.iterdir() if f.suffix.lower() in VIDEO_SUFFIXES)
            images = any(f.suffix.lower() in IMAGE_SUFFIXES for f in path.iterdir())
            if videos:
                out.extend(videos)
            elif images:
                out.append(p)
            else:
                out.append(p)  # read_video reports what is wrong with it
        else:
            out.append(p)
    return out


def _demo_clip() -> str:
    """Render the embedded default: a synthetic happiness micro-expression (AU6 + AU12) on a real face."""
    from deft.data.synthetic import SyntheticSpec, render
    from deft.video import write_video

    path = os.path.join(tempfile.gettempdir(), "deft-demo-happiness.mp4")
    write_video(render(SyntheticSpec()).frames, path)
    print(f"demo clip: {path} (synthetic AU6 + AU12, apex at frame 14)", file=sys.stderr)
    return path


def _parse_phases(text: str | None) -> tuple[int, int, int] | None:
    if text is None:
        return None
    try:
        onset, apex, offset = (int(x) for x in text.split(","))
    except ValueError:
        raise DeftError(f"--phases takes ONSET,APEX,OFFSET frame numbers, got {text!r}") from None
    return onset, apex, offset


def _wants_long(args: argparse.Namespace) -> bool:
    """Options only the long-video path has: several faces, a face by id, the frame table, the overlay."""
    return args.face not in (None, "largest") or bool(args.csv or args.overlay)


def _is_long(clip: str, args: argparse.Namespace, limits: VideoLimits) -> bool:
    """Whether `clip` goes through the long-video path: asked for, or more frames than the short-clip cap."""
    from deft.long.stream import longer_than_clip

    return _wants_long(args) or longer_than_clip(clip, limits, args.step)


def _analyze_long(clip: str, args: argparse.Namespace, limits: VideoLimits):
    """Track, spot and analyse a long video; write --csv and --overlay when given."""
    from deft.analyze import AnalyzeConfig
    from deft.long.analyze import LongAnalyzeConfig, analyze_long
    from deft.long.tracks import LongConfig

    from deft.long.table import check_table_path, write_table

    if args.csv:
        check_table_path(args.csv)  # before minutes of work, not after
    config = LongAnalyzeConfig(face=args.face or "all", tracks=LongConfig(step=args.step, limits=limits),
                               clip=AnalyzeConfig(flow=args.flow, register=args.register))
    result = analyze_long(clip, config)
    if args.csv:
        print(f"table: {args.csv} ({write_table(result, args.csv)} rows)", file=sys.stderr)
    if args.overlay:
        from deft.long.overlay import write_overlay

        print(f"overlay: {args.overlay} ({write_overlay(result, args.overlay, limits)} frames)", file=sys.stderr)
    return result


def cmd_analyze(args: argparse.Namespace) -> int:
    from deft.analyze import AnalyzeConfig, analyze
    from deft.report import format_table

    paths = list(args.videos)
    if args.demo:
        paths.append(_demo_clip())
    if not paths:
        raise DeftError("give a video, a folder of videos, or --demo")
    clips = _clips(paths)
    limits = VideoLimits(**given(args, max_frames="max_frames"))
    config = AnalyzeConfig(flow=args.flow, step=args.step, register=args.register, limits=limits)
    phases = _parse_phases(args.phases)
    if len(clips) > 1 and (args.csv or args.overlay):
        raise DeftError("--csv and --overlay take one video; give one at a time")
    if len(clips) == 1:
        if _is_long(clips[0], args, limits):
            from deft.long.report import format_long

            result = _analyze_long(clips[0], args, limits)
            print(json.dumps(result.to_dict()) if args.json else format_long(result))
            for option, value in (("--plot", args.plot), ("--phases", args.phases)):
                if value:  # not drawn / not used: said, so no one waits for what a long video does not make
                    print(f"deft: {option} is for a short clip; a long video's intervals are spotted and drawn by "
                          "--overlay OUT.mp4 (each interval's plot: deft demo)", file=sys.stderr)
            return 0
        result = analyze(clips[0], config, phases)
        print(json.dumps(result.to_dict()) if args.json else format_table(result))
        if args.plot:
            from deft.plot import plot_analysis

            plot_analysis(result, args.plot)
            print(f"plot: {args.plot}", file=sys.stderr)
        return 0
    plot_dir = args.plot
    if plot_dir:
        os.makedirs(plot_dir, exist_ok=True)

    def one(clip: str) -> dict:
        if _is_long(clip, args, limits):
            return _analyze_long(clip, args, limits).to_dict()
        result = analyze(clip, config, phases)
        if plot_dir:
            from deft.plot import plot_analysis

            plot_analysis(result, os.path.join(plot_dir, Path(clip).stem + ".png"))
        return result.to_dict()

    return _batch(clips, "analysed", one)


def _batch(clips: list[str], done: str, run: Callable[[str], dict | list[dict]]) -> int:
    """JSON lines: `run`'s dict per clip, or each of its dicts (a long video: one per interval); failures
    become {"source", "error"} lines and the run goes on."""
    from tqdm import tqdm

    failed = 0
    for clip in tqdm(clips, desc=f"deft ({done})", unit="clip", file=sys.stderr, disable=None):
        try:
            lines = run(clip)
        except DeftError as err:
            failed += 1
            lines = {"source": clip, "error": str(err), "error_type": type(err).__name__}
        except Exception as err:  # noqa: BLE001 - one bad clip must not stop a batch
            failed += 1
            lines = {"source": clip, "error": f"{type(err).__name__}: {err}", "error_type": "internal"}
        for line in lines if isinstance(lines, list) else [lines]:
            print(json.dumps(line), flush=True)
        if isinstance(lines, dict) and "error" in lines:
            print(f"deft: {clip}: {lines['error']}", file=sys.stderr)
    print(f"deft: {len(clips) - failed} of {len(clips)} clips {done}, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


def _synth_camera(args: argparse.Namespace, default):
    """The synth command's camera: `default` (a track.Camera) with the options given."""
    from dataclasses import replace

    changes = {k: v for k, v in (("fps", args.fps), ("iod_px", args.iod), ("crf", args.crf), ("noise", args.noise),
                                 ("motion_blur", args.blur), ("flicker", args.flicker)) if v is not None}
    if args.size:
        try:
            changes["width"], changes["height"] = (int(x) for x in args.size.lower().split("x"))
        except ValueError:
            raise DeftError(f"--size takes WIDTHxHEIGHT in pixels, e.g. 640x480, got {args.size!r}") from None
    return replace(default, **changes)


# `deft synth` options that only the realistic world renders; without any of them (and with a shipped
# face) synth writes the previous generator's still, frontal clip, exactly as before.
WORLD_OPTIONS = ("macro", "pose", "speech", "blinks", "widen", "size", "fps", "iod", "crf", "noise", "blur", "flicker")


def cmd_synth(args: argparse.Namespace) -> int:
    from deft.data.faces import FACE_NAMES

    if args.long:
        return _synth_long(args)
    asked = [o for o in WORLD_OPTIONS if getattr(args, o) is not None and getattr(args, o) is not False]
    if not args.world and args.face in (None, *FACE_NAMES) and not asked:
        return _synth_classic(args)
    from deft.data.world.clips import CLIP_SECONDS, WorldClipSpec, render_clip, write_clip

    distractors = tuple(kind for flag, kinds in (("pose", ("head",)), ("speech", ("speech",)),
                                                 ("blinks", ("blink", "wink")), ("widen", ("widen",)))
                        if getattr(args, flag) for kind in kinds)
    camera = _synth_camera(args, WorldClipSpec().camera)
    spec = WorldClipSpec(
        identity=args.face or WorldClipSpec().identity, n_frames=args.frames or int(round(CLIP_SECONDS * camera.fps)),
        camera=camera, distractors=distractors, emotion=None if args.emotion == "none" else args.emotion,
        kind="macro" if args.macro else "micro", seed=args.seed)
    clip = render_clip(spec)
    write_clip(clip, args.out)
    print(json.dumps({"path": args.out, "face": spec.identity, "seed": spec.seed, "fps": camera.fps,
                      "n_frames": spec.n_frames, **clip.truth.to_dict()}))
    return 0


def _synth_classic(args: argparse.Namespace) -> int:
    import numpy as np

    from deft.data.synthetic import SyntheticSpec, random_spec, render
    from deft.video import write_video

    length = {"n_frames": args.frames} if args.frames else {}
    spec = random_spec(np.random.default_rng(args.seed), args.emotion, args.face or SyntheticSpec.face, **length,
                       seed=args.seed)
    clip = render(spec)
    write_video(clip.frames, args.out)
    truth = {"path": args.out, "emotion": clip.emotion, "composite": clip.composite, "aus": dict(spec.aus),
             "side": spec.side, "phases": {"onset": spec.onset, "apex": spec.apex, "offset": spec.offset},
             "face": spec.face, "seed": spec.seed}
    print(json.dumps(truth))
    return 0


def _synth_long(args: argparse.Namespace) -> int:
    from deft.data.world.long import LongVideoSpec, write_long_video

    faces = tuple(args.face.split(",")) if args.face else ()
    spec = LongVideoSpec(duration_s=args.duration, people=args.people, identities=faces,
                         camera=_synth_camera(args, LongVideoSpec().camera), seed=args.seed)
    truth = write_long_video(args.out, spec, args.truth)
    if args.truth:
        print(f"deft: {args.out}: {truth['n_frames']} frames; truth in {args.truth}", file=sys.stderr)
    else:
        print(json.dumps(truth))
    return 0


def cmd_build_instructions(args: argparse.Namespace) -> int:
    from deft.instruct.build import build, jobs_from_source, write_provenance

    summary = build(jobs_from_source(args.source), args.out, progress=True, features=args.features,
                    **given(args, seed="seed", workers="workers"))
    write_provenance(args.out, args.source, args.features, args.seed)
    print(json.dumps({k: v for k, v in summary.items() if k != "dropped_clips"}))
    print(f"deft: kept {summary['kept']} of {summary['clips']} clips, {summary['records']} records in {args.out}",
          file=sys.stderr)
    return 0


def train_options(args: argparse.Namespace) -> dict:
    """`deft train`'s options as deft.train.recipe.train's keyword arguments (configs built from them)."""
    from deft.model.config import DeftConfig
    from deft.train.experts_stage import ExpertsStage
    from deft.train.instruct_stage import InstructStage

    args.experts, args.types = _split(args.experts), _split(args.types)
    args.quantize = "4bit" if args.qlora else None
    config = DeftConfig(**given(args, backbone="backbone", experts="experts", lora_r="lora_r", quantize="quantize"))
    instruct = None if args.stage == "experts" else InstructStage(**given(
        args, epochs="epochs", max_steps="steps", batch_size="batch_size", lr="lr", stop_at="stop_at", seed="seed",
        gradient_checkpointing="gradient_checkpointing", max_answer_tokens="max_answer_tokens", types="types"))
    return {"config": config, "experts": ExpertsStage(**given(args, epochs="expert_epochs", seed="seed")),
            "instruct": instruct, "eval_dir": args.eval, "resume": args.resume,
            **given(args, text_eval_clips="eval_clips")}


def cmd_train(args: argparse.Namespace) -> int:
    from deft.train.recipe import train

    train(args.data, args.out, **train_options(args))
    print(f"deft: model saved to {args.out} (card: {args.out}/README.md, curves: {args.out}/curves.png)", file=sys.stderr)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from deft.eval.model_eval import evaluate_heads, evaluate_text
    from deft.model.deft import DeftModel
    from deft.train.data import load_training_set

    model = DeftModel.from_pretrained(args.model, load_llm=args.text)
    data = load_training_set(args.data)
    scores = {"heads": evaluate_heads(model, data)}
    if args.text:
        scores["text"] = evaluate_text(model, data)
    print(json.dumps(scores, indent=2, default=list))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from deft.analyze import AnalyzeConfig
    from deft.explain import explain, explain_long
    from deft.long.analyze import LongAnalyzeConfig
    from deft.long.stream import longer_than_clip
    from deft.report import format_table

    config = AnalyzeConfig(flow=args.flow)

    def one(clip: str) -> dict | list[dict]:
        if longer_than_clip(clip, config.limits):  # one line per spotted interval
            return explain_long(clip, args.model, LongAnalyzeConfig(clip=config))
        return explain(clip, args.model, config).to_dict()

    clips = _clips(args.videos)
    if len(clips) == 1 and not longer_than_clip(clips[0], config.limits):
        result = explain(clips[0], args.model, config)
        print(json.dumps(result.to_dict()) if args.json else format_table(result.analysis) + "\n\nexplanation: " + result.text)
        return 0
    return _batch(clips, "explained", one)  # model loaded once


def cmd_serve(args: argparse.Namespace) -> int:
    from deft.serve.server import VLLMOptions, serve
    from deft.serve.settings import parse_duration

    keep = {"keep_uploads_s": parse_duration(args.keep_uploads)} if args.keep_uploads is not None else {}
    serve(vllm=VLLMOptions.from_env(args.vllm_python, args.vllm_url, args.vllm_timeout), **keep,
          **given(args, host="host", port="port", api_key="api_key", engine="engine", model_path="model"))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from deft.serve.demo import run_demo

    from deft.serve.settings import parse_duration

    keep = {"keep_uploads_s": parse_duration(args.keep_uploads)} if args.keep_uploads is not None else {}
    run_demo(**keep, **given(args, host="host", port="port", model_path="model", api_url="api_url",
                             api_key="api_key", engine="engine", auth="auth"))
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    from deft.agent import DeftAgent

    chat = None
    if args.api_url:
        from langchain_openai import ChatOpenAI

        chat = ChatOpenAI(base_url=args.api_url, api_key=args.api_key or "none", model=args.model_name, temperature=0)
    answer = DeftAgent(chat).ask(args.question, args.video, args.image, args.text)
    if args.json:
        print(json.dumps({"answer": answer.text, "mode": answer.mode, "calls": answer.calls}))
    else:
        print(answer.text)
    return 0


def _add_analyze(sub: argparse._SubParsersAction) -> None:
    from deft.analyze import AnalyzeConfig

    p = sub.add_parser("analyze", help="phases, region motion, Action Units and emotion of a clip")
    p.add_argument("videos", nargs="*", help="video files, image-sequence folders, or folders of videos")
    p.add_argument("--demo", action="store_true", help="analyse a generated clip (synthetic AU6+AU12 on a real face)")
    p.add_argument("--json", action="store_true", help="print one JSON object per clip")
    p.add_argument("--flow", choices=FLOW_METHODS, default=AnalyzeConfig.flow, help="optical flow: DIS (fast) or TV-L1")
    p.add_argument("--register", choices=("none", *REGISTRATION_MODELS), default=AnalyzeConfig.register,
                   help="map every frame onto the onset face (depth: head turns too); none: one alignment per clip")
    p.add_argument("--plot", metavar="OUT.png", help="draw the apex frame, flow and AU regions (a folder for several clips)")
    p.add_argument("--phases", metavar="ONSET,APEX,OFFSET", help="use these phases instead of spotting them")
    p.add_argument("--step", type=int, default=AnalyzeConfig.step, help="keep every STEP-th frame")
    p.add_argument("--max-frames", type=int, help=f"frame limit of a short clip (default {VideoLimits.max_frames}); "
                   "longer videos take the long-video path")
    p.add_argument("--face", metavar="N|largest|all", help="long videos: every face (all, the default), the "
                   "largest, or face_id N; short clips analyse the largest")
    p.add_argument("--csv", metavar="OUT.csv", help="write the per-frame series (.csv or .parquet): one row per "
                   "frame per face")
    p.add_argument("--overlay", metavar="OUT.mp4", help="write the video with each face's box, id, AUs and an "
                   "interval timeline")
    p.set_defaults(func=cmd_analyze)


def _add_synth(sub: argparse._SubParsersAction) -> None:
    from deft.data.faces import FACE_NAMES
    from deft.data.synthetic import SyntheticSpec
    from deft.data.world.clips import CLIP_SECONDS
    from deft.data.world.long import LongVideoSpec
    from deft.data.world.track import Camera
    from deft.labels import RECIPES

    p = sub.add_parser("synth", help="write a synthetic clip (or --long video) of known truth; prints the truth")
    p.add_argument("out", help="output .mp4 path")
    p.add_argument("--face", default=None, help=f"an identity ({', '.join(FACE_NAMES)}, ... see "
                   "deft.data.world.identity.IDENTITIES) or any face photo; --long: one per person, comma-separated "
                   "(default astronaut; --long: drawn by seed)")
    p.add_argument("--emotion", choices=list(RECIPES), default="happiness", help="'none': ordinary motion only")
    p.add_argument("--macro", action="store_true", help="a macro-expression (0.5-4 s, larger) instead of a micro one")
    p.add_argument("--frames", type=int, default=None, help=f"clip length (default {CLIP_SECONDS:g} s; "
                   f"{SyntheticSpec.n_frames} frames for the previous generator)")
    p.add_argument("--pose", action="store_true", help="the head turns, nods, tilts and moves closer (smooth)")
    p.add_argument("--speech", action="store_true", help="talking: jaw and lips at 3-6 Hz (AU25/AU26)")
    p.add_argument("--blinks", action="store_true", help="blinks and a wink (AU45/AU46)")
    p.add_argument("--widen", action="store_true", help="eye widening (AU5)")
    p.add_argument("--size", metavar="WxH", help=f"frame size (default {Camera().width}x{Camera().height}; "
                   f"--long {LongVideoSpec().camera.width}x{LongVideoSpec().camera.height})")
    p.add_argument("--fps", type=float, default=None, help=f"frames per second (default {Camera().fps:g})")
    p.add_argument("--iod", type=float, default=None, metavar="PX",
                   help=f"eyes this many pixels apart, frontal (default {Camera().iod_px:g}; 20 is a small face)")
    p.add_argument("--crf", type=int, default=None, help="H.264 CRF, e.g. 23-35 as phones and calls "
                   f"(default: near-lossless; --long {LongVideoSpec().camera.crf})")
    p.add_argument("--noise", type=float, default=None, help=f"sensor noise sigma, grey levels (default {Camera().noise:g})")
    p.add_argument("--blur", type=float, default=None, help="motion blur, share of the frame-to-frame motion (default 0)")
    p.add_argument("--flicker", type=float, default=None, help="lighting flicker, relative amplitude (default 0)")
    p.add_argument("--world", action="store_true", help="render with the realistic world even with none of its "
                   "options (without them and with a shipped face: the previous still, frontal generator)")
    p.add_argument("--long", action="store_true", help="a long video: scheduled events, per-frame truth")
    p.add_argument("--duration", type=float, default=LongVideoSpec().duration_s, help="--long: seconds (30-600)")
    p.add_argument("--people", type=int, choices=(1, 2), default=LongVideoSpec().people, help="--long: side by side")
    p.add_argument("--truth", metavar="OUT.json", help="--long: write the truth JSON here (default: beside the "
                   "video with a .json suffix, and printed)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_synth)


def _add_build_instructions(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-instructions", help="Uni-MER instruction/answer JSONL from labelled clips (resumable)")
    p.add_argument("source", help="synthetic:N[:SEED], world:N[:SEED][:train|held] (the realistic world, identities "
                   "split apart), NAME:ROOT (casme2, samm, smic, casme3, folder), or a dataset folder")
    p.add_argument("--out", required=True, help="output folder (instructions.jsonl, qc.jsonl, qc_summary.json)")
    p.add_argument("--seed", type=int, help="template choice seed")
    p.add_argument("--workers", type=int, help="processes")
    p.add_argument("--features", action="store_true", help="also save each kept clip's expert inputs (for deft train)")
    p.set_defaults(func=cmd_build_instructions)


def _add_train(sub: argparse._SubParsersAction) -> None:
    from deft.model.config import DeftConfig

    p = sub.add_parser("train", help="train the DEFT model on a folder from build-instructions --features")
    p.add_argument("data", nargs="+", help="training folder(s); several are trained on together")
    p.add_argument("--out", required=True)
    p.add_argument("--eval", help="held-apart folder to score on after training")
    p.add_argument("--stage", choices=["all", "experts"], default="all")
    # defaults: DeftConfig, ExpertsStage, InstructStage and deft.train.recipe.train (left unset here)
    p.add_argument("--backbone", help="HF causal-LM folder; default: the packaged Gemma 3 270M")
    p.add_argument("--experts", help=f"comma-separated subset (ablations); default {','.join(DeftConfig.experts)}")
    p.add_argument("--expert-epochs", type=int, help="expert-stage epochs")
    p.add_argument("--epochs", type=float, help="instruction-tuning epochs")
    p.add_argument("--steps", type=int, help="instruction-tuning steps (overrides --epochs)")
    p.add_argument("--stop-at", type=int, help="stop after this step; --resume continues")
    p.add_argument("--batch-size", type=int, help="instruction-tuning batch size")
    p.add_argument("--lr", type=float, help="LoRA learning rate")
    p.add_argument("--lora-r", type=int, help=f"LoRA rank (default {DeftConfig.lora_r})")
    p.add_argument("--qlora", action="store_true", help="load the backbone in 4-bit NF4 (bitsandbytes; for a GPU)")
    p.add_argument("--gradient-checkpointing", action="store_true", default=None)
    p.add_argument("--types", help="instruction types to train on, comma-separated (default: all)")
    p.add_argument("--max-answer-tokens", type=int, help="answers are cut to this many tokens")
    p.add_argument("--eval-clips", type=int, help="held-apart clips whose generated text is scored")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--seed", type=int, help="seed of both stages")
    p.set_defaults(func=cmd_train)


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="score a trained model on a folder from build-instructions --features")
    p.add_argument("model")
    p.add_argument("data")
    p.add_argument("--text", action="store_true", help="also generate and score the LLM's answers (slow on CPU)")
    p.set_defaults(func=cmd_eval)


def _add_explain(sub: argparse._SubParsersAction) -> None:
    from deft.analyze import AnalyzeConfig

    p = sub.add_parser("explain", help="deft analyze plus the model's explanation in words")
    p.add_argument("videos", nargs="+", help="video files or folders of videos; several: one JSON line per clip; "
                   "a long video (more frames than a clip may have): one JSON line per spotted interval")
    p.add_argument("--json", action="store_true")
    p.add_argument("--model", default=None, help="model folder (default: the embedded checkpoint)")
    p.add_argument("--flow", choices=FLOW_METHODS, default=AnalyzeConfig.flow)
    p.set_defaults(func=cmd_explain)


def _server_options(p: argparse.ArgumentParser, engine_help: str) -> None:
    """Where `deft serve` and `deft demo` listen and what they run."""
    p.add_argument("--host", help="address to listen on")
    p.add_argument("--port", type=int)
    p.add_argument("--model", help="model folder (default: the embedded checkpoint)")
    p.add_argument("--engine", choices=ENGINES, help=engine_help)


def _add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="OpenAI-compatible API (vLLM or transformers engine)")
    _server_options(p, "auto: vLLM when --vllm-python/--vllm-url is given and it starts, else transformers")
    p.add_argument("--api-key", help="required Bearer key (also DEFT_API_KEYS, comma-separated)")
    p.add_argument("--vllm-python", default=None, metavar="PATH",
                   help="python of a venv with vllm (serve/install_vllm.sh); deft starts the vLLM server with it "
                        "(also DEFT_VLLM_PYTHON)")
    p.add_argument("--vllm-url", default=None, help="a running vLLM server serving deft's adapter as 'deft' "
                                                    "(python -m deft.serve.vllm_process; also DEFT_VLLM_URL)")
    p.add_argument("--vllm-timeout", type=float, default=None, metavar="S", help="vLLM startup wait")
    p.add_argument("--keep-uploads", metavar="DURATION", help="keep uploaded clips this long (90s, 30m, 1h) for "
                   "reuse; default: deleted once analysed (an unused one after an hour); all at shutdown")
    p.set_defaults(func=cmd_serve)


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="Gradio chat demo (in process, or against a running deft serve)")
    _server_options(p, "local engine")
    p.add_argument("--api-url", help="use a running deft serve instead of a local engine")
    p.add_argument("--api-key")
    p.add_argument("--auth", metavar="USER:PASS", help="a login page first (also DEFT_DEMO_AUTH)")
    p.add_argument("--keep-uploads", metavar="DURATION", help="delete uploaded clips this long after upload "
                   "(default 1h; e.g. 10m); all when the demo closes")
    p.set_defaults(func=cmd_demo)


def _add_agent(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("agent", help="ask a question about a clip; the agent calls deft's tools")
    p.add_argument("question")
    p.add_argument("--video")
    p.add_argument("--image")
    p.add_argument("--text", help="what the person said (conversation context)")
    p.add_argument("--api-url", help="a tool-calling OpenAI-compatible chat server; default: offline intent routing")
    p.add_argument("--api-key")
    p.add_argument("--model-name", default="default")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_agent)


# What each subcommand reads and writes, shown in `deft --help` and in each subcommand's help.
INPUTS_OUTPUTS = {
    "analyze": ("video files (.mp4 ...), image-sequence folders or folders of videos",
                "a table on stdout, or one JSON object per clip (--json; always for several clips); --plot a PNG"),
    "synth": ("options (emotion, face, camera)", "an .mp4 file; its truth as JSON on stdout (--long: a .json too)"),
    "build-instructions": ("labelled clips (synthetic:N or a dataset folder)",
                           "a folder: instructions.jsonl, qc.jsonl, qc_summary.json; a JSON summary on stdout"),
    "train": ("a folder from build-instructions --features", "a model folder (--out) with README.md and curves.png"),
    "eval": ("a model folder and a data folder", "scores as JSON on stdout"),
    "explain": ("video files or folders of videos",
                "the analyze table plus an explanation in words (or JSON with --json; always for several clips; "
                "a long video: one JSON line per spotted interval)"),
    "serve": ("a model folder (default: the embedded one)", "an HTTP API (OpenAI-compatible) on --host:--port"),
    "demo": ("a model folder or a running deft serve", "a Gradio web page on --host:--port"),
    "agent": ("a question, optionally --video/--image/--text", "the answer on stdout (JSON with --json)"),
    "identity": ("images or clips with one face, and a --gallery folder",
                 "the gallery folder (gallery.sqlite, thumbs/); matches on stdout"),
    "manipulation": ("one face image or clip", "flags, a probability and reasons on stdout (JSON with --json)"),
    "expression": ("fit: a folder of labelled face images; predict: a model file and images",
                   "fit: a model .npz file; predict: labels on stdout (JSON with --json)"),
    "context": ("an utterance, optionally a clip (--video)", "fused emotion on stdout (JSON with --json)"),
    "pointcloud": ("a clip with one face, --model and/or --clouds", "JSON on stdout; --clouds an .npz of 3D clouds"),
    "quantum": ("options (clips, qubits, seed)", "one JSON line per encoding on stdout"),
}


def _describe_inputs_outputs(parser: argparse.ArgumentParser, sub: argparse._SubParsersAction) -> None:
    """Name every subcommand's input and output in its own help and in `deft --help`."""
    lines = []
    for name, p in sub.choices.items():
        if name in INPUTS_OUTPUTS:
            reads, writes = INPUTS_OUTPUTS[name]
            p.description = f"{(p.description or '')}Input: {reads}. Output: {writes}."
            lines.append(f"  {name:<19} {reads} -> {writes}")
    parser.epilog = "inputs -> outputs:\n" + "\n".join(lines)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def build_parser() -> argparse.ArgumentParser:
    from deft import __version__

    parser = argparse.ArgumentParser(prog="deft", description="Explain facial micro-expressions with measured evidence.")
    parser.add_argument("--version", action="version", version=f"deft {__version__}")
    parser.add_argument("--verbose", action="store_true", help="show the warnings and progress bars of "
                        "transformers and other libraries (hidden by default)")
    sub = parser.add_subparsers(dest="command", required=True)
    from deft.tools.commands import add_commands as add_tool_commands
    from deft.tools.expression_commands import add_commands as add_expression_commands
    from deft.tools.seed_commands import add_commands as add_seed_commands

    for add in (_add_analyze, _add_synth, _add_build_instructions, _add_train, _add_eval, _add_explain, _add_serve,
                _add_demo, _add_agent, add_tool_commands, add_expression_commands, add_seed_commands):
        add(sub)
    _describe_inputs_outputs(parser, sub)
    return parser


def _quiet_libraries() -> None:
    """Keep transformers' advisory warnings and weight-loading bars off stderr (shown with --verbose)."""
    import warnings

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    warnings.filterwarnings("ignore", module=r"(transformers|peft|huggingface_hub)(\.|$)")
    if "transformers" in sys.modules:  # imported already: its logging read the environment before we set it
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.verbose:
        _quiet_libraries()
    try:
        return args.func(args)
    except DeftError as err:
        print(f"deft: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("deft: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `deft ... | head` closed the pipe: stop quietly, as head's other writers do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not raise again
        return 0


if __name__ == "__main__":
    sys.exit(main())
