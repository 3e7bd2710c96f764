"""The copyvault API as the command line uses it: JSON in, JSON out, and every refusal turned into
one line naming the API's error code and message (docs/api.md lists the codes)."""

from __future__ import annotations

from typing import Any, Final

from backend.cli.user.units import UserError

TIMEOUT_SECONDS: Final = 30.0


class ApiClient:
    def __init__(self, base_url: str):
        import httpx

        self.base_url = base_url
        self._http = httpx.Client(base_url=base_url, timeout=TIMEOUT_SECONDS)

    def get(self, path: str, **params: Any) -> Any:
        return self._request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._request("POST", path, json=body)

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise UserError(
                f"the API at {self.base_url} did not answer ({exc.__class__.__name__}): check "
                "--api and that `copyvault serve` runs there"
            ) from None
        if response.is_success:
            return response.json()
        raise UserError(_refusal(method, path, response))


def _refusal(method: str, path: str, response: Any) -> str:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return f"{method} {path}: HTTP {response.status_code} {response.text[:200]}"
    fields = "; ".join(f"{f.get('path')}: {f.get('message')}" for f in error.get("fields") or [])
    text = f"the API refused ({error.get('code')}): {error.get('message')}"
    retry = response.headers.get("Retry-After")
    return text + (f" [{fields}]" if fields else "") + (f" (retry in {retry}s)" if retry else "")
