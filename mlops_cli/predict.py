"""``mlops predict --model OUT --input FILE``: score raw records locally with the served model's own code.

``--model`` is a ``mlops run-local`` output folder (its ``served/model.tar.gz``), a ``model.tar.gz`` or an
unpacked model folder. ``--input`` is CSV (features in training order, category names as in the data, an optional
header row of the feature names) or JSON lines (one object keyed by feature name per line). The records go through
``pipeline_code.endpoint.serving.handle``, exactly as the endpoint scores them. Prints ``score,label`` rows (CSV) or the
JSON reply. Exit codes: 0 scored, 2 bad input (the message names column and value).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

EXIT_BAD_INPUT = 2


def register(subparsers) -> None:
    parser = subparsers.add_parser("predict", help="Score raw records locally with the served model's code.")
    parser.add_argument("--model", required=True, help="run-local output folder, model.tar.gz or model folder")
    parser.add_argument("--input", required=True, help="CSV or JSON-lines file of raw records")
    parser.add_argument("--accept", choices=["text/csv", "application/json"], default="text/csv")
    parser.add_argument("--output", help="write the reply here; default stdout")
    parser.set_defaults(func=run)


def _model_folder(model: Path, scratch: str) -> Path:
    import mlops_contracts as contracts
    from mlops_cli.run_local import SERVED_DIR
    from pipeline_code.endpoint import packaging

    if (model / contracts.SERVING_FILE).is_file():
        return model
    archive = model / SERVED_DIR / packaging.MODEL_ARCHIVE if model.is_dir() else model
    if not archive.is_file():
        raise FileNotFoundError(f"--model {model}: no {contracts.SERVING_FILE}, {SERVED_DIR}/"
                                f"{packaging.MODEL_ARCHIVE} or model archive there")
    return packaging.extract_archive(archive, scratch)


def _request(path: Path) -> tuple[bytes, str]:
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):  # one JSON list of records
        return text.encode(), "application/json"
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson") or text.lstrip().startswith("{"):
        records = [line for line in text.splitlines() if line.strip()]  # JSON lines: one record each
        return ("[" + ",".join(records) + "]").encode(), "application/json"
    return text.encode(), "text/csv"


def run(args) -> int:
    from pipeline_code.endpoint import serving

    source = Path(args.input)
    if not source.is_file():
        print(f"bad input: --input {source}: no such file", file=sys.stderr)
        return EXIT_BAD_INPUT
    with tempfile.TemporaryDirectory() as scratch:
        try:
            model = serving.load(_model_folder(Path(args.model), scratch))
        except (OSError, ValueError) as exc:
            print(f"bad input: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    body, content_type = _request(source)
    try:
        reply = serving.score_request(model, body, content_type, args.accept)
    except serving.BadRequest as exc:
        print(f"bad input: {source}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.output:
        Path(args.output).write_text(reply.body)
    else:
        sys.stdout.write(reply.body)
    return 0
