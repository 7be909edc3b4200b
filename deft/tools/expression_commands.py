"""`deft expression fit|predict` and `deft context`: thin CLI wrappers over the expression tools.

deft/cli.py wires them in with `add_commands(sub)`; errors are DeftErrors, which its main() turns
into one line and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import sys

from deft.options import given


def cmd_expression_fit(args: argparse.Namespace) -> int:
    from deft.tools.static_expression import StaticConfig, train_expression_model

    config = StaticConfig(**given(args, sift_words="words", orb_words="words", pca_dim="pca", seed="seed"))
    summary = train_expression_model(args.root, args.out, config)
    print(json.dumps(summary))
    print(f"deft: expression model for {', '.join(summary['labels'])} saved to {summary['path']}", file=sys.stderr)
    return 0


def cmd_expression_predict(args: argparse.Namespace) -> int:
    from deft.tools.static_expression import predict_expression

    for image, pred in zip(args.images, predict_expression(args.model, args.images)):
        if args.json:
            print(json.dumps({"image": image, **pred}))
        else:
            note = " (no face found: whole image used)" if pred["whole_image"] else ""
            print(f"{image}: {pred['label']} {pred['probabilities'][pred['label']]:.2f}{note}")
            for warning in pred["warnings"]:
                print(f"  warning: {warning} (model: {pred['validated_on']})")
    return 0


def cmd_context(args: argparse.Namespace) -> int:
    from deft.tools.context import context_emotion, context_for_video

    if args.video:
        out = context_for_video(args.text, args.video, **given(args, text_weight="text_weight"))
    else:
        out = context_emotion(args.text, None, **given(args, text_weight="text_weight"))
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"text: {out['text']['label']}  " + "  ".join(f"{k} {v:.2f}" for k, v in out["text"]["scores"].items()))
    if out["face_label"] is not None:
        print(f"face: {out['face_label']}")
        verdict = "agree" if out["agree"] else "DISAGREE: the words and the face point to different emotions"
        print(f"fused: {out['label']} (text weight {out['text_weight']}; {verdict})")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `deft expression fit|predict` and `deft context` on the main parser's subparsers."""
    p = sub.add_parser("expression", help="single-image expression model (dlib + SIFT/ORB words + PCA + softmax)")
    actions = p.add_subparsers(dest="expression_command", required=True)
    f = actions.add_parser("fit", help="train on ROOT/<label>/*.png|jpg (FER2013 layout)")
    f.add_argument("root", help="folder with one subfolder of face images per expression label")
    f.add_argument("--out", required=True, help="model file to write (.npz)")
    f.add_argument("--words", type=int, help="visual words per descriptor (SIFT, ORB)")  # defaults: StaticConfig
    f.add_argument("--pca", type=int, help="PCA dimensions kept")
    f.add_argument("--seed", type=int)
    f.set_defaults(func=cmd_expression_fit)
    q = actions.add_parser("predict", help="expression of the face in each image")
    q.add_argument("model", help="model file from `deft expression fit`")
    q.add_argument("images", nargs="+", help="image files")
    q.add_argument("--json", action="store_true", help="one JSON object per image")
    q.set_defaults(func=cmd_expression_predict)

    c = sub.add_parser("context", help="emotion of an utterance, fused with a clip's face evidence when --video is given")
    c.add_argument("text", help="the words spoken beside the clip")
    c.add_argument("--video", help="clip to run `deft analyze` on and fuse with")
    c.add_argument("--text-weight", type=float, help="0 = face only, 1 = text only ")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_context)
