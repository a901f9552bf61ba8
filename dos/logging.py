"""structlog JSON logs on stdout, with the correlation id bound and personal data masked.

Both structlog loggers and the stdlib (Django, Celery, gunicorn) go through the same processor
chain, so a log line can never carry a raw RRN, card number, phone number or e-mail address.
"""

from __future__ import annotations

import logging
import logging.config

import structlog

from dos.pii import mask_value


def scrub_pii(_logger, _method, event_dict: dict) -> dict:
    return mask_value(event_dict)


def _shared_processors() -> list:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]


def configure_logging(*, level: str = "INFO", fmt: str = "json") -> None:
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
    # format_exc_info runs before scrub_pii so that tracebacks (which may quote locals) are masked too.
    final = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        structlog.processors.format_exc_info,
        scrub_pii,
        renderer,
    ]
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "structlog": {
                    "()": structlog.stdlib.ProcessorFormatter,
                    "processors": final,
                    "foreign_pre_chain": _shared_processors(),
                }
            },
            "handlers": {
                "stdout": {"class": "logging.StreamHandler", "formatter": "structlog", "stream": "ext://sys.stdout"}
            },
            "root": {"handlers": ["stdout"], "level": level},
            "loggers": {
                "django.server": {"level": "WARNING"},
                "django.db.backends": {"level": "WARNING"},
                "gunicorn.access": {"level": "WARNING"},
            },
        }
    )
    structlog.configure(
        processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
