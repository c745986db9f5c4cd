"""Cryptocurrency addresses: found only when their checksum holds."""

from __future__ import annotations

import pytest

from krsn.osint.extract.text import extract_text
from krsn.osint.models import EntityType as T

BTC_LEGACY = "1FeexV6bAHb8ybZjqQMjJrcCrHGW9sb6uF"
BTC_P2SH = "34xp4vRoCGJym3xR7yCVPFHoCNxv4Twseo"
BTC_BECH32 = "bc1ql49ydapnjafl5t2cp9zqpjwe6pdgmxy98859v2"
BTC_BECH32M = "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297"
ETH = "0x00000000219ab540356cBB839Cbe05303d7705Fa"
XMR = (
    "46jECbnrkJTUks7Fg5YtwShdUCiwUwEEZJtJBhKLK4GBWfBX7PLrYBuWR9zhzos5uQ1uXGUgFpGCSBR5o651pL5E"
    "RxmwqHu"
)


def coins(text: str) -> list[tuple[str | None, str, str]]:
    return [
        (f.subtype, f.canonical, f.method)
        for f in extract_text(text, types=[T.CRYPTOCURRENCY_ADDRESS], ner=False)
    ]


def flip(address: str, at: int) -> str:
    """The address with one character changed to another of the same alphabet."""
    char = address[at]
    other = "2" if char != "2" else "3"
    if char.isalpha():
        other = "q" if char != "q" else "p"
    return address[:at] + other + address[at + 1 :]


@pytest.mark.parametrize("address", [BTC_LEGACY, BTC_P2SH, BTC_BECH32, BTC_BECH32M])
def test_bitcoin_addresses_with_a_valid_checksum_are_found(address):
    assert coins(f"Send to {address} today") == [("btc", address, "regex+checksum")]


@pytest.mark.parametrize("address", [BTC_LEGACY, BTC_P2SH, BTC_BECH32, BTC_BECH32M, XMR])
@pytest.mark.parametrize("at", [5, 20])
def test_one_changed_character_fails_the_checksum(address, at):
    assert coins(f"Send to {flip(address, at)} today") == []


def test_ethereum_mixed_case_is_checked_with_eip55():
    assert coins(f"wallet {ETH}") == [("eth", ETH.lower(), "regex+checksum")]
    broken = ETH[:-1] + ETH[-1].swapcase()
    assert coins(f"wallet {broken}") == []


def test_ethereum_in_one_case_has_no_checksum_and_less_confidence():
    lower = extract_text(f"wallet {ETH.lower()}", types=[T.CRYPTOCURRENCY_ADDRESS], ner=False)
    checked = extract_text(f"wallet {ETH}", types=[T.CRYPTOCURRENCY_ADDRESS], ner=False)
    assert [f.method for f in lower] == ["regex"]
    assert lower[0].confidence < checked[0].confidence
    assert lower[0].canonical == checked[0].canonical


def test_monero_addresses_are_checked_with_keccak():
    assert coins(f"XMR: {XMR}.") == [("xmr", XMR, "regex+checksum")]


def test_a_mixed_case_bech32_address_is_refused():
    mixed = "bc1Ql49ydapnjafl5t2cp9zqpjwe6pdgmxy98859v2"
    assert coins(mixed) == []


def test_other_coins_are_not_taken_for_bitcoin():
    litecoin = "LM2WMpR1Rp6j3Sa59cMXMs1SPzj9eXpGc1"
    dogecoin = "DEgDVFa2DoW1533dxeDVdTxQFhMzs1pMke"
    assert coins(f"{litecoin} {dogecoin}") == []
