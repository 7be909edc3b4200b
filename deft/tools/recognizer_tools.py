"""The classical recognizers as LangChain tools: identity, manipulation, expression, conversation context."""

from __future__ import annotations

import json
from dataclasses import asdict

from langchain_core.tools import BaseTool, tool

from deft.errors import DeftError


def _answer(fn, *args, **kwargs) -> str:
    try:
        return json.dumps(fn(*args, **kwargs), default=str)
    except DeftError as err:
        return json.dumps({"error": str(err)})


@tool
def identify_face(image_path: str, gallery: str = "gallery", k: int = 3) -> str:
    """Who is the person in an image or clip? Searches the local consented face gallery.

    Args: image_path: image or video file with one face; gallery: gallery folder; k: candidates.
    Returns JSON: the k closest enrolled people with their descriptor distance and whether each is
    accepted as a match (within the calibrated threshold). Empty when nobody is enrolled.
    """
    from deft.tools.identity import Gallery

    return _answer(lambda: [asdict(m) for m in Gallery(gallery).search(image_path, k)])


@tool
def manipulation_check(image_path: str) -> str:
    """Was a face photo or clip edited? Checks for beauty/smoothing filters and pasted (spliced) faces; compression is not an edit.

    Args: image_path: image or video file with a face.
    Returns JSON: a verdict (unmodified, compressed, smoothed, spliced, inconclusive) with its reason, the
    calibrated probability and the threshold it flags at, each flag, and the noise features they rest on.
    """
    from deft.tools.manipulation import check_manipulation

    return _answer(lambda: check_manipulation(image_path).to_dict())


@tool
def text_context(text: str, video_path: str = "") -> str:
    """What emotion does an utterance express, and does it agree with the face? Uses the packaged MiniLM sentence embedder.

    Args: text: what the person said; video_path: optional clip of their face to fuse with.
    Returns JSON: the text emotion (positive/negative/surprise/neutral) with scores, and when a clip is
    given the late fusion with deft's face evidence and whether text and face agree.
    """
    from deft.tools.context import context_emotion, context_for_video

    return _answer(lambda: context_for_video(text, video_path) if video_path else context_emotion(text))


@tool
def static_expression(model_path: str, image_path: str) -> str:
    """Expression of the face in a still photo, with a static expression model trained by `deft expression fit`.

    Args: model_path: the saved model (.npz); image_path: photo with one face.
    Returns JSON: the predicted label and the probability of each label.
    """
    from deft.tools.static_expression import predict_expression

    return _answer(lambda: predict_expression(model_path, [image_path])[0])


@tool
def dynamic_expression(model_folder: str, video_path: str) -> str:
    """Expression of a whole video clip by multi-instance learning over short segments (a trained dynamic model).

    Args: model_folder: the saved dynamic model folder; video_path: the clip.
    Returns JSON: label, probabilities, and which segment (first and last frame) decided it.
    """
    from deft.tools.dynamic_expression import predict_clip

    return _answer(lambda: predict_clip(model_folder, video_path))


@tool
def point_cloud_expression(model_folder: str, video_path: str) -> str:
    """Expression of a clip read from its per-frame 3D facial point clouds (landmarks lifted with the head pose).

    Args: model_folder: a point-cloud model folder (benchmarks/bench_seeds.py --save); video_path: the clip.
    Returns JSON: fine emotion, composite class, present AUs, their probabilities, frames and frames lost.
    """
    from deft.pointcloud.predict import predict_video

    return _answer(lambda: predict_video(model_folder, video_path))


def recognizer_tools() -> list[BaseTool]:
    return [identify_face, manipulation_check, text_context, static_expression, dynamic_expression,
            point_cloud_expression]
