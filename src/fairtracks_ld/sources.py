"""Reading JSON sources safely: files, .json.gz files and stdin, in bounded memory.

Hostile input gets a one-line error naming the file and, where it applies, the JSON Pointer (or
byte offset) of the problem, never a traceback: NaN / Infinity and numbers out of range, nesting
deeper than a limit, strings longer than a limit, invalid UTF-8, duplicate keys, truncated or
corrupt gzip, and documents (or gzip bombs) that decompress to more than a limit, checked while
streaming so a bomb is never decompressed whole.

The JSON is parsed incrementally (ijson over yajl, events in C). `read_source` builds a whole
value; `DocumentReader.members` yields a top-level object's members one by one, with the big
entity arrays (studies, experiments, samples, tracks) as lazy iterators of their items, so a
document of any size is mapped entity by entity.
"""

from __future__ import annotations

import codecs
import gzip
import io
import re
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import ijson

if TYPE_CHECKING:
    from fairtracks_ld.validation import DocumentReport

STDIN = "-"
MiB = 1 << 20
_CHUNK = 1 << 16
_SCALARS = frozenset(("string", "number", "boolean", "null"))
_SURROGATE = re.compile(rb"(\\+)u[dD]([89a-fA-F])[0-9a-fA-F]{2}")
_LOW = re.compile(rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_HIGH = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}")


@dataclass(frozen=True)
class ReadLimits:
    """What one source may hold (CLI: --max-document-mb, --max-depth, --max-string-kb)."""

    max_document_bytes: int = 4096 * MiB  # decompressed: also bounds gzip bombs
    max_depth: int = 64  # nested objects and arrays (FAIRtracks needs 5)
    max_string_bytes: int = 1 * MiB  # one string value or key, in UTF-8 bytes


DEFAULT_LIMITS = ReadLimits()


class DocumentError(ValueError):
    """A source that is not a loadable FAIRtracks document, named with its file."""

    def __init__(self, source: str, message: str,
                 validation: DocumentReport | None = None, pointer: str | None = None) -> None:
        full = f"{message} at {pointer}" if pointer else message
        super().__init__(f"{source}: {full}")
        self.source = source
        self.message = full
        self.reason = message  # without the pointer
        self.pointer = pointer  # where in the JSON, when the problem has a place
        self.validation = validation  # set when the document was refused for breaking rules


class RefusedDocument(DocumentError):
    """A source that was read but breaks the standard: it cannot be mapped or does not validate."""

    @classmethod
    def of(cls, error: DocumentError) -> RefusedDocument:
        """The same problem, as a refusal (a mapping error found while reading)."""
        return cls(error.source, error.reason, error.validation, error.pointer)


class _Refused(Exception):
    """A problem found below the parser (bytes, sizes); `located`: the parser adds where."""

    def __init__(self, message: str, located: bool = False) -> None:
        super().__init__(message)
        self.located = located


def pointer_of(tokens: list[str]) -> str:
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens) or "/"


class _Guard:
    """A binary stream checked as it is read: total size, UTF-8 validity, string runs."""

    def __init__(self, raw: IO[bytes], limits: ReadLimits, compressed: bool) -> None:
        self.raw = raw
        self.limits = limits
        self.compressed = compressed
        self.offset = 0  # bytes handed to the parser so far
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.since_quote = 0
        self.tail = b""  # the end of the previous chunk, for escapes across chunk borders
        # a run this long without any '"' can only be an oversized string (or a flood of
        # whitespace): stopped here, before the parser buffers all of it
        self.run_limit = max(4 * limits.max_string_bytes, 4 * MiB)

    def read(self, size: int = _CHUNK) -> bytes:
        try:
            chunk = self.raw.read(size)
        except EOFError as error:
            raise _Refused("truncated gzip file: the compressed data ends before its end "
                           "marker") from error
        except (gzip.BadGzipFile, zlib.error) as error:
            raise _Refused(f"corrupt gzip data after {self.offset} bytes: {error}") from error
        start = self.offset - len(self.decoder.getstate()[0])
        self.offset += len(chunk)
        if self.offset > self.limits.max_document_bytes:
            what = ("decompresses to more than" if self.compressed else "is larger than")
            raise _Refused(f"{what} the limit of {self.limits.max_document_bytes} bytes "
                           "(--max-document-mb)" + (": a decompression bomb?"
                                                    if self.compressed else ""))
        try:
            self.decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:
            where = start + error.start
            raise _Refused(f"invalid UTF-8 at byte {max(where, 0)}: {error.reason}") from error
        if b"\\" in chunk or b"\\" in self.tail:
            self._surrogates(chunk, start)
        self.tail = (self.tail + chunk)[-12:] if len(chunk) < 12 else chunk[-12:]
        last = chunk.rfind(b'"')
        if last < 0:
            self.since_quote += len(chunk)
        else:
            first = chunk.find(b'"')
            if self.since_quote + first > self.run_limit:
                self.since_quote += first
            else:
                self.since_quote = len(chunk) - last - 1
        if self.since_quote > self.run_limit:
            raise _Refused(f"a string value longer than the limit of "
                           f"{self.limits.max_string_bytes} bytes (--max-string-kb), near byte "
                           f"{self.offset}", located=True)
        return chunk


    def _surrogates(self, chunk: bytes, start: int) -> None:
        """Refuse `\\ud800`-style escapes that are not a surrogate pair: the parser would turn
        them into '?' silently, and they are not Unicode text."""
        text = self.tail + chunk
        seen = len(self.tail)  # escapes that end there were checked with the previous chunk
        for match in _SURROGATE.finditer(text):
            high = match.group(2).lower() in b"89ab"
            if len(match.group(1)) % 2 == 0 or match.end() + (6 if high else 0) <= seen:
                continue  # an escaped backslash and the letters "ud8…", or checked already
            after = text[match.end():match.end() + 6]
            if high and len(after) < 6 and chunk:
                continue  # its pair may be in the next chunk
            if high:
                lone = _LOW.fullmatch(after) is None
            else:
                lone = _HIGH.fullmatch(text[max(match.start() - 6, 0):match.start()]) is None
            if lone:
                where = start - seen + match.start() + len(match.group(1)) - 1
                raise _Refused(f"a lone surrogate escape {match.group(0)[-6:].decode()!r} (not "
                               f"Unicode text) at byte {max(where, 0)}", located=True)


class _Events:
    """ijson events of one source, with the checks that need the parser's view."""

    def __init__(self, source: str, handle: IO[bytes], limits: ReadLimits,
                 compressed: bool) -> None:
        self.source = source
        self.limits = limits
        self.guard = _Guard(handle, limits, compressed)
        self.events = ijson.basic_parse(self.guard, use_float=True, buf_size=_CHUNK)
        self.tokens: list[str] = []  # the pointer of the value being read

    def error(self, message: str, pointer: bool = True) -> DocumentError:
        where = pointer_of(self.tokens) if pointer and self.tokens else None
        return DocumentError(self.source, message, pointer=where)

    def next(self) -> tuple[str, Any]:
        try:
            return next(self.events)
        except StopIteration:
            raise self.error("unexpected end of the document") from None
        except _Refused as error:
            raise self.error(str(error), error.located) from None
        except ijson.JSONError as error:
            raise self.error(self._describe(error)) from None
        except (ValueError, OverflowError) as error:  # e.g. an integer of 5000 digits
            raise self.error(f"a number out of range ({error})") from None

    def _describe(self, error: Exception) -> str:
        text = error.args[0] if error.args else str(error)
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        lines = text.split("\n")
        head = lines[0].removeprefix("lexical error: ").removeprefix("parse error: ").rstrip(".")
        if len(lines) > 2 and "^" in lines[2]:
            caret = lines[2].index("^")
            near = lines[1][caret:].lstrip()
            around = lines[1][max(caret - 9, 0):caret + 9]
            for word in ("NaN", "Infinity"):
                if word in around:
                    return f"{word} is not a JSON number (JSON has no NaN or Infinity: write null)"
            if "overflow" in head:
                return "a number out of range (beyond a 64-bit float)"
            if near:
                head += f" near {near[:30]!r}"
        return f"malformed JSON ({head}), near byte {self.guard.offset}"

    def scalar(self, event: str, value: Any) -> Any:
        if event == "string" and len(value) > self.limits.max_string_bytes // 4 \
                and len(value.encode("utf-8", "surrogatepass")) > self.limits.max_string_bytes:
            raise self.error(f"a string value longer than the limit of "
                             f"{self.limits.max_string_bytes} bytes (--max-string-kb)")
        return value

    def value(self, event: str, value: Any) -> Any:
        """Build the value that starts with this event, checking depth, keys and strings."""
        if event in _SCALARS:
            return self.scalar(event, value)
        tokens = self.tokens
        base = len(tokens)
        limit = self.limits.max_depth
        if base + 1 > limit:
            raise self.error(f"nested deeper than the limit of {limit} (--max-depth)")
        root: Any = {} if event == "start_map" else []
        stack = [root]
        tokens.append("0")
        while True:
            event, value = self.next()
            top = stack[-1]
            if event == "map_key":
                tokens[-1] = value
                if value in top:
                    raise self.error(f"duplicate key {value!r} in the object")
                if len(value) > self.limits.max_string_bytes // 4:
                    self.scalar("string", value)
                continue
            if event == "end_map" or event == "end_array":
                stack.pop()
                tokens.pop()
                if not stack:
                    return root
                if stack[-1].__class__ is list:
                    tokens[-1] = str(len(stack[-1]))
                continue
            if event in _SCALARS:
                item = self.scalar(event, value) if event == "string" else value
                if top.__class__ is list:
                    top.append(item)
                    tokens[-1] = str(len(top))
                else:
                    top[tokens[-1]] = item
                continue
            if base + len(stack) + 1 > limit:
                raise self.error(f"nested deeper than the limit of {limit} (--max-depth)")
            item = {} if event == "start_map" else []
            if top.__class__ is list:
                top.append(item)
            else:
                top[tokens[-1]] = item
            stack.append(item)
            tokens.append("0")


def _open(source: str) -> io.BufferedReader:
    try:
        return open(source, "rb")
    except FileNotFoundError as error:
        raise DocumentError(source, "no such file") from error
    except IsADirectoryError as error:
        raise DocumentError(source, "is a folder, not a file") from error
    except OSError as error:
        raise DocumentError(source, f"cannot read: {error.strerror or error}") from error


class DocumentReader:
    """One source, readable more than once (stdin is spooled to a temporary file first)."""

    def __init__(self, source: str, limits: ReadLimits = DEFAULT_LIMITS) -> None:
        self.source = source
        self.limits = limits
        self._spool: IO[bytes] | None = None
        if source == STDIN:
            self._spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
            size = 0
            while chunk := sys.stdin.buffer.read(_CHUNK):
                size += len(chunk)
                if size > limits.max_document_bytes:  # compressed or not: never more
                    self.close()
                    raise DocumentError(source, f"is larger than the limit of "
                                        f"{limits.max_document_bytes} bytes (--max-document-mb)")
                self._spool.write(chunk)

    def error(self, message: str) -> DocumentError:
        return DocumentError(self.source, message)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()

    def __enter__(self) -> DocumentReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _events(self) -> Iterator[_Events]:
        """Events of the source from its start; gzip is recognised by its magic number."""
        if self._spool is not None:
            self._spool.seek(0)
            handle = open(self._spool.fileno(), "rb", closefd=False)  # noqa: SIM115
        else:
            handle = _open(self.source)
        with handle:
            compressed = handle.peek(2)[:2] == b"\x1f\x8b"
            if compressed:
                with gzip.GzipFile(fileobj=handle, mode="rb") as unzipped:
                    yield _Events(self.source, unzipped, self.limits, compressed)
            else:
                yield _Events(self.source, handle, self.limits, compressed)

    def read(self) -> Any:
        """The whole value, checked."""
        with self._events() as events:
            value = events.value(*events.next())
            self._end(events)
        return value

    def members(self, lazy: frozenset[str] = frozenset()) -> Iterator[tuple[str, Any]]:
        """A top-level object's members in document order; those named in `lazy` that hold an
        array come as an iterator of their items (consume it before asking for the next
        member). A document that is not an object is yielded as one member named ''."""
        with self._events() as events:
            event, value = events.next()
            if event != "start_map":
                yield "", events.value(event, value)
                self._end(events)
                return
            seen: set[str] = set()
            while True:
                event, value = events.next()
                if event == "end_map":
                    break
                events.tokens.append(value)
                if value in seen:
                    raise events.error(f"duplicate key {value!r} in the object")
                events.scalar("string", value)
                seen.add(value)
                event, item = events.next()
                if value in lazy and event == "start_array":
                    items = LazyArray(events)
                    yield value, items
                    items.drain()
                else:
                    yield value, events.value(event, item)
                events.tokens.pop()
            self._end(events)

    def pick(self, wanted: dict[str, set[int]], lazy: frozenset[str]) -> dict[str, Any]:
        """The top-level members, with only the `wanted` items of the arrays named in `wanted`
        or `lazy` (a mapping of index strings to items, so JSON Pointers resolve in it)."""
        picked: dict[str, Any] = {}
        for key, value in self.members(lazy | frozenset(wanted)):
            if isinstance(value, LazyArray):
                want = wanted.get(key, set())
                picked[key] = {str(i): item for i, item in enumerate(value) if i in want}
            else:
                picked[key] = value
        return picked

    @staticmethod
    def _end(events: _Events) -> None:
        try:
            event, _ = next(events.events)
        except StopIteration:
            return
        except (_Refused, ijson.JSONError, ValueError) as error:
            events.tokens.clear()
            raise events.error(events._describe(error) if isinstance(error, ijson.JSONError)
                               else str(error), pointer=False) from None
        raise events.error(f"more than one JSON value ({event} after the document)",
                           pointer=False)


class LazyArray:
    """The items of one array, built one at a time (iterate once)."""

    def __init__(self, events: _Events) -> None:
        self.events = events
        self.done = False

    def __iter__(self) -> Iterator[Any]:
        events = self.events
        tokens = events.tokens
        if len(tokens) + 1 > events.limits.max_depth:
            raise events.error(f"nested deeper than the limit of {events.limits.max_depth} "
                               "(--max-depth)")
        tokens.append("0")
        index = 0
        while True:
            event, value = events.next()
            if event == "end_array":
                tokens.pop()
                self.done = True
                return
            yield events.value(event, value)
            index += 1
            tokens[-1] = str(index)

    def drain(self) -> None:
        if not self.done:
            for _ in self:
                pass


def read_source(source: str, limits: ReadLimits = DEFAULT_LIMITS) -> Any:
    """Parse one whole source; any problem is a DocumentError naming the file and where."""
    with DocumentReader(source, limits) as reader:
        return reader.read()

def expand_sources(paths: Iterable[str]) -> list[str]:
    """Files as given, folders as their *.json / *.json.gz files (sorted), '-' for stdin."""
    sources: list[str] = []
    for raw in paths:
        path = Path(raw)
        if raw == STDIN:
            sources.append(STDIN)
        elif path.is_dir():
            found = sorted(
                str(p) for p in path.rglob("*") if p.name.endswith((".json", ".json.gz"))
            )
            sources.extend(found)
        else:
            sources.append(raw)
    return sources
