"""The synthetic transaction generator: fraud rate, determinism, documented drift, known cases file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_constructs.build.job_spec import job_spec
from pipeline_code.data import validate
from pipeline_code.training import drift_stats
from tooling_code.synthetic import transactions as tx

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clean():
    return tx.generate(40_000, seed=11)


def test_columns_match_the_fraud_detection_config_and_pass_its_validation(clean, example_config):
    model = example_config.model("fraud-detection")
    assert list(clean.columns[:-2]) == list(model.data.features)
    assert list(clean.columns[-2:]) == ["customer_age_band", "is_fraud"]
    spec = job_spec(model)
    as_read = clean.astype({c: str for c in ("merchant_category", "channel", "customer_age_band", "is_fraud")})
    assert validate.check(as_read, spec) == []


def test_fraud_rate_is_about_one_and_a_half_percent_and_seeded(clean):
    assert 0.01 <= clean["is_fraud"].mean() <= 0.02
    pd.testing.assert_frame_equal(tx.generate(2_000, seed=11), tx.generate(2_000, seed=11))
    assert not tx.generate(2_000, seed=11).equals(tx.generate(2_000, seed=12))


def test_fraud_patterns_differ_from_normal_spending(clean):
    fraud, normal = clean[clean.is_fraud == 1], clean[clean.is_fraud == 0]
    assert fraud["txn_count_24h"].median() > 2 * normal["txn_count_24h"].median()
    assert fraud["hour_of_day"].isin(range(6)).mean() > 3 * normal["hour_of_day"].isin(range(6)).mean()
    assert (fraud["channel"] == "online").mean() > (normal["channel"] == "online").mean()


def psi_by_feature(reference: pd.DataFrame, current: pd.DataFrame) -> dict:
    categorical = {"merchant_category", "channel"}
    baseline = drift_stats.build_baseline({f: reference[f].to_numpy() for f in tx.FEATURES}, categorical)
    return {f.name: drift_stats.compare(f, f.counts(current[f.name].to_numpy())[0])["psi"] for f in baseline.features}


def test_drift_switch_moves_exactly_the_documented_features(clean):
    drifted = psi_by_feature(clean, tx.generate(40_000, seed=12, drift=1.0))
    undrifted = psi_by_feature(clean, tx.generate(40_000, seed=12, drift=0.0))
    for feature in tx.FEATURES:
        assert undrifted[feature] < 0.02, feature
        if feature in tx.DRIFTED_FEATURES:
            assert drifted[feature] > 0.05, (feature, drifted[feature])
        else:
            assert drifted[feature] < 0.02, (feature, drifted[feature])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"drift = 2: must lie in \[0, 1\]"):
        tx.generate(10, drift=2)
    with pytest.raises(ValueError, match="rows = 0"):
        tx.generate(0)


def test_known_cases_file_is_the_seeded_generator_output(example_config):
    cases = example_config.model("fraud-detection").deployment.known_cases
    on_disk = pd.read_csv(REPO / "config" / cases.file)
    regenerated = tx.known_fraud_cases(100, seed=20261101)
    assert len(on_disk) == 100 and on_disk["is_fraud"].eq(1).all()
    assert np.allclose(on_disk.select_dtypes("number"), regenerated.select_dtypes("number").astype(float),
                       equal_nan=True)
    assert list(on_disk.columns) == list(tx.FEATURES) + ["is_fraud"]
