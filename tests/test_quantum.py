"""deft.quantum: trace-distance separability, the two encodings, triplet training and the VQC (PennyLane)."""

import numpy as np
import pytest

pytest.importorskip("pennylane")
torch = pytest.importorskip("torch")

from deft.quantum.circuits import VQC, Encoding  # noqa: E402
from deft.quantum.data import Reducer  # noqa: E402
from deft.quantum.measures import density_matrix, separability, trace_distance  # noqa: E402
from deft.quantum.train import QuantumFitConfig, accuracy, fit_triplet, fit_vqc  # noqa: E402


def test_trace_distance_of_known_states():
    zero, one, plus = np.array([1, 0]), np.array([0, 1]), np.array([1, 1]) / np.sqrt(2)
    assert trace_distance(density_matrix([zero]), density_matrix([zero])) == pytest.approx(0)
    assert trace_distance(density_matrix([zero]), density_matrix([one])) == pytest.approx(1)
    assert trace_distance(density_matrix([zero]), density_matrix([plus])) == pytest.approx(np.sqrt(0.5))
    # the even mixture of |0> and |1> is the same density matrix as that of |+> and |->
    minus = np.array([1, -1]) / np.sqrt(2)
    assert separability(np.stack([zero, one, plus, minus]), np.array([0, 0, 1, 1])) == pytest.approx(0, abs=1e-9)


def test_amplitude_encoding_is_the_normalised_input():
    enc = Encoding("amplitude", 3)
    x = torch.arange(1.0, 9.0)[None]
    state = enc.states(x).numpy()[0]
    assert np.allclose(state.real, x.numpy()[0] / np.linalg.norm(x.numpy()), atol=1e-6)
    assert not enc.weights.requires_grad


def test_depths_counted_in_basic_gates():
    x = torch.linspace(-1, 1, 16)
    trainable = Encoding("trainable", 4).depth(x)
    assert trainable == {"depth": 24, "gates": 48}  # 4 layers: RY, RZ, then a 4-CNOT ring
    amplitude = Encoding("amplitude", 4).depth(x)
    assert amplitude["depth"] > 4 and amplitude["gates"] > 16  # state preparation decomposes into many gates


def _two_clusters(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.normal(0, 0.05, (n, 4)) + np.where(y[:, None] == 1, 0.15, -0.15) * np.array([1, -1, 0.5, 0])
    return x.astype(np.float32), y


def test_triplet_training_separates_the_classes_and_the_vqc_classifies():
    x, y = _two_clusters(24, 0)
    enc = Encoding("trainable", 2, seed=0)
    states = lambda: enc.states(torch.from_numpy(x)).detach().numpy()
    before = separability(states(), y)
    cfg = QuantumFitConfig(triplet_steps=40, triplets=8, vqc_steps=60, batch_size=12, lr=0.1)
    curve = fit_triplet(enc, x, y, cfg)
    assert np.mean(curve[-5:]) < np.mean(curve[:5])
    assert before < 0.4 and separability(states(), y) > before + 0.3
    vqc = VQC(enc, n_layers=1)
    fit_vqc(vqc, x, y, cfg)
    xt, yt = _two_clusters(16, 1)
    assert accuracy(vqc, xt, yt) >= 0.85


def test_reducer_whitens_the_training_components():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 10)) @ rng.normal(size=(10, 10))
    z = Reducer.fit(x, 4)(x)
    assert z.shape == (50, 4)
    assert np.allclose(z.std(axis=0), 1, atol=1e-3) and np.allclose(z.mean(axis=0), 0, atol=1e-4)
