"""One-pass Numba scanner for clean blocks of an IBM Trans.csv.

The converter hands every line-aligned block here first. The scanner parses and validates the
whole block in one sweep over its bytes: the timestamp, the four key fields (kept as byte ranges
for the account interner), the amounts, the currency, format and label codes. It accepts only
what the validating path (`ibm_csv._validate`) would accept without comment, and gives up on the
first thing it does not recognise (a quote, a non-ASCII byte, an empty field, an unknown currency, an amount with
more than 15 significant digits, an empty line, ...); the block is then parsed again by the Arrow
path, which reports exact lines, columns and reasons. So the fast path changes speed, never
results.

Amounts are `[0-9]+(.[0-9]+)?`; a value is its digits as an integer divided by a power of ten,
both exact in float64, so the quotient is the correctly rounded double, the same as Arrow's cast.
"""

from __future__ import annotations

import numba
import numpy as np

from .vocab import CURRENCIES, PAYMENT_FORMATS


def _vocabulary(words) -> tuple[np.ndarray, np.ndarray]:
    data = np.frombuffer("".join(words).encode(), dtype=np.uint8).copy()
    offsets = np.zeros(len(words) + 1, np.int64)
    offsets[1:] = np.cumsum([len(w.encode()) for w in words])
    return data, offsets


CURRENCY_BYTES, CURRENCY_OFFSETS = _vocabulary(CURRENCIES)
FORMAT_BYTES, FORMAT_OFFSETS = _vocabulary(PAYMENT_FORMATS)
_DAYS_IN_MONTH = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_POW10 = np.array([10.0 ** k for k in range(23)])
_MAX_EXACT = 2**53
MAX_AMOUNT = 1e15   # a thousand trillion: larger amounts are taken for a lost decimal point (ibm_csv)


@numba.njit(cache=True, nogil=True)
def _field_end(buf, p, end):
    """Position of the ',', '\\r' or '\\n' that ends the field starting at p; -1 at a quote or a
    non-ASCII byte (left to the full parser) or at the end of the block. Which terminator is allowed
    there is the caller's check."""
    while p < end:
        c = buf[p]
        if c == 44 or c == 10 or c == 13:
            return p
        if c == 34 or c >= 128:  # a quote or a non-ASCII byte: the full parser checks quoting and UTF-8
            return -1
        p += 1
    return -1


@numba.njit(cache=True, nogil=True)
def _code(buf, a, b, vocab, offsets):
    """Index of buf[a:b] in the vocabulary, or -1."""
    for k in range(offsets.shape[0] - 1):
        lo, hi = offsets[k], offsets[k + 1]
        if hi - lo != b - a:
            continue
        same = True
        for j in range(b - a):
            if buf[a + j] != vocab[lo + j]:
                same = False
                break
        if same:
            return k
    return -1


@numba.njit(cache=True, nogil=True)
def _amount(buf, a, b):
    """Value of `[0-9]+(.[0-9]+)?` in buf[a:b], or -1.0 when it is not of that form (or too long
    to convert exactly)."""
    mantissa = 0
    decimals = -1
    digits = 0
    for p in range(a, b):
        c = buf[p]
        if c == 46:
            if decimals >= 0 or p == a or p == b - 1:
                return -1.0
            decimals = 0
            continue
        if c < 48 or c > 57:
            return -1.0
        mantissa = mantissa * 10 + (c - 48)
        digits += 1
        if decimals >= 0:
            decimals += 1
        if mantissa >= _MAX_EXACT or digits > 18:
            return -1.0
    if digits == 0:
        return -1.0
    if decimals <= 0:
        return float(mantissa)
    if decimals > 22:
        return -1.0
    return float(mantissa) / _POW10[decimals]


@numba.njit(cache=True, nogil=True)
def parse_timestamp(buf, a):
    """Seconds since the epoch of 'YYYY/MM/DD HH:MM' at buf[a:a+16], or -1 if it is not one
    (times before 1970 come out negative too; callers then take the full parser, which handles them)."""
    if buf[a + 4] != 47 or buf[a + 7] != 47 or buf[a + 10] != 32 or buf[a + 13] != 58:
        return -1
    d0, d1, d2, d3 = np.int64(buf[a]) - 48, np.int64(buf[a + 1]) - 48, np.int64(buf[a + 2]) - 48, np.int64(buf[a + 3]) - 48
    d5, d6, d8, d9 = np.int64(buf[a + 5]) - 48, np.int64(buf[a + 6]) - 48, np.int64(buf[a + 8]) - 48, np.int64(buf[a + 9]) - 48
    d11, d12 = np.int64(buf[a + 11]) - 48, np.int64(buf[a + 12]) - 48
    d14, d15 = np.int64(buf[a + 14]) - 48, np.int64(buf[a + 15]) - 48
    if (d0 | d1 | d2 | d3 | d5 | d6 | d8 | d9 | d11 | d12 | d14 | d15) & ~np.int64(15) != 0 or d0 > 9 or d1 > 9 \
            or d2 > 9 or d3 > 9 or d5 > 9 or d6 > 9 or d8 > 9 or d9 > 9 or d11 > 9 or d12 > 9 or d14 > 9 or d15 > 9:
        return -1
    year = d0 * 1000 + d1 * 100 + d2 * 10 + d3
    month = d5 * 10 + d6
    day = d8 * 10 + d9
    hour = d11 * 10 + d12
    minute = d14 * 10 + d15
    if month < 1 or month > 12 or day < 1 or hour > 23 or minute > 59:
        return -1
    leap = (year % 4 == 0) and (year % 100 != 0 or year % 400 == 0)
    if day > _DAYS_IN_MONTH[month] - (1 if month == 2 and not leap else 0):
        return -1
    # days since 1970-01-01 from the civil date (H. Hinnant's algorithm)
    y = np.int64(year) - (1 if month <= 2 else 0)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return (era * 146097 + doe - 719468) * 86400 + hour * 3600 + minute * 60


@numba.njit(cache=True, nogil=True)
def parse_timestamps(raw, n, out):
    """Parse n consecutive 16-byte timestamps into `out`; False as soon as one is irregular."""
    for i in range(n):
        t = parse_timestamp(raw, 16 * i)
        if t < 0:
            return False
        out[i] = t
    return True


@numba.njit(cache=True, nogil=True)
def scan_block(buf, has_label, cur_vocab, cur_offsets, fmt_vocab, fmt_offsets):
    """Parse a block of complete lines. Returns (rows, ok, columns...) where `ok` is False as soon
    as anything needs the full parser; key fields come back as byte ranges into `buf`."""
    end = buf.shape[0]
    rows = 0
    for p in range(end):
        if buf[p] == 10:
            rows += 1
    ts = np.empty(rows, np.int64)
    keys = np.empty((rows, 8), np.int64)   # from bank, from account, to bank, to account: [lo, hi) each
    amount_received = np.empty(rows, np.float64)
    amount_paid = np.empty(rows, np.float64)
    codes = np.empty((rows, 4), np.int8)   # receiving currency, payment currency, format, label
    p = 0
    for r in range(rows):
        # Timestamp
        if p + 17 > end or buf[p + 16] != 44:
            return rows, False, ts, keys, amount_received, amount_paid, codes
        t = parse_timestamp(buf, p)
        if t < 0:
            return rows, False, ts, keys, amount_received, amount_paid, codes
        ts[r] = t
        p += 17
        # From Bank, Account, To Bank, Account: non-empty, unquoted
        for k in range(4):
            q = _field_end(buf, p, end)
            if q <= p or buf[q] != 44:
                return rows, False, ts, keys, amount_received, amount_paid, codes
            keys[r, 2 * k] = p
            keys[r, 2 * k + 1] = q
            p = q + 1
        # Amount Received, Receiving Currency, Amount Paid, Payment Currency, Payment Format
        for k in range(5):
            q = _field_end(buf, p, end)
            last = k == 4 and not has_label
            if q <= p or (buf[q] != 44 if not last else buf[q] == 44):
                return rows, False, ts, keys, amount_received, amount_paid, codes
            if k == 0 or k == 2:
                v = _amount(buf, p, q)
                if v < 0.0 or v >= MAX_AMOUNT:
                    return rows, False, ts, keys, amount_received, amount_paid, codes
                if k == 0:
                    amount_received[r] = v
                else:
                    amount_paid[r] = v
            else:
                c = _code(buf, p, q, cur_vocab, cur_offsets) if k < 4 else _code(buf, p, q, fmt_vocab, fmt_offsets)
                if c < 0:
                    return rows, False, ts, keys, amount_received, amount_paid, codes
                codes[r, 0 if k == 1 else (1 if k == 3 else 2)] = c
            p = q + 1 if not last else q
        if has_label:
            if p + 1 > end or (buf[p] != 48 and buf[p] != 49):
                return rows, False, ts, keys, amount_received, amount_paid, codes
            codes[r, 3] = buf[p] - 48
            p += 1
        else:
            codes[r, 3] = 0
        # line end: '\n' or '\r\n'
        if p < end and buf[p] == 13:
            p += 1
        if p >= end or buf[p] != 10:
            return rows, False, ts, keys, amount_received, amount_paid, codes
        p += 1
    return rows, True, ts, keys, amount_received, amount_paid, codes
