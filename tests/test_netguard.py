"""Address decisions, tested on the decision only: no socket is opened to any address here."""

from __future__ import annotations

import ipaddress

import pytest

from crawler.netguard import AddressGuard, embedded_ipv4, parse_numeric_host, vet_host

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "metadata"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("fc00::1", "unique-local"),
    ("fd12:3456::1", "unique-local"),
    ("192.0.2.10", "documentation"),
    ("2001:db8::1", "documentation"),
    ("198.18.0.1", "benchmarking"),
    # IPv6 forms that carry a private IPv4 address
    ("::ffff:127.0.0.1", "IPv4-mapped"),
    ("::ffff:169.254.169.254", "metadata"),
    ("::ffff:10.0.0.1", "IPv4-mapped"),
    ("::10.0.0.1", "IPv4-compatible"),
    ("::127.0.0.1", "IPv4-compatible"),
    ("2002:7f00:1::", "6to4"),
    ("2002:a9fe:a9fe::1", "metadata"),
    ("64:ff9b::7f00:1", "NAT64"),
    ("64:ff9b::a00:1", "NAT64"),
    ("::ffff:0:a00:1", "IPv4-translated"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("64:ff9b:1::1", "local-use NAT64"),
]

ALLOWED = ["93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8",
           "64:ff9b::808:808", "2002:808:808::1"]


@pytest.mark.parametrize(("address", "word"), REFUSED)
def test_private_and_special_addresses_are_refused_with_a_reason(address: str, word: str) -> None:
    reason = AddressGuard().check(address)
    assert reason is not None
    assert word.lower() in reason.lower()


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert AddressGuard().check(address) is None


def test_allow_cidrs_open_only_the_listed_range() -> None:
    guard = AddressGuard(["127.0.0.1/32"])
    assert guard.check("127.0.0.1") is None
    assert guard.check("::ffff:127.0.0.1") is None  # the same address in mapped form
    assert guard.check("127.0.0.2") is not None
    assert guard.check("10.0.0.1") is not None
    assert guard.check("169.254.169.254") is not None


def test_zone_index_is_refused() -> None:
    assert AddressGuard(["fe80::/10"]).check("fe80::1%eth0") is not None


def test_garbage_is_refused() -> None:
    assert AddressGuard().check("not-an-ip") is not None


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("169.254.43518", "169.254.169.254"),
        ("0", "0.0.0.0"),
    ],
)
def test_numeric_host_tricks_are_decoded_and_marked_non_canonical(host: str, expected: str) -> None:
    parsed = parse_numeric_host(host)
    assert parsed is not None
    ip, canonical = parsed
    assert str(ip) == expected
    assert canonical is False


@pytest.mark.parametrize("host", ["127.0.0.1", "8.8.8.8", "[::1]", "::1", "127.0.0.1."])
def test_canonical_numeric_hosts(host: str) -> None:
    parsed = parse_numeric_host(host)
    assert parsed is not None and parsed[1] is True


@pytest.mark.parametrize("host", ["example.org", "1.2.3.4.5", "256.1.1.1", "0x.example", "a1"])
def test_names_are_not_numeric(host: str) -> None:
    assert parse_numeric_host(host) is None


def test_embedded_ipv4_forms() -> None:
    assert embedded_ipv4(ipaddress.IPv6Address("::ffff:1.2.3.4")) == (
        ipaddress.IPv4Address("1.2.3.4"), "IPv4-mapped")
    assert embedded_ipv4(ipaddress.IPv6Address("2606:4700::1")) is None


async def _resolver_for(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return table[host]

    return resolve


async def test_every_resolved_address_is_checked() -> None:
    resolve = await _resolver_for({"mixed.test": ["8.8.8.8", "10.0.0.1"],
                                   "public.test": ["8.8.8.8", "1.1.1.1"]})
    ip, why = await vet_host("mixed.test", 80, AddressGuard(), resolve)
    assert ip is None and why is not None and "10.0.0.1" in why
    ip, why = await vet_host("public.test", 80, AddressGuard(), resolve)
    assert (ip, why) == ("8.8.8.8", None)


async def test_numeric_tricks_are_refused_before_any_lookup() -> None:
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["8.8.8.8"]

    ip, why = await vet_host("0x7f.1", 80, AddressGuard(["127.0.0.0/8"]), resolve)
    assert ip is None and why is not None and "non-standard" in why
    ip, why = await vet_host("169.254.169.254", 80, AddressGuard(), resolve)
    assert ip is None and why is not None and "metadata" in why
    assert calls == []


async def test_lookup_failure_is_a_lookup_error() -> None:
    async def resolve(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(LookupError):
        await vet_host("nowhere.test", 80, AddressGuard(), resolve)


_ADDRESSES = [a for a, _ in REFUSED] + ["93.184.215.14", "2606:4700::1", "127.0.0.1",
                                        "::ffff:10.0.0.1", "fe80::1%eth0", "not-an-ip", ""]


@pytest.mark.parametrize("allow", [(), ("127.0.0.1/32",), ("10.0.0.0/8", "fe80::/10")])
def test_remembered_decisions_are_the_decisions(
    allow: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    import crawler.netguard as netguard

    monkeypatch.setattr(netguard, "CHECK_MEMO_MAX", 5)  # the memo fills and is dropped often
    guard, fresh = AddressGuard(allow), AddressGuard(allow)
    for _ in range(3):
        for address in [*_ADDRESSES, ipaddress.ip_address("10.1.2.3")]:
            assert guard.check(address) == fresh._check(address), address
    assert len(guard._memo) <= 5


def test_numeric_host_parsing_is_remembered_but_unchanged() -> None:
    parse_numeric_host.cache_clear()
    first = [parse_numeric_host(h) for h in ("127.1", "0x7f.0.0.1", "example.org", "::1")]
    again = [parse_numeric_host(h) for h in ("127.1", "0x7f.0.0.1", "example.org", "::1")]
    raw = [parse_numeric_host.__wrapped__(h)
           for h in ("127.1", "0x7f.0.0.1", "example.org", "::1")]
    assert first == again == raw
    assert parse_numeric_host.cache_info().hits == 4
