"""Repository hygiene a reviewer would check: generated code and generated docs match their sources."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_protos_match_protos_dir():
    result = subprocess.run([sys.executable, "scripts/gen_protos.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_configuration_doc_matches_settings_classes():
    result = subprocess.run([sys.executable, "scripts/gen_config_docs.py", "--check"], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr


def test_ci_runs_make_test_only():
    script = (ROOT / ".ci" / "run").read_text()
    assert "make test" in script


def test_test_module_names_are_unique():
    # tests/ folders are not packages: two test files with one basename break collection.
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_python_sources_pass_the_linter():
    """`make lint` stays clean: ruff with the rules in pyproject.toml, generated code excluded."""
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run([str(ruff), "check", "--quiet", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]
