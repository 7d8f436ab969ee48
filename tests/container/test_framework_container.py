"""The served package inside the XGBoost framework container's own serving stack (``make container-check``).

Runs in ``.venv-container``: the container's Python (3.10) with sagemaker-containers 2.8.6.post2, Flask, numpy,
pandas and xgboost at the 3.0-5 image's pins (requirements-container.txt), patched as its Dockerfile patches
it. What runs here is the container's code, not ours: ``_modules.import_module`` copies ``code/`` and
``pip install``s it exactly as ``server.start`` does before gunicorn starts (offline: no index, so the
environment ``packaging.serving_environment`` sets must make that work), then a ``Transformer`` and ``Worker``
assembled as sagemaker-xgboost-container's ``serving.main`` assembles them answer HTTP requests.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import xgboost as xgb

from pipeline_code.data import encoding
from pipeline_code.endpoint import packaging

REPO = Path(__file__).resolve().parents[2]
ATTRITION = REPO / "data" / "attrition" / "attrition.csv"

# sagemaker-xgboost-container src/sagemaker_xgboost_container/serving.py, main() and _user_module_transformer():
# the user module's model_fn/transform_fn become a Transformer, served by a Worker (Flask app).
SERVER = textwrap.dedent("""
    import importlib, json, os, sys
    from sagemaker_containers.beta.framework import env, modules, transformer, worker
    serving_env = env.ServingEnv()
    modules.import_module(serving_env.module_dir, serving_env.module_name)   # as server.start() does
    sys.path.append(os.path.join(os.environ["SAGEMAKER_BASE_DIR"], "code"))   # gunicorn --pythonpath code_dir
    user_module = importlib.import_module(serving_env.module_name)
    t = transformer.Transformer(model_fn=getattr(user_module, "model_fn"),
                                transform_fn=getattr(user_module, "transform_fn"))
    t.initialize()
    app = worker.Worker(transform_fn=t.transform, module_name=serving_env.module_name)
    client = app.test_client()
    out = []
    for body, content_type, accept in json.loads(sys.argv[1]):
        r = client.post("/invocations", data=body, headers={"Content-Type": content_type, "Accept": accept})
        out.append([r.status_code, r.get_data(as_text=True), r.mimetype])
    import pipeline_code
    print(json.dumps({"replies": out, "pipeline_code": pipeline_code.__file__}))
""")


def _package(base: Path) -> list[str]:
    """A small attrition model packaged as the build packages it; returns the feature names."""
    frame = pd.read_csv(ATTRITION, dtype=str)
    label = (frame.pop("Attrition") == "Yes").astype(int).to_numpy()
    categorical = [c for c in frame.columns if not frame[c].str.fullmatch(r"-?\d+(\.\d+)?").all()]
    encoder = encoding.fit(list(frame.columns), {c: sorted(frame[c].unique()) for c in categorical})
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(
        encoding.encode(frame, encoder), label=label), num_boost_round=20)
    scratch = base / "scratch"
    scratch.mkdir()
    booster.save_model(str(scratch / "xgboost-model.json"))
    encoding.save(encoder, scratch)
    packaging.build_model_dir(scratch / "xgboost-model.json", scratch, decision_threshold=0.3,
                              model_name="employee-attrition", out_dir=base / "model")
    return list(frame.columns), frame.head(2).values.tolist()


def test_the_container_installs_the_package_offline_and_answers_bad_requests_4xx(tmp_path):
    features, rows = _package(tmp_path)
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # pipeline_code from code/ only
    environment.update(packaging.serving_environment())
    environment.update({"SAGEMAKER_BASE_DIR": str(tmp_path),
                        "SAGEMAKER_SUBMIT_DIRECTORY": str(tmp_path / "model" / "code"),
                        "PIP_FIND_LINKS": "", "PIP_INDEX_URL": "http://127.0.0.1:9/unreachable"})
    good = "\n".join(",".join(r) for r in rows)
    unseen = ",".join("Astronaut" if f == "JobRole" else v for f, v in zip(features, rows[0]))
    requests = [[good, "text/csv", "text/csv"], [unseen, "text/csv", "text/csv"], ["", "text/csv", "text/csv"],
                [json.dumps(dict(zip(features, rows[0]))), "application/json", "application/json"]]
    done = subprocess.run([sys.executable, "-c", SERVER, json.dumps(requests)], env=environment, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(result["pipeline_code"]).parts[-3:-1] != ("i13", "pipeline_code")
    assert str(tmp_path) in result["pipeline_code"] or "site-packages" in result["pipeline_code"]
    (ok, ok_body, ok_type), (bad, bad_body, bad_type), (empty, _, _), (as_json, json_body, _) = result["replies"]
    assert ok == 200 and ok_type == "text/csv" and len(ok_body.splitlines()) == 2
    assert all(0 <= float(line.split(",")[0]) <= 1 for line in ok_body.splitlines())
    assert bad == 400 and bad_type == "application/json"
    assert json.loads(bad_body)["column"] == "JobRole" and "Astronaut" in json.loads(bad_body)["message"]
    assert empty == 400
    assert as_json == 200 and json.loads(json_body)["predictions"][0]["score"] == float(ok_body.split(",")[0])
    # The rejection lines the endpoint's metric filter counts reach the container's stdout.
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{\"event\"")]
    assert [e["Reason"] for e in events] == ["unseen_category", "empty_body"]


def test_without_the_pip_settings_the_offline_install_fails(tmp_path):
    """The control: the container's pip install needs PIP_NO_BUILD_ISOLATION=0 when it cannot reach an index."""
    _package(tmp_path)
    code = tmp_path / "code"
    shutil.copytree(tmp_path / "model" / "code", code)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "PYTHONPATH"}
    environment.update({"SAGEMAKER_BASE_DIR": str(tmp_path), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": ""})
    script = ("from sagemaker_containers import _modules, _errors\n"
              f"_modules.prepare({str(code)!r}, 'serve')\n"
              f"try:\n    _modules.install({str(code)!r}, capture_error=True)\n"
              "except _errors.InstallModuleError as e:\n    print('INSTALL FAILED', str(e)[-300:])\n")
    done = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True,
                          timeout=600, check=False)
    assert "INSTALL FAILED" in done.stdout, done.stdout + done.stderr
