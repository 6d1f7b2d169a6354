"""Bot API methods about the bot itself and how it gets updates: getMe, getUpdates, webhooks
(and the loop that delivers updates to a webhook).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ..errors import ApiError, bad_request
from ..spec import UploadedFile
from ..state import WebhookSettings
from .base import (
    ApiBase,
)


class UpdateMethods(ApiBase):
    """getMe, logOut, close; getUpdates; setWebhook, deleteWebhook, getWebhookInfo."""

    # ------------------------------------------------------------------ bot info

    def m_getMe(self, p: dict[str, Any], files: Any) -> Any:
        return self.state.render_bot(full=True)

    def m_logOut(self, p: dict[str, Any], files: Any) -> Any:
        return True

    def m_close(self, p: dict[str, Any], files: Any) -> Any:
        return True

    # ------------------------------------------------------------------ updates

    async def m_getUpdates(self, p: dict[str, Any], files: Any) -> Any:
        st = self.state
        if st.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in p:
            st.allowed_updates = list(p["allowed_updates"]) or None
        st.confirm_updates(p.get("offset"))
        limit = min(max(int(p.get("limit") or 100), 1), 100)
        timeout = max(0.0, min(float(p.get("timeout") or 0), self.max_poll_timeout))
        self._poll_gen += 1
        gen = self._poll_gen
        st._signal_updates()  # terminate a concurrent long poll
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if gen != self._poll_gen:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            if st.webhook is not None:
                raise ApiError(409, "Conflict: terminated by setWebhook request")
            ups = st.pending_updates(limit)
            if ups or self._closing:
                return [u.render() for u in ups]
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            try:
                await asyncio.wait_for(st.update_event.wait(), remaining)
            except TimeoutError:
                pass

    def m_setWebhook(self, p: dict[str, Any], files: Any) -> Any:
        st = self.state
        url = p["url"]
        if not url:
            return self.m_deleteWebhook(p, files)
        if not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if p.get("drop_pending_updates"):
            st.updates.clear()
        if "allowed_updates" in p:
            st.allowed_updates = list(p["allowed_updates"]) or None
        old = st.webhook
        st.webhook = WebhookSettings(
            url=url,
            secret_token=p.get("secret_token") or None,
            max_connections=int(p.get("max_connections") or 40),
            ip_address=p.get("ip_address"),
        )
        if old is not None and old.url == url:
            st.webhook.delivered = old.delivered
        st._signal_updates()
        self._ensure_webhook_worker()
        st.emit("webhook_set", url=url)
        return True

    def m_deleteWebhook(self, p: dict[str, Any], files: Any) -> Any:
        st = self.state
        st.webhook = None
        if p.get("drop_pending_updates"):
            st.updates.clear()
        st._signal_updates()
        return True

    def m_getWebhookInfo(self, p: dict[str, Any], files: Any) -> Any:
        st = self.state
        wh = st.webhook
        d: dict[str, Any] = {
            "url": wh.url if wh else "",
            "has_custom_certificate": False,
            "pending_update_count": len(st.updates),
        }
        if wh is not None:
            if wh.ip_address:
                d["ip_address"] = wh.ip_address
            if wh.last_error_date:
                d["last_error_date"] = wh.last_error_date
                d["last_error_message"] = wh.last_error_message
            d["max_connections"] = wh.max_connections
            if st.allowed_updates:
                d["allowed_updates"] = list(st.allowed_updates)
        return d

    def _ensure_webhook_worker(self) -> None:
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._webhook_loop())

    async def _webhook_loop(self) -> None:
        import aiohttp

        st = self.state
        session = aiohttp.ClientSession()
        backoff = self.webhook_retry_min
        try:
            while not self._closing:
                wh = st.webhook
                if wh is None:
                    return
                if not st.updates:
                    await st.update_event.wait()
                    continue
                upd = st.updates[0]
                headers = {"Content-Type": "application/json"}
                if wh.secret_token:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = wh.secret_token
                reply: tuple[str, dict[str, Any], dict[str, UploadedFile]] | None = None
                err = None
                try:
                    async with session.post(
                        wh.url,
                        data=json.dumps(upd.render(), ensure_ascii=False).encode(),
                        headers=headers,
                        timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
                    ) as resp:
                        if 200 <= resp.status < 300:
                            reply = await self._read_webhook_reply(resp)
                        else:
                            err = f"Wrong response from the webhook: {resp.status} {resp.reason}"
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001
                    err = f"Connection failed: {type(e).__name__}: {e}"
                if err is None:
                    if st.updates and st.updates[0] is upd:
                        st.updates.popleft()
                    wh.delivered += 1
                    backoff = self.webhook_retry_min
                    if reply is not None:
                        await self.call(reply[0], reply[1], reply[2], source="webhook_reply")
                else:
                    wh.last_error_date = st.now()
                    wh.last_error_message = err
                    wh.failed_attempts += 1
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.webhook_retry_max)
        finally:
            await session.close()

    @staticmethod
    async def _read_webhook_reply(resp: Any) -> tuple[str, dict[str, Any], dict[str, UploadedFile]] | None:
        import aiohttp

        ctype = resp.headers.get("Content-Type", "")
        params: dict[str, Any] = {}
        files: dict[str, UploadedFile] = {}
        if ctype.startswith("multipart/"):
            reader = aiohttp.MultipartReader(resp.headers, resp.content)
            async for part in reader:
                if not isinstance(part, aiohttp.BodyPartReader):
                    continue
                name = part.name or ""
                if part.filename is not None:
                    files[name] = UploadedFile(
                        await part.read(decode=True), part.filename, part.headers.get("Content-Type"), name
                    )
                else:
                    params[name] = await part.text()
        elif "json" in ctype:
            try:
                body = await resp.json(content_type=None)
            except ValueError:
                return None
            if isinstance(body, dict):
                params = body
        else:
            return None
        method = params.pop("method", None)
        if not isinstance(method, str) or not method:
            return None
        return method, params, files
