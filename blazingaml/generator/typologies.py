"""The shapes of laundering attempts in the 8 AMLworld typologies, as measured on real HI-Small.

Sources: ibm-aml.md §1.3 (the whole real HI-Small_Patterns.txt) and our own measurements on the 185
real dev attempts (`bench/bench_calibration.py` prints them next to the generated ones):

* transactions per attempt and the qualifiers of the real files ("Max 7-degree Fan-Out", "Max 4 hops");
* durations (first to last leg) drawn from the deciles of the real dev attempts' durations of the same
  typology (overall 21% within 24 h, 32% within 48 h, 88% within 96 h; gather-scatter up to 191 h);
* leg values in US dollars: a body spread evenly from a few dollars to about 18,000 (quartiles of the
  real legs 4.6k / 10.1k / 14.6k) and about 4% of legs far above it (10^5 .. 10^8);
* fan and bipartite legs carry independent values; chains keep the value from hop to hop (real
  cycles: coefficient of variation 0.08 within an attempt); a gather leg carries about what its
  scatter leg brought (real ratio quartiles 0.84 .. 1.09);
* every gather leg after its own scatter leg, chain hops in time order;
* times follow the common hour-of-day profile (timing.py).

Which accounts take part, what currency and format the legs use, and where the money comes from and
goes is the business of crime.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .timing import HOUR, MINUTE, times_between

# typology: (lo, hi, median) of its size parameter, and its longest duration in hours
SHAPES = {
    "FAN-OUT": ((1, 16, 7), 96), "FAN-IN": ((1, 16, 8), 96), "GATHER-SCATTER": ((1, 15, 6), 200),
    "SCATTER-GATHER": ((1, 16, 7), 96), "CYCLE": ((2, 12, 4), 96), "RANDOM": ((1, 11, 3), 92),
    "BIPARTITE": ((1, 15, 4), 47), "STACK": ((1, 15, 5), 114),
}
# Deciles (0%, 10%, ..., 100%) of the durations in hours of the 185 real dev attempts, per typology.
DURATION_DECILES = {
    "FAN-OUT": (0.0, 9.3, 56.6, 63.1, 66.8, 85.5, 88.5, 90.3, 92.8, 94.9, 95.6),
    "FAN-IN": (0.0, 12.6, 37.1, 78.8, 81.4, 85.4, 86.8, 88.0, 90.4, 91.2, 95.6),
    "GATHER-SCATTER": (0.4, 4.4, 83.9, 136.8, 140.0, 146.7, 159.5, 161.3, 172.8, 183.5, 191.1),
    "SCATTER-GATHER": (24.6, 45.4, 61.0, 69.7, 78.1, 80.9, 91.7, 92.9, 94.4, 95.7, 95.9),
    "CYCLE": (9.1, 23.7, 62.9, 68.3, 69.6, 73.2, 76.0, 81.1, 86.8, 89.2, 90.8),
    "RANDOM": (0.0, 0.0, 0.0, 2.8, 27.9, 54.7, 77.2, 80.0, 82.7, 87.4, 90.5),
    "BIPARTITE": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 29.6, 33.9, 35.4, 37.9, 47.4),
    "STACK": (1.1, 9.7, 22.2, 34.5, 47.8, 70.6, 80.1, 88.6, 93.9, 96.7, 105.0),
}
LEG_BODY_USD = 18_000.0
LEG_OUTLIER_SHARE = 0.04


@dataclass
class Leg:
    src: int      # position in the attempt's account list
    dst: int
    ts: int
    usd: float


@dataclass
class Shape:
    """An attempt before accounts are chosen: legs between account slots 0..n_accounts-1."""

    typology: str
    qualifier: str | None
    n_accounts: int
    legs: list[Leg] = field(default_factory=list)


class ShapeDrawer:
    """Draws attempt shapes; `begin` is when the attempt may start."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def size(self, typology: str) -> int:
        (lo, hi, median), _ = SHAPES[typology]
        return int(np.clip(round(self.rng.gamma(2.5, median / 2.5)), lo, hi))

    def value(self) -> float:
        """One leg's value in US dollars."""
        if self.rng.random() < LEG_OUTLIER_SHARE:
            return float(10 ** self.rng.uniform(5.0, 8.2))
        return float(max(5.0, self.rng.uniform(0, LEG_BODY_USD) * np.exp(self.rng.normal(0, 0.12))))

    def carried(self, usd: float) -> float:
        """What one more hop passes on of `usd`."""
        return float(usd * np.exp(self.rng.normal(-0.01, 0.08)))

    def _window(self, typology: str, begin: int) -> tuple[int, int]:
        hours = float(np.interp(self.rng.random(), np.linspace(0, 1, 11), DURATION_DECILES[typology]))
        return begin, begin + int(hours * HOUR) // MINUTE * MINUTE

    def _times(self, n: int, lo: int, hi: int) -> np.ndarray:
        """n leg times spanning [lo, hi]: the first at lo, the last at hi, the others in between."""
        t = times_between(self.rng, np.full(n, lo), np.full(n, hi))
        if n >= 2:
            order = np.argsort(t, kind="stable")
            t[order[0]], t[order[-1]] = lo, hi
        return t

    def draw(self, typology: str, begin: int) -> Shape:
        lo, hi = self._window(typology, begin)
        return getattr(self, "_" + typology.lower().replace("-", "_"))(typology, lo, hi)

    def _fan_out(self, typology, lo, hi):
        k = self.size(typology)
        ts = self._times(k, lo, hi)
        return Shape(typology, f"Max {k}-degree Fan-Out", k + 1,
                     [Leg(0, 1 + i, int(ts[i]), self.value()) for i in range(k)])

    def _fan_in(self, typology, lo, hi):
        k = self.size(typology)
        ts = self._times(k, lo, hi)
        return Shape(typology, f"Max {k}-degree Fan-In", k + 1,
                     [Leg(1 + i, 0, int(ts[i]), self.value()) for i in range(k)])

    def _gather_scatter(self, typology, lo, hi):
        k_in, k_out = self.size(typology), self.size(typology)
        t_in = self._times(k_in, lo, lo + int(0.6 * (hi - lo)))
        legs = [Leg(1 + i, 0, int(t_in[i]), self.value()) for i in range(k_in)]
        total = sum(leg.usd for leg in legs)
        t_out = self._times(k_out, int(t_in.max()) + MINUTE, hi)
        legs += [Leg(0, 1 + k_in + j, int(t_out[j]), total / k_out * float(np.exp(self.rng.normal(-0.05, 0.3))))
                 for j in range(k_out)]
        return Shape(typology, f"Max {k_in}-degree Fan-In", 1 + k_in + k_out, legs)

    def _two_hop_paths(self, k, lo, hi, fan_source: bool):
        """k parallel paths a_i -> m_i -> b_i, each second hop after its first. With `fan_source`, every
        path starts at slot 0 and ends at slot 1 (scatter-gather); otherwise the 3k slots are distinct."""
        mid = lo + (hi - lo) // 2
        t1 = self._times(k, lo, mid)
        legs = []
        for i in range(k):
            t2 = int(times_between(self.rng, np.array([t1[i] + MINUTE]), np.array([hi]))[0])
            usd = self.value()
            a, m, b = (0, 2 + i, 1) if fan_source else (i, k + i, 2 * k + i)
            legs.append(Leg(a, m, int(t1[i]), usd))
            legs.append(Leg(m, b, t2, usd * float(np.exp(self.rng.normal(-0.03, 0.12)))))
        return sorted(legs, key=lambda leg: leg.ts)

    def _scatter_gather(self, typology, lo, hi):
        k = self.size(typology)
        return Shape(typology, None, k + 2, self._two_hop_paths(k, lo, hi, fan_source=True))

    def _stack(self, typology, lo, hi):
        k = self.size(typology)
        return Shape(typology, None, 3 * k, self._two_hop_paths(k, lo, hi, fan_source=False))

    def _chain(self, typology, lo, hi, closed: bool):
        hops = self.size(typology)
        ts = np.sort(self._times(hops, lo, hi))
        usd = self.value()
        n = hops if closed else hops + 1
        legs = []
        for i in range(hops):
            legs.append(Leg(i, (i + 1) % n, int(ts[i]), usd))
            usd = self.carried(usd)
        return Shape(typology, f"Max {hops} hops", n, legs)

    def _cycle(self, typology, lo, hi):
        return self._chain(typology, lo, hi, closed=True)

    def _random(self, typology, lo, hi):
        return self._chain(typology, lo, hi, closed=False)

    def _bipartite(self, typology, lo, hi):
        k = self.size(typology)
        ts = self._times(k, lo, hi)
        return Shape(typology, None, 2 * k, [Leg(i, k + i, int(ts[i]), self.value()) for i in range(k)])
