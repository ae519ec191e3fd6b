"""Virtuoso's bulk loader as a way in: graphs are written as N-Quads files into a folder the
server also reads (listed in its DirsAllowed) and loaded by `ld_add` + `rdf_loader_run()` through
`isql`. Several times faster than any HTTP protocol for big graphs; Virtuoso only.

Where the time goes (bench/results/publish.md): reading the quads out of the store costs about
as much as Virtuoso's loading them, so the two overlap: each graph is written by Oxigraph's own
N-Triples dump, or copied from its record (store/records.py, `TrackStore.dump`) (no Python
object per quad), turned into N-Quads of the graph's target name by a byte substitution
(`records.AsQuads`), and each file is handed to a loader thread as soon as it is closed, which
loads it while the next one is written. A graph never spans two files: Virtuoso scopes blank
node labels to the file it reads.

Virtuoso loads more slowly than the store writes, so the files written and not yet loaded are
bounded (`WAITING_FILES`): the writer waits for the loader rather than filling the disk. Without
the bound, publishing a million tracks left ~19 GB of N-Quads waiting in the folder at its peak
(bench/results/backend.json); with it, at most WAITING_FILES files of FILE_BYTES (a graph
bigger than that is one file of its own size). The writer only waits when it is that far ahead
of Virtuoso, which then still has files to load, so the bound should not slow a publish (not
yet timed at 1M)."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
import uuid
from pathlib import Path
from typing import BinaryIO

import pyoxigraph as ox

from fairtracks_ld.publication.target import TargetError, secret
from fairtracks_ld.store import TrackStore, records

ISQL = "isql-vt"
USER_ENV = "FAIRTRACKS_LD_ISQL_USER"
PASSWORD_ENV = "FAIRTRACKS_LD_ISQL_PASSWORD"
PREFIX = "fairtracks-ld-"
CONNECTED = "Connected to OpenLink Virtuoso"  # isql's line once logged in
BAD_LOGIN = 3  # isql's exit status when every login was refused
FILE_BYTES = 32 << 20  # a file is closed (and loaded) once a graph takes it past this size
WAITING_FILES = 4  # files written and not loaded yet, at most (the one being written included)
UNUSED_GRAPH = "urn:fairtracks-ld:unused"  # ld_add's graph: N-Quads name their own


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class VirtuosoBulkLoader:
    """Loads graphs through Virtuoso's bulk loader (`address` is isql's HOST:PORT): `add`
    each graph, then `load` waits for the loader, checkpoints and checks every file loaded."""

    def __init__(self, address: str, folder: Path, timeout: float = 3600.0,
                 file_bytes: int = FILE_BYTES, waiting: int = WAITING_FILES) -> None:
        self.address, self.folder, self.timeout = address, folder.resolve(), timeout
        self.file_bytes = file_bytes
        self._room = threading.Semaphore(waiting)  # taken per file, given back once loaded
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
        self.files = 0
        self._file: BinaryIO | None = None
        self._path: Path | None = None
        self._ready: queue.Queue[Path | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._error: TargetError | None = None

    def add(self, store: TrackStore, graph: str, name: str) -> int:
        """Write `graph` of `store` as graph `name` for loading (loading starts as soon as a
        file is full); returns its number of triples."""
        if self._error is not None:
            raise self._error
        if self._file is None:
            self._room.acquire()  # wait while WAITING_FILES files are still to be loaded
            if self._error is not None:  # the loader failed while this writer waited
                self._room.release()
                raise self._error
            self._path = self.folder / f"{PREFIX}{self.run}-{self.files:05d}.nq"
            self.files += 1
            self._file = open(self._path, "wb")  # noqa: SIM115 (closed in _close)
        sink = records.AsQuads(self._file, name)
        store.dump(sink, ox.RdfFormat.N_TRIPLES, graph)
        if self._file.tell() >= self.file_bytes:
            self._close()
        return sink.lines

    def _close(self) -> None:
        """Hand the file being written to the loader thread (started with the first)."""
        if self._file is None:
            return
        self._file.close()
        self._file = None
        if self._thread is None:
            self._thread = threading.Thread(target=self._load_files, daemon=True,
                                            name="virtuoso-bulk-loader")
            self._thread.start()
        self._ready.put(self._path)

    def _load_files(self) -> None:
        """The loader thread: every file ready so far in one isql session, until the last."""
        finished = False
        while not finished:
            batch = [self._ready.get()]
            while not self._ready.empty():
                batch.append(self._ready.get_nowait())
            finished = None in batch
            files = [path for path in batch if path is not None]
            try:
                if files and self._error is None:
                    self._isql(*(f"ld_add({sql_string(str(path))}, "
                                 f"{sql_string(UNUSED_GRAPH)})" for path in files),
                               "rdf_loader_run()")
            except TargetError as error:
                self._error = error
            finally:
                for path in files:
                    path.unlink(missing_ok=True)
                    self._room.release()

    def _finish(self) -> None:
        """Close the last file and wait for the loader thread to load every file."""
        self._close()
        if self._thread is not None:
            self._ready.put(None)
            self._thread.join()
            self._thread = None

    def abandon(self) -> None:
        """Stop after the file being loaded (the rest are removed unloaded)."""
        self._error = self._error or TargetError("abandoned")
        self._finish()

    def load(self) -> None:
        """Wait until every file added is loaded, checkpoint, and check that none failed."""
        if self.files == 0:
            return
        self._finish()
        if self._error is not None:
            raise self._error
        like = sql_string(f"{self.folder}/{PREFIX}{self.run}-%")
        output = self._isql(
            "checkpoint",
            f"SELECT 'FAILED', ll_file, ll_error FROM DB.DBA.load_list WHERE ll_file "
            f"LIKE {like} AND ll_error IS NOT NULL",
            f"DELETE FROM DB.DBA.load_list WHERE ll_file LIKE {like}",
        )
        failed = [line for line in output.splitlines() if line.startswith("FAILED")]
        if failed:
            detail = " ".join(failed[0].split())
            raise TargetError(f"Virtuoso's bulk loader refused a file: {detail}")

    def sparql(self, *operations: str) -> None:
        """SPARQL Update operations in one isql session, committed row by row and not logged
        (`log_enable(2)`, as the bulk loader writes: no transaction to outgrow its log, several
        times faster than logged rows), made durable by the checkpoint that ends the session.
        (Over HTTP Virtuoso keeps such a mode for the connection's later requests.)"""
        if any(";" in operation for operation in operations):
            raise TargetError("an update for isql holds a ';' (it ends isql statements)")
        self._isql("log_enable(2, 1)", *(f"SPARQL {operation}" for operation in operations),
                   "checkpoint")

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
