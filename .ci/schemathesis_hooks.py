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
3. The forward-auth checks judge the original request in their headers; a positive case's
   path there becomes a plain one (`/orders/<letters>`), as a proxy would pass it, so that
   not most of them are refused as unreadable paths (the integration tests cover those).
4. A tier and custom limits at once, and a window twice among the limits, are 422s; the
   document says so in words (utoipa's schema types cannot carry `not`/`minContains`). Positive cases keep the limits (no tier)
   and each window's first limit.
5. `end-overlap` needs a token whose secret was rolled with an overlap; a generated id names
   no token (404 every time, which the run counts as missing test data). Its positive cases
   go to the token the script rolled: the first ends the overlap (200), the rest get 409.
6. Webhook bodies likewise: a destination must be a public http(s) URL and events known
   names, so positive cases get a public URL and `["*"]`.
"""

import itertools
import os
import re
from datetime import datetime, timedelta, timezone

import schemathesis
from schemathesis import GenerationMode

OWN_TOKEN_ID = os.environ["KEYWARD_ST_TOKEN_ID"]
CHANNEL_IDS = os.environ["KEYWARD_ST_CHANNEL_IDS"].split(",")
TOKEN_BODIES = {("POST", "/api/v1/tokens"), ("PATCH", "/api/v1/tokens/{id}")}
PROXY_CHECKS = {
    "/api/v1/forward-auth": "X-Forwarded-Uri",
    "/api/v1/auth-request": "X-Original-URI",
}
ROLLED_ID = os.environ["KEYWARD_ST_ROLLED_ID"]
END_OVERLAP = ("POST", "/api/v1/tokens/{id}/end-overlap")
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
    uri_header = PROXY_CHECKS.get(case.operation.path)
    if uri_header and _is_positive(case) and case.headers:
        letters = re.sub(r"[^A-Za-z0-9_-]", "", str(case.headers.get(uri_header, "")))
        case.headers[uri_header] = "/orders/" + letters[:40]
        return case
    operation = (case.method.upper(), case.operation.path)
    if operation in WEBHOOK_BODIES and _is_positive(case) and isinstance(case.body, dict):
        if "url" in case.body or operation[0] == "POST":
            case.body["url"] = "https://93.184.215.14/keyward"
        if "events" in case.body:
            case.body["events"] = ["*"]
        return case
    if operation == END_OVERLAP and _is_positive(case):
        case.path_parameters = {**(case.path_parameters or {}), "id": ROLLED_ID}
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
    rate = case.body.get("rate_limit")
    if isinstance(rate, dict):
        case.body.pop("rate_limit_tier", None)
        if isinstance(rate.get("limits"), list):
            seen = set()
            kept = []
            for limit in rate["limits"]:
                per = limit.get("per") if isinstance(limit, dict) else None
                if per not in seen:
                    seen.add(per)
                    kept.append(limit)
            rate["limits"] = kept
    return case


@schemathesis.hook
def map_case(context, case):
    return _realistic(case)


@schemathesis.hook
def before_add_examples(context, examples):
    """The Examples phase builds its cases from the document's examples, without `map_case`."""
    for case in examples:
        _realistic(case)
