"""The `voicedesk` command: results on standard output, warnings and progress on standard error."""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import sys
import threading
import time
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.db import make_engine, make_sessionmaker
from intake.envelopes import SEALER_LIFETIME_SECONDS, publish_envelope_keys
from intake.models import (
    ApiToken,
    Business,
    BusinessKind,
    Organisation,
    Role,
    SupplyLink,
    User,
)
from intake.schema import upgrade
from intake.settings import Settings, SettingsError
from safeguards import audit, redaction
from safeguards import keys as keyfiles
from safeguards.keycheck import WrongKey, check_keys
from safeguards.passwords import hash_password, new_token, token_hash
from safeguards.sealing import EnvelopeKeys

logger = logging.getLogger("voicedesk")
# `keys rotate` stops passing over rows a worker has held this long after the last one.
ROTATION_GIVES_UP_AFTER = 300.0


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except (SettingsError, keyfiles.KeyConfigError) as exc:
        raise click.ClickException(str(exc)) from exc


def _say(message: str) -> None:
    click.echo(message, err=True)


def _session(settings: Settings) -> Session:
    return make_sessionmaker(make_engine(settings.database_url))()


def init_database(settings: Settings) -> None:
    """Create or migrate the schema; generate development keys if none are configured."""
    settings.instance.mkdir(parents=True, exist_ok=True)
    if keyfiles.uses_dev_keys(settings) and keyfiles.ensure_dev_keys(settings):
        _say(f"generated development keys in {keyfiles.dev_key_dir(settings)}")
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with make_sessionmaker(engine)() as session:
        publish_envelope_keys(session, EnvelopeKeys(keyfiles.load_vault_ring(settings)))
        session.commit()
    engine.dispose()


class _Group(click.Group):
    """Every command: a wrong or missing key ends it with the reason, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (WrongKey, keyfiles.KeyConfigError) as exc:
            raise click.ClickException(f"refusing to start: {exc}") from exc


@click.group(cls=_Group)
def main() -> None:
    """Worker Voice Desk: intake bot and caseworker console."""
    redaction.install()


@main.command()
def init() -> None:
    """Create or migrate the schema (Alembic upgrade head)."""
    settings = _settings()
    init_database(settings)
    click.echo("database ready")


# --- organisations, users, tokens --------------------------------------------


def _split(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def create_organisation(
    session: Session, name: str, languages: list[str], countries: list[str]
) -> Organisation:
    organisation = Organisation(
        name=name, languages=languages, countries=[c.upper() for c in countries]
    )
    session.add(organisation)
    session.flush()
    audit.record(session, actor="cli", action="org.create", target=f"org:{organisation.id}")
    return organisation


def create_user(
    session: Session,
    email: str,
    org_name: str,
    role: str,
    password: str,
    business_name: str | None = None,
) -> User:
    organisation = session.scalar(select(Organisation).where(Organisation.name == org_name))
    if organisation is None:
        raise click.ClickException(f"no organisation named {org_name!r}")
    if len(password) < 12:
        raise click.ClickException("a password has at least 12 characters")
    business_id = None
    if role == Role.PARTNER and business_name:
        business = session.scalar(
            select(Business).where(
                Business.name == business_name,
                Business.kind.in_([BusinessKind.BRAND.value, BusinessKind.SUPPLIER.value]),
            )
        )
        if business is None:
            raise click.ClickException(f"no brand or supplier named {business_name!r}")
        business_id = business.id
    elif business_name:
        raise click.ClickException("--business is for partner users only")
    user = User(
        email=email.strip().lower(),
        organisation_id=organisation.id,
        role=role,
        password_hash=hash_password(password),
        business_id=business_id,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor="cli", action="user.create", target=f"user:{user.id}", role=role)
    return user


def issue_token(session: Session, user: User) -> str:
    token = new_token()
    session.add(ApiToken(user_id=user.id, token_hash=token_hash(token)))
    session.flush()
    audit.record(session, actor="cli", action="token.create", target=f"user:{user.id}")
    return token


@main.group()
def org() -> None:
    """Organisations (CSOs)."""


@org.command("create")
@click.argument("name")
@click.option("--languages", help="worker languages this organisation serves, e.g. my,th")
@click.option("--countries", help="countries it works in, e.g. TH,MM")
def org_create(name: str, languages: str | None, countries: str | None) -> None:
    """Add a CSO organisation."""
    with _session(_settings()) as session:
        if session.scalar(select(Organisation).where(Organisation.name == name)):
            raise click.ClickException(f"organisation {name!r} exists already")
        organisation = create_organisation(session, name, _split(languages), _split(countries))
        session.commit()
        click.echo(organisation.id)


@main.group()
def user() -> None:
    """Console users."""


@user.command("create")
@click.argument("email")
@click.option("--org", "org_name", required=True, help="organisation name")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option(
    "--business", "business_name", help="a partner's brand or supplier (its supply chain)"
)
def user_create(email: str, org_name: str, role: str, business_name: str | None) -> None:
    """Add a user; the password is read from standard input."""
    if role == Role.PARTNER and not business_name:
        raise click.ClickException("a partner user needs --business: their brand or supplier")
    password = sys.stdin.readline().rstrip("\n")
    with _session(_settings()) as session:
        if session.scalar(select(User).where(User.email == email.strip().lower())):
            raise click.ClickException(f"user {email} exists already")
        created = create_user(session, email, org_name, role, password, business_name)
        session.commit()
        click.echo(created.id)


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("email")
def token_create(email: str) -> None:
    """Print a new API token for that user (the token alone on standard output)."""
    with _session(_settings()) as session:
        found = session.scalar(select(User).where(User.email == email.strip().lower()))
        if found is None:
            raise click.ClickException(f"no user {email}")
        value = issue_token(session, found)
        session.commit()
    click.echo(value)


# --- keys --------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Key rings."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Add a new key to each key ring and re-encrypt everything under it."""
    from safeguards.rotation import reseal, sealed_columns

    settings = _settings()
    files = keyfiles.key_files(settings)
    if files.content is None or files.vault is None:
        raise click.ClickException(
            "the key rings come from VOICEDESK_CONTENT_KEYS / VOICEDESK_VAULT_KEYS; use the "
            "*_FILE variants so rotation can add a key, or add one by hand "
            "(the last key listed seals)"
        )
    content = keyfiles.load_content_ring(settings)
    vault = keyfiles.load_vault_ring(settings)
    new_content = keyfiles.append_key(files.content)
    new_vault = keyfiles.append_key(files.vault)
    content.refresh()
    vault.refresh()
    _say(f"new content key {new_content}, new vault key {new_vault}")
    envelopes = EnvelopeKeys(vault)
    with _session(settings) as session:
        check_keys(session, [content, vault])  # the new keys' check values, before use
        publish_envelope_keys(session, envelopes)
        audit.record(
            session,
            actor="cli",
            action="keys.rotate",
            target=None,
            content=new_content,
            vault=new_vault,
        )
        session.commit()

        # Web processes go on sealing to the envelope key they looked up before this
        # for up to SEALER_LIFETIME_SECONDS: a last pass after that finds what they sealed.
        settle_until = time.monotonic() + SEALER_LIFETIME_SECONDS + 2

        def progress(name: str, done: int, total: int) -> None:
            _say(f"  {name}: {done}/{total}")

        done = reseal(
            session,
            sealed_columns(content, vault, envelopes),
            progress,
            settle_until=settle_until,
            give_up_at=settle_until + ROTATION_GIVES_UP_AFTER,
        )
    for name, count in done.counts.items():
        click.echo(f"{name}\t{count} re-encrypted")
    if done.left:
        for name, count in done.left.items():
            _say(f"{name}: {count} still under an older key (held by a worker all along)")
        raise click.ClickException(
            "not everything is under the new keys yet: keep the older keys in the rings "
            "(everything still opens) and run `voicedesk keys rotate` again later"
        )
    _say(f"everything is under the new keys ({done.passes} passes)")


# --- audit -------------------------------------------------------------------


@main.group("audit")
def audit_group() -> None:
    """The audit log."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain; exit 1 at the first entry that breaks it."""
    from sqlalchemy import func

    from intake.models import AuditEntry

    with _session(_settings()) as session:
        total = session.scalar(select(func.count(AuditEntry.id))) or 0
        broken = audit.verify_log(session)
    if broken is not None:
        click.echo(f"audit log BROKEN at entry {broken} (of {total})")
        raise SystemExit(1)
    click.echo(f"audit log intact: {total} entries")


# --- exports -----------------------------------------------------------------


@main.group("export")
def export_group() -> None:
    """Exports for the public."""


@export_group.command("public")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    help="write to this file instead of standard output",
)
def export_public(output_format: str, out: str | None) -> None:
    """Network-wide anonymised counts by country, sector, category and month."""
    from intake import exports

    settings = _settings()
    with _session(settings) as session:
        rows = exports.public_rows(session, settings)
        audit.record(
            session,
            actor="cli",
            action="export.public",
            target=None,
            format=output_format,
            rows=len(rows),
        )
        session.commit()
    data = exports.as_csv(rows) if output_format == "csv" else exports.as_json(rows, settings)
    hidden = f"<{settings.small_cell}"
    suppressed = sum(1 for row in rows if row["workers"] == hidden)
    if out is None:
        click.echo(data, nl=False)
    else:
        with open(out, "w", encoding="utf-8", newline="") as file:
            file.write(data)
    _say(
        f"{len(rows)} rows{f' to {out}' if out else ''}; {suppressed} from fewer than "
        f"{settings.small_cell} workers written {hidden!r}, "
        f"counts rounded to multiples of {settings.round_counts_to}"
    )


# --- providers ---------------------------------------------------------------


@main.group()
def webhooks() -> None:
    """Provider webhooks."""


@webhooks.command("set")
def webhooks_set() -> None:
    """Register webhook URLs (and secrets) with every configured provider."""
    from bots.registry import build_channels
    from bots.telegram import TelegramChannel
    from bots.viber import ViberChannel

    settings = _settings()
    base = settings.public_base_url
    if not base.startswith("https://"):
        _say(f"warning: PUBLIC_BASE_URL is {base}; providers call only https URLs")
    channels = build_channels(settings)
    if not channels:
        raise click.ClickException("no provider is configured")
    telegram = channels.get("telegram")
    if isinstance(telegram, TelegramChannel):
        telegram.set_webhook(f"{base}/hooks/telegram")
        click.echo(f"telegram\tregistered\t{base}/hooks/telegram")
    viber = channels.get("viber")
    if isinstance(viber, ViberChannel):
        viber.set_webhook(f"{base}/hooks/viber")
        click.echo(f"viber\tregistered\t{base}/hooks/viber")
    if settings.twilio is not None:
        # Twilio numbers are configured in its console (or per Messaging Service).
        for purpose, path in (
            ("twilio messaging (A message comes in)", "/hooks/twilio/messaging"),
            ("twilio status callback", "/hooks/twilio/status"),
            ("twilio voice (A call comes in)", "/hooks/twilio/voice"),
            ("twilio voice status callback", "/hooks/twilio/voice/status"),
        ):
            click.echo(f"{purpose}\tconfigure in Twilio\t{base}{path}")


# --- running -----------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, type=int, show_default=True)
@click.option("--dev", is_flag=True, help="Flask's development server instead of gunicorn")
@click.option(
    "--workers",
    "processes",
    default=2,
    type=int,
    show_default=True,
    help="gunicorn worker processes",
)
def serve(host: str, port: int, dev: bool, processes: int) -> None:
    """Serve console, API and webhooks."""
    from console.app import create_app

    settings = _settings()
    redaction.install(settings.log_level)
    if dev:
        create_app(settings).run(host=host, port=port, use_reloader=False)
        return
    from gunicorn.app.base import BaseApplication

    class _Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", processes)
            self.cfg.set("accesslog", None)  # access lines would carry URLs; ids only in our logs
            self.cfg.set("timeout", 60)

        def load(self) -> Any:
            return create_app(settings)

    _Gunicorn().run()


def _sweeper_loop(stop: threading.Event, interval: int) -> None:
    from workers import jobs, runtime
    from workers.queue import RQDispatcher

    dispatcher = runtime.current().dispatcher
    while not stop.wait(interval):
        try:
            # One sweeper across all worker machines per interval.
            if isinstance(dispatcher, RQDispatcher) and not dispatcher.connection.set(
                "voicedesk:sweeper", "1", nx=True, ex=max(interval - 1, 1)
            ):
                continue
            jobs.sweep()
        except Exception:
            logger.exception("sweeper pass failed; trying again next interval")


def _scheduler_loop(stop: threading.Event) -> None:
    """Move delayed jobs (retries with backoff, rate-limited sends) onto their queues.

    rq's own scheduler runs in a forked child process, which outlives a worker killed
    with SIGKILL and keeps the worker's database sockets open: PostgreSQL then saw the
    dead worker's transaction as merely idle and kept its row locks, and every other
    worker waited on them. A thread dies with its process. One scheduler across all
    workers holds each queue's lock (it expires a minute after its holder dies), and
    every thread tries for it each pass, not every ten minutes as rq's would.
    """
    from rq.scheduler import RQScheduler
    from rq.serializers import JSONSerializer

    from workers import runtime

    dispatcher = runtime.current().dispatcher
    queues = dispatcher.queues()  # type: ignore[attr-defined]
    every = {queue.name for queue in queues}
    scheduler = RQScheduler(
        queues,
        connection=dispatcher.connection,  # type: ignore[attr-defined]
        serializer=JSONSerializer,
    )
    try:
        while not stop.wait(1):
            try:
                if scheduler.acquired_locks != every:
                    scheduler.acquire_locks()  # type: ignore[no-untyped-call]
                if scheduler.acquired_locks:
                    scheduler.heartbeat()  # type: ignore[no-untyped-call]
                    scheduler.enqueue_scheduled_jobs()  # type: ignore[no-untyped-call]
            except Exception:
                logger.exception("scheduler pass failed; trying again")
    finally:
        with contextlib.suppress(Exception):
            scheduler.release_locks()  # type: ignore[no-untyped-call]


def _intake_loop(stop: threading.Event) -> None:
    from workers import jobs

    while not stop.is_set():
        try:
            jobs.drain_intake(stop=stop)
        except Exception:
            logger.exception("intake pass failed; trying again")
            stop.wait(1)


@main.command()
@click.option("--burst", is_flag=True, help="stop when the queues are empty (for tests and cron)")
def worker(burst: bool) -> None:
    """Process jobs from Redis (an rq worker on every queue) and run the outbox sweeper."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from rq.serializers import JSONSerializer

    from workers import jobs, runtime
    from workers.queue import RQDispatcher, Worker

    settings = _settings()
    redaction.install(settings.log_level)
    if not settings.redis_url:
        raise click.ClickException("REDIS_URL is not set; `voicedesk demo` runs jobs in-process")
    rt = runtime.configure(settings)
    with rt.session() as session:
        publish_envelope_keys(session, rt.envelope_keys)
        session.commit()
    assert isinstance(rt.dispatcher, RQDispatcher)
    for channel in rt.channels.values():  # rq runs sends on this thread
        warm_up = getattr(channel, "warm_up", None)
        if warm_up is not None:
            warm_up()
    stop = threading.Event()
    intake = threading.Thread(target=_intake_loop, args=(stop,), name="intake")
    if not burst:
        threading.Thread(
            target=_sweeper_loop, args=(stop, settings.sweep_interval_seconds), daemon=True
        ).start()
        threading.Thread(target=_scheduler_loop, args=(stop,), name="scheduler").start()
        # What workers sent is drained beside rq's jobs (replies and prompts).
        intake.start()
    else:
        jobs.sweep()
        while jobs.drain_intake(wait=0):
            pass
    try:
        while True:
            rq_worker = Worker(
                rt.dispatcher.queues(), connection=rt.dispatcher.connection,
                serializer=JSONSerializer,
            )  # fmt: skip
            try:
                # Delayed jobs: a burst run moves what is due itself; otherwise a thread does.
                rq_worker.work(burst=burst, logging_level=settings.log_level, with_scheduler=burst)
                break
            except RedisConnectionError:
                # rq gives up on a Redis that went away mid-job; we wait for it. A job it
                # was running is queued again by the sweeper (its message is still queued).
                if burst:
                    raise
                logger.warning("Redis unreachable; the worker starts again in 5 s")
                time.sleep(5)
    finally:
        stop.set()
        if intake.is_alive():
            intake.join(timeout=30)  # let the envelope in hand finish; the rest go back


@main.command()
def purge() -> None:
    """Apply the retention policy now: forget closed tickets' content after the period."""
    from workers import jobs, runtime

    settings = _settings()
    redaction.install(settings.log_level)
    runtime.configure(settings)
    done = jobs.purge()
    click.echo(
        f"purged {done.tickets} closed tickets and {done.addresses} addresses"
        f" (retention {settings.retention_days} days)"
    )


# --- the embedded default ----------------------------------------------------

DEMO_ORG = "Demo Worker Voice Network"
DEMO_USERS = (
    ("caseworker@demo.local", Role.CASEWORKER),
    ("supervisor@demo.local", Role.SUPERVISOR),
    ("hotline@demo.local", Role.HOTLINE),
    ("partner@demo.local", Role.PARTNER),
)
# The partner's brand and the supplier it buys from, in the business directory.
DEMO_BRAND, DEMO_SUPPLIER = "Demo Apparel Brand", "Demo Garment Factory"


def seed_demo(settings: Settings) -> dict[str, str]:
    """Seed the demo organisation and users once; return the demo logins."""
    logins_file = settings.instance / "demo_logins.json"
    with _session(settings) as session:
        if session.scalar(select(Organisation).where(Organisation.name == DEMO_ORG)) is None:
            create_organisation(session, DEMO_ORG, ["my", "km", "ne", "th"], ["TH", "MY", "MM"])
            brand = Business(name=DEMO_BRAND, kind=BusinessKind.BRAND.value, country="US")
            supplier = Business(
                name=DEMO_SUPPLIER,
                kind=BusinessKind.SUPPLIER.value,
                country="TH",
                sector="garments",
            )
            session.add_all([brand, supplier])
            session.flush()
            session.add(SupplyLink(brand_id=brand.id, supplier_id=supplier.id))
            logins = {}
            for email, role in DEMO_USERS:
                password = secrets.token_urlsafe(12)
                business = DEMO_BRAND if role == Role.PARTNER else None
                create_user(session, email, DEMO_ORG, role.value, password, business)
                logins[email] = password
            session.commit()
            logins_file.write_text(json.dumps(logins, indent=2), encoding="utf-8")
            logins_file.chmod(0o600)
    return dict(json.loads(logins_file.read_text(encoding="utf-8")))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, type=int, show_default=True)
def demo(host: str, port: int) -> None:
    """The embedded default: SQLite, jobs in-process, the simulator; prints URL and logins."""
    from console.app import create_app
    from workers import jobs, runtime
    from workers.queue import InlineDispatcher

    settings = _settings().with_changes(simulator_enabled=True, redis_url=None)
    redaction.install(settings.log_level)
    init_database(settings)
    logins = seed_demo(settings)
    # One process does everything here, so it holds the vault keys too; in production
    # only `voicedesk worker` processes do.
    dispatcher = InlineDispatcher(runtime.run_job)
    runtime.configure(settings, dispatcher)
    jobs.sweep(older_than_seconds=0)
    # The same sweeper as `voicedesk worker`: stalled sends, validation reminders, deadlines.
    threading.Thread(
        target=_sweeper_loop, args=(threading.Event(), settings.sweep_interval_seconds), daemon=True
    ).start()
    app = create_app(settings, dispatcher)
    url = f"http://{host}:{port}"
    click.echo(f"Worker Voice Desk demo at {url}")
    click.echo(f"  simulator (chat as a worker): {url}/simulator")
    for email, password in logins.items():
        click.echo(f"  login: {email}  password: {password}")
    sys.stdout.flush()
    time.sleep(0.1)
    app.run(host=host, port=port, use_reloader=False)


if __name__ == "__main__":
    main()
