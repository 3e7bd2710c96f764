"""CodePresence asks the node once per account per `ttl` seconds, and again after it."""

from __future__ import annotations

from backend.chain.code_cache import CodePresence


class CountingClient:
    def __init__(self, codes: dict[str, str]):
        self.codes = codes
        self.calls = 0

    def request(self, method, params):
        assert method == "eth_getCode"
        self.calls += 1
        return self.codes.get(params[0].lower(), "0x")


def test_code_presence__cached_for_ttl_then_asked_again():
    now = [100.0]
    client = CountingClient({"0xaa": "0x6001"})
    codes = CodePresence(client, ttl=2.0, monotonic=lambda: now[0])
    assert codes.has_code("0xAA") and codes.has_code("0xaa")
    assert not codes.has_code("0xbb")
    assert client.calls == 2
    now[0] += 2.5
    client.codes["0xbb"] = "0x60"  # deployed since: seen once the answer is older than ttl
    assert codes.has_code("0xbb")
    assert client.calls == 3
