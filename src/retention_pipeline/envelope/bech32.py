"""Bech32 (BIP 173) encoding, the text form of age keys (``age1...``, ``AGE-SECRET-KEY-1...``).

Rules this module enforces, as the age spec uses them:
- the original Bech32 checksum constant (1), not Bech32m;
- no 90-character length limit (age keys for newer recipient types are longer);
- a string is all lowercase or all uppercase, never mixed; the checksum is over the lowercase form;
- the 8-to-5-bit regrouping pads with zero bits on encode, and decode rejects non-zero padding
  or a whole spare group, so every byte string has exactly one encoding.

Error messages never repeat the input: the input may be a secret key.
"""

from __future__ import annotations

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_INDEX = {char: index for index, char in enumerate(CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_CHECKSUM_LENGTH = 6


class Bech32Error(ValueError):
    """The text is not valid Bech32. The message says why, without quoting the text."""


def _polymod(values: list[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for bit, generator in enumerate(_GENERATOR):
            if (top >> bit) & 1:
                checksum ^= generator
    return checksum


def _expand_hrp(hrp: str) -> list[int]:
    return [ord(char) >> 5 for char in hrp] + [0] + [ord(char) & 31 for char in hrp]


def _checksum(hrp: str, data: list[int]) -> list[int]:
    polymod = _polymod([*_expand_hrp(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ 1
    return [(polymod >> 5 * (5 - index)) & 31 for index in range(_CHECKSUM_LENGTH)]


def _regroup(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    """Regroup a bit string; strict on decode so that the encoding stays unique."""
    accumulator = 0
    bits = 0
    out: list[int] = []
    mask = (1 << to_bits) - 1
    for value in data:
        accumulator = (accumulator << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((accumulator >> bits) & mask)
    if pad:
        if bits:
            out.append((accumulator << (to_bits - bits)) & mask)
    elif bits >= from_bits or (accumulator << (to_bits - bits)) & mask:
        raise Bech32Error("Bech32 data has invalid padding")
    return out


def encode(hrp: str, data: bytes) -> str:
    """Encode ``data`` under human-readable part ``hrp``, in lowercase."""
    hrp = hrp.lower()
    if not hrp or any(not 33 <= ord(char) <= 126 for char in hrp):
        raise Bech32Error("Bech32 human-readable part must be printable ASCII")
    words = _regroup(data, 8, 5, pad=True)
    return hrp + "1" + "".join(CHARSET[word] for word in words + _checksum(hrp, words))


def decode(text: str) -> tuple[str, bytes]:
    """Decode a Bech32 string into its lowercase human-readable part and its data bytes."""
    if not text.isascii():  # str.lower() would fold look-alikes (KELVIN SIGN -> k) in
        raise Bech32Error("Bech32 string holds a character that is not ASCII")
    if text.lower() != text and text.upper() != text:
        raise Bech32Error("Bech32 string mixes uppercase and lowercase")
    text = text.lower()
    separator = text.rfind("1")
    if separator < 1 or separator + 1 + _CHECKSUM_LENGTH > len(text):
        raise Bech32Error("Bech32 string has no human-readable part or is too short")
    hrp, rest = text[:separator], text[separator + 1 :]
    if any(not 33 <= ord(char) <= 126 for char in hrp):
        raise Bech32Error("Bech32 human-readable part must be printable ASCII")
    try:
        words = [_CHARSET_INDEX[char] for char in rest]
    except KeyError:
        raise Bech32Error("Bech32 string contains a character outside its alphabet") from None
    if _polymod([*_expand_hrp(hrp), *words]) != 1:
        raise Bech32Error("Bech32 checksum does not match (mistyped or truncated key?)")
    return hrp, bytes(_regroup(words[:-_CHECKSUM_LENGTH], 5, 8, pad=False))
