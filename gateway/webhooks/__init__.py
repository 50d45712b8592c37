"""Webhooks: principals register endpoints; events reach them from an outbox.

A notification is written to ``webhook_outbox`` in the same transaction as the change it
reports, so a rolled-back change sends nothing and a committed one is never lost. A
delivery worker (``worker.py``, started with the app; ``cdg webhooks deliver --once``
for operators) posts each message, signed per the Standard Webhooks spec
(``signing.py``), retrying with exponential backoff and jitter, and records every
attempt in ``webhook_deliveries``.
"""
