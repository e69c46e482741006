"""Template clustering: the same ad text with names and cities swapped clusters; others do not."""

from __future__ import annotations

import random
import re
import zlib

import numpy as np

from crawler import templates
from crawler.templates import (
    _SHINGLE_MULT,
    TemplateIndex,
    _find_url_marker,
    _text_word_hashes,
    _text_word_hashes_loop,
    distinct_at_least,
    normalise,
    shingle_hashes,
)
from tests.support.network_site import SENTENCES, TEMPLATE_DE, build_network_site

EN_TEMPLATE = (
    "Hi gentlemen, I am {name}, {age} years young, new in {city} for a few days only. I offer a "
    "relaxed time in my private apartment near the central station. Discretion is guaranteed and "
    "I speak English and a little {lang}. Call me on {phone} or write to {email}, Telegram @{tg}."
)


def en_ad(name: str, city: str, age: int, phone: str, lang: str = "German") -> str:
    return EN_TEMPLATE.format(name=name, city=city, age=age, phone=phone, lang=lang,
                              email=f"{name.lower()}@example.org", tg=name.lower() + "_x")


def test_normalise_masks_names_numbers_contacts_and_urls() -> None:
    tokens = normalise("Anna (23) in Berlin: +49 151 2345678, anna@x.de, @anna_b, https://x.de/a")
    assert tokens == ["xcap", "xnum", "in", "xcap", "xnum", "xemail", "xhandle", "xurl"]


def test_same_template_with_names_cities_and_contacts_swapped_clusters_together() -> None:
    index = TemplateIndex()
    a = index.add(1, en_ad("Anna", "Berlin", 23, "+49 151 23456789"))
    b = index.add(2, en_ad("Sofia", "Paris", 25, "+33 6 12 34 56 78", lang="French"))
    c = index.add(3, en_ad("Lena", "Wien", 31, "0664 1234567"))
    assert a == b == c == 1
    assert index.cluster_size(1) == 3


def test_unrelated_ads_do_not_cluster() -> None:
    index = TemplateIndex()
    rng = random.Random(3)
    ids = set()
    for i in range(40):
        lang = ("de", "en", "fr", "es")[i % 4]
        ids.add(index.add(i + 1, " ".join(rng.sample(SENTENCES[lang], 6))))
    assert len(ids) == 40


def test_template_ad_does_not_join_a_different_ad_in_the_same_language() -> None:
    index = TemplateIndex()
    t = TEMPLATE_DE.format(name="Mia", age=22, city="Berlin", phone="0176 11122233", handle="m")
    index.add(1, t)
    assert index.add(2, " ".join(SENTENCES["de"])) == 2


def test_short_texts_never_join_a_template() -> None:
    index = TemplateIndex()
    assert index.sketch("la la " * 200 + "one two three four five six") is None  # 7 distinct
    assert index.sketch("la la " * 200 + "one two three four five six seven") is not None
    assert index.add(1, "Not found") == 1
    assert index.add(2, "Not found") == 2


def test_a_page_close_to_two_clusters_merges_them_and_reports_the_merge() -> None:
    # left = A+B, right = B+C, bridge = B: J(bridge, each) ~0.74, J(left, right) ~0.59
    index = TemplateIndex(threshold=0.67, num_perm=256)
    words = [f"w{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(100)]
    a, b, c = words[:20], words[20:80], words[80:]
    assert index.add(1, " ".join(a + b)) == 1
    assert index.add(2, " ".join(b + c)) == 2
    m = index.match(3, " ".join(b))
    assert (m.cluster_id, m.merged, m.neighbours) == (1, (2,), (1, 2))
    assert index.find(2) == 1 and index.cluster_size(1) == 3


def test_adding_a_known_page_again_returns_its_cluster() -> None:
    index = TemplateIndex()
    index.add(1, en_ad("Anna", "Berlin", 23, "1"))
    index.add(2, en_ad("Sofia", "Paris", 25, "2"))
    assert index.add(2, "whatever else") == 1


def test_big_clusters_keep_few_lsh_representatives_and_still_match() -> None:
    index = TemplateIndex(max_representatives=4)
    for i in range(30):
        assert index.add(i + 1, en_ad(f"Name{i}", "Berlin", 20 + i % 9, str(i))) == 1
    assert len(index._signatures) == 4
    assert index.cluster_size(1) == 30


def test_synthetic_site_has_exactly_one_reused_template() -> None:
    site = build_network_site()
    index = TemplateIndex()
    clusters: dict[int, set[str]] = {}
    for n, page in enumerate(site.pages.values(), start=1):
        cid = index.add(n, "\n".join(page.paragraphs))
        clusters.setdefault(cid, set()).add(page.path)
    shared = [paths for paths in clusters.values() if len(paths) > 1]
    assert shared == [set(site.expected_groups["template"])]


def _expected_shingle_hashes(text: str, mask: tuple[str, ...] = ()) -> np.ndarray:
    """What shingle_hashes must give: normalise's words, hashed, three by three."""
    tokens = normalise(text, mask)
    words = np.array([zlib.crc32(t.encode()) for t in tokens], dtype=np.uint64)
    n = len(words) - 2
    if n <= 0:
        return np.zeros(0, dtype=np.uint32)
    with np.errstate(over="ignore"):
        mixed = sum(words[j : j + n] * _SHINGLE_MULT[j] for j in range(3))
    return np.unique((mixed >> np.uint64(32)).astype(np.uint32))


def test_shingle_hashes_are_those_of_normalised_text() -> None:
    site = build_network_site()
    texts = ["\n".join(p.paragraphs) for p in site.pages.values()] + [
        en_ad("Anna", "Berlin", 23, "+49 151 23456789"),
        "abc123Def x(12) 4.5€ +49(0)151-2 İstanbul ÉTÉ été ²3 _x_ 1_a a_1 ٣٤ Mary's 3rd",
        "anna@x.de @anna_b www.x.de/a https://y.org b.c/d (12 ab) + ( 7",
        "Tel +49 151 (0) 23-45, 6.7 abc 5abc ) 5 .( x 1 (2 + 3 -4 -.5x 7\u00a08 ٣ ٤a 9\t(",
        "1 2 3 4 5 6 7 8 9 0 a 1 b 22 c 333 d ) e ( f . g - h",
    ]
    for text in texts:
        for mask in ((), ("Anna", "berlin")):
            got = np.unique(shingle_hashes(text, mask))
            assert np.array_equal(got, _expected_shingle_hashes(text, mask)), text[:60]


def test_cached_word_hashes_equal_the_token_regex_on_random_texts() -> None:
    """The chunk-cached, plain-run fast path gives `_TOKEN.findall`'s word hashes, with cold
    caches, warm caches and caches cleared mid-text (WORD_CACHE_MAX reached)."""
    rng = random.Random(3)
    pieces = ["a", "Ab", "word", "été", "İx", "x1", "1x", "12", "+49", "(0)", "151-2", "3.5",
              "-", ".", "/", ":", ",", "(", ")", "+", "x-1", "a,b", "q.", "٣", "_", "'s", "€5",
              "w€253", "0", "7)", "(7"]
    seps = [" ", " ", " ", "\n", "\t", "\u00a0", "  "]
    texts = ["".join(rng.choice(pieces) + rng.choice(seps) * rng.randint(0, 1)
                     for _ in range(rng.randint(0, 40))) for _ in range(3000)]
    for text in texts:
        assert _text_word_hashes(text) == _text_word_hashes_loop(text), text
    for text in texts:  # warm: mostly plain-chunk lookups now
        assert _text_word_hashes(text) == _text_word_hashes_loop(text), text
    old = templates.WORD_CACHE_MAX
    templates.WORD_CACHE_MAX = 5
    try:
        for text in texts[:500]:
            assert _text_word_hashes(text) == _text_word_hashes_loop(text), text
    finally:
        templates.WORD_CACHE_MAX = old


def test_distinct_at_least_counts_like_a_set() -> None:
    rng = np.random.RandomState(5)
    for size in (0, 3, 8, 40, 300, 3000):
        for spread in (1, 2, 7, 8, 9, 50, 1 << 30):
            values = rng.randint(0, spread, size=size).astype(np.uint32)
            if size > 600:  # a long look-alike prefix
                values[:600] = values[0]
            for n in (1, 8, 9):
                assert distinct_at_least(values, n) == (len(set(values.tolist())) >= n)


def test_url_marker_finder_is_the_case_folding_search() -> None:
    marker = re.compile(r"(?i)/|www\.")
    rng = random.Random(7)
    alphabet = ["w", "W", ".", "/", " ", "a", "ww", "WwW.", "www.", "\u0130", "é"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
        for start in range(len(text) + 1):
            hit = marker.search(text, start)
            assert _find_url_marker(text, start) == (hit.start() if hit else -1), (text, start)


def test_crawl_time_parameters_equal_datasketchs_without_importing_it() -> None:
    """The permutations and LSH bands templates.py computes itself (so `triage crawl` does not
    import datasketch and scipy) are exactly what datasketch would use."""
    from datasketch import MinHash, MinHashLSH

    from crawler.templates import (
        DEFAULT_NUM_PERM,
        DEFAULT_THRESHOLD,
        LSH_SLACK,
        _affine32_permutations,
        _lsh_params,
    )

    for num_perm in (DEFAULT_NUM_PERM, 128):
        proto = MinHash(num_perm=num_perm, seed=1, hashfunc=zlib.crc32)
        assert proto.scheme == "affine32"
        assert np.array_equal(proto.permutations, _affine32_permutations(num_perm, seed=1))
    for threshold, num_perm in ((DEFAULT_THRESHOLD, DEFAULT_NUM_PERM), (0.6, 64), (0.9, 128)):
        lsh = MinHashLSH(threshold=max(0.1, threshold - LSH_SLACK), num_perm=num_perm,
                         weights=(0.3, 0.7))
        assert _lsh_params(threshold, num_perm) == (lsh.b, lsh.r)


def test_importing_the_network_code_does_not_import_datasketch() -> None:
    import subprocess
    import sys

    code = ("import sys, crawler.networks, storage.netstate; "
            "print('datasketch' in sys.modules, 'scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def _ordered_shingle_hashes(text: str, mask: tuple[str, ...] = ()) -> np.ndarray:
    """shingle_hashes the straightforward way: normalise's words, hashed, three by three, in
    text order (repeats kept)."""
    words = np.array([zlib.crc32(t.encode()) for t in normalise(text, mask)], dtype=np.uint64)
    n = len(words) - 2
    if n <= 0:
        return np.zeros(0, dtype=np.uint32)
    with np.errstate(over="ignore"):
        mixed = sum(words[j : j + n] * _SHINGLE_MULT[j] for j in range(3))
    out: np.ndarray = (mixed >> np.uint64(32)).astype(np.uint32)
    return out


def _multiline_texts(rng: random.Random, count: int) -> list[str]:
    """Texts of lines drawn from a small pool (so lines repeat, in varying neighbourhoods:
    after a line that leaves a number open or not), in several scripts, with contacts,
    URLs, numbers running over line ends, empty and blank lines."""
    pool = [
        "", " ", "\t", "Call +49 151", "2345 678", "(0)30 - 12", "Anna, 23, Berlin", "anna@x.de",
        "Telegram @anna_b", "www.example.org/a b", "see https://y.org/x?q=1 now", "€80 / hour",
        "Новая девушка в городе", "Şehirde yeni İstanbul", "新しい 広告 東京", "نص عربي ٣٤ هنا",
        "Hallo, ich bin neu hier.", "1 2 3", "- . /", "x1 1x 22", ") ( +", "Tel.: 0151/234 56",
        "ÉTÉ été 3rd _x_", "a" * 40, "Visit hotel sporty europe gentleman travel incall",
        "7\u00a08",
        "wa.me/4915123456789", "b.c/d x", "@@ @x", "Ends open 12", ", 5 .", "+", "(7",
        "see WWW.Example.org now", "Www.x.de", "mail www.anna@x.de", "wWw.", "a/b",
    ]
    seps = ["\n", "\n", "\n", " ", "\n\n", "\r\n", "\u2028", "\n "]
    return ["".join(rng.choice(pool) + rng.choice(seps) for _ in range(rng.randint(0, 30)))
            for _ in range(count)]


def test_line_cached_shingle_hashes_equal_normalised_text() -> None:
    """The line cache (lines hashed alone once seen twice, carrying only "a number is open"
    from line to line) gives normalise's shingles in order: cold, warm, caches cleared."""
    rng = random.Random(11)
    texts = _multiline_texts(rng, 1500)
    masks: list[tuple[str, ...]] = [(), ("Anna", "berlin"), ("x",)]

    def check(subset: list[str]) -> None:
        for i, text in enumerate(subset):
            mask = masks[i % len(masks)]
            assert np.array_equal(shingle_hashes(text, mask),
                                  _ordered_shingle_hashes(text, mask)), text

    templates._LINES.clear()
    check(texts)  # first and second sightings
    check(texts)  # warm: whole pages from cached lines
    unique = [f"{i} {t}\n{i}" for i, t in enumerate(texts)]
    templates._repeats = 0.0  # as after pages that repeated no line: most are not looked up
    check(unique[:300] + texts[:300])
    old = templates.LINE_CACHE_MAX, templates.LINE_CACHE_CHARS, templates.LINE_LOOP_MAX
    templates.LINE_CACHE_MAX, templates.LINE_CACHE_CHARS = 7, 200
    try:
        check(texts[:400])
        templates.LINE_LOOP_MAX = 5  # long pages hashed whole, short ones line by line
        check(texts[:400])
    finally:
        templates.LINE_CACHE_MAX, templates.LINE_CACHE_CHARS, templates.LINE_LOOP_MAX = old
    assert any(e is not templates._ONCE for e in templates._LINES.values())  # cached lines


def test_sketch_is_the_straightforward_minhash() -> None:
    """The (num_perm, shingles) layout gives the MinHash of every shingle under every affine
    permutation, as computed one value at a time with Python integers."""
    rng = random.Random(5)
    index = TemplateIndex()
    perms = [(int(x), int(y)) for x, y in zip(*index._permutations, strict=True)]

    def fmix(h: int) -> int:
        h ^= h >> 16
        h = (h * 0x85EBCA6B) & 0xFFFFFFFF
        h ^= h >> 13
        h = (h * 0xC2B2AE35) & 0xFFFFFFFF
        return h ^ (h >> 16)

    texts = [*_multiline_texts(rng, 60), en_ad("Anna", "Berlin", 23, "+49 151 23456789")]
    checked = 0
    for text in texts:
        sig = index.sketch(text, ("Anna",))
        grams = shingle_hashes(text, ("Anna",))
        if sig is None:
            assert not distinct_at_least(grams, index.min_shingles)
            continue
        before = grams.copy()
        mixed = [fmix(int(h)) for h in grams]
        want = [min((pa * h + pb) & 0xFFFFFFFF for h in mixed) for pa, pb in perms]
        assert sig.dtype == np.uint32 and sig.tolist() == want
        assert np.array_equal(grams, before)
        checked += 1
    assert checked > 10


def test_bands_are_the_straightforward_band_hashes() -> None:
    """Band keys as stored (signed 64-bit Python ints): each band's rows times the
    multipliers, plus its salt, modulo 2**64, computed with Python integers."""
    index = TemplateIndex()
    b, r = index._lsh_params
    mult = [int(x) for x in templates._BAND_MULT[:r]]
    salt = [int(x) for x in templates._BAND_SALT[:b]]
    rng = random.Random(9)
    for text in [*_multiline_texts(rng, 40), en_ad("Anna", "Berlin", 23, "+49 151 2345678")]:
        sig = index.sketch(text)
        if sig is None:
            continue
        got = index.bands(sig)
        want = []
        for i in range(b):
            h = (sum(int(sig[i * r + j]) * mult[j] for j in range(r)) + salt[i]) % 2**64
            want.append(h - 2**64 if h >= 2**63 else h)
        assert got == want and all(type(k) is int for k in got)
