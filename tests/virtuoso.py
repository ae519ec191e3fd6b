"""A real Virtuoso open source server for the tests (Debian package `virtuoso-opensource`).

Each server gets its own folder, ini file and free ports on 127.0.0.1, so tests never touch a
system instance. Its SPARQL endpoint is `http://127.0.0.1:{http_port}/sparql`; the built-in
`SPARQL` user is granted SPARQL_UPDATE there, so the endpoint accepts SPARQL Update (the Graph
Store protocol at `/sparql-graph-crud` needs the same grant). `isql` runs SQL on the server, for
the bulk loader (`ld_dir` + `rdf_loader_run()`), which reads only folders named in DirsAllowed.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from servers import STARTUP_SECONDS, free_port

from fairtracks_ld.publication.virtuoso_bulk import run_isql

VIRTUOSO = "virtuoso-t"
ISQL = "isql-vt"
FIRST_PASSWORD = "dba"  # a fresh database's dba password, changed at start
PASSWORD = "ft-" + secrets.token_hex(8)  # then dba's: the tests look for it in the process list

INI = """[Database]
DatabaseFile = {folder}/virtuoso.db
ErrorLogFile = {folder}/virtuoso.log
LockFile = {folder}/virtuoso.lck
TransactionFile = {folder}/virtuoso.trx
xa_persistent_file = {folder}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
Striping = 0
TempStorage = TempDatabase
[TempDatabase]
DatabaseFile = {folder}/virtuoso-temp.db
TransactionFile = {folder}/virtuoso-temp.trx
Striping = 0
[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
CheckpointInterval = 60
DirsAllowed = ., {folder}, {extra_dirs}
NumberOfBuffers = {buffers}
MaxDirtyBuffers = {dirty_buffers}
MaxQueryMem = 1G
ThreadsPerQuery = 2
MaxClientConnections = 20
[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = {folder}
ServerThreads = 20
MaxClientConnections = 20
MaxKeepAlives = 10
KeepAliveTimeout = 10
Charset = UTF-8
[SPARQL]
ResultSetMaxRows = {max_rows}
MaxQueryCostEstimationTime = 0
MaxQueryExecutionTime = 60
DefaultQuery = select distinct ?Concept where {{[] a ?Concept}} LIMIT 100
"""


@dataclass
class Virtuoso:
    """A running Virtuoso: its SPARQL endpoint, SQL port and folder."""

    folder: Path
    http_port: int
    sql_port: int

    @property
    def sparql_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/sparql"

    password: str = FIRST_PASSWORD

    def isql(self, *statements: str, timeout: float = 600) -> str:
        """Run SQL statements through `isql-vt` as dba (the password on its input, as `publish`
        sends it); raises with Virtuoso's message on an error."""
        script = "".join(s.rstrip().rstrip(";") + ";\n" for s in statements)
        done = run_isql(f"127.0.0.1:{self.sql_port}", "dba", self.password, script, timeout)
        session = done.stdout.split("Connected to OpenLink Virtuoso", 1)[-1]
        if done.returncode != 0 or "*** Error" in session:
            raise RuntimeError(f"isql failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
        return done.stdout

    def bulk_load(self, folder: Path, pattern: str, graph: str) -> None:
        """Virtuoso's bulk loader: every file of `folder` matching `pattern` into `graph`
        (N-Quads files keep their own graphs). `folder` must be allowed (`extra_dirs`)."""
        self.isql(f"ld_dir('{folder}', '{pattern}', '{graph}')", "rdf_loader_run()",
                  "checkpoint")


def available() -> bool:
    return shutil.which(VIRTUOSO) is not None and shutil.which(ISQL) is not None


@contextmanager
def virtuoso(folder: Path, extra_dirs: tuple[Path, ...] = (),
             max_rows: int = 1_000_000, buffers: int = 170_000) -> Iterator[Virtuoso]:
    """Start Virtuoso in `folder` (created), yield it once its SPARQL endpoint answers, stop it.
    `max_rows`: its ResultSetMaxRows, past which it cuts an answer short without saying so;
    `buffers`: its NumberOfBuffers, the 8 KB pages it caches (the default, 1.3 GB, suits the
    tests; Virtuoso's guide sizes them to the data: a benchmark at a million tracks wants more)."""
    if not available():
        pytest.fail("Virtuoso is missing: install the Debian package virtuoso-opensource "
                    "(.ci/run does)", pytrace=False)
    folder.mkdir(parents=True, exist_ok=True)
    # a database this helper made before (a benchmark's): its grants are in it, and dba's
    # password is the one that process chose (isql needs it; SPARQL does not)
    reused = (folder / "virtuoso.db").exists()
    server = Virtuoso(folder, free_port(), free_port())
    dirs = ", ".join(str(d) for d in extra_dirs) or str(folder)
    (folder / "virtuoso.ini").write_text(INI.format(
        folder=folder, sql_port=server.sql_port, http_port=server.http_port, extra_dirs=dirs,
        max_rows=max_rows, buffers=buffers, dirty_buffers=buffers * 3 // 4))
    process = subprocess.Popen([VIRTUOSO, "+foreground", "+configfile",
                                str(folder / "virtuoso.ini")], cwd=folder,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + STARTUP_SECONDS
        while True:
            try:
                answer = requests.get(server.sparql_url, params={"query": "ASK {}"}, timeout=5)
                if answer.status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                log = folder / "virtuoso.log"
                raise RuntimeError(log.read_text()[-3000:] if log.exists() else "no log")
            time.sleep(0.5)
        if reused:
            yield server
            return
        server.isql('GRANT SPARQL_UPDATE TO "SPARQL"',
                    "GRANT EXECUTE ON DB.DBA.SPARQL_INSERT_DICT_CONTENT TO \"SPARQL\"",
                    "GRANT EXECUTE ON DB.DBA.SPARQL_DELETE_DICT_CONTENT TO \"SPARQL\"",
                    "DB.DBA.RDF_DEFAULT_USER_PERMS_SET('nobody', 7)",
                    f"user_set_password('dba', '{PASSWORD}')")
        server.password = PASSWORD
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
