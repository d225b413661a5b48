"""APEM-style multi-task scorer: one network for the AML funnel, trained with a chained loss.

Tasks (ESMM-style, each conditional on the previous): is_laundering; in_pattern | laundering (the
transaction belongs to a listed laundering attempt); typology | in_pattern (8 classes of
Patterns.txt). The network is in models/apem_network.py; this module prepares the fields, trains
in mini-batches, predicts the funnel and saves it without pickle (`apem.npz` holds the weights
and the fitted preprocessing as plain arrays, `apem.json` the settings and feature names).

Imbalance (about 1 laundering row in 1,000): every positive target of the chained loss is weighted
by `pos_weight` (default sqrt(legitimate/laundering weight), at most 100) rather than using a focal
loss, because a known weight can be undone exactly: with positives weighted by w the loss's optimum
has odds w times the true odds, so predictions are mapped back by p -> p / (p + w(1 - p)). That
keeps probabilities comparable with LightGBM's (a 0.5 threshold means the same) and, being one
increasing map applied to all three outputs, keeps P(typology) <= P(in_pattern) <= P(laundering).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from ..errors import ModelError, require
from ..io.vocab import TYPOLOGIES
from .storage import load_arrays, load_json, save_arrays, save_json

SCALING_ROWS = 200_000   # rows sampled to fit the columns' centres and scales
PREDICT_ROWS = 16_384


def field_of_column(names: list[str]) -> list[int]:
    """Field number of each column: a pattern's columns are named `<pattern>.<bin>` and form one
    field; every raw column is a field of its own. Fields are numbered in first-seen order."""
    fields: dict[str, int] = {}
    return [fields.setdefault(name.split(".")[0], len(fields)) for name in names]


def column_scaling(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and scale of sign(x)·log(1 + |x|) per column (constant columns get scale 1)."""
    logged = np.sign(X) * np.log1p(np.abs(X))
    scale = logged.std(axis=0)
    return logged.mean(axis=0).astype(np.float32), np.where(scale > 1e-6, scale, 1.0).astype(np.float32)


@contextlib.contextmanager
def torch_threads(torch, threads: int):
    """Run torch with `threads` intra-op threads, restoring the process setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class APEMScorer:
    """Multi-task funnel network (set attention + SE over fields, task-selected shared patterns)."""

    kind = "apem"
    FILE = "apem.npz"
    SETTINGS = "apem.json"
    needs_typology = True

    def __init__(self, threads: int = 2, seed: int = 0, dim: int = 16, heads: int = 2, inducing: int = 4,
                 patterns: int = 4, tower: tuple[int, ...] = (64, 32), field_hidden: int = 16, epochs: int = 4,
                 batch_rows: int = 2048, learning_rate: float = 1e-3, pos_weight: float | None = None):
        require("torch", "mtl")
        self.threads = threads
        self.settings = {"seed": seed, "dim": dim, "heads": heads, "inducing": inducing, "patterns": patterns,
                         "tower": list(tower), "field_hidden": field_hidden, "epochs": epochs, "batch_rows": batch_rows,
                         "learning_rate": learning_rate, "pos_weight": pos_weight}
        self.network = None
        self.names: list[str] | None = None
        self.effective_pos_weight: float | None = None

    def _build(self, names: list[str]):
        import torch

        from .apem_network import APEMNetwork

        s = self.settings
        with torch.random.fork_rng():
            torch.manual_seed(s["seed"])
            return APEMNetwork(field_of_column(names), s["dim"], s["heads"], s["inducing"], s["patterns"],
                               s["tower"], s["field_hidden"])

    def fit(self, X: np.ndarray, y: np.ndarray, names: list[str], weight: np.ndarray | None = None,
            typology: np.ndarray | None = None) -> "APEMScorer":
        """Train on all rows; `typology` holds each row's typology code (TYPOLOGIES order) or -1."""
        import torch

        from .apem_network import chained_loss

        if typology is None:
            raise ModelError("apem learns the typology funnel and needs each row's typology",
                             hint="pass the attempts file: blazingaml train --model apem --patterns-file Patterns.txt")
        y, typology = np.asarray(y, np.int64), np.asarray(typology, np.int64)
        if not (len(y) == len(typology) == len(X)) or typology.min(initial=-1) < -1 \
                or typology.max(initial=-1) >= len(TYPOLOGIES):
            raise ModelError("apem: features, labels and typology codes must align, codes in -1..7")
        s = self.settings
        weight = np.ones(len(y)) if weight is None else np.asarray(weight, np.float64)
        positives, negatives = weight[y == 1].sum(), weight[y == 0].sum()
        if positives == 0:
            raise ModelError("apem: the training rows hold no laundering transaction")
        self.effective_pos_weight = float(s["pos_weight"] or np.clip(np.sqrt(negatives / positives), 1.0, 100.0))
        self.names = list(names)
        self.network = self._build(self.names)
        rng = np.random.default_rng(s["seed"])
        sample = np.sort(rng.choice(len(X), size=min(len(X), SCALING_ROWS), replace=False))
        self.network.embedding.fit_preprocessing(*column_scaling(np.asarray(X[sample], np.float64)))

        in_pattern = (typology >= 0) & (y == 1)   # the funnel: only laundering rows sit in attempts
        onehot = np.zeros((len(y), len(TYPOLOGIES)), np.float32)
        onehot[np.flatnonzero(in_pattern), typology[in_pattern]] = 1.0
        data = [torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)),
                torch.from_numpy(y.astype(np.float32)), torch.from_numpy(in_pattern.astype(np.float32)),
                torch.from_numpy(onehot), torch.from_numpy(weight.astype(np.float32))]
        optimiser = torch.optim.Adam(self.network.parameters(), lr=s["learning_rate"])
        shuffle = torch.Generator().manual_seed(s["seed"])
        with torch_threads(torch, self.threads):
            self.network.train()
            for _ in range(s["epochs"]):
                order_rows = torch.randperm(len(y), generator=shuffle)
                for a in range(0, len(y), s["batch_rows"]):
                    batch = [t[order_rows[a:a + s["batch_rows"]]] for t in data]
                    loss = chained_loss(self.network(batch[0]), *batch[1:], pos_weight=self.effective_pos_weight)
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
            self.network.eval()
        return self

    def predict_funnel(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Per row: P(laundering), P(in a laundering attempt), P(attempt of typology k) [n, 8] and
        the typology distribution given an attempt [n, 8] (rows sum to 1)."""
        import torch

        from .apem_network import funnel_log_probs

        if self.network is None:
            raise ModelError("apem: the model has not been trained")
        if X.ndim != 2 or X.shape[1] != len(self.names):
            raise ModelError(f"apem: expected {len(self.names)} feature columns, got {X.shape}")
        parts = []
        with torch_threads(torch, self.threads), torch.inference_mode():
            for a in range(0, len(X), PREDICT_ROWS):
                block = torch.from_numpy(np.ascontiguousarray(X[a:a + PREDICT_ROWS], dtype=np.float32))
                logits = [t.double() for t in self.network(block)]  # the chain's products in float64
                parts.append([t.numpy() for t in funnel_log_probs(logits)] + [torch.softmax(logits[2], dim=1).numpy()])
        if not parts:
            parts = [[np.zeros(0), np.zeros(0), np.zeros((0, len(TYPOLOGIES))), np.zeros((0, len(TYPOLOGIES)))]]
        log_laundering, log_in_pattern, log_typology, given = (np.concatenate(c) for c in zip(*parts))
        w = self.effective_pos_weight

        def unweight(log_p):  # undo the positive weighting: odds / w
            p = np.exp(log_p)
            return p / (p + w * -np.expm1(log_p))

        return {"laundering": unweight(log_laundering), "in_pattern": unweight(log_in_pattern),
                "typology": unweight(log_typology), "typology_given_pattern": given}

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(laundering) per row (the risk score)."""
        return self.predict_funnel(X)["laundering"]

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        save_arrays(directory / self.FILE, {k: v.numpy() for k, v in self.network.state_dict().items()})
        save_json(directory / self.SETTINGS, {"settings": self.settings, "names": self.names,
                                              "pos_weight": self.effective_pos_weight, "threads": self.threads})

    @classmethod
    def load(cls, directory: Path) -> "APEMScorer":
        torch = require("torch", "mtl")
        directory = Path(directory)
        doc = load_json(directory / cls.SETTINGS)
        scorer = cls(threads=doc["threads"], **doc["settings"])
        scorer.names, scorer.effective_pos_weight = doc["names"], doc["pos_weight"]
        scorer.network = scorer._build(scorer.names)
        state = {k: torch.from_numpy(v) for k, v in load_arrays(directory / cls.FILE).items()}
        try:
            scorer.network.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ModelError(f"{directory}: the apem weights do not fit its settings ({exc})") from None
        scorer.network.eval()
        return scorer

    def describe(self) -> dict:
        import torch

        return {"kind": self.kind, "library": "torch", "version": torch.__version__, **self.settings,
                "effective_pos_weight": self.effective_pos_weight,
                "fields": len(set(field_of_column(self.names or [])))}
