"""`make run` rebuilds only the demo folder it made itself, never a store it did not create."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def make(*args: str) -> subprocess.CompletedProcess:
    # -o: take the virtualenv as built (the test runs inside one), so only the recipe runs
    return subprocess.run(["make", "-C", str(ROOT), "-o", ".venv/.installed", *args],
                          capture_output=True, text=True, timeout=60)


def test_a_folder_make_run_did_not_create_is_left_alone(tmp_path):
    demo = tmp_path / "demo"
    (demo / "store").mkdir(parents=True)
    (demo / "store" / "precious").write_text("a user's data")
    result = make("run", f"DEMO={demo}")
    assert result.returncode != 0
    assert "make run did not create it, so it is left alone" in result.stderr
    assert (demo / "store" / "precious").read_text() == "a user's data"


def test_every_demo_command_uses_the_demo_store(tmp_path):
    demo = tmp_path / "demo"
    recipe = make("-n", "run", f"DEMO={demo}").stdout
    stores = re.findall(r"--store (\S+)", recipe)
    assert stores and set(stores) == {f"{demo}/store"}
    assert "var/store" not in recipe
    assert f"rm -rf {demo} " in recipe and ".made-by-make-run" in recipe
    assert "var/store" not in make("-n", "clean").stdout
