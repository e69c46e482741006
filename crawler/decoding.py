"""Bounded content decoding and media sniffing for fetch.py (pure, no I/O).

Every decoder returns at most `limit` bytes per call, whatever the input: a 1 GB gzip, brotli or
zstd bomb costs at most the cap (plus one small step) of memory and stops there. Only the
encodings we advertise in Accept-Encoding are decoded; anything else is refused.
"""

from __future__ import annotations

import zlib
from typing import Protocol

import brotli
import zstandard

ACCEPT_ENCODING = "gzip, deflate, br, zstd"


class DecodeError(Exception):
    """The body is not valid for its Content-Encoding."""


class BoundedDecoder(Protocol):
    def decode(self, data: bytes, limit: int) -> bytes:
        """Decode `data`; return at most `limit` bytes (returning `limit` means: maybe more)."""
        ...

    def finish(self) -> None:
        """At the end of the body: raise DecodeError if the compressed stream was cut short."""
        ...


class IdentityDecoder:
    def decode(self, data: bytes, limit: int) -> bytes:
        return data[:limit]

    def finish(self) -> None:
        return None


class ZlibDecoder:
    """gzip (concatenated members too) and deflate (zlib-wrapped or raw, as browsers accept)."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._wbits = 16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS
        self._d = zlib.decompressobj(self._wbits)
        self._first = True

    def decode(self, data: bytes, limit: int) -> bytes:
        out = bytearray()
        pending = data
        try:
            while pending and len(out) < limit:
                try:
                    chunk = self._d.decompress(pending, limit - len(out))
                except zlib.error:
                    if self._gzip or not self._first:
                        raise
                    self._wbits = -zlib.MAX_WBITS  # raw deflate without the zlib header
                    self._d = zlib.decompressobj(self._wbits)
                    self._first = False
                    continue
                self._first = False
                out += chunk
                if self._d.unconsumed_tail:
                    pending = self._d.unconsumed_tail
                elif self._d.eof and self._d.unused_data and self._gzip:
                    pending = self._d.unused_data  # next gzip member
                    self._d = zlib.decompressobj(self._wbits)
                else:
                    pending = b""
        except zlib.error as exc:
            raise DecodeError(f"invalid {'gzip' if self._gzip else 'deflate'} data: {exc}") from exc
        return bytes(out)

    def finish(self) -> None:
        if not self._d.eof:
            raise DecodeError(f"{'gzip' if self._gzip else 'deflate'} stream is cut short")


class BrotliDecoder:
    def __init__(self) -> None:
        self._d = brotli.Decompressor()

    def decode(self, data: bytes, limit: int) -> bytes:
        try:
            out = bytearray(self._d.process(data, output_buffer_limit=limit))
            while len(out) < limit and not self._d.can_accept_more_data():
                more = self._d.process(b"", output_buffer_limit=limit - len(out))
                if not more:
                    break
                out += more
        except brotli.error as exc:
            raise DecodeError(f"invalid brotli data: {exc}") from exc
        return bytes(out[:limit]) if len(out) > limit else bytes(out)

    def finish(self) -> None:
        if not self._d.is_finished():
            raise DecodeError("brotli stream is cut short")


class ZstdDecoder:
    """zstandard has no output limit per call, so input is fed in slices small enough that one
    slice cannot expand past a few hundred KiB (an RLE block: 4 bytes -> 128 KiB)."""

    STEP = 16

    def __init__(self) -> None:
        self._d = zstandard.ZstdDecompressor().decompressobj()

    def decode(self, data: bytes, limit: int) -> bytes:
        out = bytearray()
        view = memoryview(data)
        try:
            for i in range(0, len(view), self.STEP):
                out += self._d.decompress(bytes(view[i : i + self.STEP]))
                if len(out) >= limit:
                    break
        except zstandard.ZstdError as exc:
            raise DecodeError(f"invalid zstd data: {exc}") from exc
        return bytes(out[:limit]) if len(out) > limit else bytes(out)

    def finish(self) -> None:
        if not self._d.eof:
            raise DecodeError("zstd stream is cut short")


def decoder_for(content_encoding: str | None) -> BoundedDecoder | None:
    """A decoder for the header value, or None if we do not accept that encoding."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return IdentityDecoder()
    if len(codings) > 1:
        return None  # stacked encodings: an intermediate stage could not be bounded
    coding = codings[0]
    if coding in ("gzip", "x-gzip"):
        return ZlibDecoder(gzip=True)
    if coding == "deflate":
        return ZlibDecoder(gzip=False)
    if coding == "br":
        return BrotliDecoder()
    if coding == "zstd":
        return ZstdDecoder()
    return None


# --------------------------------------------------------------------------- sniffing

_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "JPEG image"),
    (0, b"\x89PNG\r\n\x1a\n", "PNG image"),
    (0, b"GIF87a", "GIF image"),
    (0, b"GIF89a", "GIF image"),
    (0, b"II*\x00", "TIFF image"),
    (0, b"MM\x00*", "TIFF image"),
    (0, b"\x00\x00\x01\x00", "icon image"),
    (4, b"ftyp", "MP4/QuickTime/HEIF media"),
    (0, b"\x1a\x45\xdf\xa3", "Matroska/WebM video"),
    (0, b"OggS", "Ogg media"),
    (0, b"ID3", "MP3 audio"),
    (0, b"fLaC", "FLAC audio"),
    (0, b"FLV\x01", "Flash video"),
    (0, b"\x00\x00\x01\xba", "MPEG video"),
    (0, b"\x00\x00\x01\xb3", "MPEG video"),
    (0, b"0&\xb2u\x8ef\xcf\x11", "Windows Media video"),
    (0, b"%PDF-", "PDF document"),
    (0, b"PK\x03\x04", "ZIP archive"),
    (0, b"PK\x05\x06", "ZIP archive"),
    (0, b"\x1f\x8b", "gzip archive"),
    (0, b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (0, b"Rar!\x1a\x07", "RAR archive"),
    (0, b"\xfd7zXZ\x00", "xz archive"),
    (0, b"BZh", "bzip2 archive"),
    (0, b"\x28\xb5\x2f\xfd", "zstd archive"),
    (257, b"ustar", "tar archive"),
    (0, b"\x7fELF", "ELF executable"),
    (0, b"MZ", "Windows executable"),
    (0, b"\xfe\xed\xfa\xce", "Mach-O executable"),
    (0, b"\xfe\xed\xfa\xcf", "Mach-O executable"),
    (0, b"\xcf\xfa\xed\xfe", "Mach-O executable"),
    (0, b"\xce\xfa\xed\xfe", "Mach-O executable"),
    (0, b"\xca\xfe\xba\xbe", "Java class / Mach-O universal binary"),
    (0, b"\x00asm", "WebAssembly module"),
    (0, b"wOFF", "web font"),
    (0, b"wOF2", "web font"),
)

SNIFF_MIN = 16  # bytes needed before a verdict (tar needs 262; checked when available)


# first bytes of every signature at offset 0, and "R" of RIFF: any other first byte needs only
# the two signatures further in (ftyp at 4, ustar at 257) looked at
_FIRST_BYTES = frozenset([m[0] for off, m, _ in _MAGIC if off == 0] + [ord("R")])
_FURTHER_IN = tuple((off, m) for off, m, _ in _MAGIC if off != 0)


def sniff_media(head: bytes) -> str | None:
    """What kind of non-text file `head` (the first decoded bytes) starts with, if any."""
    if not head or (head[0] not in _FIRST_BYTES and not any(
            head[off : off + len(m)] == m for off, m in _FURTHER_IN)):
        return None  # an ordinary text start ("<", a letter, whitespace): no signature fits
    return _sniff_media(head)


def _sniff_media(head: bytes) -> str | None:
    for offset, magic, what in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            if magic == b"MZ" and not _looks_like_pe(head):
                continue
            if magic == b"BZh" and not (len(head) > 3 and head[3:4].isdigit()
                                        and head[4:10] == b"1AY&SY"):
                continue
            return what
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"AVI ", b"WAVE"):
        return {b"WEBP": "WebP image", b"AVI ": "AVI video", b"WAVE": "WAV audio"}[head[8:12]]
    return None


def _looks_like_pe(head: bytes) -> bool:
    # a text page may start with "MZ"; an executable has binary header fields after it
    return len(head) >= 4 and (head[2:4] in (b"\x90\x00", b"\x50\x00") or b"\x00" in head[2:16])
