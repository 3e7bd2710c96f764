"""A store outage seen by the API: every request that needs the store answers 503
`store_unavailable` with Retry-After (never 500), and however many fail, the log gets one warning
line per condition per minute, with no traceback and no "unexpected error"."""

from __future__ import annotations

import logging
import sqlite3

import psycopg
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError, ProgrammingError

from backend.api.errors import OutageLog, install_error_handlers
from tests.backend.store_outages import store_down

ERRORS_LOGGER = "backend.api.errors"


def test_store_down__every_read_503_store_unavailable__one_warning_line(api, caplog):
    caplog.set_level(logging.INFO)
    with store_down(api.app.state.copyvault.engine):
        answers = [api.get("/v1/vaults") for _ in range(20)]
    assert {a.status_code for a in answers} == {503}
    assert {a.json()["error"]["code"] for a in answers} == {"store_unavailable"}
    assert all(a.headers.get("Retry-After") for a in answers)
    lines = [r for r in caplog.records if r.name == ERRORS_LOGGER]
    assert [(r.levelname, r.getMessage().split(":")[0]) for r in lines] == [
        ("WARNING", "store unavailable")
    ]
    assert all(r.exc_info is None for r in caplog.records)
    assert not any("unexpected error" in r.getMessage() for r in caplog.records)
    assert api.get("/v1/vaults").status_code == 200  # the store back: answered again


def test_outage_log__one_line_per_condition_per_interval_with_the_count_not_logged(caplog):
    caplog.set_level(logging.WARNING, logger=ERRORS_LOGGER)
    outages = OutageLog(every=0.0)
    outages.warn("store busy", "pool full")
    outages.warn("store busy", "pool full")
    assert len(caplog.records) == 2  # an interval of 0 logs everything
    caplog.clear()
    outages = OutageLog(every=3600.0)
    for _ in range(5):
        outages.warn("store unavailable", "connection refused")
    outages.warn("store busy", "pool full")
    assert [r.getMessage() for r in caplog.records] == [
        "store unavailable: connection refused",
        "store busy: pool full",
    ]
    outages._last["store unavailable"] -= 7200  # the interval has passed
    outages.warn("store unavailable", "connection refused")
    assert caplog.records[-1].getMessage() == (
        "store unavailable: connection refused (4 more since the last line)"
    )


def _app_raising(error: Exception) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/fails")
    def fails() -> None:
        raise error

    return TestClient(app, raise_server_exceptions=False)


def test_lost_connection_surfacing_as_another_driver_error__503_store_unavailable():
    """psycopg, cleaning up after `pg_terminate_backend`, can raise a ProgrammingError whose
    cause is the lost connection (seen under the chaos bench's pg_kill): an outage, not a bug."""
    lost = psycopg.ProgrammingError("can't change 'autocommit' now")
    lost.__context__ = psycopg.OperationalError("connection socket closed")
    answer = _app_raising(ProgrammingError("SELECT 1", {}, lost)).get("/fails")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "store_unavailable"


def test_integrity_error__500_internal_error_logged_with_its_trace(caplog):
    unique = sqlite3.IntegrityError("UNIQUE constraint failed: intents.digest")
    answer = _app_raising(IntegrityError("INSERT", {}, unique)).get("/fails")
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal_error"
    (record,) = [r for r in caplog.records if "unexpected error" in r.getMessage()]
    assert record.exc_info is not None
