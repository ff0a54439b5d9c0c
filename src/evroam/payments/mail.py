"""Mailers (the `Mailer` port): SMTP (STARTTLS, login), or, without an SMTP server, a folder
where each message is written as an .eml file (for an operator to send, or to look at)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from evroam.services.errors import ServiceError
from evroam.settings import Settings


def message(*, sender: str, to: str, subject: str, text: str, html: str | None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="evroam")
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


class SmtpMailer:
    def __init__(self, host: str, port: int, *, sender: str, user: str | None = None, password: str | None = None,
                 starttls: bool = True, timeout: float = 20.0) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.user, self._password, self.starttls, self.timeout = user, password, starttls, timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpMailer:
        return cls(settings.smtp_host, settings.smtp_port, sender=settings.mail_from, user=settings.smtp_user,
                   password=settings.smtp_password, starttls=settings.smtp_starttls)

    def __repr__(self) -> str:  # never the password
        return f"SmtpMailer({self.host}:{self.port})"

    async def send(self, *, to: str, subject: str, text: str, html: str | None = None) -> None:
        msg = message(sender=self.sender, to=to, subject=subject, text=text, html=html)
        try:
            await asyncio.to_thread(self._send, msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise ServiceError(f"the mail server {self.host}:{self.port} did not take the message: "
                               f"{type(exc).__name__}") from None

    def _send(self, msg: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self._password or "")
            smtp.send_message(msg)


class OutboxMailer:
    def __init__(self, folder: str | Path, *, sender: str) -> None:
        self.folder = Path(folder)
        self.sender = sender

    async def send(self, *, to: str, subject: str, text: str, html: str | None = None) -> None:
        msg = message(sender=self.sender, to=to, subject=subject, text=text, html=html)
        self.folder.mkdir(parents=True, exist_ok=True)
        name = msg["Message-ID"].strip("<>").replace("@", "_") + ".eml"
        await asyncio.to_thread((self.folder / name).write_bytes, bytes(msg))
