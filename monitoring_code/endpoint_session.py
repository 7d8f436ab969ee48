"""The SageMaker client that reaches a served endpoint wherever it runs.

An endpoint in another account is read through a role there: ``ENDPOINT_ROLE_ARN`` (set by the monitoring
construct when the monitored stage names an account). Without it, the function's own credentials are used.
``ENDPOINT_NAME`` (default ``endpoint``) names the assumed-role session.
"""
from __future__ import annotations

import os

import mlops_contracts as contracts


def endpoint_sagemaker_client(sts=None, environ=None):
    """A SageMaker client for the monitored endpoint: assumed-role credentials when ``ENDPOINT_ROLE_ARN`` is set."""
    import boto3

    environ = os.environ if environ is None else environ
    role = environ.get(contracts.ENV_ENDPOINT_ROLE)
    if not role:
        return boto3.client("sagemaker")
    credentials = (sts or boto3.client("sts")).assume_role(
        RoleArn=role,
        RoleSessionName=f"monitor-{environ.get(contracts.ENV_ENDPOINT_NAME, 'endpoint')}"[:64])["Credentials"]
    return boto3.client("sagemaker", aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"])
