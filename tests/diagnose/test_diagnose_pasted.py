"""A token as operators paste it into `tokenidp diagnose`: every common wrapping comes off."""

from __future__ import annotations

import json

import pytest

from app.diagnosis.pasted import PastedTokenError, token_from_paste

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJvcmRlcnMifQ.c2lnbmF0dXJl"
RESPONSE = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600}


@pytest.mark.parametrize(
    "pasted",
    [
        f"  {TOKEN}\n",
        f"{TOKEN[:20]}\n{TOKEN[20:40]}\r\n  {TOKEN[40:]}",
        f'"{TOKEN}"',
        f"'{TOKEN}'",
        f'"{TOKEN}",',
        f"Bearer {TOKEN}",
        f"bearer\t{TOKEN}",
        f"Authorization: Bearer {TOKEN}",
        f"authorization:Bearer {TOKEN}",
        f"'Authorization: Bearer {TOKEN}'",
        json.dumps(RESPONSE),
        json.dumps(RESPONSE, indent=2) + "\n",
    ],
    ids=[
        "whitespace",
        "wrapped over lines",
        "double quotes",
        "single quotes",
        "copied from JSON with a comma",
        "Bearer",
        "lower-case bearer and a tab",
        "Authorization header",
        "Authorization header without a space",
        "quoted Authorization header",
        "JSON token response",
        "pretty JSON token response",
    ],
)
def test_diagnose_accepts_the_token_as_pasted(pasted):
    assert token_from_paste(pasted) == TOKEN


def test_a_token_that_starts_like_bearer_is_left_alone():
    assert token_from_paste("bearerish.a.b") == "bearerish.a.b"


@pytest.mark.parametrize(
    ("pasted", "reason"),
    [
        ('{"id_token": "secret-looking-value"}', "a JSON object without an access_token string"),
        ('{"access_token": "secret-looking-value"', "starts with { but is not JSON"),
    ],
)
def test_pasted_json_without_a_token_says_why_without_repeating_it(pasted, reason):
    with pytest.raises(PastedTokenError) as raised:
        token_from_paste(pasted)

    assert str(raised.value).startswith(reason)
    assert "secret-looking-value" not in str(raised.value)
