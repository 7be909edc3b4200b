"""The Gradio demo in headless Chromium (Playwright): upload a clip, read the AU table, ask, read the answer.

Uses Debian's chromium (`apt-get install chromium`); Playwright never downloads a browser here. Without
one the test skips, except under CI=true, where it fails and says what to install.
"""

from __future__ import annotations

import os
import re
import time

import pytest
import torch

from deft.analyze import analyze
from deft.model.config import DeftConfig
from deft.model.deft import DeftModel
from deft.serve.demo import LocalBackend, build_demo
from deft.serve.engines import TransformersEngine
from tests.test_demo import _free_port
from tests.tiny import tiny_llm

CHROMIUM = "/usr/bin/chromium"  # Debian's package, not Playwright's download
MAX_TOKENS = 8
TIMEOUT_MS = 60_000  # per wait: the analysis takes ~4 s here, a slow CI runner may take several times that


def _require_browser():
    """Playwright's sync API, or skip (fail under CI=true) with what to install."""
    ci = os.environ.get("CI", "").lower() == "true"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "the playwright package is missing: pip install -e '.[dev]'"
    else:
        if os.access(CHROMIUM, os.X_OK):
            return sync_playwright
        problem = f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium"
    if ci:
        pytest.fail(f"browser test cannot run under CI: {problem}", pytrace=False)
    pytest.skip(problem)


@pytest.fixture(scope="module")
def served():
    """(url, backend): the demo on loopback with the tiny model, as in tests/test_demo.py."""
    llm, tok = tiny_llm()
    torch.manual_seed(0)  # the experts' random init: the same answer whatever tests ran before
    model = DeftModel(DeftConfig(expert_dim=32, conv_width=8), llm, tok).eval()
    backend = LocalBackend(TransformersEngine(model))
    demo = build_demo(backend, max_tokens=MAX_TOKENS)
    port = _free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/", backend
    demo.close()


@pytest.fixture(scope="module")
def page():
    """A fresh headless Chromium page; collects what a developer would see in the console."""
    sync_playwright = _require_browser()
    with sync_playwright() as pw:
        # --disable-dev-shm-usage: containers give /dev/shm 64 MB, too little for Chromium's renderer
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        from playwright.sync_api import expect

        expect.set_options(timeout=TIMEOUT_MS)  # assertions wait as long as actions (their own default: 5 s)
        page.problems = []
        page.on("pageerror", lambda err: page.problems.append(f"page error: {err}"))
        page.on("console", lambda msg: msg.type == "error" and page.problems.append(f"console: {msg.text}"))
        page.on("response", lambda r: r.status >= 400 and page.problems.append(f"HTTP {r.status} {r.url}"))
        yield page
        browser.close()


def _letters(text: str) -> str:
    """The text without spaces and markdown punctuation, which rendering may drop or add (the untrained
    model's answer may be any characters, even undecodable bytes shown as U+FFFD)."""
    return re.sub(r"[\s*_`#>~|\[\]()\\-]+", "", text)


@pytest.mark.slow
def test_upload_read_the_aus_and_the_streamed_answer(served, page, happy_mp4, tmp_path):
    from playwright.sync_api import expect

    url, backend = served
    page.goto(url)
    page.locator("#clip input[type=file]").set_input_files(happy_mp4)

    # the analysis: emotion line and the AU table the synthetic recipe (AU6 + AU12) should give
    expect(page.locator("#summary")).to_contain_text("AU(s)")
    summary = page.locator("#summary").inner_text()
    assert "positive" in summary and "happiness" in summary, summary
    grid = page.get_by_role("grid", name="Action Units")
    rows = grid.locator("[role=row]:has([role=gridcell])")
    expect(rows).to_have_count(2)
    first_cells = grid.locator("[role=gridcell][aria-colindex='1']").all_inner_texts()
    assert sorted(first_cells) == ["AU12", "AU6"], first_cells
    expect(grid).to_contain_text("lip corner puller")
    expect(grid).to_contain_text("cheek raiser")
    plot = page.locator(".block", has=page.get_by_text("apex frame, flow and AU regions")).locator("img")
    expect(plot).to_be_visible()
    assert plot.evaluate("img => img.complete && img.naturalWidth > 0"), "the analysis plot did not load"

    # ask: the question shows as the user's bubble, the streamed answer as the bot's, the box clears
    question = page.locator("#question textarea").input_value()
    page.locator("#ask").click()
    expect(page.locator("#chat [data-testid=user]")).to_contain_text(question)
    bot = page.locator("#chat [data-testid=bot]").last
    expect(bot).to_be_visible()
    expected = "".join(backend.answer(happy_mp4, analyze(happy_mp4), question, MAX_TOKENS))
    assert _letters(expected), f"the tiny model's answer {expected!r} has nothing visible to look for"
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while _letters(bot.inner_text()) != _letters(expected) and time.monotonic() < deadline:
        page.wait_for_timeout(100)  # streamed: the bubble grows until the last piece arrives
    assert _letters(bot.inner_text()) == _letters(expected), (bot.inner_text(), expected)
    expect(page.locator("#question textarea")).to_have_value("")

    shot = tmp_path / "demo.png"
    page.screenshot(path=shot, full_page=True)
    assert shot.read_bytes()[:4] == b"\x89PNG"
    assert not page.problems, page.problems
