"""Near-duplicate ad templates: MinHash signatures of masked body text, clustered through LSH.

    index = TemplateIndex(threshold=0.8)
    cluster_id = index.add(page_id, doc.body)        # -> the template cluster of this page

What is compared is the text with everything an operator swaps between copies masked out:
emails, URLs, handles, numbers (phones, prices, ages) and capitalised words (names, cities;
in German every noun too, which only makes the comparison more about sentence shape). The masked
text is cut into word shingles, hashed (CRC-32: fast, deterministic) into a MinHash signature,
and an LSH index answers "which earlier pages may be this similar?" without scanning every page.
Candidates are checked against their signature (estimated Jaccard >= threshold) before joining.

Clusters are union-find sets of page ids; a cluster's id is its smallest page id, so an id only
ever changes when two clusters merge (a new page close to both). `match()` reports such merges.
Big clusters keep only a few representatives in the LSH index, so a query stays cheap however
often a template is reused.
"""

from __future__ import annotations

import array
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from datasketch import MinHash, MinHashLSH

DEFAULT_THRESHOLD = 0.8
DEFAULT_NUM_PERM = 64
SHINGLE_WORDS = 3
MIN_SHINGLES = 8  # shorter texts never join a template (boilerplate, empty pages)
MAX_REPRESENTATIVES = 16  # pages of one cluster kept in the LSH index
LSH_SLACK = 0.1  # LSH candidate threshold = threshold - slack (fewer missed neighbours)
MAX_CHARS = 12_000  # an ad template sits in the first few KB; long pages are cut for hashing

# (one of these must be in the text for the mask to apply, pattern, replacement, marker), in
# order. A mask with a marker never matches across whitespace and every match contains the
# marker, so it is applied only to the whitespace-free runs that contain one (`_sub_runs`): the
# same result as `pattern.sub` over the whole text, without trying the pattern at every position.
_Finder = Callable[[str, int], int]
_MASKS: tuple[tuple[tuple[str, ...], re.Pattern[str], str, _Finder | None], ...] = (
    (("@",), re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), " xemail ", lambda t, s: _find_at(t, s)),
    (("/", "www."),
     re.compile(r"(?i)(?:https?://|www\.|(?<![\w.-])[\w-]+(?:\.[\w-]+)*\.[a-z]{2,6}/)\S*"),
     " xurl ", lambda t, s: _find_url_marker(t, s)),
    (("@",), re.compile(r"@\w+"), " xhandle ", None),
    (("",), re.compile(r"[+(]?\d[\d\s().,:/\-]*"), " xnum ", None),
)
_WORD = re.compile(r"\w+")
_U32 = next(c for c in "IL" if array.array(c).itemsize == 4)  # CRC-32 values, packed in C
# normalise's tokens with the number mask folded in: a number (as the xnum mask matches it) or a
# run of word characters without digits (what is left of a word once numbers are masked)
_TOKEN = re.compile(r"[^\W\d]+|[+(]?\d[\d\s().,:/\-]*")
WORD_CACHE_MAX = 32_768  # words and chunks cached (each cache a few MB at most; cleared when full)
_WORD_HASHES: dict[str, int] = {}
_XCAP = np.uint64(zlib.crc32(b"xcap"))
_SHINGLE_MULT = np.random.RandomState(11).randint(1, 2**62, size=8, dtype=np.int64).astype(
    np.uint64) | np.uint64(1)
_BAND_RNG = np.random.RandomState(7)
_BAND_MULT = _BAND_RNG.randint(1, 2**62, size=64, dtype=np.int64).astype(np.uint64) | np.uint64(1)
_BAND_SALT = _BAND_RNG.randint(1, 2**62, size=64, dtype=np.int64).astype(np.uint64)
_UP_TO_LAST_SPACE = re.compile(r".*\s", re.DOTALL)
_SPACE = re.compile(r"\s")


def _find_at(text: str, start: int) -> int:
    return text.find("@", start)


def _find_url_marker(text: str, start: int) -> int:
    r"""Where `/` or `www.` (any case) first occurs at or after `start`; -1 if nowhere.

    The same as searching `(?i)/|www\.`, with str.find instead of trying a case-folding
    pattern at every position: a `www.` ends in `w.` or `W.`, which are rare in text.
    """
    slash = text.find("/", start)
    stop = slash if slash >= 0 else len(text)
    for dot in ("w.", "W."):
        at = text.find(dot, start + 2, stop + 4)
        while at >= 0:
            if text[at - 2 : at].lower() == "ww":
                stop = min(stop, at - 2)
                break
            at = text.find(dot, at + 1, stop + 4)
    return stop if stop < len(text) else -1


def _sub_runs(text: str, rx: re.Pattern[str], repl: str, find: Callable[[str, int], int]
              ) -> str:
    """`rx.sub(repl, text)` for a pattern whose matches are whitespace-free and hold a marker
    (`find(text, start)`: where the next marker is, -1 when there is none)."""
    out: list[str] = []
    done = 0
    at = find(text, 0)
    while at >= 0:
        before = _UP_TO_LAST_SPACE.match(text, done, at)
        start = before.end() if before else done
        space = _SPACE.search(text, at)
        end = space.start() if space else len(text)
        out.append(text[done:start])
        out.append(rx.sub(repl, text[start:end]))
        done = end
        at = find(text, end)
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


def normalise(text: str, mask: Iterable[str] = ()) -> list[str]:
    """Lower-cased word tokens with names, places, numbers, handles, emails and URLs masked."""
    for needles, rx, repl, marker in _MASKS:
        if any(n in text for n in needles):
            text = rx.sub(repl, text) if marker is None else _sub_runs(text, rx, repl, marker)
    tokens = _WORD.findall(text)
    lowered = _WORD.findall(text.lower())
    if len(lowered) != len(tokens):  # a case mapping changed the word split (rare)
        lowered = [t.lower() for t in tokens]
    extra = {m.lower() for m in mask if m}
    return ["xcap" if t[0].isupper() or low in extra else low
            for t, low in zip(tokens, lowered, strict=True)]


def shingles(tokens: list[str], k: int = SHINGLE_WORDS) -> set[str]:
    return {" ".join(tokens[i : i + k]) for i in range(len(tokens) - k + 1)}


def _word_hash(token: str) -> int:
    """Hash of one token of `_TOKEN` as `normalise` would write it (xnum, xcap or lower-case)."""
    first = token[0]
    if first.isdecimal() or first in "+(":
        word = "xnum"
    elif first.isupper():
        word = "xcap"
    else:
        word = token.lower()
    return zlib.crc32(word.encode("utf-8"))


def _word_hashes(tokens: list[str]) -> list[int]:
    get = _WORD_HASHES.get
    out: list[int | None] = [get(t) for t in tokens]
    if None in out:
        if len(_WORD_HASHES) > WORD_CACHE_MAX:  # bounded: the vocabulary of ads is small
            _WORD_HASHES.clear()
        for i, h in enumerate(out):
            if h is None:
                out[i] = _WORD_HASHES[tokens[i]] = _word_hash(tokens[i])
    return out  # type: ignore[return-value]


_NUM_TAIL_RX = re.compile(r"[\d().,:/\-]*")
_Chunk = tuple[list[int], int, bool, bool]
_CHUNKS: dict[str, _Chunk] = {}


class _PlainHashes(dict[str, int]):
    """Chunks that are one word and start and end no number -> its hash; -1 for any other
    (CRC-32 hashes are >= 0), so `map(_PLAIN.__getitem__, chunks)` needs no Python call."""

    def __missing__(self, key: str) -> int:
        return -1


_PLAIN = _PlainHashes()


def _chunk(chunk: str) -> _Chunk:
    """One whitespace-free run of text: (its token hashes, as `_TOKEN` splits it alone; how
    many leading characters a number open before it would swallow; whether its own first token
    is a number made of those characters; whether it ends inside a number)."""
    tokens = list(_TOKEN.finditer(chunk))
    prefix = _NUM_TAIL_RX.match(chunk)
    lead = prefix.end() if prefix else 0
    lead_num = bool(tokens) and tokens[0].start() < lead  # a number: no word starts in there
    last = tokens[-1].group() if tokens else ""
    ends_open = bool(last) and tokens[-1].end() == len(chunk) and (
        last[0] in "+(" or last[0].isdecimal())
    return _word_hashes([m.group() for m in tokens]), lead, lead_num, ends_open


def _text_word_hashes(text: str) -> list[int]:
    """Hashes of `_TOKEN.findall(text)`'s words, built from cached whitespace-free chunks."""
    return _chunks_hashes(text.split(), False)[0]


def _chunks_hashes(chunks: list[str], open_num: bool) -> tuple[list[int], bool]:
    """Word hashes of whitespace-separated `chunks` (`open_num`: a number is open before the
    first), and whether a number is still open after the last.

    A number may run over spaces ("+49 151 2345"): a chunk that ends inside one swallows the
    leading number characters of the next chunks, as the regex over the whole text would.
    Most chunks are "plain": one word, no number at either end, so they neither swallow nor are
    swallowed. Their hashes are looked up for all chunks at once (`map`, in C); the Python loop
    runs only over the other chunks (numbers, punctuation runs, words not seen yet).
    """
    plain = list(map(_PLAIN.__getitem__, chunks))
    if -1 not in plain:  # all plain (or none): nothing swallowed, nothing left open
        return plain, open_num and not plain
    out: list[int] = []
    extend = out.extend
    get = _CHUNKS.get
    done = 0
    end = len(chunks)
    find = plain.index
    while done < end:
        try:
            at = find(-1, done)
        except ValueError:
            at = end
        if at > done:  # a run of plain chunks: each its one hash; it closes any open number
            extend(plain[done:at])
            open_num = False
            if at == end:
                break
        chunk = chunks[at]
        entry = get(chunk)
        if entry is None:
            if len(_CHUNKS) > WORD_CACHE_MAX:  # _PLAIN's keys are a part of _CHUNKS'
                _CHUNKS.clear()
                _PLAIN.clear()
            entry = _CHUNKS[chunk] = _chunk(chunk)
            hashes, lead, _, ends_open = entry
            if len(hashes) == 1 and not lead and not ends_open:
                _PLAIN[chunk] = hashes[0]
        hashes, lead, lead_num, ends_open = entry
        done = at + 1
        if open_num and lead:
            if lead == len(chunk):  # all of it goes into the open number, which stays open
                continue
            extend(hashes[1:] if lead_num else hashes)
        else:
            extend(hashes)
        open_num = ends_open
    return out, open_num


# Line cache: a line of text -> its word hashes once masked (packed uint32) and whether it
# leaves a number open, for each state it can be entered in and each URL-mask decision of its
# page (slot open + 2 * url; each made when first needed: a line with a 'WWW.' but no '/' is
# masked as a URL only on a page with a '/' or a 'www.' elsewhere). Pages of one site repeat
# many of their lines (navigation, contact blocks, footers, the template itself), which then
# cost one dict lookup. A line seen once maps to `_ONCE`; it gets an entry of its own when
# seen again. A page with few cached lines is hashed whole as before, so text that never
# repeats pays only the look-ups. Bounded (cleared when full, like the word caches): by
# lines, and by characters held.
_Line = list[tuple[bytes, bool] | None]
_ONCE: _Line = []  # (shared, never filled: an entry is a list of four)
_LINES: dict[str, _Line] = {}
LINE_CACHE_MAX = 16_384  # lines (seen once or cached)
LINE_CACHE_CHARS = 2_000_000  # characters of the lines held (a few MB; ~25 MB at worst)
PROMOTE = 8  # lines given an entry at most per page that is mostly new text
LINE_LOOP_MAX = 1024  # pages of more lines are hashed whole (bounds the per-line loop)
LOW_REPEATS = 0.05  # share of lines seen before (moving average) below which pages are
SKIP_PAGES = 7  # hashed whole without a look-up, this many pages in a row
_repeats = 1.0
_skipped = 0
_line_chars = 0


def _mask_contacts(text: str, url: bool | None = None) -> str:
    """Emails, URLs and handles replaced (`normalise`'s first three masks; numbers are matched
    as tokens). None of them matches across whitespace, so a line is masked alike alone, but
    for one decision taken on the whole text: whether the URL mask runs at all (`url`, see
    `_url_masked`; None: decided on `text`, as `normalise` does)."""
    if "@" not in text and (not url if url is not None else
                            "/" not in text and "www." not in text):
        return text
    for i, (needles, rx, repl, marker) in enumerate(_MASKS[:3]):
        if url if i == 1 and url is not None else any(n in text for n in needles):
            text = rx.sub(repl, text) if marker is None else _sub_runs(text, rx, repl, marker)
    return text


def _url_masked(text: str) -> bool:
    """Whether `normalise` runs the URL mask on `text`: its markers ('/' or 'www.') are looked
    for after the email mask, which may take a 'www.' away (never a '/')."""
    if "/" in text:
        return True
    if "www." not in text:
        return False
    _, rx, repl, marker = _MASKS[0]
    if "@" in text and marker is not None:
        text = _sub_runs(text, rx, repl, marker)
    return "www." in text


def _packed(text: str, open_num: bool, url: bool | None = None) -> tuple[bytes, bool]:
    """Word hashes of the masked `text` (entered with a number open or not; `url`: the page's
    URL-mask decision), packed, and whether a number is open at its end."""
    hashes, still_open = _chunks_hashes(_mask_contacts(text, url).split(), open_num)
    return array.array(_U32, hashes).tobytes(), still_open


def _hold(lines: list[str], size: int) -> None:
    """Room for `size` more characters in `_LINES` (cleared when it would be full)."""
    global _line_chars
    if len(_LINES) + len(lines) > LINE_CACHE_MAX or _line_chars + size > LINE_CACHE_CHARS:
        _LINES.clear()
        _line_chars = 0
    _line_chars += size


def _masked_word_hashes(text: str) -> bytes:
    """`_text_word_hashes(_mask_contacts(text))` packed as native uint32, using `_LINES` for
    the lines seen before. Exact: the masks never match across a newline, and a newline is
    whitespace to the token regex's numbers, so the only state carried from line to line is
    "a number is open"; lines not cached are hashed together (a run of text, as a whole)."""
    global _repeats, _skipped
    if text.count("\n") >= LINE_LOOP_MAX:  # a page of very many short lines: no loop over them
        return _packed(text, False)[0]
    if _repeats < LOW_REPEATS and _skipped < SKIP_PAGES:
        # the last pages looked up repeated (almost) no line: only 1 page in SKIP_PAGES + 1
        # is looked up, so text that never repeats pays little for the cache
        _skipped += 1
        return _packed(text, False)[0]
    _skipped = 0
    url = _url_masked(text)
    lines = text.split("\n")
    entries = list(map(_LINES.get, lines))
    new = entries.count(None)
    once = entries.count(_ONCE)
    _repeats = 0.75 * _repeats + 0.25 * (len(entries) - new) / len(entries)
    if (len(entries) - new - once) * 4 < len(entries):
        # mostly lines not cached: the text as a whole, as before; its new lines are marked
        # seen, and a few lines seen on an earlier page get an entry for the next pages (at
        # most PROMOTE a page, so a working set larger than the cache costs little)
        if new:
            _hold(lines, len(text))
            kept = len(entries) - new - once  # (entries of their own: keep them)
            held = [(ln, e) for ln, e in zip(lines, entries, strict=True) if e] if kept else []
            _LINES.update(dict.fromkeys(lines, _ONCE))
            _LINES.update(held)
        if once:
            at = -1
            for _ in range(min(once, PROMOTE)):
                at = entries.index(_ONCE, at + 1)
                if _LINES.get(lines[at]) is _ONCE:
                    _LINES[lines[at]] = [None, None, None, None]
        return _packed(text, False)[0]
    parts: list[bytes] = []
    open_num = False
    run = -1  # first line of the current run of uncached lines
    for i, entry in enumerate(entries):
        if entry is None or entry is _ONCE:
            line = lines[i]
            entry = _LINES.get(line)  # (it may have been seen, or cached, earlier on this page)
            if entry is None:  # first seen: hashed with its run of new lines
                _hold(lines, len(line))
                _LINES[line] = _ONCE
                if run < 0:
                    run = i
                continue
            if entry is _ONCE:  # seen before: an entry of its own now
                entry = _LINES[line] = [None, None, None, None]
        if run >= 0:
            packed, open_num = _packed("\n".join(lines[run:i]), open_num, url)
            parts.append(packed)
            run = -1
        slot = open_num + 2 * url
        state = entry[slot]
        if state is None:
            state = entry[slot] = _packed(lines[i], open_num, url)
        parts.append(state[0])
        open_num = state[1]
    if run >= 0:
        parts.append(_packed("\n".join(lines[run:]), open_num, url)[0])
    return b"".join(parts)


def _text_word_hashes_loop(text: str) -> list[int]:
    """The straightforward form of `_text_word_hashes` (what tests compare it with)."""
    return [_word_hash(t) for t in _TOKEN.findall(text)]


def shingle_hashes(text: str, mask: Iterable[str] = (), k: int = SHINGLE_WORDS) -> np.ndarray:
    """32-bit hashes of the k-word shingles of `normalise(text, mask)` (in text order, repeats
    kept: a MinHash takes minimums, so they do not matter).

    Same tokens as `normalise` (numbers are matched as tokens instead of being replaced first:
    every digit is in a number match either way), each word hashed once per process (a
    bounded cache), the k hashes of a shingle combined in numpy.
    """
    packed = _masked_word_hashes(text)
    n = len(packed) // 4 - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint32)
    words = np.frombuffer(packed, dtype=np.uint32).astype(np.uint64)
    for m in mask:
        if m:
            words[words == zlib.crc32(m.lower().encode("utf-8"))] = _XCAP
    with np.errstate(over="ignore"):
        mixed = words[:n] * _SHINGLE_MULT[0]
        for j in range(1, k):
            mixed += words[j : j + n] * _SHINGLE_MULT[j]
    out: np.ndarray = (mixed >> np.uint64(32)).astype(np.uint32)
    return out


def distinct_at_least(values: np.ndarray, n: int) -> bool:
    """len(set(values)) >= n, usually from a short prefix (a page may open with a long run of
    look-alike navigation lines, hence the second, longer prefix)."""
    if len(values) < n:
        return False
    return any(len(set(values[:stop].tolist())) >= n
               for stop in (4 * n, 16 * n, 128 * n, len(values)))


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser (a bijection that spreads similar inputs apart).
    (Array arithmetic on unsigned integers wraps silently: no np.errstate needed.)"""
    h = h ^ (h >> np.uint32(16))
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


@dataclass(frozen=True, slots=True)
class TemplateMatch:
    cluster_id: int  # the page's template cluster (its own page id when it matched nothing)
    neighbours: tuple[int, ...]  # earlier pages it was found similar to
    merged: tuple[int, ...]  # earlier cluster ids that are now part of cluster_id


class TemplateIndex:
    """Incremental template clustering. Not thread-safe; one owner adds pages."""

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        num_perm: int = DEFAULT_NUM_PERM,
        *,
        shingle_words: int = SHINGLE_WORDS,
        min_shingles: int = MIN_SHINGLES,
        max_representatives: int = MAX_REPRESENTATIVES,
    ) -> None:
        self.threshold = threshold
        self.num_perm = num_perm
        self.shingle_words = shingle_words
        self.min_shingles = min_shingles
        self.max_representatives = max_representatives
        # The LSH bands are tuned below the threshold and weighted against misses: a candidate
        # costs one signature comparison, a missed neighbour costs a split template.
        self._lsh_params = _lsh_params(threshold, num_perm)
        self._lsh_index: MinHashLSH | None = None  # built on first in-memory use (datasketch)
        self._permutations = _affine32_permutations(num_perm, seed=1)
        self._perm_a = np.ascontiguousarray(self._permutations[0][:, None])  # (num_perm, 1)
        self._perm_b = np.ascontiguousarray(self._permutations[1][:, None])
        self._signatures: dict[int, np.ndarray] = {}  # representatives only
        self._parent: dict[int, int] = {}
        self._size: dict[int, int] = {}
        self._represented: dict[int, int] = {}  # root -> representatives in the LSH index

    def __len__(self) -> int:
        return len(self._parent)

    def signature(self, text: str, mask: Iterable[str] = ()) -> MinHash | None:
        """MinHash of the masked text, or None when it is too short to be a template."""
        values = self.sketch(text, mask)
        if values is None:
            return None
        from datasketch import MinHash

        return MinHash(num_perm=self.num_perm, hashvalues=values, permutations=self._permutations,
                       scheme="affine32", hashfunc=zlib.crc32)

    def sketch(self, text: str, mask: Iterable[str] = ()) -> np.ndarray | None:
        """The signature's hash values (uint32; what the store keeps), or None (too short).

        One numpy pass over all shingles: each shingle's hash is combined from its words'
        hashes, pre-mixed and put through the `num_perm` affine permutations at once.
        """
        grams = shingle_hashes(text[:MAX_CHARS], mask, self.shingle_words)
        if not distinct_at_least(grams, self.min_shingles):
            return None
        # (num_perm, shingles): each permutation's row is contiguous, so its minimum is a
        # contiguous reduction (uint32 arithmetic wraps the same in either layout)
        values = np.multiply(self._perm_a, _fmix32(grams))
        values += self._perm_b
        out: np.ndarray = values.min(axis=1)
        return out

    def bands(self, sig: np.ndarray) -> list[int]:
        """LSH band keys of a signature (signed 64-bit, band number folded in): two pages share
        a key when one band of their signatures is equal (the store's LSH, storage/netstate.py).
        """
        b, r = self._lsh_params
        rows = sig[: b * r].astype(np.uint64).reshape(b, r)
        with np.errstate(over="ignore"):
            keys = (rows * _BAND_MULT[:r]).sum(axis=1, dtype=np.uint64) + _BAND_SALT[:b]
        out: list[int] = keys.view(np.int64).tolist()  # Python ints, as int(k) gives
        return out

    @property
    def _lsh(self) -> MinHashLSH:
        """The in-memory LSH (NetworkIndex); the crawl's store-backed network needs only bands."""
        if self._lsh_index is None:
            from datasketch import MinHashLSH

            self._lsh_index = MinHashLSH(num_perm=self.num_perm, params=self._lsh_params)
        return self._lsh_index

    def find(self, page_id: int) -> int:
        """The cluster id of a known page (its own id when it is not known)."""
        parent = self._parent
        root = page_id
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(page_id, page_id) != root:  # path compression
            parent[page_id], page_id = root, parent[page_id]
        return root

    def cluster_size(self, cluster_id: int) -> int:
        return self._size.get(self.find(cluster_id), 0)

    def match(self, page_id: int, text: str, mask: Iterable[str] = ()) -> TemplateMatch:
        """Add a page and say which template cluster it belongs to."""
        if page_id in self._parent:
            return TemplateMatch(self.find(page_id), (), ())
        self._parent[page_id] = page_id
        self._size[page_id] = 1
        mh = self.signature(text, mask)
        if mh is None:
            return TemplateMatch(page_id, (), ())
        sig = mh.hashvalues
        neighbours: list[int] = []
        roots: set[int] = set()
        for cand in self._lsh.query(mh):
            other = self._signatures[cand]
            if np.count_nonzero(other == sig) / self.num_perm >= self.threshold:
                neighbours.append(cand)
                roots.add(self.find(cand))
        root = min(roots | {page_id})
        for r in roots | {page_id}:
            if r != root:
                self._parent[r] = root
                self._size[root] += self._size.pop(r)
                self._represented[root] = self._represented.get(root, 0) + (
                    self._represented.pop(r, 0)
                )
        if self._represented.get(root, 0) < self.max_representatives:
            self._lsh.insert(page_id, mh, check_duplication=False)
            self._signatures[page_id] = sig
            self._represented[root] = self._represented.get(root, 0) + 1
        merged = tuple(sorted(r for r in roots if r != root))
        return TemplateMatch(root, tuple(sorted(neighbours)), merged)

    def add(self, page_id: int, text: str, mask: Iterable[str] = ()) -> int:
        """Add a page; returns its template cluster id (see `match` for merges)."""
        return self.match(page_id, text, mask).cluster_id


# datasketch's choices, computed without importing it at crawl time: `import datasketch` pulls
# in scipy (~0.4-0.7 s of start-up) for LSH parameter optimisation. Tests check both against it.
_KNOWN_LSH_PARAMS = {(DEFAULT_THRESHOLD, DEFAULT_NUM_PERM): (10, 6)}


def _lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) that datasketch's MinHashLSH picks for the candidate threshold."""
    known = _KNOWN_LSH_PARAMS.get((threshold, num_perm))
    if known is not None:
        return known
    from datasketch.lsh import _optimal_param

    b, r = _optimal_param(max(0.1, threshold - LSH_SLACK), num_perm, 0.3, 0.7)
    return int(b), int(r)


def _affine32_permutations(num_perm: int, seed: int) -> np.ndarray:
    """datasketch MinHash(seed=seed, scheme="affine32").permutations, bit for bit."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return np.array([a, b])
