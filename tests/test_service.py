"""`triage serve`: settings, access refusal, and the real process (inbox, API, signals, drain)."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from crawler.errors import SettingsError
from crawler.service import ServiceSettings, build_access, is_loopback
from tests.support.server import LoopbackSite
from tests.test_api_support import BROKEN_RULE, RULE, TOKEN, open_test_store, write_rules

TRIAGE = [sys.executable, "-m", "crawler"]


# --------------------------------------------------------------------------- settings


def test_flags_beat_env_beat_config_file(tmp_path: Path) -> None:
    config = tmp_path / "serve.yaml"
    config.write_text("workers: 3\nport: 9001\ninbox: in\ndrain_seconds: 5\n")
    env = {"TRIAGE_PORT": "9002", "TRIAGE_WORKERS": "2"}
    s = ServiceSettings.load(env, config, workers=4)
    assert (s.workers, s.port, s.drain_seconds) == (4, 9002, 5.0)
    assert s.inbox == tmp_path / "in"  # relative to the config file


def test_toml_config_with_a_serve_table(tmp_path: Path) -> None:
    config = tmp_path / "triage.toml"
    config.write_text('[serve]\nhost = "::1"\nworkers = 0\n')
    s = ServiceSettings.load({}, config)
    assert (s.host, s.workers, s.loopback) == ("::1", 0, True)


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"TRIAGE_PORT": "eighty"}, "TRIAGE_PORT"),
        ({"TRIAGE_PORT": "70000"}, "TRIAGE_PORT"),
        ({"TRIAGE_WORKERS": "-1"}, "TRIAGE_WORKERS"),
        ({"TRIAGE_CRAWL": "maybe"}, "TRIAGE_CRAWL"),
        ({"TRIAGE_API_TOKEN": "short"}, "TRIAGE_API_TOKEN"),
        ({"TRIAGE_TRUSTED_USER_HEADER": "X User"}, "TRIAGE_TRUSTED_USER_HEADER"),
        ({"TRIAGE_LOG_FORMAT": "xml"}, "TRIAGE_LOG_FORMAT"),
    ],
)
def test_a_bad_setting_names_its_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(SettingsError) as err:
        ServiceSettings.load(env)
    assert err.value.key == key


def test_an_unknown_config_key_is_named(tmp_path: Path) -> None:
    config = tmp_path / "serve.yaml"
    config.write_text("wokers: 3\n")
    with pytest.raises(SettingsError, match="wokers"):
        ServiceSettings.load({}, config)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("triage.example", False)],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_public_bind_without_auth_is_refused() -> None:
    with pytest.raises(SettingsError) as err:
        build_access(ServiceSettings(host="0.0.0.0"))
    assert err.value.key == "TRIAGE_HOST"


def test_a_public_bind_with_a_token_or_proxy_header_is_allowed() -> None:
    assert not build_access(ServiceSettings(host="0.0.0.0", api_token=TOKEN)).open
    assert not build_access(
        ServiceSettings(host="0.0.0.0", trusted_user_header="X-Remote-User")
    ).open


def test_serve_refuses_to_start_on_a_public_address_without_auth(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    done = subprocess.run(
        [*TRIAGE, "serve", "--host", "0.0.0.0", "--port", "0", "--no-crawl",
         "--db", str(tmp_path / "x.db")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "TRIAGE_HOST" in done.stderr and "without authentication" in done.stderr
    assert not (tmp_path / "x.db").exists()  # refused before touching anything


def test_reviewer_add_stores_a_hash_not_the_password(tmp_path: Path) -> None:
    done = subprocess.run(
        [*TRIAGE, "reviewer", "add", "ana", "--password-stdin",
         "--reviewers-file", str(tmp_path / "r.json")],
        input="a long enough password\n", capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    stored = json.loads((tmp_path / "r.json").read_text())
    assert stored["ana"].startswith("scrypt$") and "a long enough" not in stored["ana"]
    assert oct((tmp_path / "r.json").stat().st_mode & 0o777) == "0o600"


# --------------------------------------------------------------------------- the real process


class Serve:
    """`triage serve` as a child process; JSON log lines are collected from its stderr."""

    def __init__(self, tmp: Path, *args: str, env: dict[str, str] | None = None) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
        base.update({"TRIAGE_LOG_FORMAT": "json", "TRIAGE_INBOX_POLL_SECONDS": "0.1",
                     "TRIAGE_INBOX_STABLE_SECONDS": "0.2"})
        base.update(env or {})
        self.db = tmp / "serve.db"
        self.proc = subprocess.Popen(
            [*TRIAGE, "serve", "--port", "0", "--db", str(self.db), *args],
            env=base, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            listening = self.wait_for(lambda e: e.get("event") == "listening", 30)
        except BaseException:
            self.stop()
            raise
        self.url = f"http://127.0.0.1:{listening['port']}"

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                self.events.put({"event": "text", "line": line})

    def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        for event in self.seen:
            if match(event):
                return event
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and self.events.empty():
                    break
                continue
            self.seen.append(event)
            if match(event):
                return event
        raise AssertionError(f"no matching log event; seen: {self.seen[-15:]}")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.close()

    def close(self) -> None:
        """Collect the remaining log lines and close the pipe (the process has exited)."""
        self._reader.join(10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    return write_rules(tmp_path / "rules")


@pytest.mark.slow
def test_serve_takes_inbox_files_serves_the_api_and_stops_on_sigterm(
    tmp_path: Path, rules_dir: Path
) -> None:
    inbox = tmp_path / "inbox"
    server = Serve(tmp_path, "--no-crawl", "--inbox", str(inbox), "--rules", str(rules_dir))
    try:
        assert httpx.get(server.url + "/healthz").status_code == 200
        ready = httpx.get(server.url + "/readyz").json()
        assert ready["ready"] is True
        (inbox / ".ops.txt.tmp").write_text("https://example.org/1\nhttps://example.org/2\nbad\n")
        os.replace(inbox / ".ops.txt.tmp", inbox / "ops.txt")
        server.wait_for(lambda e: e.get("event") == "inbox_file_processed", 15)
        receipt = json.loads((inbox / "processed" / "ops.txt.receipt.json").read_text())
        assert (receipt["accepted"], receipt["rejected"]) == (2, 1)
        batches = httpx.get(server.url + "/api/batches").json()
        assert [b["batch_id"] for b in batches] == [receipt["batch_id"]]
        assert "triage_batches_total" in httpx.get(server.url + "/metrics").text

        seeds = tmp_path / "more.txt"
        seeds.write_text("https://example.org/3\n")
        sent = subprocess.run([*TRIAGE, "submit-http", "--server", server.url, str(seeds)],
                              capture_output=True, text=True, timeout=60)
        assert sent.returncode == 0, sent.stderr
        assert json.loads(sent.stdout)["accepted"] == 1
        again = subprocess.run([*TRIAGE, "submit-http", "--server", server.url, str(seeds)],
                               capture_output=True, text=True, timeout=60)
        assert json.loads(again.stdout)["already_submitted"] is True
    finally:
        code = server.stop()
    assert code == 0
    server.wait_for(lambda e: e.get("event") == "stopped", 1)


@pytest.mark.slow
def test_sighup_reload_keeps_the_old_rules_on_a_broken_edit(
    tmp_path: Path, rules_dir: Path
) -> None:
    server = Serve(tmp_path, "--no-crawl", "--rules", str(rules_dir))
    try:
        before = httpx.get(server.url + "/api/rules").json()["version"]
        write_rules(rules_dir, BROKEN_RULE)
        server.signal(signal.SIGHUP)
        server.wait_for(lambda e: e.get("event") == "rules_reload_rejected", 15)
        assert httpx.get(server.url + "/api/rules").json()["version"] == before
        assert httpx.get(server.url + "/readyz").status_code == 200
        write_rules(rules_dir, RULE.replace("version: 1", "version: 2"))
        server.signal(signal.SIGHUP)
        server.wait_for(lambda e: e.get("event") == "rules_reloaded"
                        and e.get("version") != before, 15)
        assert httpx.get(server.url + "/api/rules").json()["version"] != before
    finally:
        assert server.stop() == 0


def _slow_page(seconds: float, body: bytes) -> Callable[[BaseHTTPRequestHandler], None]:
    def handler(req: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        req.send_response(200)
        req.send_header("Content-Type", "text/html; charset=utf-8")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        try:
            req.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    return handler


async def _final_state(db: Path) -> tuple[list[str], list[Any]]:
    async with open_test_store(db) as store:
        urls = await store.list_urls()
        hits = await store.list_hits(status=None)
        return [u.state for u in urls], hits


@pytest.fixture
def slow_site() -> Iterator[LoopbackSite]:
    page = (b"<html><head><title>Ad</title></head><body>New in town. "
            b"Text my driver for appointments.</body></html>")
    with LoopbackSite() as site:
        site.route("/fast", body=page)
        for n in range(4):
            site.route(f"/slow{n}", handler=_slow_page(3.0, page))
        yield site


@pytest.mark.slow
def test_sigterm_with_fetches_in_flight_leaves_nothing_leased_or_half_written(
    tmp_path: Path, rules_dir: Path, slow_site: LoopbackSite
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    urls = [slow_site.url("/fast")] + [slow_site.url(f"/slow{n}") for n in range(4)]
    (inbox / "s.txt").write_text("\n".join(urls) + "\n")
    server = Serve(
        tmp_path, "--workers", "1", "--inbox", str(inbox), "--rules", str(rules_dir),
        "--drain-seconds", "0.5",
        env={"TRIAGE_ALLOW_CIDRS": "127.0.0.1/32", "TRIAGE_PER_HOST_RPS": "0",
             "TRIAGE_PER_HOST_CONCURRENCY": "8"},
    )
    try:
        server.wait_for(lambda e: e.get("event") == "url_done" and
                        str(e.get("url", "")).endswith("/fast"), 30)
        deadline = time.monotonic() + 10  # the slow pages are being fetched now
        while sum(r.path.startswith("/slow") for r in slow_site.requests) < 4:
            assert time.monotonic() < deadline, slow_site.requests
            time.sleep(0.05)
        metrics = httpx.get(server.url + "/metrics").text
        assert 'triage_fetches_total{outcome="fetched",reason="ok"} 1.0' in metrics
        assert 'triage_hits_recorded_total{priority=' in metrics
        assert 'triage_urls{state="fetching"} 4.0' in metrics
    finally:
        code = server.stop()
    assert code == 0
    server.wait_for(lambda e: e.get("event") == "released_unfinished", 1)
    states, hits = asyncio.run(_final_state(server.db))
    assert "fetching" not in states  # no lease left behind
    assert sorted(states) == ["done", "queued", "queued", "queued", "queued"]
    assert len(hits) == 1 and hits[0].page_id is not None  # the finished page, whole
    assert hits[0].url.endswith("/fast")


@pytest.mark.slow
def test_a_second_sigterm_exits_at_once(
    tmp_path: Path, rules_dir: Path, slow_site: LoopbackSite
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "s.txt").write_text(slow_site.url("/slow0") + "\n")
    server = Serve(
        tmp_path, "--workers", "1", "--inbox", str(inbox), "--rules", str(rules_dir),
        "--drain-seconds", "60", env={"TRIAGE_ALLOW_CIDRS": "127.0.0.1/32"},
    )
    deadline = time.monotonic() + 15
    while not any(r.path == "/slow0" for r in slow_site.requests):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    server.signal(signal.SIGTERM)
    server.wait_for(lambda e: e.get("event") == "draining", 10)
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    try:
        assert server.proc.wait(10) == 1
        assert time.monotonic() - started < 2
    finally:
        server.stop()
