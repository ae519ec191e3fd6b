"""Documents received by the validation service: JSON bodies, archives and form files, read in
memory within limits (nothing is written to disk, nothing is kept).

An archive is read member by member and each member in chunks, counting the bytes actually
decompressed, so a zip or tar bomb is refused as soon as it passes the limit, not after it has
been inflated. A tar member's size is counted from its header before its data is read (a tar
stream cannot lie about it: the layout depends on it), so even members that are skipped cannot
make the server inflate gigabytes. Members are never extracted to the file system, so names with
`..` or links are harmless; only regular files whose name contains `.json` are read, as the
FAIRtracks validation server does.
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

CHUNK = 64 * 1024
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")  # gzip, bzip2, xz (a tar inside)


@dataclass(frozen=True)
class Limits:
    """How much one request may make the server read."""

    body_bytes: int = 32 * 1024 * 1024
    members: int = 1000  # archive entries (all kinds) and form files, per request
    unpacked_bytes: int = 256 * 1024 * 1024  # decompressed bytes, per request


class TooLarge(Exception):
    """The request asks for more than the limits allow (answered with 413)."""


@dataclass
class Upload:
    """One document received: its name, and its JSON or why it could not be read (or, as
    read from an archive or a form, its `raw` bytes, which `parse_json` reads later)."""

    name: str
    document: Any = None
    error: str | None = None
    raw: bytes | None = None


class Budget:
    """What is left of one request's limits, shared by all its archives and files."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.members = 0
        self.unpacked = 0

    def member(self) -> None:
        self.members += 1
        if self.members > self.limits.members:
            raise TooLarge(f"more than {self.limits.members} archive members or files in one "
                           "request")

    def take(self, size: int) -> None:
        self.unpacked += size
        if self.unpacked > self.limits.unpacked_bytes:
            raise TooLarge(f"more than {self.limits.unpacked_bytes} bytes once decompressed")


def parse_json(name: str, data: bytes) -> Upload:
    """A document from bytes (UTF-8 JSON), or an Upload saying why it is not one."""
    try:
        return Upload(name, json.loads(data.decode("utf-8-sig")))
    except UnicodeDecodeError:
        return Upload(name, error="not UTF-8 text: a document is UTF-8 JSON")
    except ValueError as error:
        return Upload(name, error=f"not valid JSON: {error}")


def archive_kind(data: bytes) -> str | None:
    """'zip', 'tar' (plain or gzip/bzip2/xz compressed), or None, from the first bytes."""
    if data[:4] in ZIP_MAGIC:
        return "zip"
    if data.startswith(COMPRESSED_MAGIC) or data[257:262] == b"ustar":
        return "tar"
    return None


def read_archive(data: bytes, budget: Budget, prefix: str = "") -> list[Upload]:
    """The JSON members of a zip or tar archive, unparsed, each named `prefix` + its member
    path."""
    kind = archive_kind(data)
    if kind is None:
        return [Upload(prefix.removesuffix("::") or "(archive)",
                       error="not a zip or tar archive (plain, gzip, bzip2 or xz)")]
    reader = _zip_members if kind == "zip" else _tar_members
    uploads = []
    try:
        for name, handle, declared in reader(data, budget):
            uploads.append(Upload(prefix + _member_name(name),
                                  raw=_read(handle, budget, declared)))
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError,
            NotImplementedError, RuntimeError) as error:  # corrupt, truncated, encrypted
        uploads.append(Upload(prefix.removesuffix("::") or "(archive)",
                              error=f"cannot read the {kind} archive: {error}"))
    return uploads


def _member_name(name: str) -> str:
    """A member's path as the client wrote it, without a leading './'."""
    return "/".join(p for p in name.split("/") if p not in ("", "."))


def _wanted(name: str) -> bool:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return bool(parts) and ".json" in parts[-1] and not any(
        p.startswith(".") or p == "__MACOSX" for p in parts)


def _zip_members(data: bytes, budget: Budget) -> Iterator[tuple[str, IO[bytes], int | None]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            budget.member()
            if info.is_dir() or not _wanted(info.filename):
                continue
            if info.file_size > budget.limits.unpacked_bytes:  # declared; the read still counts
                raise TooLarge(f"{info.filename}: {info.file_size} bytes once decompressed, more "
                               f"than the {budget.limits.unpacked_bytes} allowed")
            with archive.open(info) as handle:
                yield info.filename, handle, None


def _tar_members(data: bytes, budget: Budget) -> Iterator[tuple[str, IO[bytes], int | None]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|*") as archive:
        for member in archive:
            budget.member()
            if not member.isfile():
                continue
            budget.take(member.size)  # before a byte of it is inflated, read or skipped
            if not _wanted(member.name):
                continue
            handle = archive.extractfile(member)
            if handle is not None:
                yield member.name, handle, member.size


def _read(handle: IO[bytes], budget: Budget, counted: int | None) -> bytes:
    """A member's bytes in chunks; bytes not already counted (tar) are counted as they come."""
    chunks = []
    while chunk := handle.read(CHUNK):
        if counted is None:
            budget.take(len(chunk))
        chunks.append(chunk)
    return b"".join(chunks)
