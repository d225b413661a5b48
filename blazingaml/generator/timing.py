"""When things happen: day and hour profiles of ordinary and of laundering activity, and the tail.

Measured on real HI-Small (docs/generator.md lists the sources):

* ordinary traffic follows the week: 482k transactions on Monday-Thursday, 654k on Fridays, 207k on
  Saturdays and Sundays, with a start-up surge on the first two days (1.11M, 754k);
* laundering does not: 400-540 laundering transactions on every day of the main period;
* ordinary traffic is flat over the hours of the day, except that Reinvestment is booked in the midnight
  hour (hour 0 holds 634,726 rows against about 193k for every other hour);
* laundering follows its own hour profile: the one measured on the 1,497 real dev pattern rows (peaks
  11:00-16:59, trough 20:00-23:59; the real laundering rate peaks at 12:00), smoothed with a
  (1/4, 1/2, 1/4) kernel over neighbouring hours;
* activities under way when the main period ends finish afterwards: the real tail (days 11-18) holds
  1,108 rows, 655 of them laundering, all of them ACH.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

DAY = 86400
HOUR = 3600
MINUTE = 60

_PATTERN_HOURS = np.array([44, 32, 41, 31, 40, 60, 50, 51, 87, 68, 79, 102,
                           116, 89, 81, 84, 101, 78, 89, 80, 12, 29, 19, 34], float)
LAUNDERING_HOUR_WEIGHTS = 0.5 * _PATTERN_HOURS + 0.25 * np.roll(_PATTERN_HOURS, 1) + 0.25 * np.roll(_PATTERN_HOURS, -1)
_ACCEPT = LAUNDERING_HOUR_WEIGHTS / LAUNDERING_HOUR_WEIGHTS.max()

# Ordinary transactions per weekday (Monday first), HI-Small Sep 5-8 (Mon-Thu), Sep 9 (Fri), Sep 3/4/10.
WEEKDAY_VOLUME = np.array([482_650, 482_089, 482_751, 482_773, 654_467, 207_382, 207_430], float)
# Start-up surge of the first two days over their weekday's level (Sep 1: 1,114,921, a Thursday; Sep 2:
# 754,449, a Friday).
STARTUP = (1_114_921 / 482_773, 754_449 / 654_467)


def day_weights(start: int, days: int) -> np.ndarray:
    """Relative volume of ordinary traffic on each day of the main period."""
    first = dt.datetime.fromtimestamp(start, dt.timezone.utc).weekday()
    w = WEEKDAY_VOLUME[(first + np.arange(days)) % 7].copy()
    w[: len(STARTUP)] *= STARTUP[: days]
    return w / w.sum()


class Calendar:
    """The main period of a world and how its ordinary and laundering activity spread over it."""

    def __init__(self, start: int, days: int):
        self.start, self.days = start, days
        self.end = start + days * DAY
        self.day_p = day_weights(start, days)

    def days_drawn(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """Days of ordinary activity, following the weekly profile."""
        return rng.choice(self.days, size=count, p=self.day_p)

    def ordinary(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """Times of ordinary transactions: weekly day profile, any minute of the day."""
        return self.start + self.days_drawn(rng, count) * DAY + rng.integers(0, 1440, count) * MINUTE

    def midnight(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """Times of bookings made in the midnight hour (Reinvestment)."""
        return self.start + self.days_drawn(rng, count) * DAY + rng.integers(0, 60, count) * MINUTE

    def laundering_start(self, rng: np.random.Generator) -> int:
        """A start time for laundering activity: any day of the main period alike, the hour of day from the
        laundering profile."""
        day = self.start + int(rng.integers(0, self.days)) * DAY
        return int(times_between(rng, day, day + DAY - MINUTE)[0])


def times_between(rng: np.random.Generator, lo, hi) -> np.ndarray:
    """One time per window [lo, hi] (seconds, whole-minute bounds), whole minutes, following the
    laundering hour profile; windows shorter than an hour are sampled uniformly. Rejection sampling
    keeps each result inside its window."""
    lo = np.atleast_1d(np.asarray(lo, np.int64))
    hi = np.maximum(np.atleast_1d(np.asarray(hi, np.int64)), lo)
    out = np.empty(len(lo), np.int64)
    todo = np.arange(len(lo))
    for _ in range(64):
        if not len(todo):
            break
        span = hi[todo] - lo[todo]
        t = lo[todo] + (rng.random(len(todo)) * (span + 1)).astype(np.int64)
        ok = (span < HOUR) | (rng.random(len(todo)) < _ACCEPT[(t // HOUR) % 24])
        out[todo[ok]] = t[ok]
        todo = todo[~ok]
    if len(todo):
        out[todo] = lo[todo]
    return out // MINUTE * MINUTE
