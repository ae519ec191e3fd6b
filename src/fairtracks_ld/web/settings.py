"""Server settings, from arguments or `FAIRTRACKS_LD_*` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(f"FAIRTRACKS_LD_{name}", default)


@dataclass
class Settings:
    """Everything the web application needs to know."""

    store: Path = field(default_factory=lambda: Path(_env("STORE", "var/store")))
    query_timeout: float = field(default_factory=lambda: float(_env("QUERY_TIMEOUT", "30")))
    max_result_bytes: int = field(
        default_factory=lambda: int(_env("MAX_RESULT_BYTES", str(50_000_000))))
    query_workers: int = field(default_factory=lambda: int(_env("QUERY_WORKERS", "2")))
    admin_token: str | None = field(default_factory=lambda: _env("ADMIN_TOKEN", "") or None)
    flat_view: bool = field(default_factory=lambda: _env("FLAT_VIEW", "1") not in ("0", "", "no"))
    service_allow_list: tuple[str, ...] = field(default_factory=lambda: tuple(
        s for s in _env("SERVICE_ALLOW_LIST", "").split() if s))
    # the validation service: request body, archive members and files, decompressed bytes
    validate_max_body: int = field(
        default_factory=lambda: int(_env("VALIDATE_MAX_BODY", str(32 * 1024 * 1024))))
    validate_max_members: int = field(
        default_factory=lambda: int(_env("VALIDATE_MAX_MEMBERS", "1000")))
    validate_max_unpacked: int = field(
        default_factory=lambda: int(_env("VALIDATE_MAX_UNPACKED", str(256 * 1024 * 1024))))
