"""Shared building blocks of the capabilities. Not public API; one module per shared concern:

- ``codebuild``: ``pipeline_project``, the CodeBuild project of the build CI and the deploy pipeline;
- ``platform_key``: ``PlatformKey``, the customer-managed key of a model (``ModelCore``) and of the audit trail;
- ``grants``: the policy CDK keeps a role's grants in (``default_policy``) and the pipelines' acknowledgments;
- ``dependencies``: resources wait for their role's policy;
- ``platform_function``: ``PlatformFunction``, the one way to build a Lambda;
- ``endpoint_metrics``: ``variant_metric``, the one factory of SageMaker endpoint metrics (``AWS/SageMaker``), used
  by ``GuardedEndpoint``'s metric methods and by ``MonitoringDashboard``;
- ``secure_bucket``, ``source`` (the repository source of a pipeline), ``rule_targets``;
- ``validation``: synth-time checks whose messages name the prop, the rule and the value received;
- ``nag``, ``wildcard_allowlist``, ``wildcard_review``: cdk-nag acknowledgments, IAM wildcards only from the
  reviewed list.
"""
