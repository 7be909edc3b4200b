"""`deft demo`: a Gradio chat about a clip: AU table, apex frame with flow, phase timeline, streamed answers.

It talks to the same engine code as `deft serve`, in process, or to a running server (`--api-url`).
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Iterator
from functools import lru_cache

from deft.errors import ConfigError
from deft.labels import said_emotion

EXAMPLES = (("happiness", "astronaut", 1), ("surprise", "hopper", 2), ("disgust", "astronaut", 3), ("repression", "hopper", 4))
AU_COLUMNS = ["AU", "name", "confidence", "side", "evidence"]
INTERVAL_COLUMNS = ["#", "face", "frames", "time (s)", "kind", "emotion", "AUs"]


@lru_cache(maxsize=1)
def example_clips() -> list[str]:
    """Synthetic clips of known truth, rendered once into a temp folder."""
    import numpy as np

    from deft.data.synthetic import random_spec, render
    from deft.video import write_video

    folder = os.path.join(tempfile.gettempdir(), "deft-demo-examples")
    os.makedirs(folder, exist_ok=True)
    paths = []
    for emotion, face, seed in EXAMPLES:
        path = os.path.join(folder, f"{emotion}_{face}.mp4")
        if not os.path.exists(path):
            write_video(render(random_spec(np.random.default_rng(seed), emotion, face, seed=seed)).frames, path)
        paths.append(path)
    return paths


class LocalBackend:
    """Analysis in process; answers from an Engine (transformers or vLLM)."""

    def __init__(self, engine):
        self.engine = engine

    def answer(self, video: str, analysis, question: str, max_tokens: int,
               interval: tuple[int, int] | None = None) -> Iterator[str]:
        """`analysis`: the clip's, or the picked interval's of a long video (`interval`, unused here)."""
        from deft.instruct.faithful import ClipFacts
        from deft.model.features import clip_features

        facts = ClipFacts.from_analysis(analysis.to_dict())
        yield from self.engine.explain(clip_features(analysis), question, max_tokens, facts=facts)


class RemoteBackend:
    """Answers from a running `deft serve` through the official openai client (streaming)."""

    def __init__(self, url: str, api_key: str | None):
        import openai

        self.client = openai.OpenAI(base_url=url.rstrip("/") + "/v1", api_key=api_key or "none")

    def answer(self, video: str, analysis, question: str, max_tokens: int,
               interval: tuple[int, int] | None = None) -> Iterator[str]:
        """`interval`: (face_id, onset) of the picked interval of a long video, which the server analyses again."""
        data = base64.b64encode(open(video, "rb").read()).decode()
        extra = {"interval": {"face_id": interval[0], "onset": interval[1]}} if interval else None
        stream = self.client.chat.completions.create(model="deft", stream=True, max_tokens=max_tokens, messages=[
            {"role": "user", "content": [{"type": "text", "text": question},
                                         {"type": "video_url", "video_url": {"url": f"data:video/mp4;base64,{data}"}}]}],
            extra_body=extra)
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content


def build_demo(backend, max_tokens: int = 160, keep_uploads_s: float = 3600.0):
    """The Gradio app; uploaded clips are deleted `keep_uploads_s` after upload (checked every tenth of that,
    at most every 10 min) and when the demo closes."""
    import gradio as gr

    from deft.analyze import analyze
    from deft.errors import DeftError
    from deft.instruct.faithful import ClipFacts, claims
    from deft.long.analyze import analyze_long_clips
    from deft.long.stream import longer_than_clip
    from deft.long.timeline import plot_timeline
    from deft.plot import plot_analysis
    from deft.report import one_line

    def png_path() -> str:
        return tempfile.NamedTemporaryFile(suffix=".png", delete=False).name

    def clip_view(result, frames: list[int] | None = None) -> tuple[list, str, str]:
        """AU rows, the apex plot and a one-line summary of a clip's (or an interval's) analysis; `frames`: the
        number shown for each clip frame (an interval's: the video's, as its row, warnings and report say)."""
        png = png_path()
        plot_analysis(result, png, frames)
        rows = [[a.au, a.name, round(a.confidence, 2), a.side, ", ".join(a.evidence)] for a in result.aus]
        return rows, png, one_line(result, frames)

    def on_video(video: str | None):
        """analysis, AU table, plot, summary; and for a long video its intervals, their table and timeline."""
        nothing = ([], [], None, None)
        if not video:
            return None, [], None, "Upload or record a clip of one face.", *nothing
        try:
            if not longer_than_clip(video):
                result = analyze(video)
                return result, *clip_view(result), *nothing
            result, clips = analyze_long_clips(video)
        except DeftError as err:
            return None, [], None, f"**Cannot analyse this clip:** {err}", *nothing
        timeline = png_path()
        plot_timeline(result, clips, timeline)
        rows = [[k, c.face_id, f"{c.interval['onset']}-{c.interval['offset']}",
                 "{:g}-{:g}".format(*c.interval["time_s"]), c.interval["kind"],
                 said_emotion(c.interval.get("emotion"), missing="not analysed"),
                 " ".join(a["au"] for a in c.interval.get("aus", []))] for k, c in enumerate(clips, start=1)]
        summary = (f"**A long video:** {len(result.faces)} face(s), {len(clips)} spotted interval(s). "
                   + ("Click one in the table (or give its number) to see its AUs and ask about it."
                      if clips else "Nothing to explain."))
        return None, [], None, summary, clips, rows, timeline, None

    def on_interval(number, clips):
        """The picked interval's analysis, AU table, plot and summary, and its (face_id, onset)."""
        if not clips:  # a short clip is shown: leave it
            return (gr.skip(),) * 5
        if number is None or not 1 <= int(number) <= len(clips):
            return None, [], None, f"Pick an interval from 1 to {len(clips)}.", None
        clip = clips[int(number) - 1]
        if clip.analysis is None:
            return None, [], None, f"**Interval {int(number)} was not analysed:** {clip.interval.get('error')}", None
        rows, png, summary = clip_view(clip.analysis, clip.analysis.frame_indices)
        return (clip.analysis, rows, png, f"interval {int(number)}: {clip.label()} · {summary}",
                (clip.face_id, clip.interval["onset"]))

    def on_row(evt) -> int:
        """The number of the interval whose table row was clicked."""
        return evt.index[0] + 1

    on_row.__annotations__["evt"] = gr.SelectData  # resolved here: Gradio passes the click by this type

    def on_chat(message: str, history: list, video: str | None, result, interval):
        history = list(history or []) + [{"role": "user", "content": message}]
        if result is None:
            yield history + [{"role": "assistant", "content": "Upload a clip first (or pick an interval of a long "
                                                              "video): I explain what its face did."}], "", []
            return
        text = ""
        for piece in backend.answer(video, result, message or "Explain this micro-expression.", max_tokens, interval):
            text += piece
            yield history + [{"role": "assistant", "content": text}], "", []
        checked = claims(text, ClipFacts.from_analysis(result.to_dict()))  # each claim with the fact it rests on
        yield history + [{"role": "assistant", "content": text}], "", [c.to_dict() for c in checked]

    if keep_uploads_s < 1:
        raise ConfigError("the demo keeps a clip while you ask about it: give --keep-uploads of 1s or more")
    delete_cache = (max(1, min(600, round(keep_uploads_s / 10))), round(keep_uploads_s))  # (every, older than)
    with gr.Blocks(title="deft: explain a micro-expression", delete_cache=delete_cache) as demo:
        gr.Markdown("# deft\nUpload or record a short clip of one face. deft measures which facial muscles moved "
                    "(FACS Action Units), where and how, and explains it; ask it questions below.")
        analysis = gr.State(None)  # the clip's, or the picked interval's of a long video
        clips = gr.State([])  # a long video's intervals (deft.long.analyze.IntervalClip)
        picked = gr.State(None)  # (face_id, onset) of the picked interval
        with gr.Row():
            with gr.Column(scale=1):
                # width: a 256 px clip would otherwise fill the column and push the AU table out of view
                # (height= would clip the upload/webcam bar in Gradio 6)
                video = gr.Video(sources=["upload", "webcam"], label="clip", elem_id="clip", width=360)
                gr.Examples(example_clips(), inputs=video, label="synthetic examples (known truth)",
                            example_labels=[f"{emotion} ({face})" for emotion, face, _ in EXAMPLES])
                summary = gr.Markdown(elem_id="summary")
                table = gr.Dataframe(headers=AU_COLUMNS, label="Action Units", interactive=False)
                timeline = gr.Image(label="long video: spotted intervals per face", type="filepath")
                intervals = gr.Dataframe(headers=INTERVAL_COLUMNS, label="long video: spotted intervals (click one)",
                                         interactive=False, elem_id="intervals")
                number = gr.Number(label="interval #", precision=0, elem_id="interval")
            with gr.Column(scale=1):
                plot = gr.Image(label="apex frame, flow and AU regions; phase timeline", type="filepath")
                chat = gr.Chatbot(label="explanation", elem_id="chat", height=320)
                question = gr.Textbox(label="ask", value="Which Action Units are active, and what is the evidence for each?",
                                      elem_id="question")
                ask = gr.Button("Explain", variant="primary", elem_id="ask")
                facts = gr.JSON(label="claims in the answer, each with the measured fact it rests on", elem_id="claims")
        video.change(on_video, inputs=video, outputs=[analysis, table, plot, summary, clips, intervals, timeline, picked])
        intervals.select(on_row, outputs=number)
        number.change(on_interval, inputs=[number, clips], outputs=[analysis, table, plot, summary, picked],
                      api_name="pick_interval")
        ask.click(on_chat, inputs=[question, chat, video, analysis, picked], outputs=[chat, question, facts],
                  api_name="explain")
        question.submit(on_chat, inputs=[question, chat, video, analysis, picked], outputs=[chat, question, facts])
    return demo


def parse_auth(text: str) -> tuple[str, str]:
    """USER:PASS (the password may hold colons) as Gradio's login pair."""
    user, sep, password = text.partition(":")
    if not (user and sep and password):
        raise ConfigError(f"--auth wants USER:PASS, got {text[:40]!r}")
    return user, password


def run_demo(host: str = "127.0.0.1", port: int = 7860, model_path: str | None = None, api_url: str | None = None,
             api_key: str | None = None, engine: str = "transformers", auth: str | None = None,
             keep_uploads_s: float = 3600.0) -> None:
    """Serve the demo; with `auth` ("USER:PASS", or DEFT_DEMO_AUTH) a login page comes first."""
    auth = auth or os.environ.get("DEFT_DEMO_AUTH") or None
    if api_url:
        backend = RemoteBackend(api_url, api_key)
    else:
        from deft.serve.server import make_engine

        backend = LocalBackend(make_engine(engine, model_path))
    build_demo(backend, keep_uploads_s=keep_uploads_s).queue(max_size=16).launch(server_name=host, server_port=port,
                                                  auth=parse_auth(auth) if auth else None)
