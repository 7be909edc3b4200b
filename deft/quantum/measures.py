"""How far apart the encoded classes are: trace distance between their average density matrices."""

from __future__ import annotations

import numpy as np


def density_matrix(states: np.ndarray) -> np.ndarray:
    """(n, d) pure state vectors -> (d, d) their equal mixture."""
    states = np.asarray(states)
    return np.einsum("ni,nj->ij", states, states.conj()) / len(states)


def trace_distance(rho: np.ndarray, sigma: np.ndarray) -> float:
    """1/2 ||rho - sigma||_1 (0: the same state, 1: perfectly distinguishable)."""
    return float(0.5 * np.abs(np.linalg.eigvalsh(rho - sigma)).sum())


def separability(states: np.ndarray, labels: np.ndarray) -> float:
    """Trace distance between the density matrices of the two classes' encoded states (labels 0 and 1)."""
    labels = np.asarray(labels)
    return trace_distance(density_matrix(states[labels == 0]), density_matrix(states[labels == 1]))
