"""What the server shows a browser besides the API: the web app at `/` and Swagger UI at `/docs`,
both from files on this machine (nothing loads from a CDN, so both work offline).

- **The app** is the Vite build in `web/dist` (COPYVAULT_WEB_DIST_DIR). A file that exists is
  served; Vite's hashed assets (`/assets/*`) are cached for a year (their name changes when their
  content does), everything else, `index.html` first, is revalidated on every load so a new build
  shows at once. Any other path that is not the API's falls back to `index.html` (client-side
  routes), except under `/assets/` (a missing script is a 404, never HTML a browser would try to
  run). Without a build, pages answer 503 with how to build it.
- **The API keeps its paths**: this catch-all route is added last and does not match `/v1`,
  `/docs`, `/openapi.json`, `/metrics` (nor `/health`): those keep the API's JSON 404, so it never
  shadows them.
- **Swagger UI** is FastAPI's page pointed at the npm package `swagger-ui-dist` (pinned in the
  root package.json), its files served under `/docs/assets/`. The security headers give it a CSP
  allowing its one inline script by hash (backend/api/platform.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.convertors import Convertor, register_url_convertor

from backend.chain.artifacts import REPO_ROOT
from backend.config import Settings

DOCS_ASSETS: Final = "/docs/assets"
# The files of swagger-ui-dist the page loads; nothing else of the package is served.
SWAGGER_FILES: Final = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
# First path segments that belong to the API: never the app's, whatever the path.
API_SEGMENTS: Final = ("v1", "docs", "openapi.json", "metrics", "health", "redoc")


class WebPathConvertor(Convertor):
    """Any path but the API's: the app's route then does not even match /v1/..., so the API's
    unknown paths stay unmatched (a JSON 404, counted as `<unmatched>` in the request metrics)."""

    regex = r"(?!(?:" + "|".join(re.escape(s) for s in API_SEGMENTS) + r")(?:/|$)).*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("webpath", WebPathConvertor())
HASHED_ASSETS: Final = "assets/"
IMMUTABLE: Final = "public, max-age=31536000, immutable"
REVALIDATE: Final = "no-cache"
NOT_BUILT_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>copyvault: the web app is not built</title>
</head><body><main><h1>The web app is not built</h1>
<p>This server found no <code>index.html</code> in <code>{dist}</code>. Build it with
<code>make setup</code> (or <code>npm --prefix web ci &amp;&amp; npm --prefix web run build</code>)
and reload. The API is up: <a href="/docs">/docs</a>.</p></main></body></html>
"""


def web_dist_dir(settings: Settings) -> Path:
    return Path(settings.web_dist_dir or REPO_ROOT / "web" / "dist")


def swagger_ui_dir(settings: Settings) -> Path:
    return Path(settings.swagger_ui_dir or REPO_ROOT / "node_modules" / "swagger-ui-dist")


def install_docs(app: FastAPI, settings: Settings) -> None:
    """`/docs`: Swagger UI from local files (create the app with `docs_url=None`)."""
    folder = swagger_ui_dir(settings)

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
            # No "valid" badge: it is an image from validator.swagger.io, online only.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(DOCS_ASSETS + "/{name}", include_in_schema=False)
    async def swagger_asset(name: str) -> Response:
        media_type = SWAGGER_FILES.get(name)
        path = folder / name
        if media_type is None or not path.is_file():
            raise HTTPException(404)
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": REVALIDATE})


def install_webapp(app: FastAPI, settings: Settings) -> None:
    """The built app at `/` (call after every other route: this one matches any path)."""
    dist = web_dist_dir(settings).resolve()

    @app.get("/{path:webpath}", include_in_schema=False)
    async def web_app(path: str) -> Response:
        index = dist / "index.html"
        if not index.is_file():
            page = NOT_BUILT_PAGE.format(dist=dist)
            return HTMLResponse(page, status_code=503, headers={"Retry-After": "60"})
        found = _file_in(dist, path)
        if found is not None:
            cache = IMMUTABLE if path.startswith(HASHED_ASSETS) else REVALIDATE
            return FileResponse(found, headers={"Cache-Control": cache})
        if path.startswith(HASHED_ASSETS):
            raise HTTPException(404)
        return FileResponse(index, headers={"Cache-Control": REVALIDATE})


def _file_in(root: Path, path: str) -> Path | None:
    """The file `path` names inside `root`, or None: nothing outside `root` (no `..`, no symlink
    out of it) and no directories."""
    if not path:
        return None
    candidate = (root / path).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate
