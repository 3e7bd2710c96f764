"""The web app is typed from files the Python side writes (scripts/web_schema.py): the server's
OpenAPI document and the contracts' ABIs. A change to the API or the contracts that is not
regenerated and committed fails here, not in a user's browser."""

from __future__ import annotations

from scripts import web_schema


def test_web_openapi_and_abis__match_the_server_and_the_compiled_contracts():
    stale = [str(path.relative_to(web_schema.REPO_ROOT)) for path in web_schema.stale_files()]
    assert not stale, f"regenerate with `python -m scripts.web_schema` and commit: {stale}"


def test_web_openapi__lists_the_routes_the_pages_call():
    paths = web_schema.openapi_document()["paths"]
    for route in (
        "/v1/vaults/{vault}",
        "/v1/vaults/{vault}/proposals/withdrawals",
        "/v1/proposals/{digest}/signatures",
        "/v1/intents",
        "/v1/leaders/{leader}/trades",
    ):
        assert route in paths, route
