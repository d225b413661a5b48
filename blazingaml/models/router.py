"""The DriftMoE router in NumPy: a running feature scaler and a one-hidden-layer MLP trained by Adam.

NumPy rather than torch keeps the `[stream]` extra to river alone; the router is small (features
-> hidden -> one logit per expert), so a hand-written backward pass is a few lines.
"""

from __future__ import annotations

import numpy as np


class RunningScaler:
    """Standardises features with a mean and variance merged batch by batch (Chan et al.)."""

    def __init__(self, n_features: int):
        self.count = 0.0
        self.mean = np.zeros(n_features)
        self.m2 = np.zeros(n_features)

    def update(self, X: np.ndarray) -> None:
        Z = X
        n = float(len(Z))
        if n == 0:
            return
        mean, m2 = Z.mean(axis=0), ((Z - Z.mean(axis=0)) ** 2).sum(axis=0)
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * n / total
        self.m2 = self.m2 + m2 + delta ** 2 * self.count * n / total
        self.count = total

    def transform(self, X: np.ndarray) -> np.ndarray:
        std = np.sqrt(self.m2 / max(self.count, 1.0))
        return (X - self.mean) / np.where(std > 1e-9, std, 1.0)

    def state(self) -> dict:
        return {"scaler_count": np.array([self.count]), "scaler_mean": self.mean, "scaler_m2": self.m2}

    @classmethod
    def from_state(cls, arrays: dict) -> "RunningScaler":
        scaler = cls(len(arrays["scaler_mean"]))
        scaler.count = float(arrays["scaler_count"][0])
        scaler.mean, scaler.m2 = arrays["scaler_mean"], arrays["scaler_m2"]
        return scaler


class Router:
    """Scaled features -> ReLU hidden layer -> one logit per expert.

    Trained with Adam on the class-weighted binary cross-entropy between its logits and the
    experts' correctness mask (a multi-hot target: every expert that was right is reinforced)."""

    PARAMS = ("w1", "b1", "w2", "b2")

    def __init__(self, n_inputs: int, n_experts: int, hidden: int, learning_rate: float,
                 rng: np.random.Generator):
        def xavier(rows, cols):
            bound = np.sqrt(6.0 / (rows + cols))
            return rng.uniform(-bound, bound, size=(rows, cols))

        self.learning_rate = learning_rate
        self.params = {"w1": xavier(n_inputs, hidden), "b1": np.zeros(hidden),
                       "w2": xavier(hidden, n_experts), "b2": np.zeros(n_experts)}
        self.first_moment = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.second_moment = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.steps = 0

    def logits(self, Z: np.ndarray) -> np.ndarray:
        p = self.params
        return np.maximum(Z @ p["w1"] + p["b1"], 0.0) @ p["w2"] + p["b2"]

    def loss_and_gradients(self, Z: np.ndarray, mask: np.ndarray, weight: np.ndarray) -> tuple[float, dict]:
        """Weighted mean BCE(logits, mask), summed over experts, and its gradient per parameter."""
        p = self.params
        hidden_in = Z @ p["w1"] + p["b1"]
        hidden = np.maximum(hidden_in, 0.0)
        logits = hidden @ p["w2"] + p["b2"]
        share = (weight / weight.sum())[:, None]
        loss = float((share * (np.logaddexp(0.0, logits) - mask * logits)).sum())
        d_logits = share * (1.0 / (1.0 + np.exp(-logits)) - mask)
        d_hidden = (d_logits @ p["w2"].T) * (hidden_in > 0)
        return loss, {"w1": Z.T @ d_hidden, "b1": d_hidden.sum(axis=0),
                      "w2": hidden.T @ d_logits, "b2": d_logits.sum(axis=0)}

    def step(self, Z: np.ndarray, mask: np.ndarray, weight: np.ndarray) -> float:
        """One Adam step on `loss_and_gradients`; returns the loss before the step."""
        loss, grads = self.loss_and_gradients(Z, mask, weight)
        self.steps += 1
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        for k, g in grads.items():
            self.first_moment[k] = beta1 * self.first_moment[k] + (1 - beta1) * g
            self.second_moment[k] = beta2 * self.second_moment[k] + (1 - beta2) * g * g
            m_hat = self.first_moment[k] / (1 - beta1 ** self.steps)
            v_hat = self.second_moment[k] / (1 - beta2 ** self.steps)
            self.params[k] = self.params[k] - self.learning_rate * m_hat / (np.sqrt(v_hat) + eps)
        return loss

    def state(self) -> dict:
        out = {f"router_{k}": v for k, v in self.params.items()}
        out.update({f"adam_m_{k}": v for k, v in self.first_moment.items()})
        out.update({f"adam_v_{k}": v for k, v in self.second_moment.items()})
        out["adam_steps"] = np.array([self.steps])
        return out

    @classmethod
    def from_state(cls, arrays: dict, learning_rate: float) -> "Router":
        router = cls.__new__(cls)
        router.learning_rate = learning_rate
        router.params = {k: arrays[f"router_{k}"] for k in cls.PARAMS}
        router.first_moment = {k: arrays[f"adam_m_{k}"] for k in cls.PARAMS}
        router.second_moment = {k: arrays[f"adam_v_{k}"] for k in cls.PARAMS}
        router.steps = int(arrays["adam_steps"][0])
        return router
