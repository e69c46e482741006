"""Crypto wallet address checksums: Bitcoin, Litecoin, Tron, Ethereum (EIP-55) and Monero.

Pure functions, no dependencies. A wallet is only ever accepted when its checksum validates:

    base58check (BTC P2PKH/P2SH, LTC L/M, TRX T)   double SHA-256, first 4 bytes
    bech32 / bech32m (BIP173 / BIP350)             BCH code over 5-bit groups, hrp bc / ltc
    Ethereum 0x + 40 hex                           EIP-55 mixed-case checksum (Keccak-256)
    Monero 4... / 8... (95 or 106 chars)           Monero base58 blocks, Keccak-256 checksum

Keccak-256 (the pre-standard padding Ethereum and Monero use, not hashlib's SHA3-256) is
implemented here in pure Python: it only runs on the rare candidate that already has the exact
shape of an address, so a 64-bit-lane implementation is fast enough and avoids a dependency.
"""

from __future__ import annotations

import hashlib

# --------------------------------------------------------------------------- keccak

_MASK = (1 << 64) - 1
_RC = (
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
)  # fmt: skip
# rotation offsets r[x][y]
_ROT = (
    (0, 36, 3, 41, 18),
    (1, 44, 10, 45, 2),
    (62, 6, 43, 15, 61),
    (28, 55, 25, 21, 56),
    (27, 20, 39, 8, 14),
)
# lane index x + 5y -> (destination index, rotation) for the combined rho and pi steps
_RHO_PI = tuple(
    (x + 5 * y, y + 5 * ((2 * x + 3 * y) % 5), _ROT[x][y]) for x in range(5) for y in range(5)
)


def _rotl(v: int, n: int) -> int:
    return ((v << n) | (v >> (64 - n))) & _MASK if n else v


def _keccak_f(a: list[int]) -> list[int]:
    for rc in _RC:
        c = [a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rotl(c[(x + 1) % 5], 1) for x in range(5)]
        a = [a[i] ^ d[i % 5] for i in range(25)]
        b = [0] * 25
        for src, dst, rot in _RHO_PI:
            b[dst] = _rotl(a[src], rot)
        a = [
            b[i] ^ ((~b[(i % 5 + 1) % 5 + 5 * (i // 5)]) & b[(i % 5 + 2) % 5 + 5 * (i // 5)])
            for i in range(25)
        ]
        a[0] ^= rc
    return a


def keccak(data: bytes, *, bits: int = 256, pad: int = 0x01) -> bytes:
    """Keccak sponge. `pad=0x01` is Keccak-256 (Ethereum, Monero); `pad=0x06` is SHA3-256."""
    rate = 200 - 2 * (bits // 8)
    msg = bytearray(data)
    msg.append(pad)
    msg.extend(b"\x00" * (-len(msg) % rate))
    msg[-1] |= 0x80
    state = [0] * 25
    for off in range(0, len(msg), rate):
        block = msg[off : off + rate]
        for i in range(rate // 8):
            state[i] ^= int.from_bytes(block[8 * i : 8 * i + 8], "little")
        state = _keccak_f(state)
    out = b"".join(lane.to_bytes(8, "little") for lane in state)
    return out[: bits // 8]


def keccak256(data: bytes) -> bytes:
    return keccak(data, bits=256, pad=0x01)


# --------------------------------------------------------------------------- base58check

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(B58)}


def b58decode(s: str) -> bytes | None:
    n = 0
    for ch in s:
        v = _B58_INDEX.get(ch)
        if v is None:
            return None
        n = n * 58 + v
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    pad = len(s) - len(s.lstrip("1"))
    return b"\x00" * pad + body


def _dsha(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def base58check_payload(s: str) -> bytes | None:
    """Decoded payload (version byte included) when the 4-byte checksum validates."""
    raw = b58decode(s)
    if raw is None or len(raw) < 5:
        return None
    payload, check = raw[:-4], raw[-4:]
    if _dsha(payload)[:4] != check:
        return None
    return payload


# version byte -> subtype for 21-byte base58check payloads
_B58_VERSIONS = {0x00: "btc", 0x05: "btc", 0x30: "ltc", 0x32: "ltc", 0x41: "trx"}


def base58_wallet(s: str) -> str | None:
    """Subtype ("btc", "ltc", "trx") of a valid base58check address, else None."""
    payload = base58check_payload(s)
    if payload is None or len(payload) != 21:
        return None
    subtype = _B58_VERSIONS.get(payload[0])
    if subtype == "trx" and not s.startswith("T"):
        return None
    return subtype


# --------------------------------------------------------------------------- bech32

BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_INDEX = {c: i for i, c in enumerate(BECH32)}
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
BECH32_CONST = 1
BECH32M_CONST = 0x2BC830A3


def bech32_polymod(values: list[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GEN[i]
    return chk


def bech32_hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def convertbits(data: list[int], frombits: int, tobits: int, pad: bool) -> list[int] | None:
    acc = bits = 0
    out: list[int] = []
    maxv = (1 << tobits) - 1
    for v in data:
        if v >> frombits:
            return None
        acc = (acc << frombits) | v
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or ((acc << (tobits - bits)) & maxv):
        return None
    return out


_SEGWIT_HRP = {"bc": "btc", "ltc": "ltc"}


def segwit_wallet(addr: str) -> str | None:
    """Subtype of a valid segwit address (bech32 for v0, bech32m for v1+), else None."""
    if addr.lower() != addr and addr.upper() != addr:
        return None  # mixed case is invalid in bech32
    s = addr.lower()
    pos = s.rfind("1")
    if pos < 1 or pos + 7 > len(s) or len(s) > 90:
        return None
    hrp = s[:pos]
    subtype = _SEGWIT_HRP.get(hrp)
    if subtype is None:
        return None
    try:
        data = [_BECH32_INDEX[c] for c in s[pos + 1 :]]
    except KeyError:
        return None
    const = bech32_polymod(bech32_hrp_expand(hrp) + data)
    if const not in (BECH32_CONST, BECH32M_CONST):
        return None
    witver = data[0]
    prog = convertbits(data[1:-6], 5, 8, False)
    if prog is None or witver > 16 or not 2 <= len(prog) <= 40:
        return None
    if witver == 0 and (len(prog) not in (20, 32) or const != BECH32_CONST):
        return None
    if witver != 0 and const != BECH32M_CONST:
        return None
    return subtype


# --------------------------------------------------------------------------- ethereum


def eip55(address_hex40: str) -> str:
    """The EIP-55 checksummed form of 40 hex characters (no 0x)."""
    lower = address_hex40.lower()
    digest = keccak256(lower.encode("ascii")).hex()
    return "".join(
        c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(lower)
    )


def eth_valid(address: str) -> bool:
    """0x + 40 hex; a mixed-case address must match its EIP-55 checksum.

    All-lower or all-upper addresses carry no checksum; they are accepted on shape alone.
    """
    if len(address) != 42 or address[:2] not in ("0x", "0X"):
        return False
    body = address[2:]
    try:
        int(body, 16)
    except ValueError:
        return False
    if body.lower() == body or body.upper() == body:
        return body.strip("0") != ""
    return eip55(body) == body


# --------------------------------------------------------------------------- monero

_XMR_BLOCK_SIZES = (0, 2, 3, 5, 6, 7, 9, 10, 11)  # bytes -> encoded chars
_XMR_PREFIXES = {18: 69, 19: 77, 42: 69}  # standard, integrated, subaddress -> decoded length


def xmr_b58decode(s: str) -> bytes | None:
    out = bytearray()
    for off in range(0, len(s), 11):
        block = s[off : off + 11]
        try:
            size = _XMR_BLOCK_SIZES.index(len(block))
        except ValueError:
            return None
        n = 0
        for ch in block:
            v = _B58_INDEX.get(ch)
            if v is None:
                return None
            n = n * 58 + v
        if n >> (8 * size):
            return None
        out += n.to_bytes(size, "big")
    return bytes(out)


def xmr_b58encode(data: bytes) -> str:
    chars: list[str] = []
    for off in range(0, len(data), 8):
        block = data[off : off + 8]
        n = int.from_bytes(block, "big")
        enc = ""
        for _ in range(_XMR_BLOCK_SIZES[len(block)]):
            n, r = divmod(n, 58)
            enc = B58[r] + enc
        chars.append(enc)
    return "".join(chars)


def xmr_valid(address: str) -> bool:
    """Monero mainnet standard/integrated/subaddress with a valid Keccak checksum."""
    if len(address) not in (95, 106) or address[0] not in "48":
        return False
    raw = xmr_b58decode(address)
    if raw is None or _XMR_PREFIXES.get(raw[0]) != len(raw):
        return False
    return keccak256(raw[:-4])[:4] == raw[-4:]
