"""fairtracks_ld.web.httpd's log configuration: granian's messages reach the server log, except
its notice that the blocking threads outnumber the cores (intended: they wait for workers)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EMIT = """
import logging, logging.config, sys
from fairtracks_ld.web.httpd import log_config
logging.config.dictConfig({"version": 1, **log_config(sys.argv[1], None)})
granian = logging.getLogger("_granian")
granian.warning("Configuration allows spawning up to 27 Python threads, which seems quite high "
                "compared to the number of CPU cores available.")
granian.warning("Worker 1 died, respawning")
"""


def test_the_thread_count_notice_is_dropped_and_other_warnings_kept(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    subprocess.run([sys.executable, "-c", EMIT, str(log)], check=True)
    text = log.read_text()
    assert "Worker 1 died, respawning" in text
    assert "quite high" not in text
