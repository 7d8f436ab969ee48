"""Monitoring runtime (run by the monitor Lambdas and `mlops drift`): capture decoding, drift detection and fan-out, quality metrics."""
