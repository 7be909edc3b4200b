"""Greedy decoding with n-gram drafts (deft.model.drafts, deft.model.decode) on a tiny random-init Gemma 3."""

import json

import pytest
import torch

from deft.model.decode import greedy_decode
from deft.model.drafts import DRAFTS_FILE, DraftTable, load_table, write_answers
from deft.model.prompt import stop_ids
from tests.tiny import tiny_llm, tiny_tokenizer


def test_table_takes_the_most_frequent_next_token_whatever_the_order():
    seqs = [[1, 2, 3, 4], [1, 2, 3, 5], [9, 2, 3, 5]]
    table = DraftTable.from_sequences(seqs)
    assert table.next_token[(2, 3)] == 5  # 5 follows (2, 3) twice, 4 once
    assert table.next_token[(1, 2, 3)] == 4  # a tie (4 and 5 once each) goes to the smaller id
    assert DraftTable.from_sequences(reversed(seqs)).next_token == table.next_token
    assert all(len(ctx) >= 2 for ctx in table.next_token)  # one shared token is no context


def test_draft_chains_backs_off_and_stops_where_nothing_is_known():
    table = DraftTable.from_sequences([[10, 11, 12, 13, 14, 15]])
    assert table.draft([10, 11]) == [12, 13, 14, 15]
    assert table.draft([99, 98, 12, 13], limit=1) == [14]  # (99, 98, 12, 13) is unknown; (12, 13) is not
    assert table.draft([12, 13], limit=0) == []
    assert table.draft([15]) == [] and table.draft([]) == [] and table.draft([15, 10]) == []
    assert DraftTable().draft([1, 2, 3]) == []


def test_answers_file_round_trip(tmp_path):
    tok = tiny_tokenizer()
    answers = ["The AU12 lip corner puller is active.", "AU4 brow lowerer.", "AU4 brow lowerer."]
    path = write_answers(tmp_path, answers)
    assert path.name == DRAFTS_FILE
    assert [json.loads(line) for line in path.read_text().splitlines()] == sorted(set(answers))
    assert load_table(tmp_path, tok).next_token == DraftTable.from_answers(answers, tok).next_token
    assert load_table(tmp_path / "elsewhere", tok) is None


@pytest.fixture(scope="module")
def llm_and_prompt():
    llm, tok = tiny_llm(seed=3)
    llm.float()
    torch.manual_seed(0)
    embeds = torch.randn(1, 12, llm.config.hidden_size) * 0.5
    return llm, tok, embeds


def reference(llm, embeds, n: int, stop: list[int], min_new: int = 0) -> list[int]:
    out = llm.generate(inputs_embeds=embeds, attention_mask=torch.ones(embeds.shape[:2], dtype=torch.long),
                       max_new_tokens=n, min_new_tokens=min_new, do_sample=False, eos_token_id=stop, pad_token_id=0)
    return out[0].tolist()


def test_plain_decoding_equals_transformers_generate(llm_and_prompt):
    llm, tok, embeds = llm_and_prompt
    stop = stop_ids(tok)
    tokens, stats = greedy_decode(llm, embeds, 40, stop)
    assert tokens == reference(llm, embeds, 40, stop)
    assert stats["drafted"] == stats["accepted"] == 0 and stats["steps"] == len(tokens) - 1
    forced, _ = greedy_decode(llm, embeds, 30, stop, min_new_tokens=30)
    assert forced == reference(llm, embeds, 30, stop, min_new=30) and len(forced) == 30


def test_drafts_change_the_steps_not_the_answer(llm_and_prompt):
    """Past the sliding window (64) so rejected drafts are cropped from windowed layers too."""
    llm, tok, embeds = llm_and_prompt
    n = 150
    plain, _ = greedy_decode(llm, embeds, n, [], min_new_tokens=n)
    assert len(plain) == n
    good = DraftTable.from_sequences([plain])  # drafts mostly right
    wrong = DraftTable.from_sequences([[(t * 7 + 1) % len(tok) for t in plain]])  # drafts mostly wrong
    half = DraftTable.from_sequences([plain[: n // 2]])  # right, then nothing to offer
    for table in (good, wrong, half):
        tokens, stats = greedy_decode(llm, embeds, n, [], drafts=table)
        assert tokens == plain
        assert stats["accepted"] <= stats["drafted"]
        assert stats["steps"] + stats["accepted"] == n - 1  # every step yields its accepted drafts + one token
    _, stats = greedy_decode(llm, embeds, n, [], drafts=good)
    assert stats["steps"] < n / 3 and stats["accepted"] > 0.6 * n


def test_streamer_gets_every_token_once_in_order(llm_and_prompt):
    llm, tok, embeds = llm_and_prompt

    class Collect:
        def __init__(self):
            self.puts, self.ended = [], False

        def put(self, value):
            self.puts.append(value.flatten().tolist())

        def end(self):
            self.ended = True

    plain, _ = greedy_decode(llm, embeds, 60, [], min_new_tokens=60)
    streamer = Collect()
    tokens, stats = greedy_decode(llm, embeds, 60, [], drafts=DraftTable.from_sequences([plain]), streamer=streamer)
    assert streamer.puts[0] == [] and streamer.ended  # the prompt (embeddings: no ids), then the steps
    assert sum(streamer.puts[1:], []) == tokens == plain
    assert len(streamer.puts) - 1 == stats["steps"] + 1  # one put per step plus the prefill's token


def test_stop_token_inside_an_accepted_draft_ends_the_answer(llm_and_prompt):
    llm, tok, embeds = llm_and_prompt
    plain, _ = greedy_decode(llm, embeds, 40, [], min_new_tokens=40)
    stop = [plain[20]]
    first = plain.index(stop[0]) + 1
    tokens, _ = greedy_decode(llm, embeds, 40, stop, drafts=DraftTable.from_sequences([plain]))
    assert tokens == plain[:first]
    assert greedy_decode(llm, embeds, 0, stop) == ([], {"steps": 0, "drafted": 0, "accepted": 0})
