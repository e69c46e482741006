"""A real HTTP server for the demo pages, on loopback (stdlib only).

    with DemoSite("127.0.0.1", 0) as site:     # port 0: any free port
        site.url("/ads/leeds-sophie.html")
        site.requests                          # paths asked for, in order

    triage demo-site --port 8765               # run_forever(): until Ctrl-C

Routes: `/` (an index linking every ad), the pages of crawler/demo/pages.py, `/robots.txt`
(everything allowed but /private/), one image served as image/jpeg, one 301 redirect. Anything
else is 404. `seed_text(base)` is the demo's seed list; seeds/demo.txt is it for port 8765.
"""

from __future__ import annotations

import html
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from crawler.demo.pages import (
    FAKE_JPEG,
    IMAGE_PATH,
    PAGES,
    PRIVATE_PAGE,
    REDIRECT_PATH,
    REDIRECT_TARGET,
    Page,
)

DEFAULT_PORT = 8765
ROBOTS_TXT = b"# triage demo site\nUser-agent: *\nDisallow: /private/\n"
REPO_SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "demo.txt"

_STYLE = """body{font-family:sans-serif;max-width:46em;margin:2em auto;color:#222}
.card{border:1px solid #ccc;border-radius:8px;padding:1em}.contact,.contact-box{background:#f4f4f4}
"""


def _layout(page: Page) -> str:
    """Wrap a page's fragment in one of a few layouts (so extraction sees varied markup)."""
    nav = '<nav><a href="/">Home</a> | <a href="/ads/">Ads</a> | <a href="/jobs/">Jobs</a></nav>'
    seo = '<div class="seo" style="display: none">cheap flights hotels best prices</div>'
    body = page.html
    if page.layout == "card":
        main = f'<main><article class="card">{body}</article></main>'
    elif page.layout == "board":
        ref = f"<p><small>Ref. {page.path}</small></p>"
        main = f'<main><section class="listing">{body}{ref}</section></main>'
    elif page.layout == "forum":
        main = (
            '<table class="forum"><tr><td class="author">guest</td>'
            f'<td class="post">{body}</td></tr></table>'
        )
    elif page.layout == "news":
        main = f'<article><p class="byline">By our reporter</p>{body}</article>'
    else:
        main = f"<div id=content>{body}</div>"
    title = html.escape(page.title)
    return (
        f'<!DOCTYPE html>\n<html lang="{page.lang}"><head>'
        f'<meta charset="{page.charset}"><title>{title} | {html.escape(page.site)}</title>'
        f'<meta name="description" content="{title}"><style>{_STYLE}</style>'
        "<script>window.demo = {analytics: false};</script></head>\n"
        f"<body><header><b>{html.escape(page.site)}</b></header>{nav}{seo}\n{main}\n"
        "<footer><p>Demo site for triage. Every page here is invented.</p></footer>"
        "</body></html>\n"
    )


def _index() -> str:
    items = "\n".join(
        f'<li><a href="{p.path}">{p.path}</a> ({p.lang}, {p.layout})</li>' for p in PAGES
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>triage demo site</title></head><body><h1>triage demo site</h1>"
        "<p>Synthetic pages written for the triage demo. Nothing here is real.</p>"
        f'<ul>{items}</ul><p><img src="{IMAGE_PATH}" alt="photo"></p></body></html>\n'
    )


def routes() -> dict[str, tuple[int, dict[str, str], bytes]]:
    """path -> (status, headers, body) for every route of the demo site."""
    table: dict[str, tuple[int, dict[str, str], bytes]] = {}
    for page in (*PAGES, PRIVATE_PAGE):
        ctype = f"text/html; charset={page.charset}"
        table[page.path] = (200, {"Content-Type": ctype}, _layout(page).encode(page.charset))
    table["/"] = (200, {"Content-Type": "text/html; charset=utf-8"}, _index().encode())
    table["/robots.txt"] = (200, {"Content-Type": "text/plain"}, ROBOTS_TXT)
    table[IMAGE_PATH] = (200, {"Content-Type": "image/jpeg"}, FAKE_JPEG)
    table[REDIRECT_PATH] = (301, {"Location": REDIRECT_TARGET}, b"")
    return table


def seed_text(base: str) -> str:
    """The demo seed list for a site at `base` (e.g. "http://127.0.0.1:8765")."""
    base = base.rstrip("/")
    lines = [
        "# Seeds for `make demo` / `triage demo`: the bundled demo site on loopback.",
        "# Every page is synthetic (crawler/demo/pages.py). Loopback is refused by default;",
        "# the demo allows it with TRIAGE_ALLOW_CIDRS=127.0.0.1/32.",
        "",
        f"{base}/",
    ]
    lines += [f"{base}{p.path}" for p in PAGES]
    lines += [
        "",
        "# an image: refused from its Content-Type, its body is never read",
        f"{base}{IMAGE_PATH}",
        "# a redirect to an ad (followed hop by hop)",
        f"{base}{REDIRECT_PATH}",
        "# disallowed by robots.txt: refused, never fetched",
        f"{base}{PRIVATE_PAGE.path}",
        "# the same ad again (a duplicate: counted, fetched once)",
        f"{base}{PAGES[0].path}#contact",
        "# deliberately bad line (not http/https): reported as a reject with its line number",
        "ftp://127.0.0.1/ads/archive.zip",
        "",
    ]
    return "\n".join(lines)


def demo_seeds_path(port: int = DEFAULT_PORT) -> Path:
    """seeds/demo.txt for the default port (from a checkout), else a generated copy."""
    if port == DEFAULT_PORT and REPO_SEEDS.is_file():
        return REPO_SEEDS
    path = Path(tempfile.gettempdir()) / f"triage-demo-seeds-{port}.txt"
    path.write_text(seed_text(f"http://127.0.0.1:{port}"), encoding="utf-8")
    return path


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "triage-demo"

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            sys.stderr.write(
                f"demo-site: {self.command} {self.path} {args[1] if len(args) > 1 else ''}\n"
            )

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, *, head: bool) -> None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        with self.server.lock:
            self.server.requests.append(path)
        status, headers, body = self.server.table.get(
            path, (404, {"Content-Type": "text/plain; charset=utf-8"}, b"not found\n")
        )
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


class QuietHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server for loopback sites (the demo, the tests): daemon threads, and a
    client that hangs up early (a refused body, a cut download) is not logged as an error."""

    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Server(QuietHTTPServer):
    def __init__(self, address: tuple[str, int], verbose: bool) -> None:
        self.table = routes()
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.verbose = verbose
        super().__init__(address, _Handler)


class DemoSite:
    """The demo site in a background thread; a context manager. Use port 0 for any free port."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, verbose: bool = False):
        self.host = host
        self._port = port
        self._verbose = verbose
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("DemoSite is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    @property
    def requests(self) -> list[str]:
        """Paths requested so far, in order."""
        if self._server is None:
            return []
        with self._server.lock:
            return list(self._server.requests)

    def start(self) -> DemoSite:
        if self._server is not None:
            raise RuntimeError("DemoSite already started")
        self._server = _Server((self.host, self._port), self._verbose)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="triage-demo-site",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> DemoSite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def run_forever(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
    """Serve the demo site in the foreground until Ctrl-C (`triage demo-site`)."""
    server = _Server((host, port), verbose=True)
    bound = server.server_address[1]
    print(f"triage demo site on http://{host}:{bound}/ (Ctrl-C to stop)", flush=True)
    print(f"seed list: {demo_seeds_path(int(bound))}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
