"""Schemathesis hooks for .ci/schemathesis (which exports the variables read here).

1. The run authenticates with one admin token. Schemathesis learns that token's id from
   `GET /me` and `GET /tokens` and would then regenerate, revoke, edit or delete it, which the
   API allows (a token may manage itself) but which leaves every later request of the run with
   a dead credential. So cases that would change the run's own token are not generated; other
   tokens, and reads of this one, are tested as usual.
2. Two rules of the token bodies are beyond JSON Schema, and the document states them in
   words: channel ids must name channels of the caller's workspace, and `expires_at` must lie
   in the future. Positive (schema-valid) cases get real channel ids and a future expiry, as
   a client would send, so that `positive_data_acceptance` checks everything else. Negative
   cases are left as generated.
3. Webhook bodies likewise: a destination must be a public http(s) URL and events known
   names, so positive cases get a public URL and `["*"]`.
"""

import itertools
import os
from datetime import datetime, timedelta, timezone

import schemathesis
from schemathesis import GenerationMode

OWN_TOKEN_ID = os.environ["KEYWARD_ST_TOKEN_ID"]
CHANNEL_IDS = os.environ["KEYWARD_ST_CHANNEL_IDS"].split(",")
TOKEN_BODIES = {("POST", "/api/v1/tokens"), ("PATCH", "/api/v1/tokens/{id}")}
WEBHOOK_BODIES = {("POST", "/api/v1/webhooks"), ("PATCH", "/api/v1/webhooks/{id}")}


@schemathesis.hook
def filter_case(context, case):
    if case.method.upper() == "GET":
        return True
    return (case.path_parameters or {}).get("id") != OWN_TOKEN_ID


def _is_positive(case):
    meta = case.meta
    return meta is not None and meta.generation.mode == GenerationMode.POSITIVE


def _realistic(case):
    operation = (case.method.upper(), case.operation.path)
    if operation in WEBHOOK_BODIES and _is_positive(case) and isinstance(case.body, dict):
        if "url" in case.body or operation[0] == "POST":
            case.body["url"] = "https://93.184.215.14/keyward"
        if "events" in case.body:
            case.body["events"] = ["*"]
        return case
    if operation not in TOKEN_BODIES or not _is_positive(case) or not isinstance(case.body, dict):
        return case
    channels = case.body.get("channels")
    if isinstance(channels, list):
        ids = itertools.cycle(CHANNEL_IDS)
        case.body["channels"] = [next(ids) for _ in channels]
    if isinstance(case.body.get("expires_at"), str):
        future = datetime.now(timezone.utc) + timedelta(days=30)
        case.body["expires_at"] = future.strftime("%Y-%m-%dT%H:%M:%SZ")
    return case


@schemathesis.hook
def map_case(context, case):
    return _realistic(case)


@schemathesis.hook
def before_add_examples(context, examples):
    """The Examples phase builds its cases from the document's examples, without `map_case`."""
    for case in examples:
        _realistic(case)
