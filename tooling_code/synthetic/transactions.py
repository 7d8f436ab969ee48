"""Synthetic card transactions for the fraud-detection example: seeded, about 1.5% fraud, optional drift.

Columns: the features of ``config/models/fraud-detection.yaml`` plus ``customer_age_band`` (protected attribute,
not a feature) and ``is_fraud`` (label, 0/1).

Legitimate spending: amounts scatter log-normally around the customer's 30-day average, mostly daytime, near
home, few transactions a day, about 30% online; 3% of online purchases are planned big-ticket buys (3-10x the
average), and 2% of in-person spending happens abroad. Fraud follows three documented patterns:
- ``card_testing`` (35%): bursts of tiny online payments for digital goods; many transactions in 24 h.
- ``account_takeover`` (40%): one large online purchase (3-20x the customer's average) for electronics, travel or
  online retail, often at night, far from home, on younger accounts.
- ``counterfeit_card`` (25%): card-present ATM or chip use abroad, thousands of kilometres from home, at night.
About 1% of frauds are ``stealth``: they look like the customer's normal spending (no model catches them).
Fraud is equally likely in every age band, so a fair model shows small positive-rate differences.

Drift (``drift`` argument, 0 = none, 1 = full; the monitoring work uses it): amounts and 30-day averages grow
by up to 60% (their ratio does not change), the online share of legitimate spending grows from 30% to 60%
(``channel``, ``card_present`` and, through the online merchant mix, ``merchant_category``), and travel grows:
in-person spending abroad from 2% to 30%, with the matching ``distance_from_home_km``. ``DRIFTED_FEATURES`` lists them; the other features keep their distribution.

``python -m tooling_code.synthetic.transactions --rows N --seed S [--drift D] --out FILE.csv``
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

FEATURES = ("amount", "hour_of_day", "day_of_week", "merchant_category", "channel", "card_present",
            "distance_from_home_km", "txn_count_24h", "avg_amount_30d", "amount_to_avg_ratio", "account_age_days",
            "is_foreign")
PROTECTED = "customer_age_band"
LABEL = "is_fraud"
DRIFTED_FEATURES = ("amount", "avg_amount_30d", "channel", "card_present", "merchant_category",
                    "distance_from_home_km", "is_foreign")
FRAUD_RATE = 0.015
AGE_BANDS = ("18-25", "26-35", "36-50", "51-65", "65+")
AGE_SHARES = (0.14, 0.24, 0.30, 0.21, 0.11)
MERCHANTS = ("grocery", "restaurant", "fuel", "retail", "health", "entertainment", "online_retail", "travel",
             "electronics", "digital_goods")
IN_PERSON_SHARES = (0.30, 0.20, 0.14, 0.18, 0.06, 0.06, 0.0, 0.02, 0.04, 0.0)
ONLINE_SHARES = (0.05, 0.05, 0.0, 0.05, 0.03, 0.10, 0.40, 0.12, 0.08, 0.12)
IN_PERSON_CHANNELS = ("chip", "contactless", "atm")
DAY_HOURS = np.array([1, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 10, 11, 10, 9, 9, 9, 10, 10, 9, 7, 5, 3, 2], dtype=float)
PATTERNS = ("card_testing", "account_takeover", "counterfeit_card", "stealth")
PATTERN_SHARES = (0.35, 0.39, 0.25, 0.01)


def _legitimate(rng: np.random.Generator, n: int, drift: float) -> dict:
    age = rng.choice(len(AGE_BANDS), size=n, p=AGE_SHARES)
    avg = np.exp(rng.normal(3.7 + 0.1 * np.minimum(age, 3), 0.6, n)) * (1 + 0.6 * drift)
    online = rng.random(n) < 0.30 + 0.30 * drift
    in_person = rng.choice(IN_PERSON_CHANNELS, size=n, p=(0.55, 0.38, 0.07))
    foreign = rng.random(n) < 0.02 + 0.28 * drift
    distance = np.where(foreign, np.exp(rng.normal(6.3, 0.8, n)), np.exp(rng.normal(1.4, 1.0, n)))
    big_ticket = online & (rng.random(n) < 0.03)  # the occasional planned large online purchase
    return {
        "age": age,
        "avg_amount_30d": avg,
        "amount": avg * np.exp(np.where(big_ticket, rng.normal(np.log(5.0), 0.5, n), rng.normal(0.0, 0.45, n))),
        "hour_of_day": rng.choice(24, size=n, p=DAY_HOURS / DAY_HOURS.sum()),
        "day_of_week": rng.integers(0, 7, n),
        "merchant_category": np.where(online, rng.choice(MERCHANTS, size=n, p=ONLINE_SHARES),
                                      rng.choice(MERCHANTS, size=n, p=IN_PERSON_SHARES)),
        "channel": np.where(online, "online", in_person),
        "distance_from_home_km": np.where(online, np.exp(rng.normal(1.0, 1.0, n)), distance),
        "txn_count_24h": rng.poisson(1.8, n) + 1,
        "account_age_days": np.clip(np.exp(rng.normal(6.8 + 0.25 * age, 0.8, n)), 30, 20000).round(),
        "is_foreign": foreign & ~online,
    }


def _apply_fraud(rng: np.random.Generator, rows: dict, index: np.ndarray) -> None:
    """Overwrite the rows at ``index`` with fraud drawn from the documented patterns."""
    pattern = rng.choice(len(PATTERNS), size=len(index), p=PATTERN_SHARES)
    for code, name in enumerate(PATTERNS[:3]):
        at = index[pattern == code]
        k = len(at)
        if name == "card_testing":
            rows["amount"][at] = rng.uniform(0.5, 9.0, k)
            rows["channel"][at] = "online"
            rows["merchant_category"][at] = rng.choice(("digital_goods", "online_retail"), size=k, p=(0.8, 0.2))
            rows["txn_count_24h"][at] = rng.poisson(14, k) + 8
            rows["hour_of_day"][at] = rng.integers(0, 24, k)
            rows["distance_from_home_km"][at] = np.exp(rng.normal(4.5, 1.2, k))
        elif name == "account_takeover":
            rows["amount"][at] = rows["avg_amount_30d"][at] * np.exp(rng.normal(np.log(7.0), 0.45, k))
            rows["channel"][at] = "online"
            rows["merchant_category"][at] = rng.choice(("electronics", "travel", "online_retail"), size=k)
            rows["hour_of_day"][at] = np.where(rng.random(k) < 0.65, rng.integers(0, 6, k), rng.integers(6, 24, k))
            rows["distance_from_home_km"][at] = np.exp(rng.normal(5.5, 1.0, k))
            rows["txn_count_24h"][at] = rng.poisson(4, k) + 2
            rows["account_age_days"][at] = np.clip(rows["account_age_days"][at] * rng.uniform(0.05, 0.6, k), 30, None)
        else:  # counterfeit_card
            rows["amount"][at] = rows["avg_amount_30d"][at] * np.exp(rng.normal(np.log(5.0), 0.5, k))
            rows["channel"][at] = rng.choice(("atm", "chip"), size=k, p=(0.7, 0.3))
            rows["merchant_category"][at] = rng.choice(("retail", "electronics", "travel"), size=k)
            rows["is_foreign"][at] = True
            rows["distance_from_home_km"][at] = np.exp(rng.normal(8.0, 0.4, k))
            rows["hour_of_day"][at] = rng.choice((22, 23, 0, 1, 2, 3, 4), size=k)
            rows["txn_count_24h"][at] = rng.poisson(5, k) + 3


def generate(rows: int, seed: int = 0, drift: float = 0.0, fraud_rate: float = FRAUD_RATE,
             missing_rate: float = 0.002) -> pd.DataFrame:
    """A data frame of ``rows`` transactions; the same arguments always give the same frame.

    ``drift`` in [0, 1] shifts ``DRIFTED_FEATURES`` (see the module docstring); ``fraud_rate`` is the share of
    fraud; ``missing_rate`` blanks that share of ``distance_from_home_km`` (location unavailable).
    """
    if rows < 1:
        raise ValueError(f"rows = {rows}: must be at least 1")
    if not 0.0 <= drift <= 1.0:
        raise ValueError(f"drift = {drift}: must lie in [0, 1] (0 none, 1 full)")
    if not 0.0 <= fraud_rate <= 1.0 or not 0.0 <= missing_rate < 1.0:
        raise ValueError(f"fraud_rate = {fraud_rate}, missing_rate = {missing_rate}: must be fractions")
    rng = np.random.default_rng(seed)
    data = _legitimate(rng, rows, drift)
    fraud = rng.random(rows) < fraud_rate
    _apply_fraud(rng, data, np.flatnonzero(fraud))
    distance = np.round(data["distance_from_home_km"], 2)
    distance[rng.random(rows) < missing_rate] = np.nan
    amount = np.round(data["amount"], 2)
    average = np.round(data["avg_amount_30d"], 2)
    frame = pd.DataFrame({
        "amount": amount,
        "hour_of_day": data["hour_of_day"].astype(np.int64),
        "day_of_week": data["day_of_week"].astype(np.int64),
        "merchant_category": data["merchant_category"],
        "channel": data["channel"],
        "card_present": (data["channel"] != "online").astype(np.int64),
        "distance_from_home_km": distance,
        "txn_count_24h": data["txn_count_24h"].astype(np.int64),
        "avg_amount_30d": average,
        "amount_to_avg_ratio": np.round(amount / average, 4),
        "account_age_days": data["account_age_days"].astype(np.int64),
        "is_foreign": data["is_foreign"].astype(np.int64),
        PROTECTED: np.asarray(AGE_BANDS, dtype=object)[data["age"]],
        LABEL: fraud.astype(np.int64),
    })
    return frame


def known_fraud_cases(count: int = 100, seed: int = 20261101) -> pd.DataFrame:
    """``count`` labelled fraud cases (features and label, all patterns incl. ~1% stealth) for staging tests."""
    frame = generate(count, seed=seed, fraud_rate=1.0, missing_rate=0.0)
    return frame[list(FEATURES) + [LABEL]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="tooling_code.synthetic.transactions", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drift", type=float, default=0.0, help="0 (none) to 1 (full); shifts DRIFTED_FEATURES")
    parser.add_argument("--fraud-rate", type=float, default=FRAUD_RATE)
    parser.add_argument("--known-cases", type=int, help="write this many known fraud cases instead")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    frame = known_fraud_cases(args.known_cases, args.seed) if args.known_cases else \
        generate(args.rows, seed=args.seed, drift=args.drift, fraud_rate=args.fraud_rate)
    frame.to_csv(args.out, index=False, lineterminator="\n")
    print(f"wrote {len(frame)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
