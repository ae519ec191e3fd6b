"""The import contracts (pyproject.toml [tool.importlinter], docs/architecture.md): no import
cycles anywhere in fairtracks_ld, and the pipeline's layers, each importing only those below it.
Checked by import-linter on this checkout's sources; a copy of them with a cycle put back
must fail, so the check cannot pass by checking nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT = ("import sys; from importlinter.cli import lint_imports_command; "
        "sys.exit(lint_imports_command())")


def lint_imports(src: Path, config: Path) -> subprocess.CompletedProcess:
    """import-linter on the package under `src`, with the contracts of `config`."""
    env = dict(os.environ, PYTHONPATH=str(src))
    return subprocess.run(
        [sys.executable, "-c", LINT, "--config", str(config), "--no-cache", "--no-logo"],
        cwd=src, env=env, capture_output=True, text=True, timeout=120)


def test_the_import_contracts_are_kept():
    result = lint_imports(ROOT / "src", ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout, result.stdout


def copy_sources(target: Path) -> Path:
    """The package's Python files (only) under `target`/fairtracks_ld."""
    package = ROOT / "src" / "fairtracks_ld"
    for source in package.rglob("*.py"):
        copied = target / "fairtracks_ld" / source.relative_to(package)
        copied.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copied)
    return target


def add_import(module: Path, line: str) -> None:
    """Append a function that imports inside its body (lazy imports count too)."""
    module.write_text(module.read_text() + f"\n\ndef _put_back():\n    {line}\n")


def test_a_cycle_put_back_breaks_the_contracts(tmp_path):
    src = copy_sources(tmp_path / "src")
    add_import(src / "fairtracks_ld" / "current_view.py", "from fairtracks_ld import reasoning")
    result = lint_imports(src, ROOT / "pyproject.toml")
    assert result.returncode != 0
    assert "Contracts: 0 kept, 2 broken." in result.stdout, result.stdout
    assert "fairtracks_ld.current_view -> fairtracks_ld.reasoning" in result.stdout


def test_a_cycle_inside_a_package_breaks_the_contracts(tmp_path):
    src = copy_sources(tmp_path / "src")
    add_import(src / "fairtracks_ld" / "validation" / "shapes.py",
               "from fairtracks_ld.validation import engine")
    result = lint_imports(src, ROOT / "pyproject.toml")
    assert result.returncode != 0
    assert "No cycles are allowed in fairtracks_ld.validation." in result.stdout, result.stdout


def test_a_layer_importing_a_higher_one_breaks_the_contracts(tmp_path):
    src = copy_sources(tmp_path / "src")
    add_import(src / "fairtracks_ld" / "mapping" / "iris.py",
               "from fairtracks_ld.store import TrackStore")
    result = lint_imports(src, ROOT / "pyproject.toml")
    assert result.returncode != 0
    assert "fairtracks_ld.mapping is not allowed to import fairtracks_ld.store" in result.stdout
