"""The long-lived process behind `triage serve`: inbox intake + crawling workers + HTTP API.

    run_service(settings)
      ├── API        uvicorn on a socket we bind ourselves (port 0 works; errors name the key)
      ├── intake     crawler.intake.Inbox watching TRIAGE_INBOX (optional)
      └── workers    N x crawler.pipeline.run_worker (none with --no-crawl)

Shutdown is a sequence (SIGTERM or SIGINT): stop intake, let workers drain in-flight fetches up
to `drain_seconds` and release what is left, stop the API, close the store, log the counts.
A second SIGTERM exits at once (leases then expire and other workers take the URLs).
SIGHUP reloads the rules; a broken edit keeps the set in force.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import os
import secrets
import signal
import socket
import tomllib
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from crawler.errors import SettingsError, TriageError

log = structlog.get_logger("triage.service")

LOG_FORMATS = ("auto", "console", "json")


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true/false")


def _path(raw: str) -> Path:
    return Path(raw).expanduser()


@dataclass(frozen=True)
class ServiceSettings:
    """Settings of `triage serve`: defaults < config file < TRIAGE_* env < command-line flags."""

    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = "triage.db"
    rules_path: Path | None = None
    inbox: Path | None = None
    evidence_dir: Path | None = None
    workers: int = 1
    crawl: bool = True
    api_token: str | None = None
    reviewers_file: Path | None = None
    trusted_user_header: str | None = None
    session_secret: str | None = None
    secure_cookies: bool = False
    drain_seconds: float = 20.0
    inbox_poll_seconds: float = 1.0
    inbox_stable_seconds: float = 2.0
    network_refresh_seconds: float = 120.0  # API-only processes rebuild the network view
    max_upload_bytes: int = 20 * 1024 * 1024
    log_format: str = "auto"
    log_level: str = "info"

    def __post_init__(self) -> None:
        def bad(key: str, message: str) -> SettingsError:
            return SettingsError(ENV_KEYS.get(key, key), message)

        if not 0 <= self.port <= 65535:
            raise bad("port", f"{self.port} is not a TCP port (0-65535)")
        if not 0 <= self.workers <= 64:
            raise bad("workers", "use 0 to 64 workers")
        for name in ("drain_seconds", "inbox_stable_seconds", "network_refresh_seconds"):
            if getattr(self, name) < 0:
                raise bad(name, "must not be negative")
        if self.inbox_poll_seconds <= 0:
            raise bad("inbox_poll_seconds", "must be positive")
        if self.api_token is not None and len(self.api_token) < 16:
            raise bad("api_token", "use at least 16 characters (e.g. `openssl rand -hex 24`)")
        if self.trusted_user_header is not None and not all(
            c.isalnum() or c == "-" for c in self.trusted_user_header
        ):
            raise bad("trusted_user_header", "not an HTTP header name")
        if self.log_format not in LOG_FORMATS:
            raise bad("log_format", f"use one of {', '.join(LOG_FORMATS)}")
        if self.max_upload_bytes < 1024:
            raise bad("max_upload_bytes", "at least 1024")
        if not self.host:
            raise bad("host", "empty")

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @classmethod
    def load(
        cls,
        env: Mapping[str, str] | None = None,
        config_file: Path | None = None,
        **flags: Any,
    ) -> ServiceSettings:
        """Read the config file, then the environment, then flags (None = not given)."""
        source = os.environ if env is None else env
        values: dict[str, Any] = {}
        if config_file is not None:
            values.update(read_config(config_file))
        for name, (key, parse) in _ENV.items():
            raw = source.get(key)
            if raw is None or not raw.strip():
                continue
            try:
                values[name] = parse(raw.strip())
            except (ValueError, TypeError) as exc:
                raise SettingsError(key, f"invalid value {raw!r}: {exc}") from exc
        if "database_url" not in values and source.get("TRIAGE_DB", "").strip():
            values["database_url"] = source["TRIAGE_DB"].strip()
        fields = {f.name for f in dataclasses.fields(cls)}
        for name, value in flags.items():
            if name not in fields:
                raise SettingsError(name, "unknown setting")
            if value is not None:
                values[name] = value
        return cls(**values)


_ENV: dict[str, tuple[str, Callable[[str], Any]]] = {
    "host": ("TRIAGE_HOST", str),
    "port": ("TRIAGE_PORT", int),
    "database_url": ("TRIAGE_DATABASE_URL", str),
    "rules_path": ("TRIAGE_RULES", _path),
    "inbox": ("TRIAGE_INBOX", _path),
    "evidence_dir": ("TRIAGE_EVIDENCE_DIR", _path),
    "workers": ("TRIAGE_WORKERS", int),
    "crawl": ("TRIAGE_CRAWL", _bool),
    "api_token": ("TRIAGE_API_TOKEN", str),
    "reviewers_file": ("TRIAGE_REVIEWERS_FILE", _path),
    "trusted_user_header": ("TRIAGE_TRUSTED_USER_HEADER", str),
    "session_secret": ("TRIAGE_SESSION_SECRET", str),
    "secure_cookies": ("TRIAGE_SECURE_COOKIES", _bool),
    "drain_seconds": ("TRIAGE_DRAIN_SECONDS", float),
    "inbox_poll_seconds": ("TRIAGE_INBOX_POLL_SECONDS", float),
    "inbox_stable_seconds": ("TRIAGE_INBOX_STABLE_SECONDS", float),
    "network_refresh_seconds": ("TRIAGE_NETWORK_REFRESH_SECONDS", float),
    "max_upload_bytes": ("TRIAGE_MAX_UPLOAD_BYTES", int),
    "log_format": ("TRIAGE_LOG_FORMAT", str),
    "log_level": ("TRIAGE_LOG_LEVEL", str),
}
ENV_KEYS = {name: key for name, (key, _) in _ENV.items()}


def read_config(path: Path) -> dict[str, Any]:
    """A YAML or TOML file of settings (field names, e.g. `workers: 4`), or its `serve` table."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SettingsError("--config", f"cannot read {path}: {exc.strerror}") from exc
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(raw.decode("utf-8"))
        else:
            import yaml

            data = yaml.safe_load(raw) or {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise SettingsError("--config", f"{path}: {exc}") from exc
    except Exception as exc:  # yaml.YAMLError has no common base we can import lazily
        raise SettingsError("--config", f"{path}: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("serve"), dict):
        data = data["serve"]
    if not isinstance(data, dict):
        raise SettingsError("--config", f"{path}: expected a table of settings")
    fields = {f.name: f for f in dataclasses.fields(ServiceSettings)}
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in fields:
            raise SettingsError(f"{path.name}:{key}", "unknown setting")
        if name in ("rules_path", "inbox", "evidence_dir", "reviewers_file") and value is not None:
            value = (path.parent / str(value)).expanduser()
        elif isinstance(value, str) and name in _ENV and name not in ("host", "database_url"):
            try:
                value = _ENV[name][1](value)
            except (ValueError, TypeError) as exc:
                raise SettingsError(f"{path.name}:{key}", f"invalid value {value!r}") from exc
        out[name] = value
    return out


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------- access


def build_access(settings: ServiceSettings) -> Any:
    """The AccessPolicy; refuses a non-loopback bind when nothing authenticates callers."""
    from crawler.api.auth import AccessPolicy, Reviewers, SessionSigner

    reviewers = Reviewers(settings.reviewers_file)
    secret = (settings.session_secret or secrets.token_hex(32)).encode()
    access = AccessPolicy(
        api_token=settings.api_token,
        reviewers=reviewers,
        trusted_user_header=settings.trusted_user_header,
        signer=SessionSigner(secret),
        secure_cookies=settings.secure_cookies,
    )
    if access.open and not settings.loopback:
        raise SettingsError(
            "TRIAGE_HOST",
            f"refusing to listen on {settings.host} without authentication: set TRIAGE_API_TOKEN "
            "and add reviewers (`triage reviewer add NAME`), or set TRIAGE_TRUSTED_USER_HEADER "
            "behind an authenticating reverse proxy (see docs/service.md)",
        )
    return access


def bind(host: str, port: int) -> socket.socket:
    """Bind the API socket ourselves, so errors name the setting and port 0 can be used."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise SettingsError("TRIAGE_HOST", f"cannot resolve {host!r}: {exc}") from exc
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise SettingsError(
            "TRIAGE_PORT", f"cannot listen on {host}:{port}: {exc.strerror}"
        ) from exc
    sock.listen(128)
    sock.setblocking(False)
    return sock


# --------------------------------------------------------------------------- the process


def load_rules(path: Path | None) -> Any:
    from crawler.rules import RuleHolder

    return RuleHolder(path)


class Service:
    """Owns the store, the rules, the API server, the intake and the workers of one process."""

    def __init__(self, settings: ServiceSettings, fetch: Any = None) -> None:
        self.settings = settings
        self.fetch = fetch
        self.stop = asyncio.Event()
        self.port: int | None = None
        self._terms = 0
        self.stats: list[Any] = []

    # signals --------------------------------------------------------------------------
    def on_term(self) -> None:
        self._terms += 1
        if self._terms > 1:
            log.warning("second_stop_signal", action="exit now")
            os._exit(1)
        log.info("stopping", drain_seconds=self.settings.drain_seconds)
        self.stop.set()

    def on_hup(self, rules: Any) -> None:
        from crawler.api import metrics

        problems = list(rules.reload() or [])
        version = getattr(rules.current, "version", None)
        if problems:
            metrics.RULE_RELOADS.labels("rejected").inc()
            log.error("rules_reload_rejected", kept_version=version,
                      problems=[str(p) for p in problems])
        else:
            metrics.RULE_RELOADS.labels("ok").inc()
            if version:
                metrics.set_ruleset(str(version))
            log.info("rules_reloaded", version=version)

    @contextmanager
    def signals(self, rules: Any) -> Any:
        loop = asyncio.get_running_loop()
        installed = []
        handlers: dict[int, Callable[[], None]] = {
            signal.SIGTERM: self.on_term,
            signal.SIGINT: self.on_term,
            signal.SIGHUP: lambda: self.on_hup(rules),
        }
        for sig, fn in handlers.items():
            try:
                loop.add_signal_handler(sig, fn)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                pass
        try:
            yield
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    # run ------------------------------------------------------------------------------
    async def run(self, on_ready: Callable[[int], None] | None = None) -> None:
        import uvicorn

        from crawler.api import metrics
        from crawler.api.app import ServiceState, create_app
        from storage import open_store

        s = self.settings
        access = build_access(s)
        rules = load_rules(s.rules_path)
        version = getattr(rules.current, "version", None)
        if version:
            metrics.set_ruleset(str(version))
        sock = bind(s.host, s.port)
        self.port = sock.getsockname()[1]
        async with open_store(s.database_url) as store:
            from crawler.api.netview import NetworkView

            view = await NetworkView(store).build()
            state = ServiceState(store=store, rules=rules, access=access,
                                 max_upload_bytes=s.max_upload_bytes,
                                 workers=s.workers if s.crawl else 0, networks=view)
            config = uvicorn.Config(create_app(state), log_config=None, access_log=False,
                                    lifespan="off", timeout_graceful_shutdown=5,
                                    proxy_headers=False, server_header=False)
            server = _Server(config)
            with self.signals(rules):
                async with asyncio.TaskGroup() as tg:
                    api = tg.create_task(server.serve(sockets=[sock]), name="api")
                    # uvicorn has no "started" event to wait on; poll its flag briefly.
                    while not server.started and not api.done():  # noqa: ASYNC110
                        await asyncio.sleep(0.02)
                    log.info("listening", host=s.host, port=self.port, workers=state.workers,
                             inbox=str(s.inbox) if s.inbox else None, auth=not access.open,
                             ruleset=version)
                    if on_ready is not None:
                        on_ready(self.port)
                    background = []
                    if s.inbox is not None:
                        from crawler.intake import Inbox

                        inbox = Inbox(store, s.inbox, poll_seconds=s.inbox_poll_seconds,
                                      stable_seconds=s.inbox_stable_seconds)
                        background.append(tg.create_task(inbox.run(self.stop), name="inbox"))
                    for n in range(state.workers):
                        background.append(
                            tg.create_task(self._worker(store, rules, n, view), name=f"worker-{n}")
                        )
                    if not state.workers and s.network_refresh_seconds > 0:
                        background.append(tg.create_task(
                            view.refresh_forever(self.stop, s.network_refresh_seconds)))
                    stopper = tg.create_task(self.stop.wait())
                    await asyncio.wait([api, stopper], return_when=asyncio.FIRST_COMPLETED)
                    self.stop.set()
                    await asyncio.gather(*background)  # intake finishes its file, workers drain
                    server.should_exit = True
            counts = await store.counts()
        log.info("stopped", counts=counts, workers=[dataclasses.asdict(x) for x in self.stats])

    async def _worker(self, store: Any, rules: Any, n: int, view: Any) -> None:
        from crawler.api import metrics
        from crawler.evidence import make_sink
        from crawler.networks import StoreNetwork
        from crawler.pipeline import new_worker_id, run_worker

        fetch = self.fetch
        if fetch is None:
            from crawler.settings import FetchSettings

            fetch = FetchSettings.from_env()
        stats = await run_worker(
            store, fetch, rules, worker_id=new_worker_id(n), stop=self.stop,
            observers=[metrics.observe_processed], evidence=make_sink(self.settings.evidence_dir),
            network=(await StoreNetwork.open(store)).hook(feed=view.index),
            shared_politeness=True, drain_seconds=self.settings.drain_seconds,
        )
        self.stats.append(stats)


class _Server:
    """uvicorn.Server without its own signal handling: the Service owns the signals."""

    def __new__(cls, config: Any) -> Any:
        import uvicorn

        class Server(uvicorn.Server):
            @contextmanager
            def capture_signals(self) -> Any:
                yield

            def install_signal_handlers(self) -> None:  # uvicorn < 0.29
                pass

        return Server(config)


def run_service(settings: ServiceSettings, fetch: Any = None) -> None:
    """Configure logging and run the service until it is stopped."""
    from crawler import logs

    logs.configure(settings.log_format, settings.log_level)  # type: ignore[arg-type]
    try:
        asyncio.run(Service(settings, fetch).run())
    except BaseExceptionGroup as group:
        # A task of the group failed (store gone, port lost): report the first known error
        # the way the CLI reports any other, instead of a traceback of the whole group.
        known = group.subgroup(lambda exc: isinstance(exc, TriageError))
        if known is not None:
            first: BaseException = known
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            raise first from group
        raise
