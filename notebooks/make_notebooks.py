"""Write the walkthrough notebooks (without outputs) from the cells below: `python notebooks/make_notebooks.py`.

The notebooks are generated so that their source reads as plain Python in review; edit the cells here and
rerun. tests/test_notebooks.py checks that the committed .ipynb files match this script and runs them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from textwrap import dedent

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def md(text: str) -> tuple[str, str]:
    return "markdown", dedent(text).strip()


def code(text: str) -> tuple[str, str]:
    return "code", dedent(text).strip()


ANALYZE_A_CLIP = [
    md("""
    # 01 · Analyse a clip

    A synthetic micro-expression of known truth goes through `deft.analyze`: phases, facial regions,
    Action Units with their evidence, the emotion, a plot, and a check against the truth.
    Everything runs offline in a few seconds.
    """),
    md("""
    ## 1. A clip with known ground truth

    `deft.data.synthetic` warps a real, public-domain face photo (here Grace Hopper, shipped with
    matplotlib) with AU-shaped motion over an onset → apex → offset profile, plus head drift and
    sensor noise. We ask for AU1 + AU2 (inner and outer brow raiser): a surprise.
    `deft synth out.mp4 --emotion surprise` does the same from the shell.
    """),
    code("""
    from deft.data.synthetic import SyntheticSpec, render
    from deft.video import write_video

    spec = SyntheticSpec(face="hopper", aus=(("AU1", 2.5), ("AU2", 2.5)),  # apex amplitudes in frame pixels
                         onset=5, apex=13, offset=21, seed=3)
    clip = render(spec)
    write_video(clip.frames, "surprise.mp4")  # near-lossless H.264, so the subtle motion survives
    print(f"{len(clip.frames)} frames of {clip.frames.shape[2]}x{clip.frames.shape[1]} px")
    print(f"truth: {clip.au_names}, {clip.emotion} ({clip.composite}), onset/apex/offset {spec.onset}/{spec.apex}/{spec.offset}")
    """),
    md("""
    ## 2. Analyse it

    `deft.analyze` is `deft analyze clip.mp4`: read the video, align the face, spot the phases, compute
    onset → apex optical flow with the head's own motion removed, measure 18 facial regions, apply the
    FACS rules, classify the emotion. It returns one typed `Analysis`.
    """),
    code("""
    import deft

    result = deft.analyze("surprise.mp4")
    print(f"{result.n_frames} frames; inter-ocular distance (IOD) {result.iod:.1f} px in the aligned crop")
    print("seconds per stage:", {stage: round(s, 2) for stage, s in result.timings.items()})
    """),
    md("""
    ### Phases

    The motion curve is the mean facial motion against frame 0 over the face's regions, in IOD (with speech or
    blinks in the clip, each region weighted by how still it is over the clip). The apex is its peak; onset and
    offset are where it falls under 15 % of the peak.
    """),
    code("""
    ph = result.phases
    print(f"onset {ph.onset}, apex {ph.apex}, offset {ph.offset} ({ph.source})")
    print("curve (IOD):", " ".join(f"{v:.4f}" for v in ph.curve))
    """),
    md("""
    ### Regions

    Each region is a disc anchored on the facial landmarks; left and right are the **subject's** sides.
    Motion is onset → apex, in crop pixels and in IOD. The six that moved most:
    """),
    code("""
    for r in sorted(result.regions, key=lambda r: -r.mean_iod)[:6]:
        lateral = f", {r.lateral}" if r.lateral else ""
        print(f"{r.name:<20} {r.mean_magnitude:5.2f} px  {r.mean_iod:.4f} IOD  {r.direction}{lateral}")
    """),
    md("""
    ### Action Units and their evidence

    An AU fires when the motion along its muscle's pull, in its regions, clears a threshold in IOD.
    `evidence` names the regions that back it: that is what a person can check.
    """),
    code("""
    for a in result.aus:
        print(f"{a.au} ({a.name}): confidence {a.confidence:.2f}, {a.strength_iod:.4f} IOD, side {a.side}")
        print("    evidence:", ", ".join(a.evidence))
    """),
    md("""
    ### Emotion

    EMFACS-style prototypes: the fine label is the prototype the fired AUs match best; the composite is
    the MEGC 2019 class (positive, negative, surprise; `none` when nothing moved).
    """),
    code("""
    e = result.emotion
    print(f"{e.label} ({e.fine}) from {' + '.join(e.matched)}")
    print("composite scores:", {label: round(score, 2) for label, score in e.scores.items()})
    """),
    md("""
    All of it as `deft analyze` prints it (`deft analyze --json` prints `result.to_dict()`):
    """),
    code("""
    from deft.report import format_table

    print(format_table(result))
    """),
    md("""
    ## 3. A picture

    `deft.plot.plot_analysis` (`deft analyze --plot apex.png`) draws the apex frame with the flow field and
    the AU evidence regions in red, beside the motion curve and the phases.
    """),
    code("""
    from IPython.display import Image

    from deft.plot import plot_analysis

    plot_analysis(result, "surprise.png")
    Image("surprise.png")
    """),
    md("""
    ## 4. Against the ground truth

    The synthetic truth is exact, so we can check the analysis. Onset and offset are threshold crossings
    of the curve, so they sit a frame or two inside the rendered ramp; the apex should be within ±2 frames.
    The `assert` makes CI fail if the pipeline drifts.
    """),
    code("""
    detected = {a.au for a in result.aus}
    print(f"AUs      truth {sorted(clip.au_names)}, detected {sorted(detected)}")
    print(f"emotion  truth {clip.emotion} ({clip.composite}), detected {e.fine} ({e.label})")
    print(f"phases   truth {spec.onset}/{spec.apex}/{spec.offset}, detected {ph.onset}/{ph.apex}/{ph.offset}")
    assert detected == set(clip.au_names) and e.label == clip.composite and abs(ph.apex - spec.apex) <= 2
    """),
]

BUILD_UNI_MER = [
    md("""
    # 02 · Build Uni-MER instructions

    Uni-MER pairs an instruction about a clip with an answer in which every sentence names the measured
    facts behind it. Here: a few synthetic clips → `build` (what `deft build-instructions` runs) → the QC
    report → one record of each instruction type → the claim checker.
    """),
    md("""
    ## 1. Jobs

    A job is one clip to build from. `jobs_from_source` reads the same sources as the command line
    (`synthetic:N[:SEED]`, `casme2:ROOT`, `samm:ROOT`, ...). We add one clip of our own with a wrong label,
    to watch quality control drop it.
    """),
    code("""
    from deft.data.synthetic import SyntheticSpec, render
    from deft.instruct.build import Job, build, jobs_from_source
    from deft.video import write_video

    jobs = jobs_from_source("synthetic:4:7")  # 4 clips, seed 7
    for job in jobs:
        print(job.clip_id, job.subject, dict(job.spec.aus))

    # a video file whose brows rise (AU1 + AU2), labelled as a smile (AU12, happiness)
    write_video(render(SyntheticSpec(face="hopper", aus=(("AU1", 2.5), ("AU2", 2.5)), seed=3)).frames, "brows.mp4")
    jobs.append(Job("mine", "hopper", "mislabelled", path="brows.mp4", aus=("AU12",), emotion="happiness",
                    composite="positive"))
    """),
    md("""
    ## 2. Build

    Each clip is analysed (`deft.analyze`) and its measurements are grounded against its labels. The
    dual-constraint check keeps a clip only if every labelled AU has motion in its regions **and** every
    strong motion is labelled. Out come `instructions.jsonl`, `qc.jsonl` and `qc_summary.json`; rerunning
    resumes. From the shell: `deft build-instructions synthetic:4:7 --out uni_mer` (add `--features` to
    save the experts' inputs for training, as notebook 03 does).
    """),
    code("""
    import json

    summary = build(jobs, "uni_mer", seed=0, progress=False)
    print(json.dumps(summary, indent=2))
    """),
    md("""
    ### The QC report, clip by clip

    `qc.jsonl` holds one line per clip: kept or not and why, the quality checks (face in every frame,
    landmark stability, face correlation, ...) and the AUs measured with their evidence regions, which
    later score the faithfulness of generated text.
    """),
    code("""
    qc = [json.loads(line) for line in open("uni_mer/qc.jsonl")]
    for q in qc:
        print(f"{q['clip']:<22} kept={q['kept']!s:<5} labelled {q['labels']['aus']}, measured {sorted(q['detected'])}")
        for reason in q["reasons"]:
            print("    dropped:", reason)
    print("\\nchecks of the first clip:", qc[0]["checks"])
    """),
    md("""
    ## 3. One record of each type

    Every kept clip gets one record per instruction type. `answer` is its sentences joined; each sentence
    lists the ids of the facts it rests on, and `facts` holds them: measured regions and AUs, the phases,
    the labelled emotion, EMFACS knowledge.
    """),
    code("""
    from deft.instruct.templates import INSTRUCTION_TYPES

    records = [json.loads(line) for line in open("uni_mer/instructions.jsonl")]
    first = records[0]["clip_id"]
    print(f"{len(records)} records; showing clip {first}\\n")
    for kind in INSTRUCTION_TYPES:
        record = next(r for r in records if r["clip_id"] == first and r["type"] == kind)
        print(f"[{kind}] {record['instruction']}")
        for sentence in record["sentences"]:
            print(f"    {sentence['text']}\\n        <- {sentence['facts']}")
        print()
    """),
    md("""
    The facts behind the `name_aus` answer:
    """),
    code("""
    named = next(r for r in records if r["clip_id"] == first and r["type"] == "name_aus")
    for fact_id in named["sentences"][0]["facts"]:
        print(fact_id, named["facts"][fact_id])
    """),
    md("""
    ## 4. The claim checker

    `unbacked_claims` finds every AU and facial region a sentence names and checks that the facts the
    sentence cites hold them. Every built record must come out clean:
    """),
    code("""
    from deft.instruct.claims import unbacked_claims

    problems = [p for r in records for p in unbacked_claims(r)]
    print(f"{sum(len(r['sentences']) for r in records)} sentences in {len(records)} records, {len(problems)} unbacked claims")
    assert not problems
    """),
    md("""
    What an unbacked claim looks like: add AU4 at the glabella to a sentence whose facts say nothing about
    either.
    """),
    code("""
    import copy

    tampered = copy.deepcopy(named)
    tampered["sentences"][0]["text"] += " AU4 also draws the brows together at the glabella."
    for problem in unbacked_claims(tampered):
        print(problem)
    """),
    md("""
    ### Faithfulness of free text

    A generated explanation cites no fact ids, so `faithfulness` compares what the text names with the
    evidence measured on the clip: precision = named and backed / named, recall = backed / all evidence.
    `deft eval --text` reports both (notebook 03).
    """),
    code("""
    from deft.instruct.claims import faithfulness

    measured = qc[0]["detected"]  # AU -> evidence regions
    regions = {region for evidence in measured.values() for region in evidence}
    print("measured:", measured)
    for text in ["AU12 pulls the right mouth corner and the left mouth corner up.",
                 "AU12 lifts the left mouth corner; AU6 raises the right cheek."]:
        f = faithfulness(text, set(measured), regions)
        print(f"{text}\\n    precision {f.precision:.2f}, recall {f.recall:.2f}, unsupported {sorted(f.unsupported)}")
    """),
]

FINE_TUNE = [
    md("""
    # 03 · Fine-tune

    The two training stages of `deft train`, on a **tiny random-init backbone** (a 2-layer Gemma 3 layout,
    width 64, built on the spot by `deft.model.tiny`), so that this runs offline in well under a minute.
    Every step of the real recipe runs; the numbers mean nothing. The real command is at the end.
    """),
    code("""
    import torch
    import transformers

    torch.manual_seed(0)
    torch.set_num_threads(1)  # models this small train faster on one thread, many times faster on busy cores
    transformers.logging.disable_progress_bar()  # no bars for saving and loading a 0.1 M-weight backbone
    """),
    md("""
    ## 1. Training data

    A training folder is what `deft build-instructions --features` writes: Uni-MER records (notebook 02)
    plus each kept clip's expert inputs under `features/`. Ten clips to train on, four held apart.
    """),
    code("""
    from deft.instruct.build import build, jobs_from_source
    from deft.train.data import load_training_set

    build(jobs_from_source("synthetic:10:31"), "data/train", features=True, progress=False)
    build(jobs_from_source("synthetic:4:32"), "data/held", features=True, progress=False)
    data, held = load_training_set("data/train"), load_training_set("data/held")
    print(f"train: {len(data.clips)} clips, {len(data.records)} records, subjects {data.subjects}")
    print(f"held apart: {len(held.clips)} clips")
    print(data.clips[0])
    print("expert inputs:", {name: array.shape for name, array in data.clips[0].features.to_npz().items()})
    """),
    md("""
    ## 2. The model

    A `DeftModel` is three experts (structure, dynamic texture, motion semantics) whose tokens a projector
    turns into soft tokens for the LLM, with heads (emotion, AUs) beside them. Every knob is in
    `DeftConfig`. The backbone is a Hugging Face causal-LM folder: we save the tiny one to disk so that the
    trained model can find it again when it is loaded.
    """),
    code("""
    from pathlib import Path

    from deft.model.backbone import load_backbone
    from deft.model.config import DeftConfig
    from deft.model.deft import DeftModel
    from deft.model.tiny import tiny_llm

    tiny, tokenizer = tiny_llm()
    tiny.save_pretrained("tiny-backbone")
    tokenizer.save_pretrained("tiny-backbone")

    config = DeftConfig(backbone=str(Path("tiny-backbone").resolve()), expert_dim=32, conv_width=8,
                        n_subjects=len(data.subjects))  # subjects: the motion expert's identity adversary
    llm, tokenizer = load_backbone(config.backbone)
    model = DeftModel(config, llm, tokenizer)
    print(f"{sum(p.numel() for p in model.parameters()):,} weights, {sum(p.numel() for p in llm.parameters()):,} of them the LLM's")
    """),
    md("""
    ## 3. Stage 1: experts and heads

    The experts and heads learn from the clips alone: classification losses (composite, fine emotion,
    AUs) plus disentanglement terms; the LLM is untouched. Both stages run through Hugging Face Accelerate, on CPU or
    GPU alike. The log gets one row per epoch.
    """),
    code("""
    from deft.eval.model_eval import evaluate_heads
    from deft.train.experts_stage import ExpertsStage, train_experts
    from deft.train.log import TrainingLog

    log = TrainingLog("run/log.jsonl")
    train_experts(model, data, ExpertsStage(epochs=30, batch_size=4), log, progress=False)
    print("last epoch:", log.rows()[-1])
    scores = evaluate_heads(model, held)
    print("held-apart clips:", {k: round(v, 2) for k, v in scores.items() if k != "per_au_f1"})
    """),
    md("""
    ## 4. Stage 2: instruction tuning with LoRA

    LoRA adapters on the LLM's attention projections learn to answer the Uni-MER instructions with the
    experts' soft tokens in the prompt. The projector trains too, the experts slowly, and the heads' loss
    stays in as an auxiliary term. Trainable weights are checkpointed every `checkpoint_every` steps, so an
    interrupted run can `resume`. A random backbone gives LoRA nothing to build on, hence the high rate;
    even so the LM loss falls only a little.
    """),
    code("""
    from deft.train.instruct_stage import InstructStage, train_instruct

    stage = InstructStage(max_steps=60, batch_size=4, max_answer_tokens=48, lr=1e-2, checkpoint_every=20)
    train_instruct(model, data, stage, "run", log, progress=False)
    lm = [row["lm_loss"] for row in log.rows() if row["stage"] == "instruct"]
    print(f"LM loss, mean of the first 10 steps {sum(lm[:10]) / 10:.3f}, of the last 10 {sum(lm[-10:]) / 10:.3f}")
    assert sum(lm[-10:]) < sum(lm[:10])
    """),
    md("""
    ## 5. The log and the curves

    `log.jsonl` has one JSON row per epoch (stage 1) or step (stage 2); `TrainingLog.plot` draws a panel
    per stage (`deft train` saves it as `curves.png` beside the model).
    """),
    code("""
    from IPython.display import Image

    rows = log.rows()
    for row in rows[:2] + rows[-2:]:
        print(row)
    log.plot("run/curves.png")
    Image("run/curves.png")
    """),
    md("""
    ## 6. Save and load

    `save_pretrained` writes `config.json`, `deft.safetensors` (experts, projector, heads) and `adapter/`
    (the LoRA adapter only, never the backbone's weights), with a model card. `from_pretrained` loads the
    backbone the config names and puts the adapter back on it: same heads, same answers.
    """),
    code("""
    from deft.eval.model_eval import AU_QUESTION
    from deft.model.batch import collate
    from deft.model.card import model_card

    model.save_pretrained("run/model", card=model_card(config))
    print(sorted(str(p.relative_to("run/model")) for p in Path("run/model").rglob("*") if p.is_file()))

    loaded = DeftModel.from_pretrained("run/model")
    batch = collate([held.clips[0].features])
    with torch.no_grad():
        same_heads = torch.allclose(loaded.classify(batch)[2]["composite"], model.classify(batch)[2]["composite"], atol=1e-5)
    same_text = loaded.generate(batch, AU_QUESTION, 16) == model.generate(batch, AU_QUESTION, 16)
    print(f"same head outputs: {same_heads}, same generated text: {same_text}")
    assert same_heads and same_text
    """),
    md("""
    ## 7. Evaluate

    `deft.eval` scores held-apart clips as `deft eval` does: the heads (MEGC composite UF1 and UAR, fine
    accuracy, macro AU F1) and, with `--text`, the generated answers: the same metrics read from the text,
    plus faithfulness (are the AUs and regions it names in the measured evidence?). From a random backbone
    the text is noise, and the text scores say so.
    """),
    code("""
    from deft.eval.model_eval import evaluate_text

    heads = evaluate_heads(loaded, held)
    text = evaluate_text(loaded, held, max_new_tokens=32)
    print("heads:", {k: round(v, 2) for k, v in heads.items() if k != "per_au_f1"})
    print("text: ", {k: round(v, 2) for k, v in text.items() if k != "samples"})
    print("an answer:", repr(text["samples"][0]["aus"]))
    """),
    md("""
    ## 8. In one call, and for real

    `deft.train.recipe.train(data_dir, out, config, ExpertsStage(...), InstructStage(...), eval_dir=...)`
    runs the cells above in order and also writes `scores.json`, `curves.png` and the model card;
    `deft train` is its command line. The embedded default checkpoint (`deft/checkpoints/default`, on
    Google's Gemma 3 270M base model) was trained with exactly this (41 min wall on 2 busy cores):

    ```bash
    deft build-instructions synthetic:240:100 --out data/train --features --workers 2
    deft build-instructions synthetic:60:200 --out data/held --features --workers 2
    deft train data/train --eval data/held --out deft/checkpoints/default --steps 600 --batch-size 2 \\
        --types describe_motion,name_aus,classify_emotion --max-answer-tokens 96 --eval-clips 20
    deft eval deft/checkpoints/default data/held --text
    ```
    """),
]

NOTEBOOKS = {
    "01_analyze_a_clip.ipynb": ANALYZE_A_CLIP,
    "02_build_uni_mer.ipynb": BUILD_UNI_MER,
    "03_fine_tune.ipynb": FINE_TUNE,
}


def make(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A notebook without outputs; cell ids are positional so the file is the same on every run."""
    nb = new_notebook(metadata={"kernelspec": KERNELSPEC, "language_info": {"name": "python"}})
    for i, (kind, source) in enumerate(cells):
        cell = new_markdown_cell(source) if kind == "markdown" else new_code_cell(source)
        cell.id = f"cell-{i:02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def render_all() -> dict[str, str]:
    """{file name: notebook JSON text} as written to disk."""
    return {name: nbformat.writes(make(cells)) + "\n" for name, cells in NOTEBOOKS.items()}


def main() -> int:
    for name, text in render_all().items():
        (HERE / name).write_text(text)
        print(f"wrote notebooks/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
