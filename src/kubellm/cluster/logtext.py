"""Pasted log text made readable: framing stripped, wrapped lines rejoined, each line's level and error-ness known.

Users paste logs through many frames: ``(EngineCore_DP0 pid=316)`` and ``(APIServer pid=1)`` from vLLM V1,
``[rank0]:`` from torch, ``container-name  |`` from docker compose, ``│ … │`` from k9s, containerd's
``<timestamp> stderr F``, CloudWatch's ``Copy``/timestamp interleaving, journald's ``Mon DD hh:mm:ss host unit[pid]:``,
dmesg's ``[ 1843.30]``, JSON log records, and quoting (``>``, backticks). Matching works on the message left after
the frame; a line cut at a terminal width is rejoined with the line that continues it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_MAX_LINES = 20_000
_MAX_LINE = 4_000
_FRAMES = (
    re.compile(r"^\s*(?:>\s?|\*\s|`+|│\s*|\|\s+)"),  # quoting, k9s/table borders
    re.compile(r"^\s*\((?:EngineCore|APIServer|VllmWorker|_AsyncLLMEngine|raylet|pid)[^)]*\)\s*"),
    re.compile(r"^\s*\[rank\d+\]:\s*"),
    re.compile(r"^\s*\[\d+\]\s+(?=\[)"),  # journal-index prefixes such as "[80746] [rank0]:"
    re.compile(r"^\s*[\w.-]+\s{1,}\|\s?"),  # docker compose "service  | "
    re.compile(
        r"^\s*\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)?\s+(?:stdout|stderr)\s+[FP]\s"
    ),  # containerd
    re.compile(
        r"^\s*\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)?\s+(?=\d{4}-\d\d-\d\dT)"
    ),  # kubectl --timestamps
    re.compile(
        r"^\s*\[?\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)?\]?\s*"
    ),  # ISO timestamps (CloudWatch, CI)
    re.compile(r"^\s*[A-Z][a-z]{2}\s+\d+\s+[\d:]{8}\s+\S+\s+[\w.@/-]+(?:\[\d+\])?:\s*"),  # journald / syslog
    re.compile(r"^\s*\[\s*\d+\.\d+\]\s*"),  # dmesg seconds
    re.compile(r"^\s*\[[A-Z][a-z]{2} [A-Z][a-z]{2}\s+\d+ [\d:]{8} \d{4}\]\s*"),  # dmesg -T
    re.compile(
        r"^\s*\[\d{4}-\d\d-\d\d[ T][\d:.,]+(?: [A-Z]+ \d+ \d+\]| (?:DP\d+ )?TP\d+\]|\])\s*"
    ),  # sglang, raylet
    re.compile(r"^\s*kernel:\s*"),
)
_LEVEL = re.compile(
    r"^\s*(?P<level>DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\b[: ]?\s*(?:\d\d-\d\d [\d:]{8}\s*)?(?:\[[^\]]+\]\s*)?"
    r"|^\s*(?P<glog>[IWEF])\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\]\s*"
    r"|.*?\b[Ll]evel=(?P<kv>[A-Za-z]+)\b"
)
_TGI_LEVEL = re.compile(r"^\s*(?P<level>INFO|WARN|ERROR|DEBUG)\s+[\w{}=: ,.-]*?:\s")
_GLOG = {"I": "INFO", "W": "WARNING", "E": "ERROR", "F": "FATAL"}
_FAILURE = re.compile(
    r"Traceback \(most recent call last\)|^[\w.]*(?:Error|Exception|Exit|Interrupt)\b(?::|$)|\berror:|"
    r"\b(?:failed|fatal|panic|crash(?:ed|loopbackoff)|killed|cannot|can't|couldn't|unable|not found|denied|refused|"
    r"insufficient|exceeds|unsupported|not supported|timed out|timeout|terminated|back-off|evicted|oomkilled|unhealthy|"
    r"out of memory|no space|invalid|mismatch|fallen off|xid|abort(?:ed|ing)?|exit (?:status|code) [1-9])\b|"
    r"\bnot enough\b|\bis (?:too old|restricted|gated|not)\b|failedscheduling|nodes are available",
    re.IGNORECASE,
)
_FAILURE_CASED = re.compile(r"\bERROR\b|\b[A-Z][a-z]+[A-Z]\w*(?:Error|Failure)\b|\bFailed[A-Z]\w+")
_LEVEL_TOKEN = re.compile(r"(?:^|\s)(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)(?=[\s:\]]|$)")
_CONTINUATION = re.compile(r"^[a-z0-9_'\",.)\]}-]")
_RECORD_START = re.compile(
    r"^\s*(?:\(|\[|[A-Z]{4,}\b|[IWEF]\d{4}|\d{4}-\d\d-\d\d|[A-Z][a-z]{2} +\d|Traceback|File \"|\w+(?:\.\w+)*(?:Error|Exception):)"
)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One log record: the message without its frame, its level (if the log says one), and whether it reads as a failure."""

    number: int
    message: str
    level: str | None
    failure: bool

    @property
    def quiet(self) -> bool:
        """An INFO/DEBUG record: never evidence of an error, whatever words it contains."""
        return self.level in ("INFO", "DEBUG")


def strip_frame(line: str) -> str:
    """The message of one line, with transport frames (pids, timestamps, container names, borders) removed."""
    line = line.rstrip().rstrip("│").rstrip()
    for _ in range(6):
        before = line
        for frame in _FRAMES:
            line = frame.sub("", line, count=1)
        if line == before:
            break
    return line.strip()


def _json_message(line: str) -> str | None:
    stripped = line.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    try:
        record = json.loads(stripped)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    nested = record.get("fields")
    fields: dict[str, object] = nested if isinstance(nested, dict) else {}
    for key in ("msg", "message", "log", "error"):
        for source in (record, fields):
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                level = record.get("level") or record.get("severity") or ""
                return f"{str(level).upper()} {value}".strip() if isinstance(level, str) else value
    return None


def _level(message: str) -> tuple[str | None, str]:
    match = _LEVEL.match(message)
    if match:
        if match.group("level"):
            return match.group("level").upper().replace("WARN", "WARNING").replace(
                "WARNINGING", "WARNING"
            ), message[match.end() :]
        if match.group("glog"):
            return _GLOG[match.group("glog")], message[match.end() :]
        if match.group("kv"):
            level = match.group("kv").upper()
            if level in ("INFO", "DEBUG", "WARN", "WARNING", "ERROR", "FATAL"):
                return ("WARNING" if level.startswith("WARN") else level), message
    tgi = _TGI_LEVEL.match(message)
    if tgi:
        return tgi.group("level").upper().replace("WARN", "WARNING"), message[tgi.end() :]
    token = _LEVEL_TOKEN.search(message[:60])
    if token:
        level = token.group(1)
        return ("WARNING" if level == "WARN" else level), message
    return None, message


def is_failure(message: str) -> bool:
    """Whether a message reads as a failure (words of the error families, exception names, an ERROR token)."""
    return bool(_FAILURE.search(message) or _FAILURE_CASED.search(message))


def _expand(text: str) -> list[str]:
    """Raw lines, with JSON log records unpacked (their messages may hold escaped newlines)."""
    lines: list[str] = []
    for raw in text.splitlines()[:_MAX_LINES]:
        raw = raw[:_MAX_LINE]
        unpacked = _json_message(raw)
        if unpacked is None:
            lines.append(raw)
        else:
            lines.extend(unpacked.replace("\\n", "\n").splitlines() or [""])
    return lines


def log_lines(text: str) -> list[LogLine]:
    """Every non-empty record of the text, unframed; lines cut by a terminal width are joined to their start."""
    records: list[LogLine] = []
    previous_width = 0
    for raw in _expand(text):
        stripped_raw = raw.strip()
        if not stripped_raw or stripped_raw == "Copy":
            previous_width = 0
            continue
        message = strip_frame(raw)
        if not message:
            continue
        wrapped = (
            records
            and previous_width >= 80
            and message == stripped_raw  # a line with its own frame starts a record
            and _CONTINUATION.match(stripped_raw) is not None
            and not _RECORD_START.match(stripped_raw)
            and not records[-1].message.endswith((".", ":", ")", "]", "}"))
        )
        previous_width = len(raw.rstrip())
        if wrapped:
            last = records[-1]
            joined = last.message + message
            records[-1] = LogLine(last.number, joined, last.level, last.failure or is_failure(joined))
            continue
        level, body = _level(message)
        records.append(LogLine(len(records), body.strip() or message, level, is_failure(message)))
    return records


def failure_lines(lines: list[LogLine]) -> list[LogLine]:
    """Records that read as a failure and are not logged at INFO, DEBUG or WARNING level."""
    return [line for line in lines if line.failure and line.level not in ("INFO", "DEBUG", "WARNING")]
