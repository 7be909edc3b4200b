"""A triplet-trained quantum encoding of deft's motion features vs amplitude encoding, on a simulator.

Needs the optional extra `pip install "deft[quantum]"` (PennyLane). For study, not for deft's answers: a
4-qubit state-vector simulation on a CPU, a binary task on synthetic clips.
"""
