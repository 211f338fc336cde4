"""The reference webhook: the least a durable webhook can do, in a few lines of Flask.

Check the secret, seal the body with AES-GCM, INSERT it, push its id to Redis;
nothing else. Served by gunicorn exactly as the product is, so the intake benchmark
can say what share of this rate the product keeps with all its safeguards.

    BARE_DATABASE_URL=... BARE_REDIS_URL=... TELEGRAM_WEBHOOK_SECRET=...
    TWILIO_AUTH_TOKEN=... PUBLIC_BASE_URL=... gunicorn bare_webhook:app
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid

import psycopg
import redis
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask, abort, request

app = Flask(__name__)
sealer = AESGCM(AESGCM.generate_key(bit_length=256))
queue = redis.Redis.from_url(os.environ["BARE_REDIS_URL"])
connection: psycopg.Connection[tuple[object, ...]] | None = None
INSERT = (
    "INSERT INTO bare_envelopes (id, channel, provider_message_id, payload_sealed, received_at)"
    " VALUES (%s, %s, %s, %s, now()) ON CONFLICT DO NOTHING RETURNING id"
)


def store(channel: str, provider_id: str, body: bytes) -> dict[str, bool]:
    global connection
    if connection is None or connection.closed:
        connection = psycopg.connect(os.environ["BARE_DATABASE_URL"])
    envelope_id = uuid.uuid4()
    nonce = os.urandom(12)
    sealed = nonce + sealer.encrypt(nonce, body, envelope_id.bytes)
    row = connection.execute(INSERT, (envelope_id, channel, provider_id, sealed)).fetchone()
    connection.commit()
    if row is None:
        return {"ok": True, "duplicate": True}
    queue.rpush("bare:intake", str(envelope_id))
    return {"ok": True}


@app.post("/hooks/telegram")
def telegram() -> dict[str, bool]:
    secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not hmac.compare_digest(secret, os.environ["TELEGRAM_WEBHOOK_SECRET"]):
        abort(403)
    body = request.get_data()
    return store("telegram", str(json.loads(body)["update_id"]), body)


@app.post("/hooks/twilio/messaging")
def twilio() -> dict[str, bool]:
    body = request.get_data()
    signed = os.environ["PUBLIC_BASE_URL"] + request.path
    signed += "".join(key + value for key, value in sorted(request.form.items()))
    digest = hmac.new(os.environ["TWILIO_AUTH_TOKEN"].encode(), signed.encode(), hashlib.sha1)
    expected = base64.b64encode(digest.digest()).decode()
    if not hmac.compare_digest(request.headers.get("X-Twilio-Signature", ""), expected):
        abort(403)
    return store("sms", request.form["MessageSid"], body)
