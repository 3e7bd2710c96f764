"""Security headers on every answer and the CORS allowlist (none by default)."""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import urlsplit

from tests.backend.platform.conftest import platform_app

ALLOWED = "https://app.example.org"
OTHER = "https://evil.example.net"


def _assert_hardened(response) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_security_headers__api_404_413_and_docs__on_every_answer(
    platform_chain, sqlite_stores, tmp_path
):
    with platform_app(platform_chain, sqlite_stores, tmp_path, api_max_body_bytes=1_024) as env:
        answers = {
            "read": env.get("/v1/vaults"),
            "unknown": env.get("/v1/nothing-here"),
            "too big": env.post("/v1/intents", content=b"x" * 2_048),
            "metrics": env.get("/metrics"),
            "openapi": env.get("/openapi.json"),
        }
        assert [a.status_code for a in answers.values()] == [200, 404, 413, 200, 200]
        for answer in answers.values():
            _assert_hardened(answer)
            assert "Strict-Transport-Security" not in answer.headers  # plain HTTP
        for name in ("read", "unknown", "too big", "metrics"):
            assert answers[name].headers["Cache-Control"] == "no-store"
            assert answers[name].headers["Content-Security-Policy"].startswith("default-src 'none'")
        # A credential makes any answer no-store, even off the API paths.
        docs = env.get("/openapi.json", headers={"Authorization": "Bearer cvs_x"})
        assert docs.headers["Cache-Control"] == "no-store"


def test_docs_page__csp_allows_exactly_its_scripts__swagger_still_loads(
    platform_chain, sqlite_stores, tmp_path
):
    """/docs loads everything from this server (npm swagger-ui-dist, no CDN): its scripts are
    same-origin ('self') or its inline script by hash; ReDoc, which has no offline copy, is gone."""
    with platform_app(platform_chain, sqlite_stores, tmp_path) as env:
        page = env.get("/docs")
        assert page.status_code == 200
        _assert_hardened(page)
        csp = dict(
            (d.split(" ", 1)[0], d.split(" ", 1)[1] if " " in d else "")
            for d in (p.strip() for p in page.headers["Content-Security-Policy"].split(";"))
        )
        html = page.text
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
        assert scripts
        for attributes, body in scripts:
            source = re.search(r'src="([^"]+)"', attributes)
            if source:
                assert not urlsplit(source.group(1)).netloc  # same origin
                assert "'self'" in csp["script-src"].split()
            else:
                digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
                assert f"'sha256-{digest}'" in csp["script-src"].split()
        assert "'unsafe-inline'" not in csp["script-src"]
        assert "https://" not in html and "https:" not in page.headers["Content-Security-Policy"]
        assert csp["connect-src"] == "'self'"  # the page fetches /openapi.json
        assert env.get("/redoc").status_code == 404


def test_hsts__only_over_tls_or_from_a_trusted_proxy_saying_https(
    platform_chain, sqlite_stores, tmp_path
):
    with platform_app(
        platform_chain, sqlite_stores, tmp_path, trusted_proxies=["10.0.0.0/8"]
    ) as env:
        tls = env.client.get("https://testserver/v1/vaults")
        assert tls.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        forged = env.get("/v1/vaults", headers={"X-Forwarded-Proto": "https"})
        assert "Strict-Transport-Security" not in forged.headers  # the test client is not a proxy


def test_cors__not_configured__no_cors_headers_for_any_origin(
    platform_chain, sqlite_stores, tmp_path
):
    with platform_app(platform_chain, sqlite_stores, tmp_path) as env:
        simple = env.get("/v1/vaults", headers={"Origin": ALLOWED})
        assert simple.status_code == 200
        preflight = env.client.options(
            "/v1/intents",
            headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"},
        )
        for answer in (simple, preflight):
            assert not [h for h in answer.headers if h.lower().startswith("access-control-")]


def test_cors__allowlist__allowed_origin_answered_other_origin_not_preflight_checked(
    platform_chain, sqlite_stores, tmp_path
):
    with platform_app(
        platform_chain,
        sqlite_stores,
        tmp_path,
        api_cors_origins=[ALLOWED],
        rate_limit_enabled=True,
        rate_limit_per_address="2/hour",
    ) as env:
        allowed = env.get("/v1/vaults", headers={"Origin": ALLOWED})
        assert allowed.status_code == 200
        assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED
        assert "Origin" in allowed.headers["Vary"]
        assert "Access-Control-Allow-Credentials" not in allowed.headers  # off unless configured

        other = env.get("/v1/vaults", headers={"Origin": OTHER})
        assert other.status_code == 200  # CORS is the browser's check: the answer goes out...
        assert "Access-Control-Allow-Origin" not in other.headers  # ...but a browser won't read it

        preflight = env.client.options(
            "/v1/intents",
            headers={
                "Origin": ALLOWED,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type, authorization",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["Access-Control-Allow-Origin"] == ALLOWED
        assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
        assert preflight.headers["Access-Control-Max-Age"] == "600"

        refused = env.client.options(
            "/v1/intents",
            headers={"Origin": OTHER, "Access-Control-Request-Method": "POST"},
        )
        assert refused.status_code == 400
        assert "Access-Control-Allow-Origin" not in refused.headers

        # The limit is used up (preflights are free): the 429 is readable by the allowed origin.
        limited = env.get("/v1/vaults", headers={"Origin": ALLOWED})
        assert limited.status_code == 429
        assert limited.headers["Access-Control-Allow-Origin"] == ALLOWED
        assert "Retry-After" in limited.headers["Access-Control-Expose-Headers"]
        _assert_hardened(limited)
