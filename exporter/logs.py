"""Log lines in logfmt or JSON, one event a line, as Prometheus' own components write them."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
_LEVEL_NAMES = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "error",
}


# Credentials must never reach a log line, whoever wrote it: AWS echoes signed headers (the
# session token among them) in SignatureDoesNotMatch messages, and botocore logs them at debug.
_REDACTED = "[REDACTED]"
_SECRET_PATTERNS = (
    # access key IDs: long-term (AKIA) and temporary (ASIA), as in a SigV4 Credential= scope
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    # a value after a credential's name: headers, query strings, INI files, JSON, STS's XML
    re.compile(
        r"(?i)((?:x-amz-security-token|aws_session_token|aws_security_token|"
        r"aws_secret_access_key|secretaccesskey|sessiontoken|secret_key|"
        r"x-amz-credential|signature)\\?[\"']?\s*[:=>]\s*b?\\?[\"']?)[^\s\\\"'<&,]+"
    ),
    # anything that looks like a session token: a long run of base64
    re.compile(r"[A-Za-z0-9+/]{100,}={0,2}"),
)
_known_secrets: list[str] = []


def redact(text: str) -> str:
    """``text`` with anything that looks like an AWS credential replaced by [REDACTED]."""
    for secret in _known_secrets:
        text = text.replace(secret, _REDACTED)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(
            lambda match: (match.group(1) if match.groups() else "") + _REDACTED, text
        )
    return text


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + (
        f".{int(record.msecs):03d}Z"
    )


def _logfmt_value(value: str) -> str:
    if value and all(c.isalnum() or c in "-._/:@" for c in value):
        return value
    return json.dumps(value, ensure_ascii=False)


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += " " + self.formatException(record.exc_info).replace("\n", " | ")
        fields = (
            ("ts", _timestamp(record)),
            ("level", _LEVEL_NAMES.get(record.levelno, "info")),
            ("logger", record.name),
            ("msg", message),
        )
        return redact(" ".join(f"{key}={_logfmt_value(value)}" for key, value in fields))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": _timestamp(record),
            "level": _LEVEL_NAMES.get(record.levelno, "info"),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False))


def setup_logging(level: str, fmt: str = "logfmt") -> None:
    # The environment's own credentials, whatever their shape, are redacted by value too.
    _known_secrets[:] = [
        value
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
        if len(value := os.environ.get(name, "")) >= 16
    ]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])
    # botocore and urllib3 are chatty below warning.
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(max(_LEVELS[level], logging.WARNING))
