"""LOG_FORMAT=json: one JSON object per line with the context of the work in hand."""

from __future__ import annotations

import asyncio
import io
import json
import logging

from core.logs import JsonFormatter, log_context, setup


def capture() -> tuple[logging.Logger, io.StringIO, logging.Handler]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.jsonlogs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, out, handler


def lines(out: io.StringIO) -> list[dict]:
    text = out.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]  # each line is one whole object


def test_one_json_object_per_line_with_context_and_extras() -> None:
    logger, out, handler = capture()
    try:
        logger.info("plain %s", "line")
        with log_context(update_id=42):
            logger.warning("handling\nwith a newline", extra={"case_id": 7})
        logger.info("campaign step", extra={"campaign_id": 3})
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    first, second, third, fourth = lines(out)
    assert set(first) == {"time", "level", "logger", "message"}
    assert first["message"] == "plain line" and first["level"] == "INFO"
    assert first["logger"] == "test.jsonlogs"
    assert first["time"].endswith("+00:00")
    assert second["update_id"] == 42 and second["case_id"] == 7 and second["level"] == "WARNING"
    assert second["message"] == "handling\nwith a newline"
    assert third["campaign_id"] == 3 and "update_id" not in third  # the context ended with the block
    assert "ValueError: boom" in fourth["exc_info"]


async def test_context_follows_each_task() -> None:
    logger, out, handler = capture()

    async def handle(update_id: int) -> None:
        with log_context(update_id=update_id):
            await asyncio.sleep(0.01)
            logger.info("done")

    try:
        await asyncio.gather(handle(1), handle(2))
    finally:
        logger.removeHandler(handler)
    assert sorted(line["update_id"] for line in lines(out)) == [1, 2]


async def test_the_inbox_puts_update_id_on_handler_log_lines() -> None:
    """What bot/inbox.py binds while it handles an update reaches every line logged meanwhile."""
    from core.logs import bind, unbind

    logger, out, handler = capture()
    try:
        token = bind(update_id=99)
        logger.info("inside a handler")
        unbind(token)
        logger.info("outside")
    finally:
        logger.removeHandler(handler)
    inside, outside = lines(out)
    assert inside["update_id"] == 99 and "update_id" not in outside


def test_setup_json_and_text(capsys) -> None:  # type: ignore[no-untyped-def]
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup("INFO", "json")
        logging.getLogger("x").info("hello", extra={"case_id": 5})
        err = capsys.readouterr().err.strip().splitlines()
        assert json.loads(err[-1])["case_id"] == 5
        setup("INFO", "text")
        logging.getLogger("x").info("hello")
        assert capsys.readouterr().err.strip().endswith("INFO x: hello")
    finally:
        root.handlers[:], _ = saved[0], None
        root.setLevel(saved[1])
