"""The audit log: who did what, when, under which key; append-only in the database itself.

`events` defines what may be recorded (never a secret or a token; a `jti` is fine) and
writes it in the transaction of the change it records.
"""
