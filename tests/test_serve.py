"""`deft serve` for real: uvicorn on loopback, the official openai client and langchain's ChatOpenAI."""

import base64
import threading
import time
from types import SimpleNamespace

import httpx
import openai
import pytest
import torch

from deft.model.config import DeftConfig
from deft.model.deft import DeftModel
from deft.model.prompt import stop_ids
from deft.serve.api import create_app
from deft.serve.engines import TransformersEngine
from deft.serve.settings import ServeSettings
from tests.loopback import run_in_thread
from tests.open_watch import watch_open
from tests.tiny import tiny_llm, tiny_tokenizer

KEY = "test-key"


class SlowEngine(TransformersEngine):
    """The real engine, held for a moment per request so a flood meets a full queue."""

    def complete(self, prompt, max_new_tokens, count=None, stop=None):
        time.sleep(0.3)
        return super().complete(prompt, max_new_tokens, count, stop)


@pytest.fixture(scope="module")
def model():
    llm, tok = tiny_llm()
    return DeftModel(DeftConfig(expert_dim=32, conv_width=8), llm, tok).eval()


@pytest.fixture(scope="module")
def server(model):
    settings = ServeSettings(api_keys=frozenset({KEY}), max_upload_bytes=2 * 2**20, max_new_tokens=16, max_queue=2)
    url, server, thread = run_in_thread(create_app(SlowEngine(model), settings))
    yield url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server + "/v1", api_key=KEY, max_retries=0, timeout=120)


def _video_part(path) -> dict:
    data = base64.b64encode(open(path, "rb").read()).decode()
    return {"type": "video_url", "video_url": {"url": f"data:video/mp4;base64,{data}"}}


def test_models_and_chat_with_a_clip(client, happy_mp4):
    assert [m.id for m in client.models.list()] == ["deft"]
    reply = client.chat.completions.create(model="deft", max_tokens=8, messages=[
        {"role": "user", "content": [{"type": "text", "text": "Which AUs moved?"}, _video_part(happy_mp4)]}])
    assert isinstance(reply.choices[0].message.content, str)
    extra = reply.model_extra
    assert extra["engine"] == "transformers"
    assert {a["au"] for a in extra["deft"]["aus"]} == {"AU6", "AU12"}
    assert extra["deft"]["emotion"]["label"] == "positive"


def test_streaming(client, happy_mp4):
    stream = client.chat.completions.create(model="deft", max_tokens=8, stream=True, messages=[
        {"role": "user", "content": [_video_part(happy_mp4)]}])
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_uploaded_file_id(client, happy_mp4):
    uploaded = client.files.create(file=open(happy_mp4, "rb"), purpose="vision")
    reply = client.chat.completions.create(model="deft", max_tokens=4, messages=[
        {"role": "user", "content": [{"type": "file", "file": {"file_id": uploaded.id}}]}])
    assert reply.model_extra["deft"]["emotion"]["fine"] == "happiness"


def test_completions(client):
    out = client.completions.create(model="deft", prompt="The cheek raiser is", max_tokens=4)
    assert isinstance(out.choices[0].text, str)


def test_usage_counts_tokens(client, model):
    """usage holds the tokens the LLM read and generated (stop token included), not words."""
    tok, prompt = model.tokenizer, "The cheek raiser is"
    ids = tok(prompt, return_tensors="pt")
    out = model.llm.generate(**ids, max_new_tokens=6, do_sample=False, eos_token_id=stop_ids(tok),
                             pad_token_id=tok.pad_token_id or tok.eos_token_id)
    read, wrote = ids["input_ids"].shape[1], out.shape[1] - ids["input_ids"].shape[1]
    chat = client.chat.completions.create(model="deft", max_tokens=6, messages=[{"role": "user", "content": prompt}])
    plain = client.completions.create(model="deft", prompt=prompt, max_tokens=6)
    for usage in (chat.usage, plain.usage):
        assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (read, wrote, read + wrote)


def test_streamed_usage_of_a_clip_counts_its_soft_tokens(client, model, happy_mp4):
    from deft.analyze import analyze
    from deft.model.batch import collate
    from deft.model.features import clip_features

    question = "Which AUs moved?"
    messages = [{"role": "user", "content": [{"type": "text", "text": question}, _video_part(happy_mp4)]}]
    chunks = list(client.chat.completions.create(model="deft", max_tokens=8, stream=True, messages=messages,
                                                 stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and all(c.usage is None for c in chunks[:-1])
    usage = chunks[-1].usage
    with torch.no_grad():
        read = model.prompt_embeds(collate([clip_features(analyze(happy_mp4))]), question).shape[0]
    assert usage.prompt_tokens == read > len(model.tokenizer(question)["input_ids"])
    # the random model writes no whole sentence in 8 tokens: the answer is the facts' summary, no LLM token
    assert usage.completion_tokens <= 8 and usage.total_tokens == read + usage.completion_tokens
    reply = client.chat.completions.create(model="deft", max_tokens=8, messages=messages)
    assert reply.usage == usage


@pytest.mark.parametrize("content, status, code", [
    ([{"type": "video_url", "video_url": {"url": "data:video/mp4;base64,@@@not-base64@@@"}}], 400, "invalid_base64"),
    ([{"type": "video_url", "video_url": {"url": "file:///etc/passwd"}}], 400, "invalid_video"),
    ([{"type": "video_url", "video_url": {"url": "/etc/passwd"}}], 400, "invalid_video"),
    ([{"type": "video_url", "video_url": {"url": "data:video/mp4;base64," + "A" * (27 * 2**20 // 10 // 4 * 4)}}], 413,
     "video_too_large"),
    ([{"type": "video_url", "video_url": {"url": "data:video/mp4;base64," + "A" * (4 * 2**20)}}], 413, "too_large"),
    ([{"type": "video_url", "video_url": {"url": "data:video/mp4;base64," + base64.b64encode(b"not a video").decode()}}],
     422, "unprocessable_video"),
    ([{"type": "file", "file": {"file_id": "../../etc/passwd"}}], 404, "file_not_found"),
    ([{"type": "image_url", "image_url": {"url": "x"}}], 400, "invalid_part"),
])
def test_hostile_requests_get_the_right_4xx(client, content, status, code):
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="deft", max_tokens=4, messages=[{"role": "user", "content": content}])
    assert info.value.status_code == status
    assert info.value.body["code"] == code and info.value.body["message"]
    assert "/etc/passwd" not in info.value.body["message"] or code == "file_not_found"


def test_wrong_key_and_malformed_json(server):
    bad = openai.OpenAI(base_url=server + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    r = httpx.post(server + "/v1/chat/completions", content=b"{nope", headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"


def test_flood_gets_429_and_server_keeps_serving(server, client):
    def call(results):
        r = httpx.post(server + "/v1/completions", json={"prompt": "AU", "max_tokens": 2},
                       headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
        results.append(r.status_code)

    results: list[int] = []
    threads = [threading.Thread(target=call, args=(results,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(429) >= 1 and results.count(200) >= 1 and set(results) <= {200, 429}
    assert client.completions.create(model="deft", prompt="AU", max_tokens=2).choices


def test_langchain_chat_openai_against_the_server(server, happy_mp4):
    from langchain_core.messages import HumanMessage
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(base_url=server + "/v1", api_key=KEY, model="deft", max_tokens=6, max_retries=0)
    reply = chat.invoke([HumanMessage(content=[{"type": "text", "text": "Explain."}, _video_part(happy_mp4)])])
    assert isinstance(reply.content, str)


class HeldEngine:
    """Streams one piece, then waits for the test: a stream that stays open as long as the test wants."""

    name = "held"

    def __init__(self):
        self.release = threading.Event()
        self.model = SimpleNamespace(tokenizer=tiny_tokenizer())  # the API counts prompt tokens with it

    def complete(self, prompt, max_new_tokens, count=None, stop=None):
        yield "first"
        self.release.wait(30)
        yield " last"

    explain = None


def test_a_stream_holds_its_slot_until_it_ends():
    engine = HeldEngine()
    base, server, _ = run_in_thread(create_app(engine, ServeSettings(max_concurrent=1, max_queue=1)))
    url = base + "/v1"
    try:
        with httpx.stream("POST", url + "/chat/completions", timeout=30,
                          json={"messages": [{"role": "user", "content": "hi"}], "stream": True}) as stream:
            lines = stream.iter_lines()
            assert "first" in next(line for line in lines if "first" in line)
            codes: list[int] = []
            waits: list[str | None] = []

            def ask() -> None:
                r = httpx.post(url + "/completions", json={"prompt": "x"}, timeout=30)
                codes.append(r.status_code)
                waits.append(r.headers.get("retry-after"))

            others = [threading.Thread(target=ask) for _ in range(2)]
            for t in others:
                t.start()
            time.sleep(1.0)
            assert codes == [429] and waits == ["5"]  # one waits for the streaming slot, the second finds the queue full
            engine.release.set()
            assert any("[DONE]" in line for line in lines)
        for t in others:
            t.join()
        assert sorted(codes) == [200, 429]
    finally:
        server.should_exit = True


def test_a_playlist_upload_is_refused_and_its_entry_never_opened(client, tmp_path):
    bait = tmp_path / "bait.mp4"
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{bait}\n#EXT-X-ENDLIST\n".encode()
    part = {"type": "video_url", "video_url": {"url": "data:video/mp4;base64," + base64.b64encode(playlist).decode()}}
    with watch_open(bait) as seen:
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model="deft", max_tokens=4, messages=[{"role": "user", "content": [part]}])
    assert not seen["opened"]
    assert info.value.status_code == 422 and "playlist" in info.value.body["message"]
    assert str(bait) not in info.value.body["message"]
