"""The outbound guard without services: every address form, the allow list, the resolver's check
at connect time, redirects and bounded answers, against real sockets on loopback."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from postsched.errors import ConfigError
from postsched.outbound import (
    MAX_ANSWER_BYTES,
    GuardedResolver,
    OutboundPolicy,
    OutboundRefused,
    TenantHttp,
    forbidden_reason,
    ip_literal,
    printable,
    retry_after,
)
from tests.listeners import CountingListener, Receiver, huge_answer, loopback_name, redirect_to

NOTHING = OutboundPolicy()

# Every notation of a forbidden address the issue names, and more.
FORBIDDEN_URLS = [
    "http://127.0.0.1:8080/", "http://localhost/", "http://LOCALHOST./x", "http://a.b.localhost/", "http://[::1]/",
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://172.16.5.4/", "http://192.168.1.1/",
    "http://0.0.0.0/", "http://0/", "http://2130706433:9/", "http://0x7f000001/", "http://0x7f.1/", "http://127.1/",
    "http://0177.0.0.1/", "http://017700000001/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::7f00:1]/", "http://[2002:7f00:1::]/", "http://[::127.0.0.1]/", "http://100.64.0.1/",
    "http://[fe80::1%25eth0]/", "http://[fd00::1]/", "http://[fc00::1]/", "http://[::]/", "http://224.0.0.1/",
    "http://[ff02::1]/", "http://255.255.255.255/", "http://240.0.0.1/", "http://192.0.2.10/",
    "http://metadata.google.internal/computeMetadata/v1/", "http://metadata/", "http://instance-data/",
    "https://user:pw@hooks.example.com/", "https://user@hooks.example.com/", "http://@hooks.example.com/",
    "http://hooks.example.com\\@127.0.0.1/", "ftp://hooks.example.com/", "http:///nohost",
]
ALLOWED_URLS = ["https://hooks.example.com/in?x=1", "http://93.184.216.34:8080/", "http://[2606:4700::1111]/",
                "https://example.com/a@b"]


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
def test_every_forbidden_form_is_refused_when_set(url: str) -> None:
    assert NOTHING.url_problem(url)


@pytest.mark.parametrize("url", ALLOWED_URLS)
def test_public_urls_pass(url: str) -> None:
    assert NOTHING.url_problem(url) is None


def test_numeric_notations_read_as_a_resolver_reads_them() -> None:
    for host in ("2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0x7f.0.0.1", "127.0.1"):
        assert str(ip_literal(host)) in ("127.0.0.1", "127.0.0.1"), host
    assert ip_literal("hooks.example.com") is None and ip_literal("1.2.3.4.5") is None
    assert forbidden_reason(ip_literal("[::ffff:10.0.0.1]")) == "a private network (RFC 1918) inside an IPv6 address"


def test_the_allow_list_opens_cidrs_and_names_and_nothing_else() -> None:
    policy = OutboundPolicy.parse("10.20.0.0/16, 127.0.0.2, hooks-gateway, *.corp.internal, localhost")
    assert policy.url_problem("http://10.20.3.4/") is None
    assert policy.url_problem("http://127.0.0.2:9/") is None
    assert policy.url_problem("http://127.0.0.1:9/")  # /32 from a bare address
    assert policy.url_problem("http://hooks-gateway/") is None and policy.url_problem("http://a.corp.internal/") is None
    assert policy.url_problem("http://localhost/") is None
    assert policy.url_problem("http://10.21.0.1/")
    assert policy.url_problem("https://u:p@hooks-gateway/")  # user-info never
    for bad in ("10.0.0.0/33", "not a name!", "*.", "a..b"):
        with pytest.raises(ConfigError, match="POSTSCHED_OUTBOUND_ALLOW"):
            OutboundPolicy.parse(bad)


class Fixed(AbstractResolver):
    """A DNS server under the test's control: answers in turn, one list per lookup."""

    def __init__(self, *answers: list[str]) -> None:
        self._answers = list(answers)
        self.lookups = 0

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list:
        addresses = self._answers[min(self.lookups, len(self._answers) - 1)]
        self.lookups += 1
        return [{"hostname": host, "host": a, "port": port, "family": socket.AF_INET6 if ":" in a else socket.AF_INET,
                 "proto": 0, "flags": 0} for a in addresses]

    async def close(self) -> None:
        pass


async def test_every_resolved_address_is_checked_and_one_bad_answer_refuses_the_name() -> None:
    resolver = GuardedResolver(NOTHING, Fixed(["93.184.216.34"], ["93.184.216.34", "10.0.0.7"], ["169.254.169.254"]))
    assert [r["host"] for r in await resolver.resolve("hooks.example.com", 443)] == ["93.184.216.34"]
    # A rebinding DNS server's later answers are checked as the first was.
    with pytest.raises(OutboundRefused, match="resolves to 10.0.0.7 is a private network"):
        await resolver.resolve("hooks.example.com", 443)
    with pytest.raises(OutboundRefused, match="link-local"):
        await resolver.resolve("hooks.example.com", 443)
    allowed = GuardedResolver(OutboundPolicy.parse("hooks.internal"), Fixed(["10.1.1.1"]))
    assert [r["host"] for r in await allowed.resolve("hooks.internal", 80)] == ["10.1.1.1"]


async def test_a_name_that_resolves_to_loopback_is_never_connected_to() -> None:
    http = TenantHttp(NOTHING, connections=4)
    try:
        with CountingListener("127.0.0.1") as forbidden:
            for url in (f"http://{loopback_name()}:{forbidden.port}/hook", f"http://127.0.0.1:{forbidden.port}/",
                        f"http://2130706433:{forbidden.port}/", f"http://0x7f.1:{forbidden.port}/"):
                with pytest.raises(OutboundRefused, match="loopback"):
                    await http.post(url, b"{}", {}, timeout=5)
            await asyncio.sleep(0.3)
            assert forbidden.connections == 0
    finally:
        await http.close()


async def test_redirects_are_answers_not_visits() -> None:
    http = TenantHttp(OutboundPolicy.parse("127.0.0.2/32"), connections=4)
    try:
        with CountingListener("127.0.0.1") as forbidden:
            for status in (301, 302, 303, 307, 308):
                with Receiver(redirect_to(f"http://127.0.0.1:{forbidden.port}/internal", status)) as receiver:
                    answer = await http.post(f"{receiver.url}/in", b"{}", {}, timeout=5)
                assert answer.status == status and receiver.requests == 1
            await asyncio.sleep(0.3)
            assert forbidden.connections == 0
    finally:
        await http.close()


async def test_an_answer_is_read_up_to_the_limit_and_no_further() -> None:
    http = TenantHttp(OutboundPolicy.parse("127.0.0.2/32"), connections=4)

    async def with_length(request: web.Request) -> web.Response:
        return web.Response(status=400, body=b"y" * (MAX_ANSWER_BYTES + 1))

    try:
        with Receiver(huge_answer(400, 200)) as streaming:  # 200 MiB, chunked
            answer = await http.post(streaming.url, b"{}", {}, timeout=10)
        assert answer.status == 400 and not answer.complete and len(answer.body) <= MAX_ANSWER_BYTES
        with Receiver(with_length) as announced:  # Content-Length over the limit: nothing read
            answer = await http.post(announced.url, b"{}", {}, timeout=10)
        assert answer.status == 400 and not answer.complete and answer.body == b""

        async def small(request: web.Request) -> web.Response:
            return web.json_response({"id": "abc"})

        with Receiver(small) as fine:
            answer = await http.post(fine.url, b"{}", {}, timeout=10)
        assert answer.complete and answer.body == b'{"id": "abc"}'
    finally:
        await http.close()


def test_kept_words_are_short_and_printable() -> None:
    assert printable(b"bad\x00request\x1b[31m\n\t\xe2\x80\xae evil", 200) == "bad request [31m evil"
    assert len(printable("x" * 10_000)) == 200
    assert retry_after({"Retry-After": "120"}) == 120.0
    assert retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert retry_after({"Retry-After": "-5"}) is None and retry_after({"Retry-After": "nan"}) is None
