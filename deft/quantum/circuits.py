"""Encoding circuits and the variational classifier on top (PennyLane, `default.qubit` simulator).

The trainable encoding uploads the 2**n features n at a time, one layer each: RY(a * x + b) and RZ(c) on
every qubit, then a ring of CNOTs (a, b, c trained by the triplet loss). Amplitude encoding writes the
normalised 2**n features as the state's amplitudes (PennyLane's AmplitudeEmbedding, Mottonen's state
preparation once decomposed). The classifier on top is the same for both: StronglyEntanglingLayers, then
<Z> of qubit 0, scaled and shifted into a logit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

GATE_SET = {"RX", "RY", "RZ", "CNOT"}  # what circuit depth is counted in


def _pennylane():
    try:
        import pennylane as qml
    except ImportError as err:  # an optional extra
        from deft.errors import ConfigError

        raise ConfigError("deft.quantum needs PennyLane: pip install 'deft[quantum]'") from err
    return qml


def trainable_encoding(x: torch.Tensor, weights: torch.Tensor, n_qubits: int) -> None:
    """Queue the trainable encoding of x (..., n_layers * n_qubits); weights (n_layers, n_qubits, 3)."""
    qml = _pennylane()
    for layer in range(weights.shape[0]):
        for q in range(n_qubits):
            qml.RY(weights[layer, q, 0] * x[..., layer * n_qubits + q] + weights[layer, q, 1], wires=q)
            qml.RZ(weights[layer, q, 2], wires=q)
        for q in range(n_qubits):
            qml.CNOT(wires=[q, (q + 1) % n_qubits])


def amplitude_encoding(x: torch.Tensor, n_qubits: int) -> None:
    """Queue amplitude encoding of x (..., 2**n_qubits), normalised to unit length."""
    _pennylane().AmplitudeEmbedding(x, wires=range(n_qubits), normalize=True)


class Encoding:
    """One encoding (trainable or amplitude) on n_qubits; `states` gives state vectors (batch, 2**n)."""

    def __init__(self, kind: str, n_qubits: int = 4, seed: int = 0):
        if kind not in ("trainable", "amplitude"):
            raise ValueError(f"unknown encoding {kind!r}")
        qml = _pennylane()
        self.kind, self.n_qubits = kind, n_qubits
        self.n_features = 2**n_qubits
        gen = torch.Generator().manual_seed(seed)
        n_layers = self.n_features // n_qubits
        init = torch.stack([torch.ones(n_layers, n_qubits), torch.zeros(n_layers, n_qubits),
                            torch.rand(n_layers, n_qubits, generator=gen) * 0.1], -1)
        self.weights = init.requires_grad_(kind == "trainable")
        self.device = qml.device("default.qubit", wires=n_qubits)
        self._state = qml.QNode(self._queue_state, self.device, interface="torch")

    def queue(self, x: torch.Tensor) -> None:
        if self.kind == "trainable":
            trainable_encoding(x, self.weights, self.n_qubits)
        else:
            amplitude_encoding(x, self.n_qubits)

    def _queue_state(self, x: torch.Tensor):
        self.queue(x)
        return _pennylane().state()

    def states(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, 2**n) complex state vectors of features (batch, 2**n)."""
        return self._state(x)

    def depth(self, x: torch.Tensor) -> dict:
        """Depth and gate count of the encoding of one input x (2**n,) decomposed to GATE_SET (amplitude
        encoding's decomposition depends on the signs of x)."""
        return circuit_resources(self._queue_state, self.n_qubits, x)


def circuit_resources(fn: Callable, n_qubits: int, *args) -> dict:
    """{'depth', 'gates'} of a circuit function decomposed to GATE_SET."""
    qml = _pennylane()
    qnode = qml.QNode(fn, qml.device("default.qubit", wires=n_qubits), interface="torch")
    specs = qml.specs(qml.transforms.decompose(qnode, gate_set=GATE_SET), level="device")(*args)
    return {"depth": int(specs.resources.depth), "gates": int(specs.resources.num_gates)}


class VQC:
    """Variational classifier on top of a fixed encoding: logit = scale * <Z0> + bias."""

    def __init__(self, encoding: Encoding, n_layers: int = 2, seed: int = 0):
        qml = _pennylane()
        self.encoding = encoding
        gen = torch.Generator().manual_seed(seed)
        shape = qml.StronglyEntanglingLayers.shape(n_layers=n_layers, n_wires=encoding.n_qubits)
        self.weights = (torch.rand(shape, generator=gen) * 2 * np.pi).requires_grad_()
        self.scale = torch.tensor(3.0, requires_grad=True)
        self.bias = torch.tensor(0.0, requires_grad=True)
        self._qnode = qml.QNode(self._circuit, encoding.device, interface="torch")

    def _circuit(self, x: torch.Tensor, weights: torch.Tensor):
        qml = _pennylane()
        self.encoding.queue(x)
        qml.StronglyEntanglingLayers(weights, wires=range(self.encoding.n_qubits))
        return qml.expval(qml.PauliZ(0))

    def parameters(self) -> list[torch.Tensor]:
        return [self.weights, self.scale, self.bias]

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * self._qnode(x, self.weights) + self.bias

    def depth(self, x: torch.Tensor) -> dict:
        """Depth and gate count of encoding + classifier for one input x, decomposed to GATE_SET."""
        return circuit_resources(self._circuit, self.encoding.n_qubits, x, self.weights.detach())
