"""The condition language: parse once into a small tree, evaluate per page.

expr     := and_expr ("or" and_expr)*
and_expr := not_expr ("and" not_expr)*
not_expr := "not" not_expr | atom
atom     := "(" expr ")"
          | NUMBER "of" (GLOB | "them" | "(" NAME ")")     # also "all of", "any of"
          | "count" "(" NAME ")" OP NUMBER                  # OP: >= > == != <= <
          | "near" "(" NAME "," NAME "," ["within" "="] NUMBER ")"
          | "extracted" "(" KIND [":" SUBTYPE] ")"
          | NAME
"""

from __future__ import annotations

import fnmatch
import operator
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

ENTITY_KINDS = ("phone", "email", "handle", "wallet")

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+)|(?P<name>[A-Za-z_*][A-Za-z0-9_*]*)|(?P<op>>=|<=|==|!=|>|<|[(),=:]))"
)
_OPS: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    "<": operator.lt,
}


class ConditionError(ValueError):
    """The condition cannot be parsed or names something undefined."""


class Context(Protocol):
    """What a condition asks about one page (implemented by the engine)."""

    def matched(self, sel: str) -> bool: ...
    def distinct(self, sel: str) -> int: ...
    def count(self, sel: str) -> int: ...
    def near(self, a: str, b: str, within: int) -> bool: ...
    def extracted(self, kind: str, subtype: str) -> bool: ...


class Node(Protocol):
    def eval(self, ctx: Context) -> bool: ...
    def names(self, positive: bool) -> Iterator[tuple[str, bool]]: ...


@dataclass(frozen=True, slots=True)
class Sel:
    name: str

    def eval(self, ctx: Context) -> bool:
        return ctx.matched(self.name)

    def names(self, positive: bool) -> Iterator[tuple[str, bool]]:
        yield self.name, positive


@dataclass(frozen=True, slots=True)
class Not:
    child: Node

    def eval(self, ctx: Context) -> bool:
        return not self.child.eval(ctx)

    def names(self, positive: bool) -> Iterator[tuple[str, bool]]:
        yield from self.child.names(not positive)


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]

    def eval(self, ctx: Context) -> bool:
        return all(c.eval(ctx) for c in self.children)

    def names(self, positive: bool) -> Iterator[tuple[str, bool]]:
        for c in self.children:
            yield from c.names(positive)


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]

    def eval(self, ctx: Context) -> bool:
        return any(c.eval(ctx) for c in self.children)

    def names(self, positive: bool) -> Iterator[tuple[str, bool]]:
        for c in self.children:
            yield from c.names(positive)


@dataclass(frozen=True, slots=True)
class OfSelections:
    n: int
    sels: tuple[str, ...]

    def eval(self, ctx: Context) -> bool:
        return sum(1 for s in self.sels if ctx.matched(s)) >= self.n

    def names(self, positive: bool) -> Iterator[tuple[str, bool]]:
        for s in self.sels:
            yield s, positive


@dataclass(frozen=True, slots=True)
class OfPatterns:
    n: int
    sel: str

    def eval(self, ctx: Context) -> bool:
        return ctx.distinct(self.sel) >= self.n

    def names(self, positive: bool) -> Iterator[tuple[str, bool]]:
        yield self.sel, positive


@dataclass(frozen=True, slots=True)
class Count:
    sel: str
    op: str
    k: int

    def eval(self, ctx: Context) -> bool:
        return _OPS[self.op](ctx.count(self.sel), self.k)

    def names(self, positive: bool) -> Iterator[tuple[str, bool]]:
        yield self.sel, positive


@dataclass(frozen=True, slots=True)
class Near:
    a: str
    b: str
    within: int

    def eval(self, ctx: Context) -> bool:
        return ctx.near(self.a, self.b, self.within)

    def names(self, positive: bool) -> Iterator[tuple[str, bool]]:
        yield self.a, positive
        yield self.b, positive


@dataclass(frozen=True, slots=True)
class Extracted:
    kind: str
    subtype: str = ""

    def eval(self, ctx: Context) -> bool:
        return ctx.extracted(self.kind, self.subtype)

    def names(self, positive: bool) -> Iterator[tuple[str, bool]]:
        return iter(())


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition and what it refers to."""

    root: Node
    source: str
    extracted_kinds: frozenset[str]
    # the tree as nested closures (evaluated per rule and page: no method dispatch, no
    # generator per and/or); same answers as root.eval
    fn: Callable[[Context], bool] = field(init=False, compare=False, repr=False)
    # selections that match on every page where the condition is true (see `needed`)
    needs: frozenset[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fn", to_function(self.root))
        object.__setattr__(self, "needs", needed(self.root))

    def eval(self, ctx: Context) -> bool:
        return self.fn(ctx)

    def referenced(self) -> set[str]:
        return {name for name, _ in self.root.names(True)}

    def positive(self) -> set[str]:
        """Selections whose matches are evidence (not only named under `not`)."""
        return {name for name, pos in self.root.names(True) if pos}


class _Parser:
    def __init__(self, source: str, selections: dict[str, int]) -> None:
        self.source = source
        self.selections = selections  # name -> number of patterns
        self.tokens: list[tuple[str, str, int]] = []
        self.kinds: set[str] = set()
        pos = 0
        text = source.rstrip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                col = pos + len(text[pos:]) - len(text[pos:].lstrip()) + 1
                raise ConditionError(f"unexpected character {text[col - 1]!r} at column {col}")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind), m.start(kind) + 1))
            pos = m.end()
        self.i = 0

    # -- token helpers
    def peek(self, offset: int = 0) -> tuple[str, str, int]:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else ("end", "", len(self.source) + 1)

    def take(self) -> tuple[str, str, int]:
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        kind, text, col = self.take()
        if text != value:
            found = "end of condition" if kind == "end" else repr(text)
            raise ConditionError(f"expected {value!r} at column {col}, found {found}")

    def is_word(self, word: str, offset: int = 0) -> bool:
        kind, text, _ = self.peek(offset)
        return kind == "name" and text == word

    def selection(self) -> str:
        kind, text, col = self.take()
        if kind != "name" or text in _KEYWORDS:
            found = "end of condition" if kind == "end" else repr(text)
            raise ConditionError(f"expected a selection name at column {col}, found {found}")
        if text not in self.selections:
            raise ConditionError(f"selection {text!r} is not defined (column {col})")
        return text

    def number(self) -> int:
        kind, text, col = self.take()
        if kind != "num":
            raise ConditionError(f"expected a number at column {col}, found {text or 'end'!r}")
        return int(text)

    # -- grammar
    def parse(self) -> Condition:
        if not self.tokens:
            raise ConditionError("condition is empty")
        root = self.expr()
        kind, text, col = self.peek()
        if kind != "end":
            raise ConditionError(f"unexpected {text!r} at column {col}")
        return Condition(root, self.source, frozenset(self.kinds))

    def expr(self) -> Node:
        children = [self.and_expr()]
        while self.is_word("or"):
            self.take()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(_cheap_first(children))

    def and_expr(self) -> Node:
        children = [self.not_expr()]
        while self.is_word("and"):
            self.take()
            children.append(self.not_expr())
        return children[0] if len(children) == 1 else And(_cheap_first(children))

    def not_expr(self) -> Node:
        if self.is_word("not"):
            self.take()
            return Not(self.not_expr())
        return self.atom()

    def atom(self) -> Node:
        kind, text, _col = self.peek()
        if text == "(":
            self.take()
            node = self.expr()
            self.expect(")")
            return node
        if kind == "num" or (kind == "name" and text in ("all", "any") and self.is_word("of", 1)):
            return self.of()
        if kind == "name" and text == "count" and self.peek(1)[1] == "(":
            return self.count()
        if kind == "name" and text == "near" and self.peek(1)[1] == "(":
            return self.near()
        if kind == "name" and text == "extracted" and self.peek(1)[1] == "(":
            return self.extracted()
        return Sel(self.selection())

    def of(self) -> Node:
        _kind, text, _col = self.take()
        self.expect("of")
        if self.peek()[1] == "(":
            self.take()
            sel = self.selection()
            self.expect(")")
            size = self.selections[sel]
            n = size if text == "all" else 1 if text == "any" else int(text)
            if n < 1 or n > size:
                raise ConditionError(
                    f"'{text} of ({sel})' needs {n} distinct patterns but {sel!r} has {size}"
                )
            return OfPatterns(n, sel)
        gkind, glob, gcol = self.take()
        if gkind != "name":
            raise ConditionError(f"expected selection names or 'them' after 'of' at column {gcol}")
        names = (
            sorted(self.selections)
            if glob == "them"
            else sorted(s for s in self.selections if fnmatch.fnmatchcase(s, glob))
        )
        if not names:
            raise ConditionError(f"{glob!r} matches no selection (column {gcol})")
        n = len(names) if text == "all" else 1 if text == "any" else int(text)
        if n < 1 or n > len(names):
            raise ConditionError(
                f"'{text} of {glob}' needs {n} selections but only {len(names)} match"
            )
        return OfSelections(n, tuple(names))

    def count(self) -> Node:
        self.take()
        self.expect("(")
        sel = self.selection()
        self.expect(")")
        _kind, op, col = self.take()
        if op not in _OPS:
            raise ConditionError(f"expected a comparison (>=, >, ==, !=, <=, <) at column {col}")
        return Count(sel, op, self.number())

    def near(self) -> Node:
        self.take()
        self.expect("(")
        a = self.selection()
        self.expect(",")
        b = self.selection()
        self.expect(",")
        if self.is_word("within"):
            self.take()
            self.expect("=")
        within = self.number()
        self.expect(")")
        return Near(a, b, within)

    def extracted(self) -> Node:
        self.take()
        self.expect("(")
        _kind, text, col = self.take()
        if text not in ENTITY_KINDS:
            raise ConditionError(
                f"extracted() takes one of {', '.join(ENTITY_KINDS)} "
                f"at column {col}, found {text!r}"
            )
        subtype = ""
        if self.peek()[1] == ":":
            self.take()
            skind, subtype, scol = self.take()
            if skind != "name":
                raise ConditionError(f"expected a subtype after ':' at column {scol}")
        self.expect(")")
        self.kinds.add(text)
        return Extracted(text, subtype.lower())


_KEYWORDS = frozenset({"and", "or", "not", "of", "them", "count", "near", "extracted", "within"})


def cost(node: Node) -> int:
    """Rough evaluation cost: a presence test is free, count() needs every match's position,
    near() also compares them."""
    if isinstance(node, Near):
        return 2
    if isinstance(node, Count):
        return 1
    if isinstance(node, Not):
        return cost(node.child)
    if isinstance(node, (And, Or)):
        return max(cost(c) for c in node.children)
    return 0


def _cheap_first(children: list[Node]) -> tuple[Node, ...]:
    """Children ordered cheapest first (stable): `near(a, b) and job` tests `job` first.

    Conditions have no side effects, so the order only changes how soon and/or short-circuit.
    """
    return tuple(sorted(children, key=cost))


def to_function(node: Node) -> Callable[[Context], bool]:
    """`node.eval` as nested closures (same evaluation order and short-circuits)."""
    if isinstance(node, Sel):
        name = node.name
        return lambda ctx: ctx.matched(name)
    if isinstance(node, Not):
        child = to_function(node.child)
        return lambda ctx: not child(ctx)
    if isinstance(node, (And, Or)):
        fns = tuple(to_function(c) for c in node.children)
        return _all(fns) if isinstance(node, And) else _any(fns)
    if isinstance(node, OfSelections):
        n, sels = node.n, node.sels
        return lambda ctx: sum(1 for s in sels if ctx.matched(s)) >= n
    return node.eval  # count, near, extracted, N of (selection): one call each anyway


def needed(node: Node) -> frozenset[str]:
    """Selections that match (`ctx.matched`) on every page where `node` is true: the engine
    skips a rule whose needed selections did not all match without evaluating it. A
    selection that did not match has no hits, so its distinct() and count() are 0 and near()
    with it is false."""
    if isinstance(node, Sel):
        return frozenset({node.name})
    if isinstance(node, And):
        return frozenset().union(*(needed(c) for c in node.children))
    if isinstance(node, Or):
        return frozenset.intersection(*(needed(c) for c in node.children))
    if isinstance(node, OfSelections):
        return frozenset(node.sels) if node.n >= len(node.sels) and node.n > 0 else frozenset()
    if isinstance(node, OfPatterns):
        return frozenset({node.sel}) if node.n > 0 else frozenset()
    if isinstance(node, Count):
        return frozenset() if _OPS[node.op](0, node.k) else frozenset({node.sel})
    if isinstance(node, Near):
        return frozenset({node.a, node.b})
    return frozenset()  # not, extracted


Fn = Callable[[Context], bool]


def _all(fns: tuple[Fn, ...]) -> Fn:
    """`all(f(ctx) for f in fns)`, unrolled for the usual sizes."""
    if len(fns) == 2:
        a, b = fns
        return lambda ctx: a(ctx) and b(ctx)
    if len(fns) == 3:
        a, b, c = fns
        return lambda ctx: a(ctx) and b(ctx) and c(ctx)
    if len(fns) == 4:
        a, b, c, d = fns
        return lambda ctx: a(ctx) and b(ctx) and c(ctx) and d(ctx)
    if len(fns) == 5:
        a, b, c, d, e = fns
        return lambda ctx: a(ctx) and b(ctx) and c(ctx) and d(ctx) and e(ctx)
    return lambda ctx: all(f(ctx) for f in fns)


def _any(fns: tuple[Fn, ...]) -> Fn:
    """`any(f(ctx) for f in fns)`, unrolled for the usual sizes."""
    if len(fns) == 2:
        a, b = fns
        return lambda ctx: a(ctx) or b(ctx)
    if len(fns) == 3:
        a, b, c = fns
        return lambda ctx: a(ctx) or b(ctx) or c(ctx)
    return lambda ctx: any(f(ctx) for f in fns)


def parse_condition(source: str, selections: dict[str, int]) -> Condition:
    """Parse `source`; `selections` maps each defined selection to its number of patterns."""
    return _Parser(source, selections).parse()


def always_possible(cond: Condition, selections: Sequence[str]) -> bool:
    """Can the condition be true on a page where no selection matched (e.g. `not x`)?"""

    class _Empty:
        def __init__(self, kinds: frozenset[str]) -> None:
            self.kinds = kinds

        def matched(self, sel: str) -> bool:
            return False

        def distinct(self, sel: str) -> int:
            return 0

        def count(self, sel: str) -> int:
            return 0

        def near(self, a: str, b: str, within: int) -> bool:
            return False

        def extracted(self, kind: str, subtype: str) -> bool:
            return kind in self.kinds

    kinds = sorted(cond.extracted_kinds)
    for mask in range(1 << len(kinds)):
        present = frozenset(k for i, k in enumerate(kinds) if mask >> i & 1)
        if cond.eval(_Empty(present)):
            return True
    return False
