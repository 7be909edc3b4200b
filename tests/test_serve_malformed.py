"""Malformed requests get a 4xx in OpenAI's error shape, never a 500 (in-process ASGI client, no port)."""

import json

import pytest
from starlette.testclient import TestClient

from deft.model.config import DeftConfig
from deft.model.deft import DeftModel
from deft.serve.api import create_app
from deft.serve.engines import TransformersEngine
from deft.serve.settings import ServeSettings
from tests.tiny import tiny_llm

KEY = "test-key"
AUTH = {"authorization": f"Bearer {KEY}"}
DEEP = 100_000


@pytest.fixture(scope="module")
def client():
    llm, tok = tiny_llm()
    engine = TransformersEngine(DeftModel(DeftConfig(expert_dim=32, conv_width=8), llm, tok).eval())
    return TestClient(create_app(engine, ServeSettings(api_keys=frozenset({KEY}))), raise_server_exceptions=False)


def user(content) -> str:
    return json.dumps({"messages": [{"role": "user", "content": content}]})


BODIES = {
    "nested-100k-array": "[" * DEEP + "]" * DEEP,
    "nested-100k-in-messages": '{"messages": ' + "[" * DEEP + "]" * DEEP + "}",
    "nested-100k-objects": '{"a": ' * DEEP + "1" + "}" * DEEP,
    "nested-900-in-content": '{"messages": [{"role": "user", "content": ' + "[" * 900 + "]" * 900 + "}]}",
    "video_url-as-string": user([{"type": "video_url", "video_url": "data:video/mp4;base64,AAAA"}]),
    "file-as-string": user([{"type": "file", "file": "file-abc"}]),
    "part-as-string": user(["hello"]),
    "content-as-number": user(5),
    "messages-as-string": json.dumps({"messages": "hello"}),
    "body-as-list": "[1, 2]",
    "body-null": "null",
    "integer-of-5000-digits": '{"messages": [{"role": "user", "content": "x"}], "max_tokens": ' + "9" * 5000 + "}",
    "not-utf8": b'{"messages": "\xff\xfe"}',
    "truncated": '{"messages": [{"role": ',
}


@pytest.mark.parametrize("route", ["/v1/chat/completions", "/v1/completions", "/v1/deft/analyze"])
@pytest.mark.parametrize("name", list(BODIES))
def test_malformed_bodies_get_a_400_in_openai_shape(client, route, name):
    r = client.post(route, content=BODIES[name], headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 400, r.text[:200]
    error = r.json()["error"]
    assert error["message"] and error["type"] == "invalid_request_error" and "Traceback" not in r.text


@pytest.mark.parametrize("request_kwargs, status", [
    (dict(data={"file": "a string, not a file", "purpose": "vision"}), 400),
    (dict(content=b"garbage", headers={**AUTH, "content-type": "multipart/form-data; boundary=xyz"}), 400),
    (dict(content=b"--xyz\r\n\r\n", headers={**AUTH, "content-type": "multipart/form-data"}), 400),
    (dict(content=b"{}", headers={**AUTH, "content-type": "application/json"}), 400),
])
def test_malformed_uploads_get_a_4xx_in_openai_shape(client, request_kwargs, status):
    r = client.post("/v1/files", **{"headers": AUTH, **request_kwargs})
    assert r.status_code == status and r.json()["error"]["message"], r.text[:200]


@pytest.mark.parametrize("method, path, status", [
    ("get", "/v1/nowhere", 404), ("get", "/v1/chat/completions", 405), ("delete", "/v1/models", 405)])
def test_unknown_routes_and_methods_answer_in_openai_shape(client, method, path, status):
    r = getattr(client, method)(path, headers=AUTH)
    assert r.status_code == status and r.json()["error"]["code"]
