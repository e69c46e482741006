"""Split extracted text into plain and highlighted segments for the hit page.

The template escapes every segment (Jinja2 autoescape); nothing here builds HTML, so page text
can never become markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    marked: bool = False
    label: str = ""  # rule ids whose evidence covers this segment


def spans_for(indicators: list[dict[str, Any]], scope: str) -> list[tuple[int, int, str]]:
    """(start, end, rule_id) of every evidence span in `scope`."""
    out: list[tuple[int, int, str]] = []
    for ind in indicators:
        for ev in ind.get("evidence") or ():
            if ev.get("scope") != scope:
                continue
            start, end = ev.get("start"), ev.get("end")
            if isinstance(start, int) and isinstance(end, int) and 0 <= start < end:
                out.append((start, end, str(ind.get("rule_id", ""))))
    return out


def segments(text: str, spans: list[tuple[int, int, str]]) -> list[Segment]:
    """Cut `text` at span boundaries; overlapping spans merge into one marked segment."""
    n = len(text)
    cuts = sorted(
        (max(0, min(s, n)), max(0, min(e, n)), label) for s, e, label in spans if s < n
    )
    merged: list[tuple[int, int, set[str]]] = []
    for start, end, label in cuts:
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            last_start, last_end, labels = merged[-1]
            merged[-1] = (last_start, max(last_end, end), labels | {label})
        else:
            merged.append((start, end, {label}))
    out: list[Segment] = []
    pos = 0
    for start, end, labels in merged:
        if start > pos:
            out.append(Segment(text[pos:start]))
        out.append(Segment(text[start:end], True, ", ".join(sorted(x for x in labels if x))))
        pos = end
    if pos < n:
        out.append(Segment(text[pos:]))
    return out
