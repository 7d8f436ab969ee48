"""Platform-wide settings: ``config/platform.yaml``."""
from __future__ import annotations

from pydantic import EmailStr, Field, field_validator, model_validator

from mlops_config.base import AWS_ACCOUNT, AWS_REGION, Strict, field_error

# Validators are bound by assignment (``_check = model_validator(...)(_check)``, what the decorator does)
# so that mutation testing reaches their rules: mutmut skips decorated functions (docs/testing.md).


class StageSettings(Strict):
    """Where a deployment stage lives. With neither set, the stage's stacks are environment-agnostic."""

    account: AWS_ACCOUNT | None = Field(None, description="Account of the stage; default: none (env-agnostic).")
    region: AWS_REGION | None = Field(None, description="Region of the stage; default: none (env-agnostic).")


class NotificationSettings(Strict):
    """Who hears about pipeline failures, approvals and alarms."""

    emails: list[EmailStr] = Field(default_factory=list, description="Email subscribers of every model topic.")


class KmsSettings(Strict):
    """Customer-managed KMS key options; one key per model."""

    pending_window_days: int = Field(30, ge=7, le=30, description="Days before a scheduled key deletion.")
    rotation_period_days: int = Field(365, ge=90, le=2560, description="Automatic key rotation period.")


def _ids_starting_with(prefix: str, what: str):
    """A field check: every ID of the list starts with ``prefix`` (``subnet-``, ``sg-``)."""
    def check(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if not s.startswith(prefix)]
        if bad:
            raise ValueError(f"{what} must start with '{prefix}'; got {bad}")
        return value
    return check


class VpcSettings(Strict):
    """Run SageMaker jobs and Lambdas in these subnets. Default: no VPC (AWS-managed networking)."""

    subnet_ids: list[str] = Field(default_factory=list, description="Private subnet IDs (subnet-...).")
    security_group_ids: list[str] = Field(default_factory=list, description="Security group IDs (sg-...).")

    _subnets = field_validator("subnet_ids")(classmethod(_ids_starting_with("subnet-", "subnet IDs")))
    _groups = field_validator("security_group_ids")(classmethod(_ids_starting_with("sg-", "security group IDs")))

    def _both_or_neither(self) -> VpcSettings:
        if bool(self.subnet_ids) != bool(self.security_group_ids):
            raise field_error("subnet_ids", self.subnet_ids, "give both subnet_ids and security_group_ids, or neither")
        return self
    _both_or_neither = model_validator(mode="after")(_both_or_neither)

    @property
    def enabled(self) -> bool:
        return bool(self.subnet_ids)


class SourceSettings(Strict):
    """Where model code lives. With no connection, CI reads a zip from the artifact bucket (S3 source)."""

    connection_arn: str | None = Field(
        None,
        pattern=r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}$",
        description="CodeStar/CodeConnections connection ARN (GitHub or GitLab); default: none (S3 source).",
    )
    repository: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+$", description="owner/name of the repository."
    )
    branch: str = Field("main", min_length=1, description="Branch that builds and deploys.")

    def _connection_needs_repository(self) -> SourceSettings:
        if bool(self.connection_arn) != bool(self.repository):
            raise field_error("repository", self.repository, "connection_arn and repository go together: give both, or neither for an S3 source")
        return self
    _connection_needs_repository = model_validator(mode="after")(_connection_needs_repository)


class PlatformSettings(Strict):
    """``config/platform.yaml``: settings shared by every model."""

    prefix: str = Field(
        "mlops",
        pattern=r"^[a-z][a-z0-9-]{1,14}$",
        description="Short lowercase prefix for stack and resource names.",
    )
    tooling: StageSettings = Field(
        default_factory=StageSettings,
        description="Where the model stacks (pipelines, registry, monitoring) and the governance stack live; "
        "required (account and region) once any stage names an account or region.",
    )
    stages: dict[str, StageSettings] = Field(
        default_factory=lambda: {"staging": StageSettings(), "prod": StageSettings()},
        description="Deployment stages in promotion order; must include 'staging' and 'prod'.",
    )
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    kms: KmsSettings = Field(default_factory=KmsSettings)
    vpc: VpcSettings = Field(default_factory=VpcSettings)
    source: SourceSettings = Field(default_factory=SourceSettings)
    log_retention_days: int = Field(
        365,
        description="CloudWatch log retention for platform logs (a value CloudWatch Logs accepts).",
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Tags applied to every resource.")

    def _stages(cls, value: dict[str, StageSettings]) -> dict[str, StageSettings]:
        missing = {"staging", "prod"} - set(value)
        if missing:
            raise ValueError(f"stages must include 'staging' and 'prod'; missing {sorted(missing)}")
        for name in value:
            if not name.isalnum() or not name.islower():
                raise ValueError(f"stage name {name!r} must be lowercase letters and digits")
        return value
    _stages = field_validator("stages")(classmethod(_stages))

    def _environments(self) -> PlatformSettings:
        for name, stage in self.stages.items():
            if bool(stage.account) != bool(stage.region):
                raise field_error(f"stages.{name}", stage.model_dump(),
                                  "give both account and region (cross-account CD needs both), or neither")
        pinned = any(s.account or s.region for s in self.stages.values())
        if pinned and not (self.tooling.account and self.tooling.region):
            raise field_error("tooling", self.tooling.model_dump(),
                              "stages name accounts, so the tooling account and region must be set too")
        if bool(self.tooling.account) != bool(self.tooling.region):
            raise field_error("tooling", self.tooling.model_dump(), "give both account and region, or neither")
        for name, stage in self.stages.items():
            if stage.region and stage.region != self.tooling.region:
                # Model packages, their S3 artifacts and the KMS key are regional: SageMaker creates models only
                # from artifacts in the endpoint's region (CreateModel ContainerDefinition.ModelDataUrl).
                raise field_error(f"stages.{name}.region", stage.region,
                                  f"must be the tooling region {self.tooling.region}: endpoints serve the tooling "
                                  "registry's packages, whose artifacts and key SageMaker uses only in their own "
                                  "region; deploy a platform per region instead")
        return self
    _environments = model_validator(mode="after")(_environments)

    def _retention(cls, value: int) -> int:
        allowed = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                   3288, 3653]
        if value not in allowed:
            raise ValueError(f"must be one of CloudWatch Logs' retention values {allowed}")
        return value
    _retention = field_validator("log_retention_days")(classmethod(_retention))

    @property
    def cross_account_ids(self) -> list[str]:
        """Stage accounts, sorted and de-duplicated (the tooling account too, when a stage names it)."""
        return sorted({s.account for s in self.stages.values() if s.account})

    def in_other_account(self, stage: str) -> bool:
        """Whether ``stage`` is pinned to an account other than the tooling account (cross-account CD: its endpoint
        stack deploys there, its alarms reach the model topic through EventBridge). An environment-agnostic stage
        (no account) is not."""
        account = self.stages[stage].account
        return bool(account) and account != self.tooling.account

    @property
    def other_accounts(self) -> list[str]:
        """The accounts of the stages ``in_other_account``, sorted and de-duplicated."""
        return sorted({self.stages[name].account for name in self.stages if self.in_other_account(name)})
