"""Today's digest: what a household should eat first, in the app and once a day by e-mail.

`build` is pure: items and a day in, the digest out (items past their consume-by date, items due
within `pantry.digest_days`, the other opened items, and counts), worded in the reader's language.
"Today" is the date in `pantry.digest_timezone`; an item's consume-by date is its UTC date, as
everywhere else in Pantry (a date typed by hand is stored at midnight UTC).

E-mail is opt-in (`DigestPreference`, one row per person). A periodic check (`queue_digests`, every
few minutes on whichever worker claims the round) queues one job per person due today, from
`pantry.digest_hour` on; the job (`send_digest`) first claims the day in `sent_on`, then sends, so a
retried or doubled job never mails twice the same day (a failed send gives the day back and retries).
A person whose households have nothing past, due or opened gets no e-mail that day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from boda.apps.pantry.models import DigestPreference, ItemStatus
from boda.apps.pantry.settings import PantrySettings, pantry_settings, zone
from boda.core import households, mail
from boda.core.auth import Scope
from boda.core.db import utcnow
from boda.core.errors import InvalidInput
from boda.core.models import Household, User
from boda.core.runtime import Runtime

CHECK_SECONDS = 300.0  # how often the periodic check looks for people due: at most this late after the hour
MAX_LISTED = 50  # per section in the e-mail; the counts stay whole


class Stock(Protocol):
    """What the digest reads of an item (a pantry `Item`, or anything shaped like it in a test)."""

    id: str
    name: str
    name_ko: str | None
    name_en: str | None
    quantity: float
    unit: str
    consume_by: datetime | None
    opened_at: datetime | None
    status: str


@dataclass(frozen=True)
class DigestItem:
    id: str
    name: str
    quantity: float
    unit: str
    days_left: int | None
    consume_by: date | None
    opened_on: date | None
    text: str  # "2 days past", "due today", "opened 3 days ago", in the reader's language


@dataclass(frozen=True)
class Digest:
    household_id: str
    household_name: str
    day: date
    within_days: int
    locale: str
    expired: list[DigestItem] = field(default_factory=list)
    due: list[DigestItem] = field(default_factory=list)
    opened: list[DigestItem] = field(default_factory=list)
    in_stock: int = 0
    title: str = ""
    summary: str = ""

    @property
    def empty(self) -> bool:
        return not (self.expired or self.due or self.opened)

    @property
    def counts(self) -> dict[str, int]:
        return {"expired": len(self.expired), "due": len(self.due), "opened": len(self.opened),
                "in_stock": self.in_stock}


def text(locale: str, key: str, **values: object) -> str:
    """Pantry's (and the core's) text in `locale`."""
    from boda.web.i18n import translate

    return translate(locale, key, **values)


def _utc_date(value: datetime | None) -> date | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).date()


def display_name(item: Stock, locale: str) -> str:
    """The name in the reader's language when shelf life knows it, else as typed."""
    return (item.name_ko if locale == "ko" else item.name_en) or item.name


def due_text(days_left: int, locale: str) -> str:
    if days_left < 0:
        return text(locale, "pantry.digest.past_one" if days_left == -1 else "pantry.digest.past", n=-days_left)
    if days_left <= 1:
        return text(locale, "pantry.digest.today" if days_left == 0 else "pantry.digest.tomorrow")
    return text(locale, "pantry.digest.left", n=days_left)


def opened_text(days_ago: int, locale: str) -> str:
    if days_ago <= 1:
        return text(locale, "pantry.digest.opened_today" if days_ago <= 0 else "pantry.digest.opened_yesterday")
    return text(locale, "pantry.digest.opened_ago", n=days_ago)


def build(items: Iterable[Stock], *, day: date, within_days: int, locale: str, household_id: str = "",
          household_name: str = "") -> Digest:
    """A household's digest for `day`: past consume-by (most overdue first), due within `within_days`
    (soonest first), then the other opened items (opened longest ago first). Finished items are skipped."""
    expired: list[DigestItem] = []
    due: list[DigestItem] = []
    opened: list[DigestItem] = []
    in_stock = 0
    for item in items:
        if str(item.status) != ItemStatus.active:
            continue
        in_stock += 1
        by, opened_on = _utc_date(item.consume_by), _utc_date(item.opened_at)
        left = (by - day).days if by is not None else None
        base = {"id": item.id, "name": display_name(item, locale), "quantity": item.quantity, "unit": item.unit,
                "days_left": left, "consume_by": by, "opened_on": opened_on}
        if left is not None and left <= within_days:
            (expired if left < 0 else due).append(DigestItem(**base, text=due_text(left, locale)))
        elif opened_on is not None:
            opened.append(DigestItem(**base, text=opened_text((day - opened_on).days, locale)))
    expired.sort(key=lambda i: (i.days_left, i.name))
    due.sort(key=lambda i: (i.days_left, i.name))
    opened.sort(key=lambda i: (i.opened_on, i.name))
    counts = {"expired": len(expired), "due": len(due), "opened": len(opened), "total": in_stock}
    summary = (text(locale, "pantry.digest.summary", days=within_days, **counts)
               if expired or due or opened else text(locale, "pantry.digest.nothing"))
    return Digest(household_id=household_id, household_name=household_name, day=day, within_days=within_days,
                  locale=locale, expired=expired, due=due, opened=opened, in_stock=in_stock,
                  title=text(locale, "pantry.digest.title"), summary=summary)


def today(settings: PantrySettings, now: datetime | None = None) -> date:
    """The digest's day: the date in `pantry.digest_timezone`."""
    return (now or utcnow()).astimezone(zone(settings.digest_timezone)).date()


def household_digest(session: Session, scope: Scope, household_id: str, *, settings: Any, locale: str,
                     now: datetime | None = None) -> Digest:
    """The digest of a household the caller is in (`household_id` already checked by `household_for`)."""
    from boda.apps.pantry import service

    pantry = pantry_settings(settings)
    items, _ = service.list_items(session, scope, household_id, limit=100_000)
    household = session.get(Household, household_id)
    return build(items, day=today(pantry, now), within_days=pantry.digest_days, locale=locale,
                 household_id=household_id, household_name=household.name if household else "")


# --- e-mail ---------------------------------------------------------------------------------

def mail_text(digests: list[Digest], locale: str, day: date) -> tuple[str, str]:
    """Subject and plain-text body of one person's digest over their households."""
    expired = sum(len(d.expired) for d in digests)
    due = sum(len(d.due) for d in digests)
    subject = text(locale, "pantry.digest.subject", date=day.isoformat(), expired=expired, due=due)
    lines: list[str] = []
    for digest in digests:
        if digest.empty:
            continue
        lines += [f"■ {digest.household_name}" if len(digests) > 1 else f"■ {digest.title}", digest.summary, ""]
        sections = (("pantry.digest.expired", digest.expired), ("pantry.digest.due", digest.due),
                    ("pantry.digest.opened", digest.opened))
        for key, entries in sections:
            if not entries:
                continue
            lines.append(text(locale, key, days=digest.within_days))
            for entry in entries[:MAX_LISTED]:
                amount = f" {entry.quantity:g}{entry.unit}" if entry.unit or entry.quantity != 1 else ""
                lines.append(f"  - {entry.name}{amount}: {entry.text}")
            if len(entries) > MAX_LISTED:
                lines.append(f"  … {text(locale, 'pantry.digest.more', n=len(entries) - MAX_LISTED)}")
            lines.append("")
    lines.append(text(locale, "pantry.digest.footer"))
    return subject, "\n".join(lines) + "\n"


def get_preference(session: Session, user_id: str) -> DigestPreference:
    """The person's preference; everyone starts opted out (a row is made only when they choose)."""
    return session.get(DigestPreference, user_id) or DigestPreference(user_id=user_id, email="", enabled=False)


def set_preference(session: Session, user_id: str, *, enabled: bool, email: str | None,
                   locale: str | None = None) -> DigestPreference:
    """Opt in or out; the mail is written in `locale` (the language the person asked in), else their account's."""
    row = session.get(DigestPreference, user_id)
    if row is None:
        row = DigestPreference(user_id=user_id, email="", enabled=False)
        session.add(row)
    if email is not None:
        row.email = email.strip()
    if enabled and not row.email:
        raise InvalidInput("Give an e-mail address to receive the digest", key="pantry_digest_email_needed")
    row.enabled = enabled
    if locale in ("ko", "en"):
        row.locale = locale
    session.flush()
    return row


def queue_digests(runtime: Runtime, now: datetime | None = None) -> int:
    """The periodic check: from `pantry.digest_hour` on, one job per opted-in person not yet queued today."""
    from boda.apps.pantry.jobs import DigestPayload, digest_mail_job

    settings = runtime.settings
    pantry = pantry_settings(settings)
    now = now or utcnow()
    if not mail.configured(settings.smtp) or now.astimezone(zone(pantry.digest_timezone)).hour < pantry.digest_hour:
        return 0
    day = today(pantry, now)
    with runtime.db.session() as session:
        rows = list(session.scalars(
            select(DigestPreference).join(User, User.id == DigestPreference.user_id)
            .where(DigestPreference.enabled.is_(True), DigestPreference.email != "", User.is_active.is_(True),
                   or_(DigestPreference.queued_on.is_(None), DigestPreference.queued_on < day),
                   or_(DigestPreference.sent_on.is_(None), DigestPreference.sent_on < day))
            .order_by(DigestPreference.user_id)))
        for row in rows:
            row.queued_on = day
            runtime.queue.enqueue(session, digest_mail_job, payload=DigestPayload(user_id=row.user_id, day=day),
                                  owner_id=row.user_id, title="Daily digest e-mail", title_key="pantry.job.digest")
    return len(rows)


def send_digest(runtime: Runtime, user_id: str, day: date) -> dict[str, Any]:
    """Claim `day` for the person, then mail their digest; nothing when already sent, opted out or nothing due.

    The claim is one conditional UPDATE: of two jobs for the same person and day, one sends.
    """
    from boda.apps.pantry import service

    settings = runtime.settings
    if not mail.configured(settings.smtp):
        return {"sent": False, "reason": "no_mail_server"}
    with runtime.db.session() as session:
        row = session.get(DigestPreference, user_id)
        user = session.get(User, user_id)
        if row is None or user is None or not row.enabled or not row.email or not user.is_active:
            return {"sent": False, "reason": "opted_out"}
        previous, address = row.sent_on, row.email
        claimed = session.execute(
            update(DigestPreference).where(DigestPreference.user_id == user_id,
                                           or_(DigestPreference.sent_on.is_(None), DigestPreference.sent_on < day))
            .values(sent_on=day)).rowcount
        if not claimed:
            return {"sent": False, "reason": "already_sent"}
        locale = next((x for x in (row.locale, user.locale) if x in ("ko", "en")), settings.default_locale)
        scope = Scope.of(user)
        pantry = pantry_settings(settings)
        digests = []
        for household in households.list_mine(session, user_id=user_id):
            items, _ = service.list_items(session, scope, household.id, limit=100_000)
            digests.append(build(items, day=day, within_days=pantry.digest_days, locale=locale,
                                 household_id=household.id, household_name=household.name))
    if all(d.empty for d in digests):
        return {"sent": False, "reason": "nothing_due"}
    subject, body = mail_text(digests, locale, day)
    try:
        mail.send(settings.smtp, mail.message(settings.smtp, to=address, subject=subject, text=body))
    except Exception:
        with runtime.db.session() as session:  # give the day back: the job's retry sends it
            session.execute(update(DigestPreference).where(DigestPreference.user_id == user_id,
                                                           DigestPreference.sent_on == day)
                            .values(sent_on=previous))
        raise
    return {"sent": True, "to": address, "expired": sum(len(d.expired) for d in digests),
            "due": sum(len(d.due) for d in digests)}
