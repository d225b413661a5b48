"""The APEM-style multi-task network in torch (imported only once torch is known to be installed).

fields -> embedding -> induced set attention -> squeeze-and-excitation -> shared pattern vectors
-> task-driven pattern selector -> one tower per task of the funnel, and the chained loss.
Reconstructed from the APEM abstract (Tao et al., arXiv 2301.02494); see docs/scorers.md.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

TYPOLOGY_CLASSES = 8
LOG_HALF = math.log(0.5)


class FieldEmbedding(nn.Module):
    """Raw features -> one d-vector per field (a raw column, or all bins of one pattern).

    Each column is put through sign(x)·log(1 + |x|) and standardised; each field then has its
    own small MLP (its columns -> `hidden` ReLUs -> d). The first layers of all fields run as one
    matmul with a block-masked weight (column c feeds only its field's units; measured 5x faster
    on CPU than gathering per-column vectors), the second as one batched product over fields."""

    def __init__(self, field_of_column: list[int], hidden: int, dim: int):
        super().__init__()
        columns = torch.tensor(field_of_column)
        n_fields = int(columns.max()) + 1
        self.n_fields, self.hidden = n_fields, hidden
        self.register_buffer("membership", F.one_hot(columns, n_fields).float())   # [columns, fields]
        fan_in = torch.bincount(columns)[columns].float()          # columns in each column's field
        self.first = nn.Parameter((torch.rand(len(columns), hidden) * 2 - 1) / fan_in.sqrt()[:, None])
        self.first_bias = nn.Parameter(torch.zeros(n_fields, hidden))
        self.second = nn.Parameter((torch.rand(n_fields, hidden, dim) * 2 - 1) / math.sqrt(hidden))
        self.second_bias = nn.Parameter(torch.zeros(n_fields, dim))
        # fitted preprocessing, set by `fit_preprocessing` and saved with the weights
        self.register_buffer("center", torch.zeros(len(columns)))
        self.register_buffer("scale", torch.ones(len(columns)))

    def fit_preprocessing(self, center, scale) -> None:
        self.center.copy_(torch.as_tensor(center))
        self.scale.copy_(torch.as_tensor(scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = (torch.sign(x) * torch.log1p(x.abs()) - self.center) / self.scale
        first = (self.membership[:, :, None] * self.first[:, None, :]).flatten(1)   # [columns, fields·hidden]
        hidden = torch.relu(values @ first + self.first_bias.flatten()).view(len(x), self.n_fields, self.hidden)
        return torch.einsum("nfh,fhd->nfd", hidden, self.second) + self.second_bias


class AttentionBlock(nn.Module):
    """MAB(X, Y) = LN(H + FFN(H)), H = LN(X + MultiHead(X, Y, Y)) (Set Transformer).

    Attention is spelled out with einsum: the sets are tiny (tens of fields, a few inducing
    points) and torch's fused CPU kernel was 3x slower on them than these two products."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query, self.key_value, self.out = nn.Linear(dim, dim), nn.Linear(dim, 2 * dim), nn.Linear(dim, dim)
        self.norm_attention, self.norm_ffn = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        n, dim = len(x), x.shape[2]
        q = self.query(x).view(n, x.shape[1], self.heads, -1)
        k, v = self.key_value(y).view(n, y.shape[1], 2, self.heads, -1).unbind(2)
        weights = torch.softmax(torch.einsum("nqhd,nkhd->nhqk", q, k) / math.sqrt(q.shape[3]), dim=3)
        attended = torch.einsum("nhqk,nkhd->nqhd", weights, v).reshape(n, x.shape[1], dim)
        h = self.norm_attention(x + self.out(attended))
        return self.norm_ffn(h + self.ffn(h))


class InducedSetAttention(nn.Module):
    """H = E + MAB(E, MAB(I, E)): fields interact through a few learned inducing points, O(fields·m)
    and independent of the order of the fields."""

    def __init__(self, dim: int, heads: int, inducing: int):
        super().__init__()
        self.inducing = nn.Parameter(torch.randn(1, inducing, dim) / math.sqrt(dim))
        self.summarise, self.broadcast = AttentionBlock(dim, heads), AttentionBlock(dim, heads)

    def forward(self, fields: torch.Tensor) -> torch.Tensor:
        summary = self.summarise(self.inducing.expand(len(fields), -1, -1), fields)
        return fields + self.broadcast(fields, summary)


class FieldExcitation(nn.Module):
    """Squeeze-and-excitation over fields: per-row field weights s = σ(W2 ReLU(W1 mean_d(H)))."""

    def __init__(self, n_fields: int):
        super().__init__()
        hidden = max(n_fields // 2, 2)
        self.gate = nn.Sequential(nn.Linear(n_fields, hidden), nn.ReLU(), nn.Linear(hidden, n_fields), nn.Sigmoid())

    def forward(self, fields: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weights = self.gate(fields.mean(dim=2))
        return fields * weights.unsqueeze(2), weights


class PatternSelector(nn.Module):
    """Shared pattern vectors p_j from all fields; task t reads Σ_j α_tj p_j with
    α_t = softmax_j(u_t(x)·p_j / √d), where u_t(x) = u_t + W_t mean(fields) is the task's vector."""

    def __init__(self, n_fields: int, dim: int, n_patterns: int, n_tasks: int):
        super().__init__()
        self.n_patterns, self.n_tasks, self.dim = n_patterns, n_tasks, dim
        self.extract = nn.Sequential(nn.Linear(n_fields * dim, n_patterns * dim), nn.GELU())
        self.task_vectors = nn.Parameter(torch.randn(n_tasks, dim) / math.sqrt(dim))
        self.condition = nn.Linear(dim, n_tasks * dim)

    def forward(self, fields: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(fields)
        patterns = self.extract(fields.flatten(1)).view(n, self.n_patterns, self.dim)
        tasks = self.task_vectors + self.condition(fields.mean(dim=1)).view(n, self.n_tasks, self.dim)
        selection = torch.softmax(tasks @ patterns.transpose(1, 2) / math.sqrt(self.dim), dim=2)
        return selection @ patterns, selection


class APEMNetwork(nn.Module):
    """Logits of the funnel: laundering, in_pattern | laundering, typology | in_pattern (8 classes)."""

    def __init__(self, field_of_column: list[int], dim: int, heads: int, inducing: int, patterns: int,
                 tower: list[int], field_hidden: int):
        super().__init__()
        n_fields = max(field_of_column) + 1
        self.embedding = FieldEmbedding(field_of_column, field_hidden, dim)
        self.set_attention = InducedSetAttention(dim, heads, inducing)
        self.excitation = FieldExcitation(n_fields)
        self.selector = PatternSelector(n_fields, dim, patterns, n_tasks=3)

        def mlp(out: int) -> nn.Sequential:
            layers, width = [], dim
            for hidden in tower:
                layers += [nn.Linear(width, hidden), nn.ReLU()]
                width = hidden
            return nn.Sequential(*layers, nn.Linear(width, out))

        self.towers = nn.ModuleList([mlp(1), mlp(1), mlp(TYPOLOGY_CLASSES)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        fields, _ = self.excitation(self.set_attention(self.embedding(x)))
        tasks, _ = self.selector(fields)
        return (self.towers[0](tasks[:, 0]).squeeze(1), self.towers[1](tasks[:, 1]).squeeze(1),
                self.towers[2](tasks[:, 2]))


def funnel_log_probs(logits) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Chained log-probabilities: log P(laundering), log P(in_pattern), log P(typology = k) [n, 8].

    Each step multiplies the previous by a conditional probability, so on every row
    P(typology = k) <= P(in_pattern) <= P(laundering) holds by construction."""
    laundering, in_pattern, typology = logits
    log_laundering = F.logsigmoid(laundering)
    log_in_pattern = log_laundering + F.logsigmoid(in_pattern)
    return log_laundering, log_in_pattern, log_in_pattern[:, None] + F.log_softmax(typology, dim=1)


def log1mexp(log_p: torch.Tensor) -> torch.Tensor:
    """log(1 - p) from log p, accurate at both ends (Mächler 2012), with finite gradients."""
    log_p = log_p.clamp(max=-1e-7)
    near_one = log_p > LOG_HALF
    return torch.where(near_one, torch.log(-torch.expm1(torch.where(near_one, log_p, LOG_HALF))),
                       torch.log1p(-torch.exp(torch.where(near_one, LOG_HALF, log_p))))


def chained_loss(logits, laundering, in_pattern, typology_onehot, row_weight, pos_weight: float) -> torch.Tensor:
    """ESMM-style loss: every chained probability is supervised on every row, by binary
    cross-entropy with positives weighted by `pos_weight`; rows weighted by `row_weight`."""
    total = torch.zeros_like(row_weight)
    for log_p, target in zip(funnel_log_probs(logits), (laundering, in_pattern, typology_onehot)):
        bce = -(pos_weight * target * log_p + (1 - target) * log1mexp(log_p))
        total = total + (bce.sum(dim=1) if bce.dim() == 2 else bce)
    return (total * row_weight).sum() / row_weight.sum()
