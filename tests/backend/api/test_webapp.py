"""The web app at `/` and Swagger UI at `/docs`, served by the API itself from local files: the
built app with an index.html fallback for client-side routes and long caching for hashed assets
only; a clear 503 page when the app is not built; the API's paths never shadowed; /docs and every
file it references fetched from the app (offline), under a CSP that allows exactly them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backend.api.helpers import ApiEnv, open_env
from tests.backend.conftest import Chain, module_stores

INDEX = (
    "<!doctype html><title>copyvault</title><script type=module src=/assets/app-3f2a.js></script>"
)
SCRIPT = "console.log('copyvault');"


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """A built app as Vite lays it out: index.html, hashed files under assets/, a public file."""
    folder = tmp_path_factory.mktemp("dist")
    (folder / "index.html").write_text(INDEX)
    (folder / "assets").mkdir()
    (folder / "assets" / "app-3f2a.js").write_text(SCRIPT)
    (folder / "robots.txt").write_text("User-agent: *\n")
    (folder.parent / "secret.txt").write_text("outside the build")
    return folder


@pytest.fixture(scope="module")
def web(request, read_chain, dist, tmp_path_factory) -> Iterator[ApiEnv]:
    chain: Chain = read_chain[0]
    with (
        module_stores(request, tmp_path_factory, "sqlite") as stores,
        open_env(chain, stores, tmp_path_factory.mktemp("api"), web_dist_dir=dist) as env,
    ):
        yield env


def test_root_and_client_routes__index_html_revalidated_under_the_app_csp(web):
    for path in ("/", "/vaults/0xabc", "/leader/intents?x=1"):
        page = web.get(path)
        assert page.status_code == 200, path
        assert page.text == INDEX
        assert page.headers["Cache-Control"] == "no-cache"
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "connect-src 'self';" in csp
        assert "unsafe" not in csp


def test_hashed_asset__cached_for_a_year__missing_one_is_404_not_html(web):
    asset = web.get("/assets/app-3f2a.js")
    assert asset.status_code == 200 and asset.text == SCRIPT
    assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert asset.headers["Content-Type"].startswith("text/javascript")
    missing = web.get("/assets/app-0000.js")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    public = web.get("/robots.txt")
    assert public.status_code == 200 and public.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(
    "path", ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt"]
)
def test_paths_outside_the_build__never_served(web, path):
    answer = web.get(path)
    assert "outside the build" not in answer.text


def test_api_paths__not_shadowed_by_the_app(web):
    assert web.get("/v1/health").status_code == 200
    assert web.get("/openapi.json").json()["info"]["title"] == "copyvault"
    assert web.get("/metrics").status_code == 200
    for path in ("/v1/nothing-here", "/health", "/openapi.json/x", "/docs/nothing", "/metrics/x"):
        answer = web.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["error"]["code"] == "not_found", path
        assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_docs__page_and_every_file_it_references__come_from_the_app(web):
    page = web.get("/docs")
    assert page.status_code == 200
    html = page.text
    references = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(references) == 3, references  # bundle, stylesheet, favicon
    for reference in references:
        assert reference.startswith("/docs/assets/"), reference
        answer = web.get(reference)
        assert answer.status_code == 200 and len(answer.content) > 500, reference
    # What the page's script fetches: the API's own description.
    assert (
        "url: '/openapi.json'" in html
        or "'url': '/openapi.json'" in html
        or '"/openapi.json"' in html
    )
    assert web.get("/docs/assets/package.json").status_code == 404  # only the page's files


def test_not_built__pages_answer_503_saying_how_to_build(read_chain, sqlite_stores, tmp_path):
    empty = tmp_path / "no-dist"
    with open_env(read_chain[0], sqlite_stores, tmp_path, web_dist_dir=empty) as env:
        page = env.get("/")
        assert page.status_code == 503
        assert "make setup" in page.text and "npm --prefix web run build" in page.text
        assert env.get("/v1/health").status_code == 200
