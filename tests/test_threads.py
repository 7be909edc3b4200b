"""Perception is safe to run from several threads at once (as `deft serve` does): same results, no crash."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from deft.analyze import analyze
from deft.model.features import clip_features


def test_parallel_analyses_match_a_serial_one(happy_mp4):
    serial = analyze(happy_mp4)
    expected = (serial.phases.to_dict(), [a.au for a in serial.aus], serial.emotion.label)

    def run(_):
        result = analyze(happy_mp4)
        clip_features(result)  # the structure expert's dlib descriptor too
        return (result.phases.to_dict(), [a.au for a in result.aus], result.emotion.label), result.flow

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(8)))
    assert all(summary == expected for summary, _ in results)
    assert all(np.array_equal(flow, serial.flow) for _, flow in results)
