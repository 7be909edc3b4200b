"""Faithful answers: the claim check on texts, and decoding that cannot state what the analysis did not measure."""

import random
import re

import pytest
import torch

from deft.instruct.faithful import ClipFacts, caveat, check, claims, first_unbacked
from deft.model.decode import _cache_kwarg, greedy_decode
from deft.model.guard import Guard
from deft.model.prompt import stop_ids
from tests.tiny import tiny_llm


def _region(name, direction, lateral=None, mean=1.75, peak=1.91, iod=0.0226):
    return {"name": name, "direction": direction, "lateral": lateral, "mean_magnitude": mean, "peak_magnitude": peak,
            "mean_iod": iod}


AU12_ONLY = {  # the shape of `deft analyze --json`, trimmed to what the checker reads
    "aus": [{"au": "AU12", "name": "lip corner puller", "confidence": 1.0, "strength_iod": 0.0229, "side": "both",
             "evidence": ["mouth_corner_right", "mouth_corner_left"]}],
    "regions": [_region("mouth_corner_right", "up-left", "outward"), _region("mouth_corner_left", "up-right", "outward"),
                _region("inner_brow_right", "down", "inward", 0.05, 0.07, 0.0005),
                _region("inner_brow_left", "down", "inward", 0.06, 0.09, 0.0008)],
    "emotion": {"label": "positive", "fine": "happiness"},
    "phases": {"onset": 8, "apex": 14, "offset": 20, "source": "spotted"},
    "fps": 30.0, "iod_px": 61.14, "warnings": [],
}
FACTS = ClipFacts.from_analysis(AU12_ONLY)


def unbacked(text: str) -> list[str]:
    return [c.text for c in claims(text, FACTS) if c.fact is None]


def test_a_faithful_answer_has_every_claim_backed():
    text = ("AU12 (lip corner puller) is active: the right mouth corner moves up and to the image left by 1.75 px "
            "(0.0226 IOD), outward. The motion starts at frame 8, peaks at frame 14 and fades by frame 20, "
            "0.4 s later; the lip corners rise while the lower lip stays still. This reads as positive (happiness).")
    found = claims(text, FACTS)
    assert not unbacked(text)
    assert {c.kind for c in found} >= {"au", "name", "region", "direction", "px", "iod", "frame", "emotion"}
    assert next(c for c in found if c.kind == "frame" and c.text == "14").fact["phase"] == "apex"


@pytest.mark.parametrize("text, wrong", [
    ("AU4 (brow lowerer) is active.", "AU4"),
    ("AU12 (lid tightener) is active.", "AU12 (lid tightener)"),
    ("AU12 (inner mouth corner puller) moved.", "AU12 (inner mouth corner puller)"),
    ("The right mouth corner moves down.", "down"),
    ("The right mouth corner moves by 1.55 px.", "1.55"),
    ("The motion starts at frame 1.55 px.", "1.55"),
    ("The motion peaks at frame 4.", "4"),
    ("This signals surprise.", "surprise"),
    ("The inner brows move down.", "inner brows"),  # measured, but too weak for any AU: not a movement
    ("AU12 did not move.", "AU12"),
    ("The left mouth corner stays still.", "left mouth corner"),
    ("The lip corners are lowered.", "lowered"),  # a verb states a direction, too
    ("The motion lasted 2.5 s.", "2.5"),  # seconds: the phases' times and the durations between them
    ("AU12 fired with 40 % confidence.", "40"),
    ("The smile is unilateral.", "unilateral"),  # AU12 fired on both sides
    ("AU12, the mouth corner puller, shows.", "AU12, the mouth corner puller,"),  # a name not in the table
    ("AU12, the lip corner, shows.", "AU12, the lip corner,"),  # a name cut short
    ("The left mouth corner moves up and to the image right and the image left.", "the image left"),
])
def test_an_unbacked_claim_is_caught(text, wrong):
    assert wrong in unbacked(text)
    assert first_unbacked(text, FACTS, final=True) is not None


OTHERS_CLIP = ClipFacts.from_analysis({**AU12_ONLY, "emotion": {"label": None, "fine": "others"}})


def test_neutral_is_the_label_none_not_others():
    """AUs moved that no prototype explains (`others`): "neutral (none)" says nothing moved, a real miss."""
    said = "This micro-expression reads as neutral (none)."
    assert unbacked_with(OTHERS_CLIP, said) == ["neutral", "none"] and unbacked(said) == ["neutral", "none"]
    assert not unbacked_with(OTHERS_CLIP, "It has no MEGC class (others); none of the prototypes fits.")
    assert "others" in unbacked("It reads as no MEGC class (others).")
    nothing = ClipFacts.from_analysis({**AU12_ONLY, "aus": [], "emotion": {"label": "none", "fine": "none"}})
    assert not unbacked_with(nothing, said)


def test_a_facs_name_after_its_code_is_read_and_its_words_are_no_direction():
    assert not unbacked("AU12, the lip corner puller, shows in the mouth corners.")
    assert not unbacked("AU12, the lip corner puller is active.")
    jaw = ClipFacts.from_analysis({**AU12_ONLY, "ordinary": {"aus": [{"au": "AU26", "name": "jaw drop", "sides": ["both"]}]}})
    assert not unbacked_with(jaw, "AU26 (jaw drop) and AU12 (lip corner puller) fired.")  # "drop" is the name's


def test_a_wrong_frame_after_a_phase_word_gets_the_measured_one():
    assert check("The motion starts at frame 2", FACTS).fix == "8"  # onset 8
    assert check("It peaks at frame 1", FACTS).bad is None  # may become 14
    assert check("It peaks at frame 12", FACTS).fix == "4"
    assert check("It peaks at frame 12.", FACTS, final=True).fix == "4"
    assert check("Something at frame 2", FACTS).fix is None  # no phase word: onset, apex or offset


def test_a_model_that_insists_on_a_wrong_frame_writes_the_measured_one():
    llm, tok = tiny_llm()
    insistent = Insistent(llm, tok.encode("Peak at frame 3.\n", add_special_tokens=False), tok.encode(".\n", add_special_tokens=False))
    embeds = llm.get_input_embeddings()(tok("When?", return_tensors="pt")["input_ids"])
    tokens, _ = greedy_decode(insistent, embeds, 16, stop_ids(tok), guard=Guard(tok, FACTS))
    text = tok.decode(tokens, skip_special_tokens=True)
    assert text.startswith("Peak at frame 14.") and first_unbacked(text, FACTS, final=True) is None, text


def test_a_negation_speaks_of_its_own_regions():
    assert not unbacked("The chin and the lower lip did not move.")
    assert not unbacked("The lip corners rise while the lower lip stays still.")
    assert unbacked("The lip corners and the chin stayed still.") == ["lip corners"]


def test_a_span_still_being_written_is_read_as_a_prefix():
    assert first_unbacked("It is AU1", FACTS) is None  # may become AU12
    assert first_unbacked("It is AU4", FACTS) == len("It is AU")  # cannot become a fired AU
    assert first_unbacked("AU12 (lip corner pu", FACTS) is None
    assert first_unbacked("AU12 (lip corner pa", FACTS) == len("AU12 (lip corner p")
    assert first_unbacked("It peaks at frame 1", FACTS) is None  # may become 14
    assert first_unbacked("It peaks at frame 2", FACTS) == len("It peaks at frame ")


@pytest.mark.parametrize("text, held", [
    ("AU12 (lip corner puller) moved: the right mouth corner moves ", ""),  # all of it may be streamed
    ("The motion peaks at frame 14 and ", ""),
    ("The right mouth corner moves up and to the im", "up and to the im"),  # may end "... image right"
    ("It moved by 1.75 p", "1.75 p"),  # px or pixels: which measurement it must match
    ("Then the brow low", "brow low"),  # "brow lowered" or "brow lowerer", a FACS name
    ("The inner brows did", "inner brows did"),  # did not move (backed) or moved (unbacked)?
    ("Upward goes the", "Upward goes the"),  # the region it describes comes later
    ("This reads as happ", "happ"),
    ("It is AU1", "AU1"),  # may become AU12 or fail: a guard must be able to take it back
    ("AU12 (lip corner", " (lip corner"),  # a FACS name in brackets, until it closes
])
def test_streaming_holds_back_only_what_may_still_turn_unbacked(text, held):
    verdict = check(text, FACTS)
    assert verdict.bad is None and text[verdict.safe:] == held


def test_the_guard_streams_whole_checked_sentences_only():
    """The sentence being written waits (the guard may still rewind it to its start or drop it)."""
    _, tok = tiny_llm()
    guard = Guard(tok, FACTS)
    tokens = tok.encode("AU12 (lip corner puller) moved. The right mouth corner moves up", add_special_tokens=False)
    assert guard.text(tokens[: guard.settled(tokens, False)]) == "AU12 (lip corner puller) moved."
    assert guard.settled(tokens[:3], False) == 0


FRAGMENTS = (" left side", " both sides", " rose", " lowered", " lower", " 0.2 s", " 100 %", "AU12", "AU4", "AU1", " (lip corner puller)", " (brow lowerer)", " (inner brow raiser)", " is active", " moved",
             ":", ",", ".", " the", " right mouth corner", " left mouth corner", " inner brows", " brows", " chin", " moves",
             " did not move", " stayed still", " up", " down", " up and to the image left", " up and to the image right",
             " upward", " outward", " by", " 1.75", " 61.14", " 0.0226", " 0.0229", " 3", " px", " IOD", " at frame", " 8",
             " 14", " peaks", " happiness", " surprise", " lip corner", " brow lowerer", " chin raiser", " not", " and",
             " upper lip", " lower lip", " action unit", " 12", " neutral", " (none)", " (others)", " (", "none", ", the", " lip corner puller", " mouth corner puller", " brow lowerer,")


@pytest.mark.parametrize("facts", [FACTS, OTHERS_CLIP, ClipFacts.from_analysis({**AU12_ONLY, "aus": [
    {"au": "AU1", "name": "inner brow raiser", "strength_iod": 0.03, "evidence": ["inner_brow_left", "inner_brow_right"]},
    {"au": "AU4", "name": "brow lowerer", "strength_iod": 0.02, "evidence": ["inner_brow_left"]}]})])
def test_text_streamed_as_safe_is_never_taken_back(facts):
    """Grown a character at a time, as a decoder writes: the first unbacked claim (where decoding turns back)
    never starts inside text an earlier check called safe to stream."""
    rng = random.Random(17)
    for _ in range(60):
        text, safe = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(2, 8))).strip(), 0
        for i in range(1, len(text) + 2):
            verdict = check(text[:i], facts, final=i > len(text))
            if verdict.bad is not None:
                assert verdict.bad >= safe, (text[:i], text[verdict.bad:], text[:safe])
                break
            safe = max(safe, verdict.safe)


def test_facts_are_read_by_key_so_new_aus_and_reliability_need_no_change():
    analysis = {**AU12_ONLY, "aus": [*AU12_ONLY["aus"], {"au": "AU26", "name": "jaw drop", "strength_iod": 0.05,
                                                          "evidence": []}],
                "reliable": False, "reliable_reason": "the head turned 40 degrees"}
    facts = ClipFacts.from_analysis(analysis)
    assert not [c for c in claims("AU26 and AU12 moved.", facts) if c.fact is None]
    assert "the head turned 40 degrees" in caveat(facts)


def test_nothing_moved_is_said_plainly():
    facts = ClipFacts.from_analysis({**AU12_ONLY, "aus": [], "emotion": {"label": "none", "fine": "none"}})
    assert "no Action Unit fired" in caveat(facts)
    assert caveat(FACTS) is None
    assert "AU12" in unbacked_with(facts, "AU12 moved.")


def test_ordinary_motion_alone_is_named_but_not_explained_as_an_expression():
    blink = {"events": [], "aus": [{"au": "AU45", "name": "blink", "kind": "blink", "sides": ["both"], "frames": [[3, 9]]}]}
    facts = ClipFacts.from_analysis({**AU12_ONLY, "aus": [], "ordinary": blink, "emotion": {"label": "none"}})
    assert not facts.expressive and "AU45 (blink)" in caveat(facts)
    assert not unbacked_with(facts, "AU45 (blink) happened.") and "AU12" in unbacked_with(facts, "AU12 moved.")


def unbacked_with(facts, text):
    return [c.text for c in claims(text, facts) if c.fact is None]


class Insistent(torch.nn.Module):
    """An LLM that wants to say `target` over and over: its logits get +50 on the target's next token. A model
    that names AU4 whatever it is shown, to check that the guard, not the model, keeps AU4 out."""

    def __init__(self, llm, target: list[int], resume: list[int] = ()):
        """After a token not in `target` (one the guard wrote in) it says `resume` (e.g. ". "), then `target`."""
        super().__init__()
        self.llm, self.config, self.name = llm, llm.config, _cache_kwarg(llm)
        self.next = {a: b for a, b in zip(target, target[1:] + target[:1])}
        self.first, self.unknown = target[0], (resume or target)[0]
        self.next.update({a: b for a, b in zip(resume, [*resume[1:], target[0]])})

    def get_input_embeddings(self):
        return self.llm.get_input_embeddings()

    def forward(self, input_ids=None, inputs_embeds=None, cache=None, use_cache=True, logits_to_keep=0):
        out = self.llm(input_ids=input_ids, inputs_embeds=inputs_embeds, **{self.name: cache}, use_cache=use_cache,
                       logits_to_keep=logits_to_keep)
        logits = out.logits.clone()
        favoured = ([self.first] if input_ids is None else [self.next.get(int(t), self.unknown) for t in input_ids[0]])
        for i, token in enumerate(favoured[-logits.shape[1]:]):
            logits[0, i, token] += 50.0
        out.logits = logits
        return out


@pytest.mark.parametrize("question", ["Which Action Units are active?", "Did the brows lower (AU4)? Say AU4."])
def test_an_au12_clip_cannot_produce_au4_even_from_a_model_that_insists(question):
    llm, tok = tiny_llm()
    insistent = Insistent(llm, tok.encode("AU4 (brow lowerer) moved down at frame 3.", add_special_tokens=False))
    prompt = tok(question, return_tensors="pt")["input_ids"]
    embeds = llm.get_input_embeddings()(prompt)
    free, _ = greedy_decode(insistent, embeds, 40, stop_ids(tok))
    assert "AU4" in tok.decode(free)  # without the guard the model does say it
    tokens, stats = greedy_decode(insistent, embeds, 40, stop_ids(tok), guard=Guard(tok, FACTS))
    text = tok.decode(tokens, skip_special_tokens=True)
    assert "AU4" not in text and "brow lowerer" not in text and not re.search(r"frame\s+3\b", text)
    assert stats["rewinds"] > 0 and first_unbacked(text, FACTS, final=True) is None


def test_a_wrong_emotion_verdict_gets_the_analysis_label_and_a_negated_one_a_ban():
    assert check("This reads as surprise.", FACTS, final=True).fix == "positive (happiness)"
    assert check("It reads as neutral (none)", OTHERS_CLIP).fix.startswith("no MEGC class (others): ")
    assert check("This is not surprise.", FACTS, final=True).fix is None
    assert check("It reads as positive (happiness), never anger.", FACTS, final=True).fix is None


def test_the_template_wording_with_none_filled_in_is_a_verdict_too():
    """Answers in the Uni-MER template's own words: "The most likely emotion is none, a none expression." on a
    clip the analysis reads as happiness states a label the analysis does not give."""
    text = "The most likely emotion is none, a none expression."
    verdict = check(text, FACTS, final=True)
    assert verdict.bad == text.index("none") and verdict.fix == "positive (happiness)"
    assert check("None of the regions moved.", FACTS, final=True).bad is None  # "none" that is no verdict


@pytest.mark.parametrize("facts, label", [(OTHERS_CLIP, "no MEGC class (others)"), (FACTS, "positive (happiness)")])
def test_a_model_that_insists_on_neutral_states_the_analysis_label(facts, label):
    """The label a model was never taught (`others`) is written in where its verdict goes wrong; the model goes
    on from there; its next "neutral" is only banned."""
    llm, tok = tiny_llm()
    insistent = Insistent(llm, tok.encode("Reads neutral (none).\n", add_special_tokens=False),
                          tok.encode(".\n", add_special_tokens=False))
    embeds = llm.get_input_embeddings()(tok("Which emotion?", return_tensors="pt")["input_ids"])
    guard = Guard(tok, facts)
    tokens, stats = greedy_decode(insistent, embeds, 40, stop_ids(tok), guard=guard)
    text = tok.decode(tokens, skip_special_tokens=True)
    assert label in text and "neutral" not in text and "(none)" not in text, text
    assert guard.fixed and first_unbacked(text, facts, final=True) is None


@pytest.mark.slow
def test_the_default_checkpoint_cannot_say_au4_about_an_au12_clip(tmp_path):
    from deft.analyze import analyze
    from deft.data.synthetic import SyntheticSpec, render
    from deft.explain import load_model
    from deft.model.batch import collate
    from deft.model.features import clip_features
    from deft.video import write_video

    path = tmp_path / "au12.mp4"
    write_video(render(SyntheticSpec(face="hopper", aus=(("AU12", 2.5),), seed=4343)).frames, path)
    analysis = analyze(path)
    assert [a.au for a in analysis.aus] == ["AU12"]
    facts, batch, model = ClipFacts.from_analysis(analysis.to_dict()), collate([clip_features(analysis)]), load_model()
    for question in ("Did the brows lower (AU4)?", "Which Action Units are active? Name AU4 (brow lowerer) too.",
                     "Explain AU4 in this clip."):
        text = model.generate(batch, question, 60, facts=facts)
        assert "AU4" not in text and "brow lowerer" not in text, (question, text)
        assert first_unbacked(text, facts, final=True) is None, (question, text)



def test_the_vllm_engine_writes_the_label_in_as_transformers_does(happy_mp4):
    """vLLM says "anger" about a happiness clip: the guard's label goes in without asking it (a ban alone would
    leave "It reads as so."), and the answer goes on from the label, as TransformersEngine's decoding does."""
    from deft.analyze import analyze
    from deft.model.config import DeftConfig
    from deft.model.deft import DeftModel
    from deft.model.features import clip_features
    from deft.serve.engines import VLLMEngine
    from deft.serve.vllm_process import connect_vllm
    from tests.loopback import run_in_thread
    from tests.test_serve_vllm import _stand_in

    llm, tok = tiny_llm()
    model = DeftModel(DeftConfig(expert_dim=32, conv_width=8), llm, tok).eval()
    analysis = analyze(happy_mp4)
    facts = ClipFacts.from_analysis(analysis.to_dict())
    seen: list[dict] = []  # a vLLM whose answer starts "It reads as anger" and from any later point goes on " so."
    url, server, thread = run_in_thread(_stand_in(seen, lambda at, body: [*tok.encode(
        "It reads as anger so." if at == 0 else " so.", add_special_tokens=False), tok.eos_token_id]))
    try:
        engine = VLLMEngine(model, connect_vllm(url + "/v1"))
        text = "".join(engine.explain(clip_features(analysis), "Which emotion?", 30, facts=facts))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert text == "It reads as positive (happiness) so.", (text, analysis.emotion)
    assert not any("logit_bias" in body for body in seen)  # written in, not banned


class Scripted(Insistent):
    """An LLM that wants to say `script` once, token by token by answer position (+50 on the logit of the
    script's token at each position), then the stop token."""

    def __init__(self, llm, script: list[int], stop: int):
        super().__init__(llm, script)
        self.script, self.stop, self.prompt = script, stop, 0

    def forward(self, input_ids=None, inputs_embeds=None, cache=None, use_cache=True, logits_to_keep=0):
        cache = cache if cache is not None else None
        before = cache.get_seq_length() if cache is not None else 0
        if input_ids is None:
            self.prompt = inputs_embeds.shape[1]
        out = self.llm(input_ids=input_ids, inputs_embeds=inputs_embeds, **{self.name: cache}, use_cache=use_cache,
                       logits_to_keep=logits_to_keep)
        logits = out.logits.clone()
        first = 0 if input_ids is None else before - self.prompt + 1  # answer position the first logits predict
        for i in range(logits.shape[1]):
            p = first + i
            logits[0, i, self.script[p] if p < len(self.script) else self.stop] += 50.0
        out.logits = logits
        return out


class Pieces:
    """A streamer keeping what it is given (its first put is the prompt)."""

    def __init__(self):
        self.ids: list[int] = []
        self.puts = -1

    def put(self, value):
        self.puts += 1
        self.ids += value.tolist() if self.puts else []

    def end(self):
        pass


@pytest.mark.parametrize("said, budget", [
    ("AU12 (lip corner puller) moved.\nThe right mouth corner moves down and", 60),  # gives up at "down"
    ("AU12 (lip corner puller) moved.\nThe right mouth corner moves up and to the image left, and the", 24),  # length
])
def test_an_answer_cut_short_ends_at_its_last_whole_checked_sentence(monkeypatch, said, budget):
    """A guard that gives up, or an answer that runs out of tokens mid-sentence, ends on a full stop; what was
    streamed is the answer itself (nothing taken back, nothing past it)."""
    monkeypatch.setattr("deft.model.guard.MAX_REWINDS", 0)  # the first unbacked claim makes it give up
    llm, tok = tiny_llm()
    insistent = Scripted(llm, tok.encode(said, add_special_tokens=False), tok.eos_token_id)
    embeds = llm.get_input_embeddings()(tok("What moved?", return_tensors="pt")["input_ids"])
    streamed = Pieces()
    tokens, stats = greedy_decode(insistent, embeds, budget, stop_ids(tok), streamer=streamed, guard=Guard(tok, FACTS))
    text = tok.decode(tokens, skip_special_tokens=True)
    assert text.strip() == "AU12 (lip corner puller) moved.", (text, stats)
    assert streamed.ids == tokens and stats["gave_up"] == ("down" in said)


QUESTION = "Which Action Units are active, and what is the evidence for each?"  # deft explain's
WITH_AU25 = ClipFacts.from_analysis({**AU12_ONLY, "aus": [*AU12_ONLY["aus"], {
    "au": "AU25", "name": "lips part", "strength_iod": 0.03, "side": "centre", "evidence": ["lower_lip", "upper_lip"]}],
    "regions": [*AU12_ONLY["regions"], _region("lower_lip", "down"), _region("upper_lip", "up-left")]})


@pytest.mark.parametrize("question, named", [(QUESTION, True), ("Name every Action Unit with its FACS name.", True),
                                             ("Which muscles moved, and where?", True), ("Is the person angry?", False)])
def test_an_answer_about_the_aus_names_every_fired_expression_au(question, named):
    """The model stops after AU12: the guard adds one backed sentence for AU25 (its FACS name, its regions'
    measured directions), before the stop token; a question not about the AUs is left as the model said it."""
    llm, tok = tiny_llm()
    insistent = Scripted(llm, tok.encode("AU12 (lip corner puller) is active.", add_special_tokens=False),
                         tok.eos_token_id)
    embeds = llm.get_input_embeddings()(tok(question, return_tensors="pt")["input_ids"])
    streamed = Pieces()
    tokens, _ = greedy_decode(insistent, embeds, 80, stop_ids(tok), streamer=streamed,
                              guard=Guard(tok, WITH_AU25, question))
    text = tok.decode(tokens, skip_special_tokens=True)
    assert tokens[-1] == tok.eos_token_id and first_unbacked(text, WITH_AU25, final=True) is None, text
    assert streamed.ids == tokens
    added = ("AU12 (lip corner puller) is active. AU25 (lips part) is active: the lower lip moves downward and the "
             "upper lip moves up and to the image left.")
    assert text == (added if named else "AU12 (lip corner puller) is active."), text


def test_coverage_adds_nothing_past_the_token_budget_or_to_an_answer_that_names_every_au():
    from deft.instruct.coverage import missing

    assert missing("AU25 and AU12 fired.", WITH_AU25) == ""
    assert missing("AU12 fired.", WITH_AU25).startswith(" AU25 (lips part) is active: ")
    _, tok = tiny_llm()
    tokens = [*tok.encode("AU12 (lip corner puller) is active.", add_special_tokens=False), tok.eos_token_id]
    assert Guard(tok, WITH_AU25, QUESTION).end(tokens, 0, len(tokens) + 3) == tokens  # no room: left as it is


@pytest.mark.parametrize("said, budget", [("AU12 (lip corner puller) is active. The right mouth corner moves", 24),
                                          ("AU12 (lip corner puller) is active.", 120)])
def test_both_engines_end_an_answer_alike(happy_mp4, said, budget):
    """The same greedy answer from vLLM (a stand-in) and from transformers (a scripted tiny model) ends the same
    way: cut back to its last whole sentence at the token budget, or, at its stop token, with the sentence the
    guard adds for the fired AU it did not name (the happy clip fires AU6 + AU12)."""
    from deft.analyze import analyze
    from deft.model.config import DeftConfig
    from deft.model.deft import DeftModel
    from deft.model.features import clip_features
    from deft.serve.engines import TransformersEngine, VLLMEngine
    from deft.serve.vllm_process import connect_vllm
    from tests.loopback import run_in_thread
    from tests.test_serve_vllm import _stand_in

    llm, tok = tiny_llm()
    script = tok.encode(said, add_special_tokens=False)
    analysis = analyze(happy_mp4)
    facts, features = ClipFacts.from_analysis(analysis.to_dict()), clip_features(analysis)
    model = DeftModel(DeftConfig(expert_dim=32, conv_width=8), llm, tok).eval()
    url, server, thread = run_in_thread(_stand_in([], lambda at, body: [*script[at:], tok.eos_token_id]))
    try:
        by_vllm = "".join(VLLMEngine(model, connect_vllm(url + "/v1")).explain(features, QUESTION, budget, facts=facts))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    model.llm = Scripted(llm, script, tok.eos_token_id)
    by_transformers = "".join(TransformersEngine(model).explain(features, QUESTION, budget, facts=facts))
    assert by_vllm == by_transformers and by_vllm.startswith("AU12 (lip corner puller) is active."), by_vllm
    assert first_unbacked(by_vllm, facts, final=True) is None
    assert ("AU6 (cheek raiser) is active" in by_vllm) == (budget == 120), by_vllm


def test_the_questions_that_ask_for_the_aus():
    """Every Uni-MER phrasing of "name the AUs" asks for them (coverage applies); the JSON and emotion ones do
    not (a sentence after a JSON object would break it)."""
    from deft.instruct.coverage import asks_for_aus
    from deft.instruct.templates import load_templates

    templates = load_templates()
    assert all(asks_for_aus(q) for q in templates["name_aus"]["instructions"])
    assert not any(asks_for_aus(q) for kind in ("structured", "classify_emotion", "describe_motion")
                   for q in templates[kind]["instructions"])


def test_the_eye_distance_of_the_video_and_of_the_crop_may_be_quoted():
    """A long interval is analysed on an upscaled crop: both eye distances are measured numbers (JSON keys)."""
    facts = ClipFacts.from_analysis({**AU12_ONLY, "iod_px": 61.14, "crop_iod_px": 61.14, "source_iod_px": 21.6,
                                     "quality": {"iod_px": 21.6}})
    assert not unbacked_with(facts, "The eyes are 21.6 px apart in the video, 61.14 px in the crop.")
    assert not unbacked_with(facts, "The inter-ocular distance is 21.6.")
    assert unbacked_with(facts, "The eyes are 22.6 px apart.") == ["22.6"]
    assert unbacked_with(facts, "The right mouth corner moves by 21.6 px.") == ["21.6"]  # not a motion


# What deft explain was seen to say against its own analysis (long-video intervals, dev clips): a macro motion
# called a micro-expression, an AU fired on both sides said to be on one, an AU named twice as two reasons,
# "reads as none" for a clip with a label.
MACRO = ClipFacts.from_analysis({**AU12_ONLY, "quality": {"motion_kind": "macro"}})
ONE_SIDED = ClipFacts.from_analysis({**AU12_ONLY, "aus": [
    {**AU12_ONLY["aus"][0], "side": "right"},
    {"au": "AU7", "name": "lid tightener", "confidence": 0.9, "strength_iod": 0.02, "side": "both", "evidence": []}]})


@pytest.mark.parametrize("facts, text, wrong", [
    (MACRO, "This micro-expression reads as positive (happiness).", "micro-expression"),
    (FACTS, "This macro expression reads as positive (happiness).", None),  # no quality: not measured, not judged
    (ClipFacts.from_analysis({**AU12_ONLY, "quality": {"motion_kind": "longer"}}), "A micro-expression.", "micro-expression"),
    (ClipFacts.from_analysis({**AU12_ONLY, "quality": {"motion_kind": "micro"}}), "This micro-expression reads as positive (happiness).", None),
    (ONE_SIDED, "AU7 (lid tightener) is active on the left side.", "left side"),  # AU7 fired on both
    (ONE_SIDED, "AU12 (lip corner puller) is active on the left side.", "left side"),  # on the right only
    (ONE_SIDED, "AU12 (lip corner puller) is active on the right side.", None),
    (ONE_SIDED, "AU7 (lid tightener) shows on both sides.", None),
    (ONE_SIDED, "AU7 (lid tightener) is unilateral.", "unilateral"),
    (ONE_SIDED, "AU12 (lip corner puller) is unilateral.", None),
    (FACTS, "The reason is AU12 (lip corner puller) and AU12 (lip corner puller).", "AU12"),
    (FACTS, "AU12 (lip corner puller) fired. AU12 (lip corner puller) is the reason.", None),  # a new sentence
    (FACTS, "This reads as none (happiness).", "none"),
])
def test_what_the_analysis_contradicts_is_caught(facts, text, wrong):
    bad = unbacked_with(facts, text)
    assert bad == ([wrong] if wrong else []), bad


def test_a_repeated_au_is_refused_at_its_second_code():
    text = "The reason is AU12 (lip corner puller) and AU12"
    assert check(text, FACTS, final=True).bad == text.rindex("AU12")


def test_a_model_that_insists_on_micro_for_a_macro_motion_cannot_say_it():
    llm, tok = tiny_llm()
    insistent = Insistent(llm, tok.encode("This micro-expression is AU12.", add_special_tokens=False))
    embeds = llm.get_input_embeddings()(tok("What happened?", return_tensors="pt")["input_ids"])
    free, _ = greedy_decode(insistent, embeds, 30, stop_ids(tok))
    assert "micro" in tok.decode(free)  # without the guard the model does say it
    tokens, stats = greedy_decode(insistent, embeds, 30, stop_ids(tok), guard=Guard(tok, MACRO))
    text = tok.decode(tokens, skip_special_tokens=True)
    assert "micro" not in text and stats["rewinds"] > 0 and first_unbacked(text, MACRO, final=True) is None


@pytest.mark.parametrize("facts, text, fix", [
    (MACRO, "This micro-expression", "macro-expression"),
    (ONE_SIDED, "AU7 (lid tightener) is active on the left side", "two sides"),
    (ONE_SIDED, "AU7 (lid tightener) is left-sided", "both sides"),
    (ONE_SIDED, "AU12 (lip corner puller) is active on both sides", "right side"),
    (ONE_SIDED, "AU7, on the right side", "two sides"),  # not "on the both sides"
])
def test_a_wrong_kind_or_side_gets_the_measured_one_written_in(facts, text, fix):
    assert check(text + ".", facts, final=True).fix == fix


@pytest.mark.parametrize("text, wrong", [
    ("The reason is AU-4 (brow lowerer).", "AU-4"),  # a hyphen does not hide a code
    ("The reason is AU FA25.", "AU "),  # a code gone astray
    ("It reads as positive (despair).", "despair"),  # a bracket after a class holds a label
])
def test_codes_and_labels_in_other_spellings_are_checked(text, wrong):
    assert wrong in unbacked(text), unbacked(text)
