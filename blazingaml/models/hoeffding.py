"""Hoeffding-tree experts as plain data.

A river `HoeffdingTreeClassifier` (majority-class leaves, numeric features, binary labels) is
written as a JSON-able dict of its nodes (`tree_to_dict`), flattened to arrays for vectorised
prediction (`TreeArrays`), and rebuilt as a river tree that keeps learning (`tree_from_dict`).

What survives the round trip: every split (feature, threshold), every node's class weights, leaf
depth and activity, and the tree's counters, so predictions are identical. What does not: the
leaves' split statistics (the per-feature Gaussian estimators river keeps to find the next
split). A rebuilt tree starts them afresh and waits one grace period of new weight before its
next split attempt at each leaf.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError

LEAF = -1


def tree_to_dict(model) -> dict:
    """The nodes of a river Hoeffding tree in pre-order, and its counters."""
    from river.tree.nodes.branch import NumericBinaryBranch

    nodes: list[dict] = []

    def visit(node) -> int:
        index = len(nodes)
        nodes.append({})
        weights = [float(node.stats.get(0, 0.0)), float(node.stats.get(1, 0.0))]
        if isinstance(node, NumericBinaryBranch):
            left, right = visit(node.children[0]), visit(node.children[1])
            nodes[index] = {"feature": int(node.feature), "threshold": float(node.threshold), "left": left,
                            "right": right, "weights": weights, "depth": int(node.depth)}
        elif hasattr(node, "children"):
            raise ModelError(f"cannot store a Hoeffding tree with a {type(node).__name__} node",
                             hint="experts see numeric features only, so every split is numeric and binary")
        else:
            nodes[index] = {"weights": weights, "depth": int(node.depth), "active": bool(node.is_active())}
        return index

    if model._root is not None:
        visit(model._root)
    return {"nodes": nodes, "classes": sorted(int(c) for c in model.classes),
            "weight_seen": float(model._train_weight_seen_by_model)}


def tree_from_dict(data: dict, params: dict):
    """A river Hoeffding tree with the stored structure, ready to keep learning."""
    from river import tree
    from river.tree.nodes.branch import NumericBinaryBranch

    model = tree.HoeffdingTreeClassifier(**params)
    nodes = data["nodes"]

    def stats(node) -> dict:
        return {c: w for c, w in enumerate(node["weights"]) if w}

    def build(index: int):
        node = nodes[index]
        if "feature" in node:
            return NumericBinaryBranch(stats(node), node["feature"], node["threshold"], node["depth"],
                                       build(node["left"]), build(node["right"]))
        leaf = model._new_leaf(stats(node))  # its next split attempt waits one grace period
        leaf.depth = node["depth"]
        if not node["active"]:
            leaf.deactivate()
        return leaf

    if nodes:
        model._root = build(0)
        leaves = [n for n in nodes if "feature" not in n]
        model._n_active_leaves = sum(n["active"] for n in leaves)
        model._n_inactive_leaves = len(leaves) - model._n_active_leaves
    model.classes = set(data["classes"])
    model._train_weight_seen_by_model = data["weight_seen"]
    return model


@dataclass
class TreeArrays:
    """One tree as flat arrays: node i splits on `feature[i]` (LEAF at leaves) at `threshold[i]`,
    `x <= threshold` going to `left[i]`, else `right[i]`; `positive[i]` is P(laundering) at leaf i."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    positive: np.ndarray
    depth: int

    @classmethod
    def from_dict(cls, data: dict) -> "TreeArrays":
        nodes = data["nodes"] or [{"weights": [0.0, 0.0], "depth": 0}]
        feature = np.array([n.get("feature", LEAF) for n in nodes], np.int64)
        threshold = np.array([n.get("threshold", 0.0) for n in nodes], np.float64)
        left = np.array([n.get("left", i) for i, n in enumerate(nodes)], np.int64)
        right = np.array([n.get("right", i) for i, n in enumerate(nodes)], np.int64)
        weights = np.array([n["weights"] for n in nodes], np.float64)
        total = weights.sum(axis=1)
        # river's majority-class leaf: class weights times 1 / their sum (so, bit for bit, not divided
        # by it), left as they are when all are zero
        positive = np.where(total > 0, weights[:, 1] * (1.0 / np.where(total > 0, total, 1.0)), weights[:, 1])
        return cls(feature, threshold, left, right, positive, max(n["depth"] for n in nodes))

    def predict_positive(self, X: np.ndarray) -> np.ndarray:
        """P(laundering) for every row of X (float64 [n, features]), all rows walked together."""
        node = np.zeros(len(X), np.int64)
        rows = np.arange(len(X))
        for _ in range(self.depth + 1):
            inner = self.feature[node] != LEAF
            if not inner.any():
                break
            at, where = rows[inner], node[inner]
            go_left = X[at, self.feature[where]] <= self.threshold[where]
            node[at] = np.where(go_left, self.left[where], self.right[where])
        return self.positive[node]
