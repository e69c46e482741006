"""Extraction: bytes + headers -> Document, for good pages and hostile ones."""

from __future__ import annotations

import dataclasses
import html as html_lib
import re
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from crawler.extract import (
    _ANCHOR_SELECTOR,
    _BLOCK_EDGE,
    _BLOCK_TAG_NAMES,
    _CELL_OPEN,
    _CONTACT_SELECTOR,
    _INVISIBLE_SELECTOR,
    _REMOVED_TAG_SET,
    _SPACE,
    BLOCK,
    MAX_ANCHORS,
    MAX_SCOPE_CHARS,
    _anchors_and_contact_nodes,
    _head_and_hidden,
    _is_hidden,
    _lines,
    _remove,
    decode,
    extract,
    guess_language,
    mark_blocks,
    mark_blocks_utf8,
    nesting_depth,
)
from crawler.models import Document, Seed
from crawler.urls import (
    MAX_URL_LENGTH,
    SIMPLE_PATH,
    InvalidURL,
    canonicalize,
    canonicalize_fast,
    is_simple_origin,
)
from tests.support.server import LoopbackSite

URL = "http://ads.example/city/ad-1.html"


def html(body: str, head: str = "", lang: str = "") -> bytes:
    attr = f' lang="{lang}"' if lang else ""
    return (
        f"<!doctype html><html{attr}><head><meta charset=utf-8>{head}</head>"
        f"<body>{body}</body></html>"
    ).encode()


def ex(data: bytes, content_type: str | None = "text/html", charset: str | None = None) -> Document:
    return extract(data, url=URL, content_type=content_type, charset=charset)


def test_title_meta_and_block_lines() -> None:
    doc = ex(
        html(
            "<h1>New  in\ntown</h1><p>Hello <b>there</b>, friendly<br>and discreet</p>"
            "<ul><li>one</li><li>two</li></ul><table><tr><td>a</td><td>b</td></tr></table>",
            head='<title> Lena &amp; Co </title><meta name="description" content="Sweet ad">'
            '<meta name="keywords" content="a, b"><meta property="og:description" content="OG">',
        )
    )
    assert doc.title == "Lena & Co"
    assert doc.meta == "Sweet ad\na, b\nOG"
    assert doc.body == "New in town\nHello there, friendly\nand discreet\none\ntwo\na\nb"
    assert doc.warnings == ()


def test_invisible_parts_are_removed() -> None:
    doc = ex(
        html(
            "<p>visible</p><script>var secret = 1</script><style>.x{}</style>"
            "<noscript>noscript</noscript><template><p>tpl</p></template><svg><text>svg</text></svg>"
            "<iframe>frame</iframe><p hidden>hidden attr</p><div aria-hidden='TRUE'>aria</div>"
            "<div style='color:red; DISPLAY : none'>inline none<span>child</span></div>"
            "<p style='visibility:hidden'>invisible</p><div style='display:block'>shown</div>"
        )
    )
    assert doc.body == "visible\nshown"


def test_contact_scope_collects_messaging_links_and_contact_elements() -> None:
    doc = ex(
        html(
            '<p>Ad text</p><a href="tel:+447700900123">Call me</a>'
            '<a href="https://wa.me/447700900123">WhatsApp</a>'
            '<a href="mailto:lena@mail.example">mail</a><a href="https://t.me/lena_example">tg</a>'
            '<div class="Contact-Info"><span>Phone: 07700 900 123</span></div>'
            '<p id="telefono">Telefono 333 000</p><a href="/other">other</a>'
        )
    )
    lines = doc.contact.split("\n")
    for expected in ("tel:+447700900123", "Call me", "https://wa.me/447700900123", "WhatsApp",
                     "mailto:lena@mail.example", "https://t.me/lena_example",
                     "Phone: 07700 900 123", "Telefono 333 000"):  # fmt: skip
        assert expected in lines
    assert "Ad text" not in doc.contact and "other" not in lines


def test_links_are_absolute_http_deduped_without_fragments() -> None:
    doc = ex(
        html(
            '<a href="/b.html#top">b</a><a href="/b.html">b again</a><a href="c.html">c</a>'
            '<a href="https://Other.Example:443/x?b=2&a=1">x</a><a href="ftp://f.example/">f</a>'
            '<a href="javascript:void(0)">js</a><a href="#frag">frag</a>'
            '<a href="//cdn.example/p">proto-relative</a><a href="http://[bad">bad</a>'
        )
    )
    assert doc.links == (
        "http://ads.example/b.html",
        "http://ads.example/city/c.html",
        "https://other.example/x?a=1&b=2",
        "http://cdn.example/p",
    )


def test_base_href_is_honoured() -> None:
    doc = ex(html('<a href="x">x</a>', head='<base href="https://base.example/dir/">'))
    assert doc.links == ("https://base.example/dir/x",)


def test_links_are_capped_with_a_warning() -> None:
    doc = ex(html("".join(f'<a href="/p{i}">{i}</a>' for i in range(1200))))
    assert len(doc.links) == 1000
    assert any("links capped at 1000" in w for w in doc.warnings)


def test_language_from_html_lang_then_meta_then_stopwords() -> None:
    assert ex(html("<p>x</p>", lang="de-AT")).language == "de"
    head = '<meta http-equiv="Content-Language" content="fr-FR">'
    assert ex(html("<p>x</p>", head=head)).language == "fr"
    assert ex(html("<p>Ich bin neu in der Stadt und nur für eine Woche hier, ruf mich an</p>")
              ).language == "de"  # fmt: skip
    assert ex(html("<p>x y z</p>")).language is None


def test_stopword_guess_for_project_languages() -> None:
    samples = {
        "en": "I am new in the city and I will be here for a week, call me at any time",
        "fr": "Je suis nouvelle dans la ville et je suis là pour une semaine, avec plaisir",
        "es": "Soy nueva en la ciudad y estoy aquí por una semana, llámame sin problema",
        "it": "Sono nuova in città e sono qui per una settimana, chiamami senza problemi per il",
        "nl": "Ik ben nieuw in de stad en ik ben hier voor een week, bel mij op het nummer",
        "ro": "Sunt nouă în oraș și sunt aici pentru o săptămână, sună-mă fără probleme",
        "pl": "Jestem nowa w mieście i jestem tu tylko na tydzień, zadzwoń do mnie bez",
        "pt": "Sou nova na cidade e estou aqui para uma semana, liga sem problema para o",
        "uk": "Я нова в місті і буду тут тільки тиждень, дзвоніть мені в будь-який час, це є",
        "ru": "Я новая в городе и буду здесь только неделю, звоните мне в любое время, это",
    }
    for lang, text in samples.items():
        assert guess_language(text) == lang, lang


def test_broken_markup_still_gives_text() -> None:
    doc = ex(b"<html><body><div><p>one<div>two</span></b><table><td>three<p>four</html><<<>>>five")
    for word in ("one", "two", "three", "four", "five"):
        assert word in doc.body


def test_windows_1251_page_declared_utf8_is_detected() -> None:
    text = "Новая девушка в городе, звоните в любое время. Только на этой неделе, без выходных."
    data = html(f"<p>{text}</p>").replace(b"utf-8", b"windows-1251")
    data = data.decode().encode("cp1251")
    doc = ex(data, charset="utf-8")
    assert text in doc.body
    assert any("not valid utf-8" in w for w in doc.warnings)


def test_latin1_without_declaration_is_detected() -> None:
    text = "Très belle femme, nouvelle à Genève, disponible dès aujourd'hui. À bientôt, chérie."
    data = f"<html><body><p>{text}</p></body></html>".encode("latin-1")
    doc = ex(data)
    assert text in doc.body


def test_header_charset_and_meta_charset_and_bom() -> None:
    text = "Zażółć gęślą jaźń"
    assert text in ex(f"<p>{text}</p>".encode("cp1250"), charset="windows-1250").body
    meta = f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-2">' \
           f"</head><body><p>{text}</p></body></html>"  # fmt: skip
    assert text in ex(meta.encode("iso-8859-2")).body
    assert text in ex(b"\xff\xfe" + f"<p>{text}</p>".encode("utf-16-le"), charset="latin-1").body


def test_unknown_or_unsafe_charset_is_ignored_with_a_warning() -> None:
    for label in ("no-such-charset", "rot13", "base64", "idna", "unicode_escape"):
        doc = ex(html("<p>plain text \\u0041</p>"), charset=label)
        assert "plain text \\u0041" in doc.body
        assert any("unknown charset" in w for w in doc.warnings), label


def test_invalid_bytes_replaced_and_nul_removed() -> None:
    doc = ex(b"<p>ab\x00cd \xff\xfe\xfa ok</p>", charset="utf-8")
    assert "abcd" in doc.body and "ok" in doc.body
    assert "NUL bytes removed" in doc.warnings


def test_plain_text_body() -> None:
    doc = ex(b"Line one   here\r\n\r\n  Line two\t end\n", content_type="text/plain")
    assert doc.body == "Line one here\nLine two end"
    assert doc.title == "" and doc.links == ()


def test_missing_content_type_is_sniffed() -> None:
    assert ex(b"<html><body><p>a</p><p>b</p>", content_type=None).body == "a\nb"
    assert ex(b"just <words> here", content_type=None).body == "just <words> here"


def test_deep_nesting_is_bounded_in_time_and_still_gives_text() -> None:
    data = b"<html><body>" + b"<div>" * 100_000 + b"deep text" + b"</div>" * 100_000
    started = time.monotonic()
    doc = ex(data)
    assert time.monotonic() - started < 3.0
    assert "deep text" in doc.body
    assert any("nested" in w for w in doc.warnings)


def test_nesting_depth_estimate_ignores_voids_scripts_and_siblings() -> None:
    page = "<ul>" + "<li>x<br><img src=a>" * 5000 + "</ul><script>" + "a<b;" * 5000 + "</script>"
    assert nesting_depth(page) < 10
    assert nesting_depth("<div><span>" * 3000) == 6000


def test_huge_text_in_one_tag_is_capped_with_a_warning() -> None:
    data = b"<html><body><p>" + b"word " * (2 * 1024 * 1024) + b"</p></body></html>"  # 10 MiB
    started = time.monotonic()
    doc = ex(data)
    assert time.monotonic() - started < 5.0
    assert len(doc.body) == MAX_SCOPE_CHARS
    assert any("body text cut" in w for w in doc.warnings)


def test_mixed_scripts_survive() -> None:
    text = "Anna Анна Άννα アンナ 안나 آنا 🌹 new"
    assert text in ex(html(f"<p>{text}</p>")).body


FRAGMENTS = [
    "<div>",
    "</p>",
    "<p ",
    "<a href='",
    "<!--",
    "<script>",
    "&#x0;",
    "\x00",
    "é",
    "<meta charset=utf-16>",
    "<title>",
    "<br/>",
    ">",
    "<td>",
    "\ue000",
    "tel:1",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=500).map(lambda s: s.encode("utf-8", "surrogatepass")),
        st.lists(st.sampled_from(FRAGMENTS)).map(
            lambda xs: "".join(xs).encode("utf-8", "surrogatepass")
        ),
    ),
    content_type=st.sampled_from([None, "text/html", "text/plain", "application/octet-stream"]),
    charset=st.sampled_from([None, "utf-8", "utf-16", "latin-1", "bogus", "shift_jis"]),
)
def test_never_raises_on_any_bytes(
    body: bytes, content_type: str | None, charset: str | None
) -> None:
    doc = extract(body, url=URL, content_type=content_type, charset=charset)
    assert isinstance(doc, Document)
    assert "\ue000" not in doc.body + doc.contact + doc.title + doc.meta


def test_nested_hidden_elements_of_different_kinds_are_removed_safely() -> None:
    doc = ex(
        html(
            '<div hidden><p style="display:none">a<span aria-hidden="true">b</span></p></div>'
            '<p aria-hidden="true"><span hidden>c</span><i style="visibility: hidden">d</i></p>'
            "<p>kept</p>"
        )
    )
    assert doc.body == "kept"


def test_raw_markup_fallback_keeps_title_and_text() -> None:
    data = b"<title>T &amp; t</title><script>no</script>" + b"<div>" * 5000 + b"<p>x</p>y"
    doc = ex(data)
    assert doc.title == "T & t"
    assert doc.body.split("\n") == ["x", "y"]
    assert "no" not in doc.body


# --------------------------------------------------------------------------- fast paths
# Each fast path is compared with the straightforward code it replaced, on tricky inputs.

_OLD_OTHER_SPACES = re.compile(
    r"[\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000]"
)


def _old_lines(text: str) -> str:
    text = text.replace("\n", " ").replace("\t", " ").replace("\r", " ")
    text = _OLD_OTHER_SPACES.sub(" ", text)
    while "  " in text:
        text = text.replace("    ", " ").replace("  ", " ")
    return "\n".join(line for line in (part.strip() for part in text.split(BLOCK)) if line)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from([" ", "\n", "\t", "\r", "\x0b", "\x1c", "\x85", "\xa0", "\u200b",
                         "\u2007", "\u3000", "\ufeff", "\u180e", BLOCK, "a", "é", "b c"])
        | st.characters(),
        max_size=30,
    ).map("".join)
)
def test_lines_agrees_with_the_replace_based_version(text: str) -> None:
    assert _lines(text) == _old_lines(text)


def test_blank_href_gives_no_link_and_keeps_the_page_structure() -> None:
    doc = ex(html('<p>a</p><a href="  ">x</a><a href="/y">y</a><div>b</div>'))
    assert doc.links == ("http://ads.example/y",)
    assert doc.body == "a\nxy\nb"
    assert doc.warnings == ()


_ORIGINS = ["http://ads.example", "https://a-b.example:8443", "http://127.0.0.1:8765",
            "http://Ads.Example", "http://ads.example:80", "https://ads.example:443",
            "http://ads.example:080", "http://xn--bcher-kva.example", "http://[::1]:8080",
            "http://bücher.example", "http://a..example", "http://ads.example.:81"]  # fmt: skip
_HREF_PIECES = st.sampled_from(
    [*"aZ09-._~!$&'()*+,;=:@/?#%[] é\\", "/.", "/..", "%41", "%7e", "%2F", "//", "?b=1&a=2"]
)


@settings(max_examples=500, deadline=None)
@given(origin=st.sampled_from(_ORIGINS), rest=st.lists(_HREF_PIECES, max_size=10).map("".join))
def test_root_relative_shortcut_agrees_with_canonicalize(origin: str, rest: str) -> None:
    href = "/" + rest
    if not (
        is_simple_origin(origin)
        and SIMPLE_PATH.fullmatch(href)
        and "/." not in href
        and len(origin + href) <= MAX_URL_LENGTH
    ):
        return
    assert canonicalize_fast(origin + href) == origin + href == canonicalize(origin + href)


def test_simple_origin_is_only_an_already_canonical_origin() -> None:
    assert is_simple_origin("http://ads.example")
    assert is_simple_origin("http://127.0.0.1:8765")
    for origin in ("http://Ads.Example", "http://ads.example:80", "https://a.example:443",
                   "http://a.example:080", "http://bücher.example", "http://[::1]:80"):  # fmt: skip
        assert not is_simple_origin(origin), origin


def _old_links(data: bytes, url: str) -> tuple[str, ...]:
    """Links as the former loop made them (root-relative: origin + href; absolute http(s):
    as written; else urljoin), every one through canonicalize, without shortcuts."""
    tree = LexborHTMLParser(data.decode())
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    out: dict[str, None] = {}
    for node in tree.css("a[href], area[href]"):
        href = (node.attrs.get("href") or "").strip()
        if not href or href.startswith("#") or re.match(r"(?!https?:)[a-z][a-z0-9+.\-]*:", href,
                                                        re.IGNORECASE):
            continue
        if href[0] == "/" and not href.startswith("//"):
            joined = origin + href
        elif href[:8].lower().startswith(("http://", "https://")):
            joined = href
        else:
            try:
                joined = urljoin(url, href)
            except ValueError:
                continue
        try:
            out[canonicalize(joined.split("#")[0])] = None
        except InvalidURL:
            continue
    return tuple(out)


@settings(max_examples=300, deadline=None)
@given(
    url=st.sampled_from([URL, "http://127.0.0.1:8765/ad/1", "https://Ads.Example:443/x/y"]),
    hrefs=st.lists(st.lists(_HREF_PIECES, max_size=6).map("".join), max_size=6),
    lead=st.sampled_from(["/", "", "//", "http://other.example/", "https://ads.example/"]),
)
def test_links_agree_with_plain_urljoin_and_canonicalize(
    url: str, hrefs: list[str], lead: str
) -> None:
    anchors = "".join(f'<a href="{html_lib.escape(lead + h)}">x</a>' for h in hrefs)
    data = f"<html><body>{anchors}</body></html>".encode()
    doc = extract(data, url=url, content_type="text/html")
    assert doc.links == _old_links(data, url)


_ATTRS = st.sampled_from([
    "", " hidden", ' aria-hidden="true"', ' aria-hidden=" TRUE "', ' aria-hidden="TRUE"',
    ' style="display:none"', ' style="DISPLAY : None"', ' style="color:none"',
    ' style="visibility: Hidden"', ' style="overflow:hidden"', ' class="x"',
])  # fmt: skip
_ELEMENT = st.tuples(
    st.sampled_from(["title", "meta", "base", "p", "div", "span", "script", "svg"]), _ATTRS
)


def _old_head_and_hidden(tree: LexborHTMLParser) -> tuple[str, list[str], str, list[str]]:
    title = tree.css_first("title")
    base = tree.css_first("base[href]")
    doomed: dict[int, str] = {}  # removing a node twice (the old code did) is a no-op
    for node in tree.css(_INVISIBLE_SELECTOR):
        attrs = node.attributes
        if node.tag in _REMOVED_TAG_SET or _is_hidden(attrs):
            doomed.setdefault(node.mem_id, node.html or "")
    return ((title.html or "") if title else "", [n.html or "" for n in tree.css("meta")],
            (base.html or "") if base else "", list(doomed.values()))  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_ELEMENT, max_size=8), st.booleans())
def test_one_selector_pass_finds_what_four_found(elements: list[tuple[str, str]],
                                                 in_head: bool) -> None:
    parts = [f'<{tag}{attrs} href="/h" content="c">t{i}</{tag}>'
             for i, (tag, attrs) in enumerate(elements)]  # fmt: skip
    inner = "".join(parts)
    page = (f"<html><head>{inner}</head><body><p>b</p></body></html>" if in_head
            else f"<html><head></head><body>{inner}</body></html>")  # fmt: skip
    title, metas, base, doomed = _head_and_hidden(LexborHTMLParser(page))
    got = ((title.html or "") if title else "", [n.html or "" for n in metas],
           (base.html or "") if base else "", [n.html or "" for n in doomed])  # fmt: skip
    assert got == _old_head_and_hidden(LexborHTMLParser(page))


@pytest.mark.parametrize(
    "page", ["", "x", "<svg><html lang=x></svg>", "<html lang=de><html lang=fr>",
             "<!-- c --><p>", "<body><html lang=en>", "<frameset>"],
)
def test_document_element_is_the_first_html_element(page: str) -> None:
    tree = LexborHTMLParser(page)
    root, first = tree.root, tree.css_first("html")
    assert root is not None and first is not None and root.mem_id == first.mem_id


def test_nul_bytes_removed_in_other_codecs_too() -> None:
    doc = ex("<p>a\x00b</p>".encode("utf-16"), charset="utf-16")
    assert "ab" in doc.body and "NUL bytes removed" in doc.warnings
    doc = ex(b"<p>a\x00b \xe9</p>", charset="latin-1")
    assert "ab é" in doc.body and "NUL bytes removed" in doc.warnings


@pytest.mark.parametrize("codec", ["utf-8", "utf-16", "cp1252", "gb18030"])
def test_block_marker_and_tables_in_any_codec(codec: str) -> None:
    """BLOCK (U+E000) in the input is dropped, table cells split, whatever the charset."""
    page = "<p>a\ue000b</p><table><TR><Td>c</Td><th>d</th></TR></table>"
    try:
        data = page.encode(codec)
    except UnicodeEncodeError:
        data = page.replace("\ue000", "").encode(codec)
    doc = ex(data, charset=codec)
    assert doc.body == "ab\nc\nd"


_MARKUP = st.sampled_from([
    "<td>", "<TD class=x>", "<th/>", "<td", "<tdx>", "</td>", "<p>", "</P >", "<div\xa0>", "<br/>",
    "<table>", "<tr>", "<t", "x", " ", "<", ">", "<td " + "a" * 10 + ">", "<Td\t>", "é",
])  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_MARKUP, max_size=25).map("".join))
def test_block_marking_agrees_with_two_regex_substitutions(text: str) -> None:
    old = _BLOCK_EDGE.sub(BLOCK + "<", text)
    old = _CELL_OPEN.sub(r"\1" + BLOCK, old)
    assert mark_blocks(text) == old
    assert mark_blocks(text, cells=True) == old


def _old_block_edge() -> re.Pattern[str]:
    """The block-edge pattern as first written: every letter a two-case class."""
    groups: dict[str, list[str]] = {}
    for name in sorted(_BLOCK_TAG_NAMES, key=len, reverse=True):
        groups.setdefault(name[0], []).append(
            "".join(f"[{c}{c.upper()}]" if c.isalpha() else c for c in name[1:])
        )
    trie = "|".join(f"[{c}{c.upper()}](?:{'|'.join(rests)})" for c, rests in groups.items())
    return re.compile(rf"<(?=/?(?:{trie})[\s/>])")


_OLD_BLOCK_EDGE = _old_block_edge()
# every character str's \s matches, and look-alikes that Unicode case-insensitive matching would
# confuse with ASCII letters (Kelvin sign, long s, dotless i, dotted I)
_TAG_ENDS = ["", ">", "/", "/>", "x", "1", "-", "<", BLOCK,
             *(c for c in map(chr, range(0x3100)) if c.isspace()), "\u3000"]  # fmt: skip
_LOOKALIKES = {"k": "\u212a", "s": "\u017f", "i": "\u0131", "I": "\u0130"}


def test_block_edge_pattern_agrees_with_the_two_case_class_pattern_on_every_tag_form() -> None:
    names = [*_BLOCK_TAG_NAMES, "a", "span", "img", "table", "tr", "h7", "d", "divx", "lis", "b"]
    forms: list[str] = []
    for name in names:
        variants = {name, name.upper(), name.title(), name.swapcase().title().swapcase()}
        variants |= {name[:i] + name[i].upper() + name[i + 1 :] for i in range(len(name))}
        variants |= {name.replace(a, b) for a, b in _LOOKALIKES.items()}
        for variant in variants:
            for end in _TAG_ENDS:
                forms.append(f"<{variant}{end}")
                forms.append(f"</{variant}{end}")
                forms.append(f"< {variant}{end}")
    for form in forms:
        text = f"a{form}b"
        assert _BLOCK_EDGE.sub(BLOCK + "<", text) == _OLD_BLOCK_EDGE.sub(BLOCK + "<", text), form
    joined = "x".join(forms)
    assert _BLOCK_EDGE.sub(BLOCK + "<", joined) == _OLD_BLOCK_EDGE.sub(BLOCK + "<", joined)


@settings(max_examples=300, deadline=None)
@given(st.lists(_MARKUP | st.sampled_from(["<DIV", "<Li", "<h1", "<H6 ", "</Ul>", "<dL\t",
                                           "<\u212aontakt", "<ſection>", "\u2028", "<BR/"])
                | st.characters(), max_size=40).map("".join))  # fmt: skip
def test_block_edge_pattern_agrees_with_the_two_case_class_pattern(text: str) -> None:
    assert _BLOCK_EDGE.sub(BLOCK + "<", text) == _OLD_BLOCK_EDGE.sub(BLOCK + "<", text)


_ANCHOR_ATTRS = st.sampled_from([
    "", ' href="/x"', " href", ' href=""', ' href="  "', ' HREF="tel:1"', ' xlink:href="/y"',
    ' class="contact"', ' class="Phone-Box"', ' id="tel"', ' class="tel call"',
    ' itemprop="Telephone"', ' id="kontakt-1"', ' class="x"', ' class="contact" id="phone"',
    ' href="/z" class="whatsapp viber"', " hidden", ' style="display:none"',
])  # fmt: skip
_ANCHOR_TAGS = st.sampled_from(["a", "area", "A", "div", "p", "span", "section", "map", "svg",
                                "math", "template", "li", "td", "b"])  # fmt: skip


@st.composite
def _anchor_pages(draw: st.DrawFn) -> str:
    """Random nesting of anchors, contact elements and elements removed before the pass."""
    out: list[str] = []
    for _ in range(draw(st.integers(0, 14))):
        tag = draw(_ANCHOR_TAGS)
        attrs = draw(_ANCHOR_ATTRS) + draw(_ANCHOR_ATTRS)
        out.append(f"<{tag}{attrs}>t{len(out)}")
        if draw(st.booleans()):
            out.append(f"</{tag}>")
    return "".join(out)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_anchor_pages(), st.booleans())
def test_one_anchor_and_contact_pass_finds_what_two_found(body: str, in_head: bool) -> None:
    page = f"<html><head>{body if in_head else ''}</head><body>{body}</body></html>"
    trees = [LexborHTMLParser(page), LexborHTMLParser(page)]
    for tree in trees:
        _remove(_head_and_hidden(tree)[3])  # what _html does before the pass
    found = _anchors_and_contact_nodes(trees[0])
    assert found is not None
    anchors, contacts = found
    got = ([(n.html, href) for n, href in anchors], [n.html for n in contacts])
    old = trees[1]
    want = ([(n.html, n.attrs.get("href")) for n in old.css(_ANCHOR_SELECTOR)],
            [n.html for n in old.css(_CONTACT_SELECTOR)])  # fmt: skip
    assert got == want


def test_space_is_every_character_str_regex_whitespace_matches() -> None:
    every = (chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert set(_SPACE) == {c for c in every if c.isspace()}
    assert all(re.fullmatch(r"\s", c) for c in _SPACE)
    assert not any(re.fullmatch(r"\s", chr(c)) for c in range(0x3100) if chr(c) not in _SPACE)


def _utf8_marking_agrees(text: str) -> None:
    assert mark_blocks_utf8(text.encode()) == mark_blocks(text).encode()
    cells = "<t" in text or "<T" in text
    assert mark_blocks_utf8(text.encode(), cells) == mark_blocks(text, cells).encode()


def test_utf8_marking_agrees_with_str_marking_after_any_character() -> None:
    chars = [chr(c) for c in range(0x3100)] + [chr(c) for c in range(0x3100, 0x110000, 97)]
    chars = [c for c in chars if not 0xD800 <= ord(c) <= 0xDFFF] + list(_SPACE)
    forms = [f"<p{c}x</LI{c}<td{c}y><TH{c}>{c}<br{c}<dIv{c}" for c in chars]
    _utf8_marking_agrees("z".join(forms))
    for form in forms[:: len(forms) // 50] + [f"<td{c}>" for c in _SPACE]:
        _utf8_marking_agrees(form)


@pytest.mark.parametrize("char", ["a", "é", "€", "\U0001d11e", "\u3000"])
@pytest.mark.parametrize("count", [4094, 4095, 4096, 4097])
def test_utf8_cell_attributes_are_counted_in_characters(char: str, count: int) -> None:
    for text in (f"<td {char * (count - 1)}>x", f"<td/{char * count}>x", f"<TH\xa0{char * count}>"):
        _utf8_marking_agrees(text)


_UTF8_MARKUP = st.sampled_from(["\u3000", "\u2028", "\x85", "\xa0", "€", "𝄞", "<td\u3000",
                                "<TD\x85a>", "<th\u2029", "<li\xa0", "</DIV\u205f"])  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_MARKUP | _UTF8_MARKUP | st.characters(exclude_categories=["Cs"]),
                max_size=40).map("".join))  # fmt: skip
def test_utf8_marking_agrees_with_str_marking(text: str) -> None:
    _utf8_marking_agrees(text)


@pytest.mark.parametrize(
    "body",
    [b"\xef\xbb\xbf<p>bom</p><td>c", b"<p>a\x00b</p><\x00td>c", b"<p>x<\xee\x80\x80td>c</p>",
     b"<p>bad \xff byte<td>c", b"<p>cut at the end \xe2\x82", b"<p>real \xef\xbf\xbd</p>",
     "<p>ok € 𝄞</p><table><tr><td>c<th>d</table>".encode()],
)  # fmt: skip
def test_utf8_pages_give_what_the_same_text_gives_in_another_charset(body: bytes) -> None:
    """UTF-8 pages are marked as bytes (the body itself when it is exactly the text's UTF-8);
    the same text from UTF-16 takes the str path."""
    doc = ex(body, charset="utf-8")
    text = decode(body, "utf-8", True, [])
    other = ex(text.encode("utf-16"), charset="utf-16")
    assert dataclasses.replace(doc, warnings=()) == dataclasses.replace(other, warnings=())


def test_past_the_anchor_cap_one_pass_gives_up_and_two_passes_give_contact_and_links() -> None:
    n = MAX_ANCHORS + 5
    marks = [" class=phone" * (i % 5000 == 0) for i in range(n)]
    anchors = "".join(f'<a href="/p{i}"{mark}>{i}</a>' for i, mark in enumerate(marks))
    page = html(f'<div id="tel">Call 0123</div>{anchors}<p class="contact">end</p>')
    tree = LexborHTMLParser(page)
    _remove(_head_and_hidden(tree)[3])
    assert len(tree.css(_ANCHOR_SELECTOR)) == n
    assert _anchors_and_contact_nodes(tree) is None
    doc = ex(page)
    assert f"only the first {MAX_ANCHORS} anchors were read" in doc.warnings
    assert doc.contact.split("\n") == ["Call 0123", "0", "5000", "10000", "15000", "20000", "end"]
    assert len(doc.links) == 1000


# --------------------------------------------------------------------------- links=False


def _without_links(doc: Document) -> Document:
    """What extract(..., links=False) must give: the same Document without links."""
    kept = tuple(w for w in doc.warnings if not w.startswith("links capped at "))
    return dataclasses.replace(doc, links=(), warnings=kept)


_LINK_HREFS = st.sampled_from([
    "/x", "/x", "  /y ", "", "  ", "#top", "//other.example/z", "tel:+49 151 234", " TEL:1",
    "mailto:a@b.example", "https://wa.me/4915", "http://t.me/handle", "https://T.ME",
    "/tel:1", "javascript:void(0)", "https://ads.example/a#b", "q?x=1", "../up", "http://[x",
    "sms:1\ue000", "whatsapp://send?phone=1", "skype:a?call", "%74el:1", "viber:/\n/x",
    "tel:1<br>2", " <p>sms:3", "/a<div>b",
])  # fmt: skip
_LINK_TEXTS = st.sampled_from(["", "call me", "<b>x</b> y", "<div>blocked</div>", "&amp;"])


@st.composite
def _link_pages(draw: st.DrawFn) -> bytes:
    parts = []
    for i in range(draw(st.integers(0, 12))):
        href = draw(_LINK_HREFS)
        if draw(st.booleans()):  # else raw: a block tag inside the value gets a marker
            href = html_lib.escape(href)
        tag = draw(st.sampled_from(["a", "A", "area", "div"]))
        parts.append(f'<{tag} href="{href}"{draw(_ANCHOR_ATTRS)}>{draw(_LINK_TEXTS)}{i}</{tag}>')
        parts.append(draw(st.sampled_from(["", "<p>", "<td>", "<svg>", "</svg>", "<div hidden>"])))
    return html("".join(parts)).replace(b"<meta charset=utf-8>", draw(st.sampled_from(
        [b"<meta charset=utf-8>", b"", b"<meta charset=windows-1252>"])))  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    page=_link_pages()
    | _anchor_pages().map(html)
    | st.lists(st.sampled_from(FRAGMENTS)).map(lambda xs: "".join(xs).encode("utf-8", "replace")),
    url=st.sampled_from([URL, "http://127.0.0.1:8765/ad/1", "https://Ads.Example:443/x/"]),
    charset=st.sampled_from([None, "utf-8", "latin-1"]),
)
def test_links_false_gives_the_same_document_without_links(
    page: bytes, url: str, charset: str | None
) -> None:
    full = extract(page, url=url, content_type="text/html", charset=charset)
    assert extract(page, url=url, content_type="text/html", charset=charset,
                   links=False) == _without_links(full)  # fmt: skip


def test_links_false_keeps_messaging_contact_lines_and_drops_only_the_links() -> None:
    page = html('<a href="/a">a</a><a href=" tel:+49 151 234 ">Call</a><a href="/a">again</a>'
                '<a href="https://wa.me/4915">WA</a><p class="contact">Ring me</p>')  # fmt: skip
    full, bare = ex(page), extract(page, url=URL, content_type="text/html", links=False)
    assert full.links == ("http://ads.example/a",) and bare.links == ()
    assert bare.contact == full.contact == "tel:+49 151 234\nCall\nhttps://wa.me/4915\nWA\nRing me"
    assert bare == dataclasses.replace(full, links=())


def test_links_false_past_the_link_and_anchor_caps() -> None:
    for n in (1500, MAX_ANCHORS + 5):
        anchors = "".join(f'<a href="/p{i}">{i}</a>' for i in range(n))
        page = html(f'{anchors}<a href="tel:1">t</a><p class="phone">end</p>')
        full, bare = ex(page), extract(page, url=URL, content_type="text/html", links=False)
        assert any(w.startswith("links capped at ") for w in full.warnings)
        assert bare == _without_links(full)
        assert bare.contact.split("\n")[-1] == "end"


_COLON_ATTRS = _ANCHOR_ATTRS | st.sampled_from(
    [' href="tel:1"', ' href=" sms:2 "', ' href="/a:b"', ' href="&#58;x"', ' href="x&colon;y"']
)


@st.composite
def _colon_anchor_pages(draw: st.DrawFn) -> str:
    out: list[str] = []
    for _ in range(draw(st.integers(0, 14))):
        tag = draw(_ANCHOR_TAGS)
        out.append(f"<{tag}{draw(_COLON_ATTRS)}{draw(_COLON_ATTRS)}>t{len(out)}")
        if draw(st.booleans()):
            out.append(f"</{tag}>")
    return "".join(out)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_colon_anchor_pages(), st.booleans())
def test_colon_only_pass_gives_the_colon_anchors_and_the_same_contact_nodes(
    body: str, in_head: bool
) -> None:
    page = f"<html><head>{body if in_head else ''}</head><body>{body}</body></html>"
    trees = [LexborHTMLParser(page), LexborHTMLParser(page)]
    for tree in trees:
        _remove(_head_and_hidden(tree)[3])
    full, colon = _anchors_and_contact_nodes(trees[0]), _anchors_and_contact_nodes(trees[1], True)
    assert full is not None and colon is not None
    want = [(n.html, h) for n, h in full[0] if h is not None and ":" in h]
    assert [(n.html, h) for n, h in colon[0]] == want
    assert [n.html for n in colon[1]] == [n.html for n in full[1]]


@pytest.mark.parametrize(
    "page",
    [("<a href=x>" + "<div>" * 8 + "</a>t") * 100, "<a href=x>" + "<b><div>t</a>" * 500,
     "<a href=x><b><i><div><p>t</a></b></i>" * 200, "<a href=x><table><tr><td>t</a>" * 200,
     "<a href=x>" + "<p>t" * 1000, "<a href=x><b><a href=y><i><a href=z>t</a>" * 300,
     ("<b><i><u><s><a href=x><div>" + "<div>" * 3 + "t</a>") * 100],
)  # fmt: skip
def test_anchor_clones_stay_far_below_the_colon_only_bound(page: str) -> None:
    """Tree building clones <a> elements; colon_only relies on < 20 anchors per "<"."""
    anchors = len(LexborHTMLParser(page).css("a[href]"))
    assert anchors <= 2 * page.count("<")


PIPELINE_RULES = Path(__file__).resolve().parent / "pipeline_rules"


async def test_the_crawl_extracts_links_only_where_it_follows_them(
    site: LoopbackSite, tmp_path: Path
) -> None:
    """Through the real pipeline: at follow depth 0 pages are extracted without links (and with
    the same contact); with max_depth 1 the seed page has its links and the followed page, whose
    links would go too deep, has none."""
    from crawler.pipeline import Processed, run_worker
    from crawler.rules import RuleHolder
    from crawler.settings import FetchSettings
    from storage import open_store

    body = '<a href="/a">a</a> <a href="tel:+4915123">Call</a> <p class="contact">Ring</p>'
    index = site.route("/", html(body))
    site.route("/a", '<p>page a</p><a href="/deeper">deeper</a>')
    env = {"TRIAGE_ALLOW_CIDRS": "127.0.0.1/32"}
    policy = tmp_path / "sources.yaml"
    policy.write_text("defaults: {max_depth: 1}\n")
    for depth, settings_ in enumerate([
        FetchSettings.from_env(env, per_host_rps=0.0),
        FetchSettings.from_env(env, per_host_rps=0.0, sources_path=policy),
    ]):  # fmt: skip
        seen: dict[str, Document] = {}

        def keep(done: Processed, seen: dict[str, Document] = seen) -> None:
            if done.document is not None:
                seen[done.claim.url.removeprefix(site.base)] = done.document

        async with open_store(tmp_path / f"t{depth}.db") as store:
            await store.add_batch("s.txt", str(depth) * 64, [Seed(index, "s.txt", 1)], [])
            await run_worker(
                store, settings_, RuleHolder(PIPELINE_RULES), idle_exit=True, observers=[keep]
            )
        full = extract(html(body), url=index, content_type="text/html", charset="utf-8")
        assert seen["/"] == (full if depth else _without_links(full))
        assert seen["/"].contact == "tel:+4915123\nCall\nRing"
        assert sorted(seen) == (["/", "/a"] if depth else ["/"])
        if depth:
            assert seen["/"].links == (site.url("/a"),) and seen["/a"].links == ()
