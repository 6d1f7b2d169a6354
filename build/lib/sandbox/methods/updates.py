"""Bot API methods about the bot itself and how it gets updates: getMe, getUpdates, webhooks
(and the loop that delivers updates to a webhook).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any

from ..errors import ApiError, bad_request
from ..spec import UploadedFile
from ..state import Update, WebhookSettings
from .base import (
    ApiBase,
)

WEBHOOK_SCAN = 2000  # pending updates looked at for one whose chat has nothing in flight


def _queue_key(upd: Update) -> Any:
    """The chat an update belongs to: its updates reach the webhook one at a time, in order."""
    p = upd.payload
    for holder in (p, p.get("message") if isinstance(p.get("message"), dict) else None):
        if holder and isinstance(holder.get("chat"), dict):
            return holder["chat"].get("id")
    sender = p.get("from") or p.get("user")
    if isinstance(sender, dict):
        return sender.get("id")
    return upd.type


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
        """Deliver pending updates to the webhook as Telegram does: up to the webhook's
        `max_connections` requests at once, the updates of one chat one at a time and in order
        (the next one only after the previous one was answered), different chats in parallel."""
        import aiohttp

        st = self.state
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        busy: dict[Any, asyncio.Task[None]] = {}  # chat (queue) -> its delivery in flight
        try:
            while not self._closing:
                wh = st.webhook
                if wh is None:
                    return
                event = st.update_event
                held: set[Any] = set(busy)  # chats whose next update must wait
                for upd in itertools.islice(st.updates, WEBHOOK_SCAN):
                    if len(busy) >= max(1, wh.max_connections):
                        break
                    key = _queue_key(upd)
                    if key in held:
                        continue
                    held.add(key)
                    busy[key] = asyncio.get_running_loop().create_task(self._deliver(session, wh, upd))
                waiter = asyncio.ensure_future(event.wait())
                try:
                    done, _ = await asyncio.wait(
                        {waiter, *busy.values()}, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    waiter.cancel()
                for key, task in list(busy.items()):
                    if task.done():
                        del busy[key]
                        task.result()
        finally:
            for task in busy.values():
                task.cancel()
            await asyncio.gather(*busy.values(), return_exceptions=True)
            await session.close()

    async def _deliver(self, session: Any, wh: WebhookSettings, upd: Update) -> None:
        """One webhook request; on failure the update stays queued and its chat waits (backoff)."""
        import aiohttp

        st = self.state
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
            with contextlib.suppress(ValueError):
                st.updates.remove(upd)
            wh.delivered += 1
            self._webhook_backoff = self.webhook_retry_min
            if reply is not None:
                await self.call(reply[0], reply[1], reply[2], source="webhook_reply")
            return
        wh.last_error_date = st.now()
        wh.last_error_message = err
        wh.failed_attempts += 1
        backoff = self._webhook_backoff
        self._webhook_backoff = min(backoff * 2, self.webhook_retry_max)
        await asyncio.sleep(backoff)

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
