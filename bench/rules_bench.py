"""Rule engine throughput: MB/s of text with the shipped pack and synthetic 10/100/1000-rule packs.

    .venv/bin/python bench/rules_bench.py [--pages 200] [--size 20000] [--seed 1] [--jsonl FILE]

Prints figures (process CPU time, so per core); it is not a test. Targets (issue 3): >= 20 MB/s
per core with the shipped pack, and 1,000 rules cost at most 2x what 10 rules cost on the same
pages. Pages are synthetic multilingual text (~20 KB, accents, some Cyrillic and emoji) with a
few trigger phrases mixed in; `--jsonl` adds pages built from local ads (title/body/contact).
No network: everything is generated in memory or in a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.models import Document
from crawler.rules import RuleSet, default_rules_dir, load_ruleset

COMMON = (
    "the and for with you our we are to of in on at by from this that will your new work job "
    "der die das und mit für ist nicht wir sie ein eine le la les et pour avec vous nous est "
    "el la los las y para con usted es una de het een en van voor met wij zijn il per con siamo "
    "café été über straße señor niño zażółć gęślą jaźń mâine întâlnire città perché"
).split()
TRIGGERS = [
    "payment in USDT only",
    "text my driver for bookings",
    "accommodation provided, no experience needed",
    "new girls in town",
    "passport kept by the employer",
    "Привет 🌹🌹 call zero one seven",
]


def make_words(rng: random.Random, n: int) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyzäöüéèàçñ"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(n)]


def make_pages(rng: random.Random, count: int, size: int, vocab: list[str]) -> list[Document]:
    pages = []
    for i in range(count):
        words: list[str] = []
        length = 0
        while length < size:
            w = rng.choice(COMMON) if rng.random() < 0.7 else rng.choice(vocab)
            if rng.random() < 0.002:
                w = rng.choice(TRIGGERS)
            if rng.random() < 0.08:
                w += rng.choice([".", ",", "\n", "!"])
            words.append(w)
            length += len(w) + 1
        body = " ".join(words)[:size]
        pages.append(
            Document(
                url=f"https://example.test/ad/{i}",
                title=" ".join(rng.choice(COMMON) for _ in range(8)),
                body=body,
                contact="+49 151 0000000\ntelegram: @someone",
                meta=" ".join(rng.choice(COMMON) for _ in range(20)),
            )
        )
    return pages


def jsonl_pages(path: Path, rng: random.Random, count: int, size: int) -> list[Document]:
    """~size-character pages made of ads from a JSONL file (fields title, body, contact).

    Lets you measure on realistic text you have locally (e.g. a labelled development set)
    without copying it into the repository.
    """
    ads = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    pages = []
    for i in range(count):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < size:
            parts.append(rng.choice(ads).get("body", ""))
        first = rng.choice(ads)
        pages.append(
            Document(
                url=f"https://example.test/ad/{i}",
                title=first.get("title", ""),
                body="\n".join(parts)[:size],
                contact=first.get("contact", ""),
            )
        )
    return pages


def synthetic_pack(
    rng: random.Random, n: int, vocab: list[str], rule_vocab: list[str], directory: Path
) -> Path:
    """n rules: 60% keyword rules, 30% regex rules with literal atoms, 10% near/count rules.

    Like real indicator lexicons, most rule words are rare on ordinary pages: each rule takes
    its words from `rule_vocab` (not in the pages), except one rule in ten that also uses a
    page word, so a steady share of rules fires.
    """
    directory.mkdir(parents=True, exist_ok=True)
    docs = []
    for i in range(n):
        kind = i % 10
        words = rng.sample(rule_vocab, 6)
        if i % 10 == 3:
            words[0] = rng.choice(vocab)
        if kind < 6:
            selections = {
                "kw": {"scope": ["title", "body"], "patterns": words[:4]},
                "ctx": {"scope": "body", "patterns": words[4:]},
            }
            condition = "kw and not ctx" if kind % 2 else "2 of (kw) or ctx"
        elif kind < 9:
            selections = {
                "rx": {
                    "scope": "body",
                    "patterns": [
                        {"re": rf"\b({words[0]}|{words[1]})\s+\w+\s+{words[2]}\b"},
                        {"re": rf"\b{words[3]}\w*\s+(?:only|nur|seulement)\b"},
                    ],
                }
            }
            condition = "rx"
        else:
            selections = {
                "a": {"scope": "any", "patterns": words[:2], "modifiers": ["leet"]},
                "b": {"scope": "any", "patterns": words[2:4]},
            }
            condition = "near(a, b, within=5) or count(a) >= 3"
        docs.append(
            {
                "id": f"synthetic.r{i}",
                "title": f"synthetic rule {i}",
                "version": 1,
                "status": "experimental",
                "family": f"fam{i % 7}",
                "level": "low",
                "weight": 1.0,
                "selections": selections,
                "condition": condition,
            }
        )
    (directory / "synthetic.yaml").write_text(
        "\n---\n".join(yaml.safe_dump(d, allow_unicode=True) for d in docs), encoding="utf-8"
    )
    return directory


def measure(rs: RuleSet, pages: list[Document], rounds: int = 3) -> tuple[float, float, int]:
    """Best-of-rounds MB/s (UTF-8 bytes of all scopes), seconds per page, indicators fired.

    Uses process CPU time (this process, one thread): the figure is per core and does not
    depend on what else the machine is running. One warm-up pass builds RE2's lazy DFAs first.
    """
    for p in pages[:20]:
        rs.evaluate(p)
    total_bytes = sum(
        len((p.title + p.body + p.contact + p.meta + p.url).encode("utf-8")) for p in pages
    )
    best = float("inf")
    fired = 0
    for _ in range(rounds):
        t0 = time.process_time()
        fired = sum(len(rs.evaluate(p).indicators) for p in pages)
        best = min(best, time.process_time() - t0)
    return total_bytes / best / 1e6, best / len(pages), fired


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--size", type=int, default=20_000, help="characters of body per page")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--jsonl", type=Path, help="also measure on pages built from ads in this JSONL file"
    )
    args = parser.parse_args()

    rng = random.Random(args.seed)
    vocab = make_words(rng, 20_000)
    rule_vocab = sorted(set(make_words(rng, 30_000)) - set(vocab))
    pages = make_pages(rng, args.pages, args.size, vocab)
    mb = sum(len(p.body.encode()) for p in pages) / 1e6
    print(
        f"pages: {len(pages)} synthetic x ~{args.size} chars body ({mb:.1f} MB of body text; "
        "dense in accents/Cyrillic and in common words), 1 core, CPU time"
    )

    shipped = default_rules_dir()
    if any(shipped.glob("*.yaml")) or any(shipped.glob("*.yml")):
        t0 = time.process_time()
        rs = load_ruleset(shipped)
        load_s = time.process_time() - t0
        mbps, per_page, fired = measure(rs, pages)
        print(
            f"shipped pack ({len(rs)} rules, load {load_s * 1000:.0f} ms): {mbps:7.1f} MB/s  "
            f"{per_page * 1000:6.2f} ms/page  indicators={fired}"
        )
        if args.jsonl:
            real = jsonl_pages(args.jsonl, random.Random(args.seed), args.pages, args.size)
            mbps, per_page, fired = measure(rs, real)
            print(
                f"shipped pack on {args.jsonl.name} pages: {mbps:7.1f} MB/s  "
                f"{per_page * 1000:6.2f} ms/page  indicators={fired}"
            )
    else:
        print("shipped pack: none found in", shipped)

    results: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (10, 100, 1000):
            directory = synthetic_pack(random.Random(n), n, vocab, rule_vocab, Path(tmp) / f"p{n}")
            t0 = time.process_time()
            rs = load_ruleset(directory)
            load_s = time.process_time() - t0
            mbps, per_page, fired = measure(rs, pages)
            results[n] = per_page
            print(
                f"synthetic {n:5d} rules (load {load_s * 1000:5.0f} ms): {mbps:7.1f} MB/s  "
                f"{per_page * 1000:6.2f} ms/page  indicators={fired}"
            )
    print(f"cost ratio 1000 vs 10 rules: {results[1000] / results[10]:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
