"""These tests run under ``make container-check`` in the container's environment; elsewhere they are not collected."""
import importlib.util

if importlib.util.find_spec("sagemaker_containers") is None:
    collect_ignore = ["test_framework_container.py"]
