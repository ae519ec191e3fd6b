"""fairtracks_ld.heap: memory freed by a load's threads goes back to the system (glibc)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fairtracks_ld import heap

PROBE = """
import threading
from fairtracks_ld import heap

def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) // 1024

def churn():  # what a query thread leaves: many malloc'd blocks freed between a few kept ones
    blocks = [bytes(2000) for _ in range(150_000)]  # malloc'd (over pymalloc's 512 bytes)
    # Every 50th block stays, the last one included: ~290 MB are free in runs of ~100 KB that
    # cannot merge into the heap's top, so glibc gives none of it back on its own (freeing in
    # any order), only trim's madvise of the free pages inside the heap does.
    churn.pins = blocks[::50] + [blocks[-1]]
    del blocks

thread = threading.Thread(target=churn)
thread.start()
thread.join()
before = rss_mb()
if TRIM:
    heap.trim()
print(before, rss_mb())
"""


def _probe(trim: bool) -> tuple[int, int]:
    """RSS (MB) after a thread freed ~300 MB, and after `heap.trim` (or nothing)."""
    out = subprocess.run([sys.executable, "-c", f"TRIM = {trim}\n" + PROBE],
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), int(out[1])


@pytest.mark.skipif(heap._glibc() is None, reason="glibc only")
def test_without_trim_the_memory_stays():  # the control: what the trim test measures is trim's
    before, after = _probe(trim=False)
    assert after > before * 0.9, (before, after)


@pytest.mark.skipif(heap._glibc() is None, reason="glibc only")
def test_trim_gives_freed_memory_back():
    before, after = _probe(trim=True)
    # ~300 MB were freed by the thread; glibc returns some on its own, trim the arena's rest
    assert before - after > 40 and after < before / 2, (before, after)


def test_both_calls_are_harmless_where_they_do_nothing():
    heap.limit_arenas()
    heap.trim()


def test_no_cycle_collection_pauses_the_collector_until_the_last_phase_ends():
    import gc
    import threading

    assert gc.isenabled()
    inside, release = threading.Event(), threading.Event()

    def phase() -> None:
        with heap.no_cycle_collection():
            inside.set()
            release.wait(10)

    other = threading.Thread(target=phase)
    with heap.no_cycle_collection():
        assert not gc.isenabled()
        other.start()
        assert inside.wait(10)
        with heap.no_cycle_collection():  # re-entrant
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread's phase is still running
    release.set()
    other.join(10)
    assert gc.isenabled()


def test_no_cycle_collection_restores_the_collector_on_error_and_keeps_it_off_if_it_was():
    import gc

    with pytest.raises(RuntimeError), heap.no_cycle_collection():
        raise RuntimeError("a failed phase")
    assert gc.isenabled()
    gc.disable()
    try:
        with heap.no_cycle_collection():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()
