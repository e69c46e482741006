"""Entity extraction: phones, emails, handles, wallets — obfuscated positives and hard negatives."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler import wallets
from crawler.entities import extract_entities, region_hints
from crawler.models import SCOPES, Document, Entity

# --------------------------------------------------------------------------- helpers: make wallets

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def b58check(payload: bytes) -> str:
    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def _polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def segwit(hrp: str, witver: int, program: bytes) -> str:
    acc = bits = 0
    five: list[int] = []
    for b in program:
        acc = (acc << 8) | b
        bits += 8
        while bits >= 5:
            bits -= 5
            five.append((acc >> bits) & 31)
    if bits:
        five.append((acc << (5 - bits)) & 31)
    data = [witver, *five]
    const = 1 if witver == 0 else 0x2BC830A3
    expand = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    pm = _polymod([*expand, *data, 0, 0, 0, 0, 0, 0]) ^ const
    checksum = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32[d] for d in data + checksum)


def xmr_address(rng: random.Random, prefix: int = 18, extra: int = 0) -> str:
    body = bytes([prefix]) + rng.randbytes(64 + extra)
    return wallets.xmr_b58encode(body + wallets.keccak256(body)[:4])


def eth_address(rng: random.Random) -> str:
    return "0x" + wallets.eip55(rng.randbytes(20).hex())


def corrupt(address: str) -> str:
    """Change one character in the middle to another of the same alphabet class."""
    i = len(address) // 2
    c = address[i]
    repl = "2" if c != "2" else "3"
    return address[:i] + repl + address[i + 1 :]


RNG = random.Random(20261128)
BTC_P2PKH = b58check(b"\x00" + RNG.randbytes(20))
BTC_P2SH = b58check(b"\x05" + RNG.randbytes(20))
LTC_L = b58check(b"\x30" + RNG.randbytes(20))
TRX = b58check(b"\x41" + RNG.randbytes(20))
BTC_V0 = segwit("bc", 0, RNG.randbytes(20))
BTC_TAPROOT = segwit("bc", 1, RNG.randbytes(32))
LTC_V0 = segwit("ltc", 0, RNG.randbytes(20))
ETH = eth_address(RNG)
XMR = xmr_address(RNG)
XMR_SUB = xmr_address(RNG, prefix=42)
XMR_INTEGRATED = xmr_address(RNG, prefix=19, extra=8)  # 8-byte payment id, 106 characters
LTC_M = b58check(b"\x32" + RNG.randbytes(20))


def doc(body: str = "", *, url: str = "https://ads.example.de/a/1",
        language: str | None = "de") -> Document:
    return Document(url=url, body=body, language=language)


def values(d: Document, kind: str | None = None) -> list[str]:
    return [e.value for e in extract_entities(d) if kind is None or e.kind == kind]


def phones(body: str, *, url: str = "https://ads.example.de/a/1",
           language: str | None = "de") -> list[str]:
    return values(doc(body, url=url, language=language), "phone")


# --------------------------------------------------------------------------- keccak / checksums


def test_keccak_sponge_matches_hashlib_sha3_with_sha3_padding() -> None:
    for n in (0, 1, 135, 136, 137, 300):
        data = bytes(range(256)) * 2
        assert wallets.keccak(data[:n], pad=0x06) == hashlib.sha3_256(data[:n]).digest()


def test_keccak256_known_vector_of_empty_input() -> None:
    assert wallets.keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )


def test_eip55_spec_example_validates_and_a_flipped_case_does_not() -> None:
    assert wallets.eth_valid("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
    assert not wallets.eth_valid("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD")


# --------------------------------------------------------------------------- phones: positives


@pytest.mark.parametrize(
    ("body", "lang", "url", "expected"),
    [
        ("Ruf mich an: 0151 2345 6789", "de", "https://x.de/", "+4915123456789"),
        ("Call me on +44 7911 123456 tonight", "en", "https://x.com/", "+447911123456"),
        ("WhatsApp 0049-151-2345-6789", "de", "https://x.com/", "+4915123456789"),
        ("appelle-moi 06.12.34.56.78", "fr", "https://x.fr/", "+33612345678"),
        ("llámame 612 34 56 78", "es", "https://x.es/", "+34612345678"),
        ("tel: 0️⃣1️⃣5️⃣1️⃣ 2️⃣3️⃣4️⃣5️⃣6️⃣7️⃣8️⃣9️⃣", "de", "https://x.de/", "+4915123456789"),
        ("Handy O151 2345 678O", "de", "https://x.de/", "+4915123456780"),
        ("Handy: null eins fünf eins zwei drei vier fünf sechs sieben acht neun", "de",
         "https://x.de/", "+4915123456789"),
        ("call zero seven nine one one one two three four five six", "en", "https://x.co.uk/",
         "+447911123456"),
        ("numéro : zéro six douze", "fr", "https://x.fr/", None),
        ("sună-mă: zero sapte doi unu doi trei patru cinci sase sapte", "ro", "https://x.ro/",
         "+40721234567"),
        ("номер: ноль девять пять один два три четыре пять шесть семь", "ru", "https://x.com/",
         "+380951234567"),
        ("звони +7 девять один шесть один два три четыре пять шесть семь", "ru", "https://x.ru/",
         "+79161234567"),
        ("chiamami 3 4 7 1 2 3 4 5 6 7", "it", "https://x.it/", "+393471234567"),
        ("bel me: 06-12345678", "nl", "https://x.nl/", "+31612345678"),
    ],
)
def test_phone_positive_forms_are_normalised_to_e164(
    body: str, lang: str, url: str, expected: str | None
) -> None:
    assert phones(body, language=lang, url=url) == ([expected] if expected else [])


def test_phone_in_contact_scope_needs_no_phone_word() -> None:
    d = Document(url="https://x.de/", contact="tel:015123456789\n", language="de")
    assert values(d, "phone") == ["+4915123456789"]


def test_international_number_without_context_is_accepted() -> None:
    assert phones("Anna, 23, Berlin +49 151 23456789", language=None) == ["+4915123456789"]


def test_region_hints_come_from_tld_then_language() -> None:
    assert region_hints(doc(url="https://x.fr/", language="de"))[:2] == ("FR", "DE")
    assert region_hints(doc(url="https://x.co.uk/", language=None)) == ("GB",)
    assert region_hints(doc(url="https://x.com/", language=None)) == ()


def test_national_number_without_any_region_hint_is_not_guessed() -> None:
    assert phones("Handy 0151 2345 6789", url="https://x.com/", language=None) == []


# --------------------------------------------------------------------------- phones: negatives


@pytest.mark.parametrize(
    "body",
    [
        "Bestellnummer 01512345678",
        "Order #015123456789 shipped",
        "Rechnung Nr. 0151 2345 6789",
        "Datum: 15.12.2024 bis 17.12.2024",
        "am 2024-03-15 und 2024-03-17",
        "am 01.02.2024 10:00 Uhr",
        "Termin 15.12.2024 14.30 Uhr",
        "Preis 1.512.345 €",
        "nur 0151234567,- EUR",
        "€ 015 123 456",
        "IBAN DE89 3704 0044 0532 0130 00",
        "DE89370400440532013000",
        "Sendungsnummer 00340434161094042557",
        "Tracking: 0151 2345 6789",
        "Paket 1Z999AA10123456784",
        "PLZ 10115 Berlin, Hausnummer 12",
        "Artikel 015123456789",
        "Seriennummer 0151-2345-6789",
        "Kontonummer 0151234567",
        "123456789",
        "ID 0151 2345 6789",
    ],
)
def test_phone_hard_negatives_are_not_phones(body: str) -> None:
    assert phones(body) == []


def test_numbers_inside_urls_paths_are_not_phones() -> None:
    assert phones("see https://x.de/ad/015123456789 now") == []


def test_invalid_numbers_are_dropped_even_with_context() -> None:
    assert phones("Tel. 0000 000000") == []
    assert phones("Call +44 7700 900123") == []  # Ofcom drama range: not a valid number


# --------------------------------------------------------------------------- emails


def test_email_value_is_lowercased_and_span_keeps_original() -> None:
    d = doc("Schreib an Anna.B@Example.COM bitte")
    [e] = extract_entities(d)
    assert (e.kind, e.value, e.span.text) == ("email", "anna.b@example.com", "Anna.B@Example.COM")


def test_obfuscated_email_with_at_and_dot_words() -> None:
    assert values(doc("anna (at) example [dot] org"), "email") == ["anna@example.org"]


def test_image_file_names_are_not_emails() -> None:
    assert values(doc("logo@2x.png"), "email") == []


# --------------------------------------------------------------------------- handles


def test_telegram_links_and_at_handle_near_messenger_word() -> None:
    d = doc("Telegram: @Anna_VIP\nmore on t.me/AnnaVip2 or https://telegram.me/s/other_chan")
    assert values(d, "handle") == ["telegram:anna_vip", "telegram:annavip2", "telegram:other_chan"]


def test_at_handle_without_messenger_word_is_ignored() -> None:
    assert values(doc("follow @someone for news"), "handle") == []


def test_at_handle_takes_subtype_of_nearest_messenger_word() -> None:
    assert values(doc("Telegram or Signal: @anna.x"), "handle") == ["signal:anna.x"]


def test_whatsapp_link_yields_handle_and_phone() -> None:
    got = [(e.kind, e.value) for e in extract_entities(doc("write https://wa.me/4915123456789"))]
    assert got == [("handle", "whatsapp:+4915123456789"), ("phone", "+4915123456789")]


def test_signal_and_viber_links() -> None:
    got = values(doc("signal.me/#p/+447911123456 viber://chat?number=%2B4915123456789"), "handle")
    assert got == ["signal:+447911123456", "viber:+4915123456789"]


def test_service_links_skip_reserved_paths() -> None:
    d = doc("instagram.com/anna.model onlyfans.com/annax instagram.com/explore "
            "snapchat.com/add/an_na")
    assert values(d, "handle") == ["instagram:anna.model", "onlyfans:annax", "snapchat:an_na"]


def test_telegram_invite_paths_are_not_handles() -> None:
    assert values(doc("t.me/joinchat/AAAAAE and t.me/share/url"), "handle") == []


# --------------------------------------------------------------------------- wallets


@pytest.mark.parametrize(
    ("address", "subtype", "value"),
    [
        (BTC_P2PKH, "btc", BTC_P2PKH),
        (BTC_P2SH, "btc", BTC_P2SH),
        (BTC_V0, "btc", BTC_V0),
        (BTC_V0.upper(), "btc", BTC_V0),
        (BTC_TAPROOT, "btc", BTC_TAPROOT),
        (LTC_L, "ltc", LTC_L),
        (LTC_V0, "ltc", LTC_V0),
        (TRX, "trx", TRX),
        (ETH, "eth", ETH.lower()),
        (ETH.lower(), "eth", ETH.lower()),
        (XMR, "xmr", XMR),
        (XMR_SUB, "xmr", XMR_SUB),
        (XMR_INTEGRATED, "xmr", XMR_INTEGRATED),
        (LTC_M, "ltc", LTC_M),
    ],
)
def test_valid_wallets_are_accepted(address: str, subtype: str, value: str) -> None:
    [e] = extract_entities(doc(f"Zahlung nur an {address} danke"))
    assert (e.kind, e.subtype, e.value, e.span.text) == ("wallet", subtype, value, address)


@pytest.mark.parametrize(
    "address",
    [corrupt(a) for a in (BTC_P2PKH, BTC_P2SH, BTC_V0, BTC_TAPROOT, LTC_L, TRX, XMR,
                          XMR_INTEGRATED)]
    + [ETH[:-1] + (ETH[-1].swapcase() if ETH[-1].isalpha() else "a"), ETH[:10]],
)
def test_invalid_checksum_wallets_are_rejected(address: str) -> None:
    assert values(doc(f"send to {address}"), "wallet") == []


def test_taproot_encoded_with_bech32_instead_of_bech32m_is_rejected() -> None:
    prog = RNG.randbytes(32)
    good = segwit("bc", 1, prog)
    v0_const = segwit("bc", 0, prog)  # v0 checksum ...
    wrong = "bc1p" + v0_const[4:]  # ... with the version swapped to 1
    assert values(doc(good), "wallet") == [good]
    assert values(doc(wrong), "wallet") == []


def test_transaction_hash_is_not_an_eth_address() -> None:
    assert values(doc("tx 0x" + "ab" * 32), "wallet") == []


# --------------------------------------------------------------------------- spans, dedup, scopes


def test_spans_point_into_original_scope_text() -> None:
    d = Document(
        url="https://t.me/annavip",
        title="Anna +49 151 23456789",
        meta="Kontakt anna@example.org",
        body=f"Hallo!\nWhatsApp 0️⃣1️⃣5️⃣1️⃣ 2️⃣3️⃣4️⃣5️⃣6️⃣7️⃣8️⃣9️⃣\nBTC {BTC_V0}",
        contact="tel:+4915123456789\nmailto:anna@example.org",
        language="de",
    )
    ents = extract_entities(d)
    assert {e.span.scope for e in ents} == set(SCOPES)
    for e in ents:
        assert d.text(e.span.scope)[e.span.start : e.span.end] == e.span.text
        assert e.span.text.strip() in e.span.context or "\n" in e.span.text


def test_same_value_is_reported_once_per_scope() -> None:
    d = doc("Tel 0151 2345 6789 oder +49 151 23456789, nochmal Tel 0151-2345-6789")
    ents: list[Entity] = extract_entities(d)
    assert [e.value for e in ents] == ["+4915123456789"]
    assert ents[0].span.start == 4


def test_entity_to_json_carries_evidence() -> None:
    [e] = extract_entities(doc("mail a@b.de"))
    assert e.to_json()["evidence"]["text"] == "a@b.de"


def test_empty_document_has_no_entities() -> None:
    assert extract_entities(Document(url="https://x.de/")) == []


def test_spelled_out_phone_is_found_inside_a_long_page() -> None:
    filler = "Hallo und willkommen, ich bin neu hier. " * 200
    spelled = "Handy: null eins fünf eins zwei drei vier fünf sechs sieben acht neun\n"
    body = filler + spelled + filler
    [e] = extract_entities(doc(body))
    assert e.value == "+4915123456789"
    assert body[e.span.start : e.span.end].startswith("null eins")


def test_page_full_of_prices_dates_and_counts_yields_no_phones() -> None:
    body = "\n".join(
        f"{i}. Zimmer {100 + i}, {i * 7} m², ab {i * 13},00 € am {1 + i % 28}.{1 + i % 12}.2025"
        for i in range(1, 300)
    )
    assert phones(body) == []


def test_common_words_are_not_messenger_cues() -> None:
    assert values(doc("a friend of @anna_b told me"), "handle") == []


def test_short_messenger_abbreviations_are_cues() -> None:
    assert values(doc("IG: @anna.model | TG @anna_tg"), "handle") == [
        "instagram:anna.model", "telegram:anna_tg"
    ]


def test_two_numbers_side_by_side_are_both_found() -> None:
    assert phones("Tel 0151 2345 6789 / 0176 1234 5678") == ["+4915123456789", "+4917612345678"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("a@b.de", ["a@b.de"]),
        ("x a@b.de, c.d+e@mail.example.org; f@g.com", ["a@b.de", "c.d+e@mail.example.org",
                                                       "f@g.com"]),
        ("anna[at]example[dot]org", ["anna@example.org"]),
        ("ANNA (AT) EXAMPLE (DOT) ORG", ["anna@example.org"]),
        ("x" * 70 + "@example.org", []),
        ("@example.org alone", []),
        ("anna@localhost", []),
    ],
)
def test_email_shapes(body: str, expected: list[str]) -> None:
    assert values(doc(body), "email") == expected


def test_wallet_shapes_with_the_wrong_version_byte_are_rejected() -> None:
    odd = b58check(b"\x31" + RNG.randbytes(20))  # valid base58check, unknown version byte
    assert odd[0] in "LM"  # the shape of a Litecoin address
    assert values(doc(f"send {odd}"), "wallet") == []
    assert len(XMR_INTEGRATED) == 106 and len(XMR) == 95


_PIECES = [*"0123456789 +-./()@[]O:\n\u00a0\ufe0f\u20e3éДtelTEL#€", "Tel ", "t.me/", "wa.me/",
           "null ", "sieben ", "bc1q", "0x"]
_ALPHABET = st.sampled_from(_PIECES)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALPHABET, max_size=60).map("".join), st.text(max_size=40))
def test_any_text_yields_spans_into_the_original_scope_text(body: str, noise: str) -> None:
    d = Document(url="https://x.de/" + noise.replace("\n", ""), title=noise, body=body,
                 contact=body[::-1], language="de")
    for e in extract_entities(d):
        assert d.text(e.span.scope)[e.span.start : e.span.end] == e.span.text
        if e.kind == "phone":
            assert e.value.startswith("+") and e.value[1:].isdigit()
