"""JSON log lines on stderr; secrets are scrubbed from every message and field before it is written."""

from __future__ import annotations

import json
import logging
import sys
import time

from offramp.shadow.privacy import _KEYLIKE

LOGGER_NAME = "offramp.shadow"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            out.update(extra)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info).splitlines()[-1]
        return _KEYLIKE.sub("[REDACTED:KEY]", json.dumps(out, default=str))


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def setup_logging(level: str = "info", stream=None) -> logging.Logger:
    log = get_logger()
    for h in list(log.handlers):
        log.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    log.addHandler(handler)
    log.setLevel(level.upper())
    log.propagate = False
    return log


def event(msg: str, level: int = logging.INFO, **fields) -> None:
    log = get_logger()
    if log.isEnabledFor(level):
        log.log(level, msg, extra={"fields": fields})
