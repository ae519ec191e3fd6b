"""Virtuoso's bulk loader as a way in: graphs are written as gzip N-Quads files into a folder
the server also reads (listed in its DirsAllowed), then `ld_dir` + `rdf_loader_run()` run
through `isql`. Several times faster than any HTTP protocol for big graphs; Virtuoso only."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterable
from itertools import islice
from pathlib import Path

import pyoxigraph as ox

from fairtracks_ld.publication.target import TargetError, secret

ISQL = "isql-vt"
USER_ENV = "FAIRTRACKS_LD_ISQL_USER"
PASSWORD_ENV = "FAIRTRACKS_LD_ISQL_PASSWORD"
PREFIX = "fairtracks-ld-"
CONNECTED = "Connected to OpenLink Virtuoso"  # isql's line once logged in
BAD_LOGIN = 3  # isql's exit status when every login was refused


class VirtuosoBulkLoader:
    """Loads N-Quads files through Virtuoso's bulk loader (`address` is isql's HOST:PORT)."""

    def __init__(self, address: str, folder: Path, timeout: float = 3600.0) -> None:
        self.address, self.folder, self.timeout = address, folder.resolve(), timeout
        self.user = os.environ.get(USER_ENV, "dba")
        password = secret(PASSWORD_ENV)
        if password is None:
            raise TargetError(f"--virtuoso-isql needs ${PASSWORD_ENV} (or "
                              f"${PASSWORD_ENV}_FILE), and ${USER_ENV} unless it is dba")
        if "\n" in password:
            raise TargetError(f"${PASSWORD_ENV}: a password is one line")
        self.password = password
        if not self.folder.is_dir():
            raise TargetError(f"--bulk-dir {folder}: no such folder")
        if shutil.which(ISQL) is None:
            raise TargetError(f"the bulk loader needs {ISQL} (Debian: virtuoso-opensource)")
        self.run = uuid.uuid4().hex[:12]
        self.files: list[Path] = []

    def add(self, quads: Iterable[ox.Quad]) -> int:
        """Write one file of quads for the next `load`; returns how many."""
        path = self.folder / f"{PREFIX}{self.run}-{len(self.files):05d}.nq.gz"
        count = 0
        iterator = iter(quads)
        with gzip.open(path, "wb", compresslevel=1) as out:
            while batch := list(islice(iterator, 20_000)):
                out.write(ox.serialize(batch, format=ox.RdfFormat.N_QUADS))
                count += len(batch)
        self.files.append(path)
        return count

    def load(self) -> None:
        """Load every file added (N-Quads keep their graphs), checkpoint, then remove them."""
        if not self.files:
            return
        pattern = f"{PREFIX}{self.run}-*.nq.gz"
        like = f"{self.folder}/{PREFIX}{self.run}-%"
        try:
            output = self._isql(
                f"ld_dir('{self.folder}', '{pattern}', 'urn:fairtracks-ld:unused')",
                "rdf_loader_run()",
                "checkpoint",
                f"SELECT 'FAILED', ll_file, ll_error FROM DB.DBA.load_list WHERE ll_file "
                f"LIKE '{like}' AND ll_error IS NOT NULL",
                f"DELETE FROM DB.DBA.load_list WHERE ll_file LIKE '{like}'",
            )
        finally:
            for path in self.files:
                path.unlink(missing_ok=True)
            self.files.clear()
        failed = [line for line in output.splitlines() if line.startswith("FAILED")]
        if failed:
            detail = " ".join(failed[0].split())
            raise TargetError(f"Virtuoso's bulk loader refused a file: {detail}")

    def _isql(self, *statements: str) -> str:
        script = "".join(s + ";\n" for s in statements)
        host, _, port = self.address.rpartition(":")
        try:
            done = run_isql(f"{host}:{port}", self.user, self.password, script, self.timeout)
        except subprocess.TimeoutExpired:
            raise TargetError(f"Virtuoso's bulk loader did not finish within "
                              f"{self.timeout:g} s") from None
        if done.returncode == BAD_LOGIN:
            raise TargetError(f"isql {self.address}: bad login (check ${USER_ENV} and "
                              f"${PASSWORD_ENV}; after 4 failed logins Virtuoso refuses this "
                              "host for a minute)")
        text = done.stdout + done.stderr
        session = done.stdout.split(CONNECTED, 1)[-1]  # after the login's own messages
        if done.returncode != 0 or "*** Error" in session:
            lines = [line for line in session.splitlines() if line.strip()] or \
                [line for line in text.splitlines() if line.strip()]
            error = next((line for line in lines if "Error" in line), lines[-1] if lines else "")
            raise TargetError(f"isql {self.address}: {' '.join(error.split())[:300]}")
        return done.stdout


def run_isql(address: str, user: str, password: str, script: str,
             timeout: float) -> subprocess.CompletedProcess:
    """`isql-vt` running `script`, the password never on its command line (where the process
    list shows it to every local user). Given no password, isql first tries the user name as
    the password and, refused, asks for one with getpass(3), which reads standard input when
    the process has no controlling terminal (a new session has none): so the password is the
    first line of the input, before the script. A password equal to the user name is accepted
    at the first try and is not sent again."""
    preamble = "" if password == user else password + "\n"
    return subprocess.run([ISQL, address, user], input=preamble + script, capture_output=True,
                          text=True, timeout=timeout, start_new_session=True)
