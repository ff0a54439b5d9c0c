"""Adapters of the payment and mail ports (services/ports.py): the Stripe card payment provider
and the mailers (SMTP, or a folder of .eml files)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evroam.services.ports import Mailer, PaymentProvider
    from evroam.settings import Settings


def make_provider(settings: Settings) -> PaymentProvider | None:
    """The payment provider the settings name (None: card payment off)."""
    if settings.payment_provider == "stripe":
        from evroam.payments.stripe_provider import StripeProvider

        return StripeProvider.from_settings(settings)
    return None


def make_mailer(settings: Settings) -> Mailer:
    from evroam.payments.mail import OutboxMailer, SmtpMailer

    if settings.smtp_host:
        return SmtpMailer.from_settings(settings)
    return OutboxMailer(settings.mail_outbox, sender=settings.mail_from)
