"""Which clients may tell the proxy who the original client was: the --trusted-proxies list."""

from __future__ import annotations

import pytest

from proxy.trust import TrustedProxies


def test_addresses_and_networks_are_trusted_and_nothing_else() -> None:
    trusted = TrustedProxies.parse(["10.0.0.0/8, 192.168.1.7", "fd00::/16"])
    assert [address in trusted for address in ("10.1.2.3", "192.168.1.7", "fd00::9")] == [True, True, True]
    assert [address in trusted for address in ("192.168.1.8", "127.0.0.1", "::1", "", "not-an-ip")] == [False] * 5
    assert "::ffff:10.9.9.9" in trusted, "an IPv4 client on a dual-stack socket is the same client"


def test_no_list_trusts_nobody() -> None:
    assert "127.0.0.1" not in TrustedProxies.parse([])
    assert not TrustedProxies.parse([" , "])


@pytest.mark.parametrize("value", ["10.0.0.0/33", "proxy.example", "10.0.0.1/8/8"])
def test_a_bad_entry_is_named(value: str) -> None:
    with pytest.raises(ValueError, match=f"--trusted-proxies: {value!r} is not an IP address or network"):
        TrustedProxies.parse([value])
