"""E-mail out through the operator's SMTP server (`smtp.url`), with the standard library only.

`smtp://user:password@host:587` upgrades with STARTTLS whenever the server offers it (and then logs
in); `smtps://...:465` speaks TLS from the first byte. User and password are URL-encoded in the URL.
A send that fails raises `Unavailable`: callers run it inside a job, whose retries try again later.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from boda.core.config import SmtpSettings
from boda.core.errors import InvalidInput, Unavailable

PORTS = {"smtp": 25, "smtps": 465}


def configured(smtp: SmtpSettings) -> bool:
    return bool(smtp.url.strip())


def sender(smtp: SmtpSettings) -> str:
    return smtp.sender.strip() or f"boda@{socket.gethostname() or 'localhost'}"


def message(smtp: SmtpSettings, *, to: str, subject: str, text: str) -> EmailMessage:
    """A plain-text UTF-8 message (Korean subjects are RFC 2047-encoded by the library)."""
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender(smtp), to, subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=sender(smtp).rpartition("@")[2] or None)
    mail.set_content(text)
    return mail


def send(smtp: SmtpSettings, mail: EmailMessage) -> None:
    """Hand one message to the SMTP server; `Unavailable` when it cannot be reached or refuses it."""
    parts = urlsplit(smtp.url.strip())
    if parts.scheme not in PORTS or not parts.hostname:
        raise InvalidInput("smtp.url must look like smtp://user:password@host:587 or smtps://host:465",
                           key="smtp_url")
    port = parts.port or PORTS[parts.scheme]
    try:
        if parts.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(parts.hostname, port, timeout=smtp.timeout_seconds,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(parts.hostname, port, timeout=smtp.timeout_seconds)
        with client:
            client.ehlo()
            if parts.scheme == "smtp" and client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
            client.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:  # SMTPException is an OSError too; say both
        raise Unavailable(f"The mail server did not take the message: {exc}", key="smtp_failed") from exc
