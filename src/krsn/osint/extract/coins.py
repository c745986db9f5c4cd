"""Checksums of cryptocurrency addresses: Bitcoin (base58check, bech32, bech32m), Ethereum
(EIP-55) and Monero (Monero's base58 with a Keccak-256 checksum).

A random string that happens to look like an address fails its checksum with probability
1 - 2**-32 (base58check, Monero, bech32's 30-bit BCH code is comparable), so a candidate that
passes is an address. Ethereum's EIP-55 checksum lives in the letter case, so an all-lower or
all-upper address carries no checksum at all: it is accepted with a lower confidence.

Keccak-256 is the original Keccak (as Ethereum and Monero use it), not NIST SHA3-256; it comes
from ``pycryptodome`` (``Crypto.Hash.keccak``), a maintained compiled implementation.
"""

from __future__ import annotations

import hashlib
from typing import Final

from Crypto.Hash import keccak

__all__ = ["btc_base58", "btc_bech32", "eth_checksum", "keccak256", "xmr_address"]

_B58: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX: Final = {c: i for i, c in enumerate(_B58)}


def keccak256(data: bytes) -> bytes:
    """The original Keccak-256 digest (Ethereum's and Monero's hash)."""
    return keccak.new(data=data, digest_bits=256).digest()


def _b58decode(text: str) -> bytes | None:
    number = 0
    for char in text:
        digit = _B58_INDEX.get(char)
        if digit is None:
            return None
        number = number * 58 + digit
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    # Each leading '1' is a leading zero byte.
    pad = len(text) - len(text.lstrip("1"))
    return b"\x00" * pad + body


# Version bytes of mainnet pay-to-pubkey-hash (1...) and pay-to-script-hash (3...) addresses.
_BTC_VERSIONS: Final = frozenset({0x00, 0x05})


def btc_base58(text: str) -> bool:
    """Whether ``text`` is a mainnet legacy Bitcoin address with a valid base58check checksum."""
    raw = _b58decode(text)
    if raw is None or len(raw) != 25 or raw[0] not in _BTC_VERSIONS:
        return False
    digest = hashlib.sha256(hashlib.sha256(raw[:-4]).digest()).digest()
    return digest[:4] == raw[-4:]


# --- bech32 / bech32m (BIP 173, BIP 350) -----------------------------------------------------

_BECH32_CHARSET: Final = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_INDEX: Final = {c: i for i, c in enumerate(_BECH32_CHARSET)}
_BECH32_CONST: Final = 1
_BECH32M_CONST: Final = 0x2BC830A3
_GENERATOR: Final = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _polymod(values: list[int]) -> int:
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(_GENERATOR):
            if (top >> i) & 1:
                check ^= generator
    return check


def _convert_bits(data: list[int], from_bits: int, to_bits: int) -> list[int] | None:
    """Regroup 5-bit words into bytes, refusing non-zero padding (BIP 173)."""
    acc = bits = 0
    out: list[int] = []
    maxv = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if bits >= from_bits or ((acc << (to_bits - bits)) & maxv):
        return None
    return out


def btc_bech32(text: str) -> bool:
    """Whether ``text`` is a mainnet segwit address (``bc1...``): bech32 for witness version 0,
    bech32m for versions 1 to 16, with a program length its version allows."""
    if text.lower() != text and text.upper() != text:
        return False  # mixed case is invalid in bech32
    text = text.lower()
    hrp, sep, data_part = text.rpartition("1")
    if hrp != "bc" or not sep or len(data_part) < 7 or len(text) > 90:
        return False
    data = [_BECH32_INDEX.get(c, -1) for c in data_part]
    if -1 in data:
        return False
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    constant = _polymod(expanded + data)
    version = data[0]
    if version > 16:
        return False
    if constant != (_BECH32_CONST if version == 0 else _BECH32M_CONST):
        return False
    program = _convert_bits(data[1:-6], 5, 8)
    if program is None or not 2 <= len(program) <= 40:
        return False
    return version != 0 or len(program) in (20, 32)


# --- Ethereum (EIP-55) -------------------------------------------------------------------------


def eth_checksum(text: str) -> bool | None:
    """EIP-55 for ``0x`` + 40 hex digits: ``True`` when the mixed case checks out, ``False`` when
    it does not, ``None`` when the address is in one case and so carries no checksum."""
    digits = text[2:]
    if digits == digits.lower() or digits == digits.upper():
        return None
    hashed = keccak256(digits.lower().encode("ascii")).hex()
    for char, nibble in zip(digits, hashed[:40], strict=True):
        if char.isalpha() and char.isupper() != (int(nibble, 16) >= 8):
            return False
    return True


# --- Monero -------------------------------------------------------------------------------------

# Monero's base58 encodes 8-byte blocks as 11 characters; a shorter last block takes fewer.
_XMR_BLOCK_CHARS: Final = {0: 0, 2: 1, 3: 2, 5: 3, 6: 4, 7: 5, 9: 6, 10: 7, 11: 8}
# Mainnet network bytes: standard address (4...), integrated address (4...), subaddress (8...).
_XMR_NETWORKS: Final = {18: "standard", 19: "integrated", 42: "subaddress"}


def _xmr_decode(text: str) -> bytes | None:
    out = bytearray()
    for start in range(0, len(text), 11):
        block = text[start : start + 11]
        size = _XMR_BLOCK_CHARS.get(len(block))
        if size is None:
            return None
        number = 0
        for char in block:
            digit = _B58_INDEX.get(char)
            if digit is None:
                return None
            number = number * 58 + digit
        if number >> (8 * size):
            return None  # the block overflows its byte count
        out += number.to_bytes(size, "big")
    return bytes(out)


def xmr_address(text: str) -> bool:
    """Whether ``text`` is a mainnet Monero address (standard, integrated or subaddress) whose
    Keccak-256 checksum holds."""
    raw = _xmr_decode(text)
    if raw is None or len(raw) not in (69, 77) or raw[0] not in _XMR_NETWORKS:
        return False
    if (len(raw) == 77) != (raw[0] == 19):
        return False  # only integrated addresses carry the 8-byte payment id
    return keccak256(raw[:-4])[:4] == raw[-4:]
