"""notify: tell people — a webhook (generic JSON, Slack, DingTalk, Feishu/Lark) or email.

Payload shapes and signing, as the services document them:
- generic: `{"text": ..., "alert": {selected ECS fields}}`.
- Slack incoming webhook: `{"text": ...}`.
- DingTalk custom robot: body `{"msgtype": "text", "text": {"content": ...}}`; with a secret,
  query parameters `timestamp` (ms) and `sign` = base64(HMAC-SHA256(key=secret,
  msg="{timestamp}\\n{secret}")).
- Feishu/Lark custom bot: body `{"msg_type": "text", "content": {"text": ...}}`; with a
  secret, `timestamp` (s) and `sign` = base64(HMAC-SHA256(key="{timestamp}\\n{secret}",
  msg="")) in the body.
- email: SMTP with STARTTLS (certificate verified), login with a password from the environment.

Secrets come from environment variables at send time, so they are never in a plan, the state
file or the audit log. Every wait has a timeout. A notification changes nothing on the host
(not rate-capped, not counted by the breaker) and cannot be undone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import smtplib
import ssl
import time
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

import httpx
from pydantic import Field

from hostwarden.core.errors import RESP_NO_BACKEND, RESP_NOTIFY_FAILED, HostwardenError
from hostwarden.respond.actions.base import Action, ActionContext, ActionParams, Plan, Target
from hostwarden.respond.runner import clip
from hostwarden.respond.settings import EmailSettings, WebhookSettings
from hostwarden.respond.util import canonical_json

SUMMARY_FIELDS = ("@timestamp", "event.id", "hostwarden.grade", "event.severity", "rule.id", "rule.name",
                  "host.name", "source.ip", "user.name", "process.pid", "file.path", "message")


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    mac = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def _grade(alert: Mapping[str, Any]) -> str:
    g = alert.get("hostwarden.grade")
    if g:
        return str(g)
    sev = alert.get("event.severity")
    return f"L{sev}" if sev in (1, 2, 3) else "L?"


def text_of(alert: Mapping[str, Any]) -> str:
    """A short plain-text summary (attacker-written values included, as data: no markup)."""
    head = f"[hostwarden {_grade(alert)}] {alert.get('rule.name') or alert.get('message') or 'alert'}"
    lines = [clip(head, 300)]
    for k in SUMMARY_FIELDS[5:]:
        v = alert.get(k)
        if v not in (None, "", []):
            lines.append(f"{k}: {clip(str(v), 300)}")
    return "\n".join(lines)


def webhook_request(hook: WebhookSettings, text: str, summary: dict[str, Any], secret: str | None,
                    now: float) -> tuple[dict[str, str], dict[str, Any]]:
    """(query parameters, JSON body) for one webhook kind, signed when a secret is given."""
    if hook.kind == "slack":
        return {}, {"text": text}
    if hook.kind == "dingtalk":
        query = {}
        if secret:
            ts = int(now * 1000)
            query = {"timestamp": str(ts), "sign": dingtalk_sign(secret, ts)}
        return query, {"msgtype": "text", "text": {"content": text}}
    if hook.kind == "feishu":
        body: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
        if secret:
            ts = int(now)
            body = {"timestamp": str(ts), "sign": feishu_sign(secret, ts), **body}
        return {}, body
    return {}, {"text": text, "alert": summary}


class NotifyParams(ActionParams):
    channel: str = Field("default", description="a [respond.notify.webhooks] or [respond.notify.email] name")


class Notify(Action):
    name = "notify"
    Params = NotifyParams
    target_kind = "alert"
    changes_host = False

    def targets(self, alert: Mapping[str, Any], params: ActionParams) -> list[Target]:
        summary = json.loads(canonical_json({k: alert[k] for k in SUMMARY_FIELDS if alert.get(k) not in (None, "", [])}))
        ident = str(alert.get("event.id") or summary.get("rule.id") or "alert")
        return [Target("alert", ident, {"summary": summary, "text": text_of(alert)})]

    def _channel(self, name: str) -> WebhookSettings | EmailSettings:
        n = self.settings.notify
        found = n.webhooks.get(name) or n.email.get(name)
        if found is None:
            raise HostwardenError(RESP_NO_BACKEND, f"no notification channel {name!r} is configured "
                                  "([respond.notify.webhooks] or [respond.notify.email])")
        return found

    def plan(self, target: Target, params: ActionParams) -> Plan:
        assert isinstance(params, NotifyParams)
        ch = self._channel(params.channel)
        where = f"{ch.kind} webhook {ch.url}" if isinstance(ch, WebhookSettings) else \
            f"email via {ch.host}:{ch.port} to {', '.join(ch.to)}"
        return Plan(self.name, target, params.model_dump(), f"notify {params.channel} ({where})",
                    steps=[f"send to {where}: {target.detail['text'].splitlines()[0]}"], reversible=False)

    def apply(self, plan: Plan, ctx: ActionContext) -> dict[str, Any]:
        ch = self._channel(plan.params["channel"])
        text, summary = plan.target.detail["text"], plan.target.detail["summary"]
        if isinstance(ch, WebhookSettings):
            return self._post(ch, text, summary, ctx.now())
        return self._mail(ch, text)

    @staticmethod
    def _post(hook: WebhookSettings, text: str, summary: dict[str, Any], now: float) -> dict[str, Any]:
        secret = os.environ.get(hook.secret_env) if hook.secret_env else None
        if hook.secret_env and not secret:
            raise HostwardenError(RESP_NOTIFY_FAILED, f"environment variable {hook.secret_env} is not set")
        query, body = webhook_request(hook, text, summary, secret, now)
        try:
            url = httpx.URL(hook.url).copy_merge_params(query)  # keep the URL's own access_token
            resp = httpx.post(url, json=body, headers=hook.headers, timeout=hook.timeout)
        except httpx.HTTPError as exc:
            raise HostwardenError(RESP_NOTIFY_FAILED, f"{hook.kind} webhook: {type(exc).__name__}: {exc}") from exc
        if resp.status_code >= 300:
            raise HostwardenError(RESP_NOTIFY_FAILED, f"{hook.kind} webhook answered {resp.status_code}: "
                                  f"{clip(resp.text, 300)}")
        return {"status": resp.status_code}

    @staticmethod
    def _mail(mail: EmailSettings, text: str) -> dict[str, Any]:
        msg = EmailMessage()
        subject = text.splitlines()[0]
        msg["Subject"] = "".join(c if c.isprintable() else " " for c in subject)[:200]
        msg["From"] = mail.sender
        msg["To"] = ", ".join(mail.to)
        msg.set_content(text)
        password = os.environ.get(mail.password_env) if mail.password_env else None
        if mail.password_env and password is None:
            raise HostwardenError(RESP_NOTIFY_FAILED, f"environment variable {mail.password_env} is not set")
        try:
            with smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout) as smtp:
                smtp.ehlo()
                if mail.starttls:
                    context = ssl.create_default_context(cafile=str(mail.ca_file) if mail.ca_file else None)
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if mail.user:
                    smtp.login(mail.user, password or "")
                refused = smtp.send_message(msg)
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            raise HostwardenError(RESP_NOTIFY_FAILED, f"email via {mail.host}:{mail.port}: {exc}") from exc
        return {"sent_to": [r for r in mail.to if r not in refused], "at": time.time()}
