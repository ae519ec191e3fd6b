"""The import contracts (pyproject.toml [tool.importlinter], docs/architecture.md): no import
cycles anywhere in fairtracks_ld, and the pipeline's layers, each importing only those below it.
Checked by import-linter on this checkout's sources (and, for cycles through a package's
__init__, which its contracts leave out, on import-linter's graph); a copy of them with a cycle
put back must fail, so the check cannot pass by checking nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = ("import sys; from importlinter.cli import lint_imports_command; "
        "sys.exit(lint_imports_command())")
CYCLES = ("import sys; sys.path.insert(0, sys.argv[1]); from test_imports import cycles; "
          "found = cycles(); print(found); sys.exit(1 if found else 0)")


def cycles() -> list[tuple[str, str]]:
    """Direct imports (a, b) of fairtracks_ld from which a chain of runtime imports leads back
    to a: every edge of every cycle, package __init__ modules included (TYPE_CHECKING imports
    are not run, so they do not count)."""
    graph = grimp.build_graph("fairtracks_ld", exclude_type_checking_imports=True, cache_dir=None)
    return [(module, imported) for module in sorted(graph.modules)
            for imported in sorted(graph.find_modules_directly_imported_by(module))
            if module in graph.find_upstream_modules(imported)]


def lint_imports(src: Path, config: Path) -> subprocess.CompletedProcess:
    """import-linter on the package under `src`, with the contracts of `config`."""
    env = dict(os.environ, PYTHONPATH=str(src))
    return subprocess.run(
        [sys.executable, "-c", LINT, "--config", str(config), "--no-cache", "--no-logo"],
        cwd=src, env=env, capture_output=True, text=True, timeout=120)


def test_the_import_contracts_are_kept():
    result = lint_imports(ROOT / "src", ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout, result.stdout


def test_no_import_chain_leads_back_to_where_it_started():
    assert cycles() == []


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
    add_import(src / "fairtracks_ld" / "store" / "current_view.py",
               "from fairtracks_ld import reasoning")
    result = lint_imports(src, ROOT / "pyproject.toml")
    assert result.returncode != 0
    # all three: the chain back also leads the current view up to store.swap (reasoning's)
    assert "Contracts: 0 kept, 3 broken." in result.stdout, result.stdout
    assert "fairtracks_ld.store.current_view -> fairtracks_ld.reasoning" in result.stdout


@pytest.mark.parametrize(("module", "line", "message"), [
    ("validation/shapes.py", "from fairtracks_ld.validation import engine",
     "No cycles are allowed in fairtracks_ld.validation."),  # a cycle inside a package
    ("mapping/iris.py", "from fairtracks_ld.store import TrackStore",
     "fairtracks_ld.mapping is not allowed to import fairtracks_ld.store"),  # a higher layer
    ("store/current_view.py", "from fairtracks_ld.store import snapshots",
     "Inside the store package: snapshots above compaction above the current view BROKEN"),
])
def test_a_put_back_violation_breaks_the_contracts(tmp_path, module, line, message):
    src = copy_sources(tmp_path / "src")
    add_import(src / "fairtracks_ld" / module, line)
    result = lint_imports(src, ROOT / "pyproject.toml")
    assert result.returncode != 0
    assert message in result.stdout, result.stdout


def test_a_cycle_through_a_package_init_is_found(tmp_path):
    """web/__init__ imports web.app: web.app importing the package back is a cycle the
    sibling contract cannot see (a package is not its own sibling)."""
    src = copy_sources(tmp_path / "src")
    add_import(src / "fairtracks_ld" / "web" / "app.py", "from fairtracks_ld.web import create_app")
    result = subprocess.run([sys.executable, "-c", CYCLES, str(Path(__file__).parent)],
                            cwd=src, env=dict(os.environ, PYTHONPATH=str(src)),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "('fairtracks_ld.web.app', 'fairtracks_ld.web')" in result.stdout, result.stdout
