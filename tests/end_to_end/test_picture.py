"""The README's architecture picture is rendered from its D2 source; a stale image fails here (run `make picture`)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "docs" / "images" / "architecture.d2"
IMAGE = ROOT / "docs" / "images" / "architecture.svg"


def test_the_committed_picture_is_rendered_from_its_source(tmp_path):
    rendered = tmp_path / "architecture.svg"
    subprocess.run([str(Path(sys.executable).parent / "d2"), "--layout=dagre", str(SOURCE), str(rendered)],
                   check=True, capture_output=True)
    assert rendered.read_bytes() == IMAGE.read_bytes(), "docs/images/architecture.svg is stale: run `make picture`"


def test_the_readme_shows_the_picture_and_the_picture_shows_the_path():
    assert "](docs/images/architecture.svg)" in (ROOT / "README.md").read_text()
    text = SOURCE.read_text()
    for stage in ("code or config push", "new data", "Build", "Model Registry", "manual approval", "staging",
                  "prod endpoint", "data capture", "monitors", "retrain"):
        assert stage in text, stage
