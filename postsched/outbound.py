"""The outbound guard: where postsched may send a request on a tenant's behalf, and how.

Every URL a tenant gives (a post webhook, an event webhook, anything added later) is checked twice:
- when it is set (`OutboundPolicy.url_problem`): http(s) only, no user-info, and a host that is
  neither an IP literal in a forbidden range, in any notation a resolver accepts (dotted, decimal
  `2130706433`, hex `0x7f000001`, octal, short `127.1`, IPv4 inside IPv6), nor a local or cloud
  metadata name (`localhost`, `*.localhost`, `metadata.google.internal`, ...);
- when it is called (`GuardedResolver`): the name is resolved once, every address it resolves to
  is checked the same way, and the connection goes to those checked addresses: no second lookup
  for a rebinding DNS server to answer differently.

Forbidden: loopback, RFC 1918, carrier-grade NAT (100.64/10), link-local (169.254/16, fe80::/10:
where cloud metadata services live), unique-local (fc00::/7), unspecified, multicast, broadcast and
every other range IANA does not mark globally reachable. `POSTSCHED_OUTBOUND_ALLOW` (CIDRs and host
names, `*.suffix` for a domain) lets an operator open what a private deployment needs.

`TenantHttp` is the one client for such calls: guarded, never following a redirect, and reading at
most MAX_ANSWER_BYTES of an answer. What postsched keeps of a third party's answer is `printable`.
Operator-set URLs (POSTSCHED_META_GRAPH_URL, the OTLP endpoint) are not tenant input: not guarded.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit
from dataclasses import dataclass, field
from typing import Any, Mapping

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from postsched import telemetry
from postsched.errors import ConfigError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_VARIABLE = "POSTSCHED_OUTBOUND_ALLOW"
# What `postsched up`, a laptop tool, allows: its demo receivers and fake-meta live on loopback.
LOOPBACK_ALLOW = "127.0.0.0/8,::1/128,localhost"
# A tenant's endpoint answers a status and perhaps an id or a reason: nothing needs more.
MAX_ANSWER_BYTES = 64 * 1024
MAX_REASON_CHARS = 200

_FORBIDDEN_RANGES: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), reason)
    for net, reason in (
        ("0.0.0.0/8", "the unspecified address"),
        ("127.0.0.0/8", "a loopback address"),
        ("10.0.0.0/8", "a private network (RFC 1918)"),
        ("172.16.0.0/12", "a private network (RFC 1918)"),
        ("192.168.0.0/16", "a private network (RFC 1918)"),
        ("100.64.0.0/10", "a carrier-grade NAT network (RFC 6598)"),
        ("169.254.0.0/16", "a link-local address (cloud metadata)"),
        ("224.0.0.0/4", "a multicast address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("240.0.0.0/4", "a reserved address"),
        ("::/128", "the unspecified address"),
        ("::1/128", "a loopback address"),
        ("fe80::/10", "a link-local address (cloud metadata)"),
        ("fc00::/7", "a unique-local network"),
        ("ff00::/8", "a multicast address"),
    )
)
# Names that mean "this machine" or a cloud's metadata service wherever they are resolved.
_FORBIDDEN_NAMES = frozenset({
    "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback",
    "metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal",
})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# Characters a resolver reads as an IPv4 literal in one of inet_aton's notations.
_NUMERIC_HOST = re.compile(r"^[0-9a-fx.]+$")


class OutboundRefused(OSError):
    """A tenant's URL leads somewhere postsched must not call."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AnswerTooLarge(Exception):
    """The answer's body is longer than we read."""


def ip_literal(host: str) -> IPAddress | None:
    """The address `host` names if it is an IP literal in any notation a resolver accepts."""
    host = host.strip("[]").lower()
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # an IPv6 zone (%eth0) names no other address
    except ValueError:
        pass
    if host and _NUMERIC_HOST.match(host) and any(c.isdigit() for c in host):
        try:
            # inet_aton reads what getaddrinfo would: 2130706433, 0x7f000001, 0177.0.0.1, 127.1.
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def forbidden_reason(address: IPAddress) -> str | None:
    """Why a tenant's URL must not reach `address`, or None if it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and (address in _NAT64 or address in _IPV4_TRANSLATED
                                 or (address in _IPV4_COMPATIBLE and int(address) > 1)):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is None and address.teredo:
            embedded = address.teredo[1]
        if embedded is not None:
            inner = forbidden_reason(embedded)
            if inner:
                return f"{inner} inside an IPv6 address"
    for network, reason in _FORBIDDEN_RANGES:
        if address.version == network.version and address in network:
            return reason
    if not address.is_global:
        return "a reserved address"
    return None


def _name(host: str) -> str:
    return host.lower().rstrip(".")


@dataclass(frozen=True)
class OutboundPolicy:
    """What tenant URLs may reach despite the rules: the operator's POSTSCHED_OUTBOUND_ALLOW."""

    networks: tuple[IPNetwork, ...] = ()
    names: frozenset[str] = frozenset()  # exact names; "*.example.internal" allows its subdomains
    source: str = field(default="", compare=False)

    @classmethod
    def parse(cls, value: str, *, variable: str = ALLOW_VARIABLE) -> "OutboundPolicy":
        networks: list[IPNetwork] = []
        names: set[str] = set()
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
                continue
            except ValueError:
                pass
            name = _name(item)
            bare = name[2:] if name.startswith("*.") else name
            if not bare or not re.fullmatch(r"[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?", bare) or ".." in bare:
                raise ConfigError(f"{variable}: {item!r} is neither a CIDR (10.0.0.0/8) nor a host name")
            names.add(name)
        return cls(tuple(networks), frozenset(names), source=value.strip())

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "OutboundPolicy":
        return cls.parse(env.get(ALLOW_VARIABLE, ""))

    def name_allowed(self, host: str) -> bool:
        name = _name(host)
        return name in self.names or any(n.startswith("*.") and name.endswith(n[1:]) for n in self.names)

    def address_problem(self, address: IPAddress) -> str | None:
        """Why the address may not be called, or None."""
        if any(address.version == net.version and address in net for net in self.networks):
            return None
        reason = forbidden_reason(address)
        return f"{address} is {reason}" if reason else None

    def host_problem(self, host: str) -> str | None:
        """Why a URL's host is refused before any lookup, or None (a name is checked again at connect time)."""
        if self.name_allowed(host):
            return None
        literal = ip_literal(host)
        if literal is not None:
            return self.address_problem(literal)
        name = _name(host)
        if name in _FORBIDDEN_NAMES or name.endswith(".localhost"):
            return f"{name} is a local or cloud metadata name"
        return None

    def url_problem(self, url: str) -> str | None:
        """Why `url` may not be given as a tenant's endpoint, or None if it may."""
        if "\\" in url or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
            return "must not contain spaces, backslashes or control characters"
        try:
            parsed = URL(url)
            host = parsed.raw_host
        except (ValueError, TypeError):
            return "is not a valid URL"
        if parsed.scheme not in ("http", "https") or not host:
            return "must be an absolute http:// or https:// URL"
        if parsed.raw_user is not None or parsed.raw_password is not None or "@" in urlsplit(url).netloc:
            return "must not carry a user name or password (use the signing secret)"
        problem = self.host_problem(host)
        return f"is not allowed: {problem}" if problem else None


class GuardedResolver(AbstractResolver):
    """Resolves a name once and refuses it if any address it resolves to is forbidden; aiohttp
    then connects to exactly the addresses returned here (no second lookup)."""

    def __init__(self, policy: OutboundPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner or ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        problem = self._policy.host_problem(host)
        if problem:
            raise OutboundRefused(problem)
        results = await self._inner.resolve(host, port, family)
        if self._policy.name_allowed(host):
            return results
        for result in results:
            problem = self._policy.address_problem(ipaddress.ip_address(result["host"].split("%", 1)[0]))
            if problem:
                raise OutboundRefused(f"{_name(host)} resolves to {problem}")
        return results

    async def close(self) -> None:
        await self._inner.close()


def printable(text: str | bytes, limit: int = MAX_REASON_CHARS) -> str:
    """What postsched keeps of a third party's words: one line of printable characters (no
    control, format or bidi characters), at most `limit`."""
    if isinstance(text, bytes):
        text = text[: limit * 4].decode("utf-8", "replace")
    line = " ".join("".join(c if c.isprintable() else " " for c in text[: limit * 4]).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes  # at most MAX_ANSWER_BYTES
    complete: bool  # False: the body was longer and was not read past the limit


def refusal(exc: BaseException) -> OutboundRefused | None:
    """The guard's refusal behind an aiohttp error, if that is what it was."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OutboundRefused):
            return seen
        os_error = getattr(seen, "os_error", None)
        if isinstance(os_error, OutboundRefused):
            return os_error
        seen = seen.__cause__
    return None


class TenantHttp:
    """The one HTTP client for URLs tenants give: guarded, no redirects, bounded answers.

    Its own session (the Graph API's is the operator's), without the HTTP client
    instrumentation's metrics: their labels would carry every tenant's host."""

    def __init__(self, policy: OutboundPolicy, *, connections: int, max_answer: int = MAX_ANSWER_BYTES) -> None:
        self.policy = policy
        self._max_answer = max_answer
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections, resolver=GuardedResolver(policy), ttl_dns_cache=60),
            # Raw bytes: a compressed answer cannot grow past the limit once we stop reading.
            auto_decompress=False,
        )
        telemetry.trace_tenant_calls_by_origin(self._session)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float) -> Answer:
        """POSTs `body`; the answer's first MAX_ANSWER_BYTES. Raises OutboundRefused before any
        connection to a forbidden place, aiohttp's errors and TimeoutError for the rest."""
        return await self.request("POST", url, headers, timeout=timeout, body=body)

    async def request(self, method: str, url: str, headers: Mapping[str, str], *, timeout: float,
                      body: bytes | None = None, max_answer: int | None = None) -> Answer:
        """One call, as `post`; at most `max_answer` bytes of the answer are read (never more than
        the client's own limit): a caller that needs only the headers passes 0."""
        problem = self.policy.url_problem(url)
        if problem:
            raise OutboundRefused(f"the URL {problem}")
        limit = self._max_answer if max_answer is None else min(max_answer, self._max_answer)
        try:
            async with self._session.request(
                method, url, data=body, headers={**headers, "Accept-Encoding": "identity"}, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                data, complete = await read_bounded(response, limit)
                return Answer(response.status, response.headers, data, complete)
        except aiohttp.ClientError as exc:
            refused = refusal(exc)
            if refused is not None:
                raise refused from exc
            raise

    async def close(self) -> None:
        await self._session.close()


async def read_bounded(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """At most `limit` bytes of an answer's body, and whether that was all of it. What is not
    read is never downloaded: the connection is closed then and there."""
    if (response.content_length or 0) > limit:
        response.close()
        return b"", False
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(min(16 * 1024, limit + 1)):  # no more than one past the limit
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            response.close()
            return b"".join(chunks)[:limit], False
    return b"".join(chunks), True


def answer_text(answer: Answer) -> str:
    """The answer's body as printable text for a reason ("" if there is none)."""
    return printable(answer.body) if answer.body else ""


def retry_after(headers: Mapping[str, Any]) -> float | None:
    """A Retry-After header in seconds (the HTTP-date form is not honoured), or None."""
    value = str(headers.get("Retry-After") or "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 and seconds == seconds else None
