"""Names shared by the build pipeline, the Lambdas, the CDK constructs and the CLI. One place, no copies.

Pure Python with no dependencies, so it loads in SageMaker containers, Lambda images and CDK apps alike.
"""
from __future__ import annotations

import re

# CloudWatch metrics published by the monitors and watched by alarms (rollback and retraining).
METRIC_NAMESPACE = "MLOps/ModelMonitoring"
DIM_MODEL = "Model"
DIM_ENDPOINT = "Endpoint"
DIM_FEATURE = "Feature"
# Powertools Metrics adds a ``service`` dimension (POWERTOOLS_SERVICE_NAME, which PlatformFunction sets to the
# function's folder name) to every metric it emits; CloudWatch matches dimension sets exactly, so every alarm and
# dashboard names it too. The values are the functions/<folder> names of the emitting functions.
DIM_SERVICE = "service"
SERVICE_DRIFT_DETECTOR = "drift_detector"
SERVICE_QUALITY_MONITOR = "quality_monitor"
SERVICE_AUDIT_WRITER = "audit_writer"
METRIC_DRIFT_SCORE = "DriftScore"  # per feature (Model, Endpoint, Feature) and overall max (Model, Endpoint)
METRIC_DRIFTED_FEATURES = "DriftedFeatures"
METRIC_PREDICTION_DRIFT = "PredictionDriftScore"
METRIC_RECORDS = "RecordsAnalyzed"
METRIC_MALFORMED = "MalformedRecords"
METRIC_INSUFFICIENT = "InsufficientSamples"  # 1 when the window had too few records for a verdict
METRIC_BASELINE_ERROR = "BaselineError"  # 1 when the baseline is missing or corrupt
METRIC_LABELED_RECORDS = "LabeledRecords"  # predictions joined to a ground-truth label in the window
QUALITY_METRIC_NAMES = {"auc": "AUC", "recall": "Recall", "precision": "Precision", "f1": "F1",
                        "accuracy": "Accuracy"}

# ---- Events, trigger and audit metrics, tags, monitor roles, data drops ----
# EventBridge sources and detail-types: the rules that match them and the handlers that dispatch on them.
EVENT_SOURCE_SAGEMAKER = "aws.sagemaker"
EVENT_SOURCE_CLOUDFORMATION = "aws.cloudformation"
EVENT_SOURCE_CLOUDWATCH = "aws.cloudwatch"
EVENT_SOURCE_S3 = "aws.s3"
DETAIL_PACKAGE_STATE = "SageMaker Model Package State Change"
DETAIL_PIPELINE_EXECUTION = "SageMaker Model Building Pipeline Execution Status Change"
DETAIL_ENDPOINT_STATE = "SageMaker Endpoint State Change"
DETAIL_STACK_STATUS = "CloudFormation Stack Status Change"
DETAIL_ALARM_STATE = "CloudWatch Alarm State Change"
DETAIL_OBJECT_CREATED = "Object Created"

# Metrics of the audit writer (namespace, and the two its alarms watch).
GOVERNANCE_METRIC_NAMESPACE = "MLOps/Governance"
METRIC_AUDIT_EVENTS_SKIPPED = "AuditEventsSkipped"  # an event the writer could not record (alarmed)
METRIC_INCOMPLETE_LINEAGE = "IncompleteLineage"  # lineage keys missing on a recorded package (alarmed)
METRIC_AUDIT_RECORDS_WRITTEN = "AuditRecordsWritten"
# Metrics of the deploy trigger and of the new-data trigger.
DEPLOY_METRIC_NAMESPACE = "MLOps/Deploy"
METRIC_DEPLOYMENTS_STARTED = "DeploymentsStarted"
METRIC_APPROVAL_EVENTS = "ApprovalEvents"
METRIC_SKIPPED_EVENTS = "SkippedEvents"
BUILD_TRIGGERS_METRIC_NAMESPACE = "MLOps/BuildTriggers"
METRIC_EXECUTIONS_STARTED = "ExecutionsStarted"
METRIC_OBJECTS_SKIPPED = "ObjectsSkipped"

# The deploy pipeline's V2 variable that the deploy trigger sets to the approved package ARN ("latest": newest).
DEPLOY_PACKAGE_VARIABLE = "ModelPackageArn"

# Tags on every resource of a model (stacks, registry group, jobs), read back by the CLI.
TAG_MODEL = "mlops:model"
TAG_STAGE = "mlops:stage"
TAG_MODEL_PACKAGE = "mlops:model-package"


def monitor_role_name(model: str, function: str) -> str:
    """The named role of a monitor function in the tooling account (``drift_detector`` -> ``<model>-drift-detector``),
    which a stage account's monitor-read role trusts."""
    return f"{model}-{function.replace('_', '-')}"


# A data drop under ``data.new_data_prefix``: ``<prefix><drop>/...`` and, written last, ``<prefix><drop>/_SUCCESS``.
DROP_MARKER = "_SUCCESS"
# ---- end of events, trigger and audit metrics, tags, monitor roles, data drops ----

# Customer metadata recorded on every model package (values are at most 256 characters).
META_GIT_COMMIT = "mlops:git_commit"
META_CONFIG_HASH = "mlops:config_hash"
META_DATA_VERSION = "mlops:data_version"
META_PIPELINE_EXECUTION = "mlops:pipeline_execution_arn"
META_TRAINING_JOB = "mlops:training_job"
META_IMAGE_URI = "mlops:image_uri"
META_HYPERPARAMETERS_HASH = "mlops:hyperparameters_sha256"
META_BASELINE_URI = "mlops:baseline_uri"
META_CODE_URL = "mlops:code_url"  # s3:// URI of the pipeline_code zip the steps ran
META_CODE_SHA256 = "mlops:code_sha256"  # its SHA-256, checked by every step before it runs
META_STEP_IMAGE = "mlops:step_image"  # XGBoost image version the steps ran in (step_images.json), e.g. 3.0-5
META_STEP_LIBRARIES = "mlops:step_libraries"  # its recorded versions: "python=3.10 ... xgboost=3.0.5"
META_MODEL_SHA256 = "mlops:model_sha256"  # SHA-256 of the xgboost-model file the Evaluate step scored
MODEL_SHA256_KEY = "model_sha256"  # where evaluation.json holds that hash

# S3 layout in a model's artifact bucket: step outputs (model.tar.gz, baselines) under pipelines/<execution>/.
ARTIFACT_PREFIX = "pipelines"

# S3 layout in a model's data bucket.
CAPTURE_PREFIX = "capture"  # SageMaker appends /<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl
MONITORING_REPORTS_PREFIX = "monitoring"  # /<endpoint>/<yyyy>/<mm>/<dd>/<hh>/drift.json
# Under MONITORING_REPORTS_PREFIX/<endpoint>/: a drift fan-out's plan, batches and the Map's ResultWriter output,
# as <DRIFT_FANOUT_PREFIX>/<yyyy>/<mm>/<dd>/<hh>/{plan.json, batches.json, results/...}.
DRIFT_FANOUT_PREFIX = "drift-fanout"
# Environment of the drift detector image: which step a function runs (plan: the scheduled check; count and
# reduce: the Distributed Map's child and the step after it).
DRIFT_STEP_PLAN, DRIFT_STEP_COUNT, DRIFT_STEP_REDUCE = "plan", "count", "reduce"

# Files written by the build steps.
BASELINE_FILE = "baseline.json"
EVALUATION_FILE = "evaluation.json"
DATA_VERSION_FILE = "data_version.json"


def endpoint_name(model: str, stage: str) -> str:
    """Endpoint names come from config: ``<model>-<stage>`` (e.g. ``fraud-detection-prod``)."""
    return f"{model}-{stage}"


def serving_role_name(endpoint: str) -> str:
    """The endpoint's execution role (it also writes data capture): ``<endpoint>-serving``."""
    return f"{endpoint}-serving"


# The model build pipeline (AWS::SageMaker::Pipeline) and the parameters every starter passes.
PARAM_INPUT_DATA = "InputDataUrl"  # s3:// URI of the training data (a prefix or a manifest)
PARAM_GIT_COMMIT = "GitCommit"
PARAM_APPROVAL_STATUS = "ModelApprovalStatus"
PARAM_TRIGGER = "Trigger"  # code | schedule | new-data | drift | quality | manual | reproduce
TRIGGERS = ("code", "schedule", "new-data", "drift", "quality", "manual", "reproduce")
# The module each processing step runs from the CodeUrl zip (``python3 -c BOOTSTRAP ... <module> ARGS``).
STEP_MODULES = {"validate": "pipeline_code.data.validate", "preprocess": "pipeline_code.data.preprocess",
                "train": "pipeline_code.training.train", "evaluate": "pipeline_code.training.evaluate"}
PARAM_CODE_URL = "CodeUrl"  # s3:// URI of a zip of the pipeline_code package; default: the CDK asset
PARAM_CODE_SHA256 = "CodeSha256"  # SHA-256 (hex) of that zip; a step whose zip differs fails before it runs
CODE_PREFIX = "code"  # in the artifact bucket: code/<model>/<git commit>/pipeline_code.zip, uploaded by CI
CODE_ZIP_NAME = "pipeline_code.zip"


def code_object_key(model: str, git_commit: str) -> str:
    """Artifact-bucket key of the code zip CI builds from a commit: ``code/<model>/<commit>/pipeline_code.zip``."""
    return f"{code_prefix(model)}{git_commit}/{CODE_ZIP_NAME}"


def code_prefix(model: str) -> str:
    """``code/<model>/``: every code zip of one model (the CI role writes here, the pipeline role reads)."""
    return f"{CODE_PREFIX}/{model}/"


def build_pipeline_name(model: str) -> str:
    """The SageMaker pipeline of a model: ``<model>-build``."""
    return f"{model}-build"


# Gate thresholds are pipeline parameters too (defaults from the model config); see ModelBuildPipeline.
PARAM_BIAS_LIMIT = "BiasLimit"


def min_metric_parameter(metric: str) -> str:
    """The pipeline parameter holding a quality metric's floor, e.g. ``auc`` -> ``MinAUC``."""
    return f"Min{QUALITY_METRIC_NAMES[metric]}"


# Where the build pipeline's gates read evaluation.json (Std:JsonGet paths); evaluate writes exactly these.
def quality_metric_path(metric: str) -> str:
    """``binary_classification_metrics.<metric>.value`` (SageMaker's model-quality format)."""
    return f"binary_classification_metrics.{metric}.value"


def bias_gate_path(metric: str) -> str:
    """The worst value over protected attributes: ``bias.max_<metric>`` for differences (|d|, lower is
    better), ``bias.min_disparate_impact`` for the ratio (higher is better)."""
    return "bias.min_disparate_impact" if metric == "disparate_impact" else f"bias.max_{metric}"


CHAMPION_PASSED_PATH = "champion.passed"  # 1.0 when the challenger is at least as good as the champion, else 0.0


# Serving (pipeline_code.endpoint.serving inside the framework container): the model artifact and rejected requests.
SERVING_FILE = "serving.json"  # in model.tar.gz beside xgboost-model and encoder.json: threshold and model name
SERVING_CODE_DIR = "code"  # model.tar.gz/code/: serve.py and the pipeline_code package the build ran
SERVING_PROGRAM = "serve.py"
ENV_ENDPOINT = "MLOPS_ENDPOINT"  # names the endpoint in rejection logs; not yet set on the model (logs say "local")
METRIC_REJECTED_REQUESTS = "RejectedRequests"  # per Model, Endpoint, Reason; from a log metric filter
DIM_REASON = "Reason"
REJECTION_EVENT_FIELD = "event"
REJECTION_EVENT = "rejected_request"
ENV_CATEGORICAL_INPUT = "CATEGORICAL_INPUT"  # drift detector: how captured categoricals arrive
CATEGORICAL_NAMES, CATEGORICAL_CODES = "names", "codes"  # raw records (default) or encoder.json codes
REJECTION_REASONS = ("empty_body", "missing_column", "extra_column", "non_numeric", "unseen_category",
                     "malformed", "unsupported_content_type", "unsupported_accept")

# Model lifecycle: SageMaker's ModelLifeCycle (Stage, StageStatus) on each model package. The build pipeline sets
# the first at registration; the CD pipeline's lifecycle recorder sets the others (see governance_code.model_lifecycle).
LIFECYCLE_REGISTERED = ("Registered", "GatesPassed")
LIFECYCLE_STAGING_PASSED = ("Staging", "Passed")
LIFECYCLE_PROD_RUNNING = ("Production", "Running")
LIFECYCLE_PROD_REPLACED = ("Production", "Replaced")
LIFECYCLE_STAGES = ("Registered", "Staging", "Production")  # every Stage this platform sets

# Model cards: the evaluate step writes the card's evaluation_details (JSON text) under this key of
# evaluation.json; the RegisterModel step splices it into the ModelCard it attaches to the package.
MODEL_CARD_EVALUATION_PATH = "model_card_evaluation"
MODEL_CARD_STATUS = "PendingReview"  # machine-filled at registration; the steward reviews it with the approval


# Audit across accounts: stage accounts forward endpoint events to the tooling account's governance bus; the
# audit writer reads the endpoint's serving state through a role deployed with the stage.
def governance_bus_name(prefix: str) -> str:
    """The tooling account's governance event bus: ``<prefix>-governance``."""
    return f"{prefix}-governance"


def audit_reader_role_name(endpoint: str) -> str:
    """The role in a stage account that the audit writer assumes to describe the endpoint: ``<endpoint>-audit``."""
    return f"{endpoint}-audit"


def audit_forward_role_name(endpoint: str) -> str:
    """The EventBridge role in a stage account that forwards the endpoint's audit events: ``<endpoint>-audit-forward``
    (under ``<model>-*``, like every role the endpoint stack creates)."""
    return f"{endpoint}-audit-forward"


# The served model answers CSV with ``score,label`` per row (pipeline_code.endpoint.serving): only the score is a prediction.
_SCORE_LABEL = re.compile(r"^([^,\n]*),[01]$", re.MULTILINE)


def score_column(output: str) -> str:
    """A CSV output with the score of each ``score,label`` row only; other outputs unchanged."""
    return _SCORE_LABEL.sub(r"\1", output) if "," in output else output


# Deployment: the stacks of one model, the endpoint stack's parameters and outputs (its contract with the CD
# pipeline's Resolve step), and the names of the roles other accounts trust by name.
def model_stack_name(prefix: str, model: str) -> str:
    """The model's platform stack in the tooling account: ``<prefix>-<model>``."""
    return f"{prefix}-{model}"


def endpoint_stack_name(prefix: str, model: str, stage: str) -> str:
    """``<prefix>-<model>-<stage>``: deployed by the model's CD pipeline, never by ``cdk deploy``."""
    return f"{prefix}-{model}-{stage}"


def governance_stack_name(prefix: str) -> str:
    """The platform's governance stack in the tooling account: ``<prefix>-governance``."""
    return f"{prefix}-governance"


ENDPOINT_PARAM_PACKAGE = "ModelPackageArn"  # the approved package (the challenger in A/B)
ENDPOINT_PARAM_CHAMPION_PACKAGE = "ChampionModelPackageArn"  # A/B and shadow setups only
ENDPOINT_PARAM_DATA_BUCKET = "DataBucketName"
ENDPOINT_PARAM_KEY = "KeyArn"
ENDPOINT_PARAM_TOPIC = "TopicArn"  # only for a stage in the tooling account
ENDPOINT_OUTPUT_CONFIG = "EndpointConfigName"  # the endpoint config this deployment created
ENDPOINT_OUTPUT_PACKAGES = "ModelPackageArns"  # every package the endpoint serves, comma-separated


def endpoint_log_group_name(endpoint: str) -> str:
    """The log group SageMaker writes an endpoint's container output to: ``/aws/sagemaker/Endpoints/<endpoint>``."""
    return f"/aws/sagemaker/Endpoints/{endpoint}"


def _suffixed(suffix: str, doc: str):
    """A name function ``base -> <base><suffix>``: one line per name below, each with its docstring."""
    def name(base: str) -> str:
        return f"{base}{suffix}"
    name.__name__ = name.__qualname__ = f"name{suffix}"
    name.__doc__ = doc
    return name


stage_access_stack_name = _suffixed("-access", "A stage account's access stack: ``<endpoint stack>-access``.")
variant_dashboard_name = _suffixed("-variants", "The endpoint stack's per-variant dashboard: ``<endpoint>-variants``.")
# In a stage account of its own, per endpoint (``<endpoint>-<role>``; the access stack creates them).
deploy_role_name = _suffixed("-deploy", "The CloudFormation role that deploys the endpoint stack.")
deploy_action_role_name = _suffixed("-deploy-action", "The role the CD pipeline's deploy action assumes.")
integration_test_role_name = _suffixed("-integration-test", "The role the tooling account's integration test assumes.")
deploy_check_role_name = _suffixed("-deploy-check", "The role the post-deploy check assumes: it may only describe "
                                                    "the endpoint.")
monitor_read_role_name = _suffixed("-monitor-read", "The role the tooling account's monitors assume to describe the "
                                                    "endpoint.")


# Environment variables: the names a construct sets on a Lambda function (``environment=``/``add_environment``) or a
# CodeBuild project (``variables=``) and the handler, runtime module or buildspec reads. Not ours, so not here:
# SageMaker's ``SM_*`` (training containers), ``AWS_REGION`` (Lambda's runtime) and ``POWERTOOLS_*`` (Powertools'
# own settings). ENV_ENDPOINT and ENV_CATEGORICAL_INPUT above belong to this family too.
# Every monitor, trigger and recorder:
ENV_MODEL_NAME = "MODEL_NAME"  # also CodeBuild's (buildspecs: $MODEL_NAME)
ENV_ENDPOINT_NAME = "ENDPOINT_NAME"
ENV_DATA_BUCKET = "DATA_BUCKET"  # also CodeBuild's (deploy-resolve)
ENV_PIPELINE_NAME = "PIPELINE_NAME"  # the build (or deploy) pipeline a trigger starts; also CodeBuild's (ci-run)
ENV_MODEL_PACKAGE_GROUP = "MODEL_PACKAGE_GROUP"
ENV_IDEMPOTENCY_TABLE = "IDEMPOTENCY_TABLE"
ENV_IDEMPOTENCY_SECONDS = "IDEMPOTENCY_SECONDS"  # deploy trigger
ENV_TOPIC_ARN = "TOPIC_ARN"  # build notifier; also CodeBuild's (deploy-resolve)
# New-data trigger:
ENV_NEW_DATA_PREFIX = "NEW_DATA_PREFIX"
ENV_DEDUP_WINDOW_SECONDS = "DEDUP_WINDOW_SECONDS"
# Drift detector (scheduled, and the fan-out's count and reduce steps):
ENV_ENDPOINT_ROLE = "ENDPOINT_ROLE_ARN"  # a role in the endpoint's account (monitoring_code.endpoint_session)
ENV_DRIFT_STEP = "DRIFT_STEP"  # DRIFT_STEP_PLAN (scheduled), DRIFT_STEP_COUNT or DRIFT_STEP_REDUCE (fan-out)
ENV_DRIFT_METRIC = "DRIFT_METRIC"
ENV_DRIFT_THRESHOLD = "DRIFT_THRESHOLD"
ENV_MIN_SAMPLES = "MIN_SAMPLES"  # drift and quality monitors
ENV_STATE_MACHINE_ARN = "STATE_MACHINE_ARN"  # the fan-out state machine the scheduled detector starts
ENV_FANOUT_BYTES = "FANOUT_BYTES"  # no construct sets it: the default (drift_fanout.FANOUT_BYTES) holds
# Quality monitor:
ENV_GROUND_TRUTH_PREFIX = "GROUND_TRUTH_PREFIX"
ENV_POSITIVE_CLASS = "POSITIVE_CLASS"
ENV_DECISION_THRESHOLD = "DECISION_THRESHOLD"
ENV_LABEL_DELAY_HOURS = "LABEL_DELAY_HOURS"
# Retrain trigger:
ENV_COOLDOWN_HOURS = "COOLDOWN_HOURS"
ENV_ALARM_TRIGGERS = "ALARM_TRIGGERS"
# Audit writer:
ENV_AUDIT_TABLE = "AUDIT_TABLE"
ENV_ENDPOINT_STACKS = "ENDPOINT_STACKS"
ENV_ENDPOINT_READERS = "ENDPOINT_READERS"
# CodeBuild projects (the buildspecs/*.yml read them as ``$NAME``), besides MODEL_NAME, PIPELINE_NAME, DATA_BUCKET
# and TOPIC_ARN above. CodeBuild's own (``CODEBUILD_*``) are not ours.
ENV_CONFIG_DIR = "CONFIG_DIR"
ENV_STAGE = "STAGE"
ENV_STACKS = "STACKS"  # deploy-resolve: the endpoint stacks, space-separated
ENV_ARTIFACT_BUCKET = "ARTIFACT_BUCKET"
ENV_KEY_ARN = "KEY_ARN"
ENV_TEST_ROLE_ARN = "TEST_ROLE_ARN"  # deploy-test, when staging is in its own account
ENV_CHECK_ROLE_ARN = "CHECK_ROLE_ARN"  # deploy-verify, when prod is in its own account
ENV_MODEL_PACKAGE_ARN = "MODEL_PACKAGE_ARN"  # set per action
ENV_EXPECTED_CONFIG = "EXPECTED_CONFIG"  # set per action
ENV_TEST_PATHS = "TEST_PATHS"  # ci-test
ENV_WAIT_MINUTES = "WAIT_MINUTES"  # ci-run
ENV_CODE_BUCKET = "CODE_BUCKET"
ENV_CODE_KMS_KEY = "CODE_KMS_KEY"
ENV_GIT_COMMIT = "GIT_COMMIT"  # set per action: the source commit
# A model's CI and CD pipelines in the tooling account: the names docs, runbooks and operators use (upload the source
# zip, start the CD pipeline, read a CodeBuild project's logs). The constructs create them under these names.
CI_SOURCE_PREFIX = "ci"  # in the artifact bucket: ci/<model>/source.zip, the S3 source of both pipelines
CI_SOURCE_ZIP = "source.zip"


def source_object_key(model: str) -> str:
    """Artifact-bucket key of the repository zip both pipelines read without a code connection:
    ``ci/<model>/source.zip`` (uploading a new version starts the build CI)."""
    return f"{CI_SOURCE_PREFIX}/{model}/{CI_SOURCE_ZIP}"


CI_STEPS = ("test", "run")  # the build CI's CodeBuild projects: unit and synth tests, then the SageMaker pipeline
DEPLOY_STEPS = ("resolve", "test", "verify")  # the CD pipeline's: Resolve, IntegrationTest, VerifyProd


def ci_project_name(model: str, step: str) -> str:
    """A build CI CodeBuild project: ``<model>-ci-<step>``, ``step`` one of ``CI_STEPS``."""
    if step not in CI_STEPS:
        raise ValueError(f"build CI step {step!r}: expected one of {CI_STEPS}")
    return f"{model}-ci-{step}"


def deploy_pipeline_name(model: str) -> str:
    """The CD pipeline (CodePipeline) of a model: ``<model>-deploy``."""
    return f"{model}-deploy"


def deploy_project_name(model: str, step: str) -> str:
    """A CD pipeline CodeBuild project: ``<model>-deploy-<step>``, ``step`` one of ``DEPLOY_STEPS`` (the test and
    verify projects' roles carry the same names: ``test_project_role_name``, ``verify_project_role_name``)."""
    if step not in DEPLOY_STEPS:
        raise ValueError(f"CD pipeline step {step!r}: expected one of {DEPLOY_STEPS}")
    return f"{deploy_pipeline_name(model)}-{step}"


# In the tooling account, per model, named so that stage accounts can trust exactly them: the CD pipeline's
# service role ``<model>-deploy-pipeline``, and the test and verify projects' roles, named as their projects.
def pipeline_role_name(model: str) -> str:
    """The CD pipeline's service role: ``<model>-deploy-pipeline``."""
    return f"{deploy_pipeline_name(model)}-pipeline"


def test_project_role_name(model: str) -> str:
    """The integration-test project's role: ``<model>-deploy-test``, the project's own name."""
    return deploy_project_name(model, "test")


def verify_project_role_name(model: str) -> str:
    """The post-deploy check project's role: ``<model>-deploy-verify``, the project's own name."""
    return deploy_project_name(model, "verify")
