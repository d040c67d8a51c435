"""Delivery reports: one email per submission once every recipient is final.

``compose`` builds the message, ``mailer`` hands it to an SMTP relay (or a Maildir when none is
configured), ``outbox`` keeps it in SQL until the relay accepted it (docs/reports.md).
"""
