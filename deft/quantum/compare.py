"""The comparison of issue 16: a triplet-trained encoding vs amplitude encoding, the same VQC on top."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from deft.quantum.circuits import VQC, Encoding
from deft.quantum.data import MotionSet, Reducer
from deft.quantum.measures import separability
from deft.quantum.train import QuantumFitConfig, accuracy, fit_triplet, fit_vqc


@dataclass
class EncodingReport:
    encoding: str
    separability_train: float  # trace distance between the classes' density matrices
    separability_test: float
    accuracy_train: float
    accuracy_test: float
    encoding_depth: int  # decomposed to RX, RY, RZ, CNOT
    encoding_gates: int
    circuit_depth: int  # encoding + VQC
    circuit_gates: int
    train_seconds: float  # triplet training (trainable encoding) + VQC training
    simulate_ms: float  # one state-vector simulation of encoding + VQC, per clip, in a batch

    def to_dict(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def _states(enc: Encoding, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return enc.states(torch.from_numpy(x)).numpy()


def compare_encodings(train: MotionSet, test: MotionSet, n_qubits: int = 4,
                      cfg: QuantumFitConfig = QuantumFitConfig()) -> list[EncodingReport]:
    """Both encodings of the same reduced features (2**n_qubits PCA components), each with the same VQC."""
    reduce = Reducer.fit(train.features, 2**n_qubits)
    xtr, xte = reduce(train.features), reduce(test.features)
    reports = []
    for kind in ("amplitude", "trainable"):
        torch.manual_seed(cfg.seed)
        enc = Encoding(kind, n_qubits, cfg.seed)
        start = time.perf_counter()
        if kind == "trainable":
            fit_triplet(enc, xtr, train.labels, cfg)
        vqc = VQC(enc, seed=cfg.seed)
        fit_vqc(vqc, xtr, train.labels, cfg)
        seconds = time.perf_counter() - start
        sim = time.perf_counter()
        acc_test = accuracy(vqc, xte, test.labels)
        sim_ms = (time.perf_counter() - sim) / len(xte) * 1e3
        sample = torch.from_numpy(xte[0])
        enc_res, all_res = enc.depth(sample), vqc.depth(sample)
        reports.append(EncodingReport(
            kind, separability(_states(enc, xtr), train.labels), separability(_states(enc, xte), test.labels),
            accuracy(vqc, xtr, train.labels), acc_test, enc_res["depth"], enc_res["gates"], all_res["depth"],
            all_res["gates"], seconds, sim_ms))
    return reports
