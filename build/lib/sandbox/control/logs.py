"""Control handlers for what the bot did: calls, violations, updates, webhook, chat actions, files,
and the live event stream."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..errors import ControlError
from .common import ControlBase, _dumps, _opt_int, ok


class LogHandlers(ControlBase):
    """``/sandbox/calls``, ``/sandbox/violations``, ``/sandbox/updates``, ``/sandbox/webhook``,
    ``/sandbox/chat_actions``, ``/sandbox/files/...``, ``/sandbox/events``."""

    async def calls(self, request: web.Request) -> web.Response:
        q = request.query
        method = q.get("method")
        kind = q.get("kind")
        since = _opt_int(q.get("since_id"), "since_id") or 0
        limit = _opt_int(q.get("limit"), "limit")
        out = [
            e
            for e in self.state.call_log
            if e["id"] > since
            and (method is None or e["method"].lower() == method.lower())
            and (kind is None or e["kind"] == kind)
        ]
        if limit is not None:
            out = out[-limit:] if limit > 0 else []
        return ok(out)

    async def clear_calls(self, request: web.Request) -> web.Response:
        self.state.call_log.clear()
        return ok({"cleared": True})

    async def violations(self, request: web.Request) -> web.Response:
        return ok(self.state.violations)

    async def clear_violations(self, request: web.Request) -> web.Response:
        n = len(self.state.violations)
        self.state.violations.clear()
        return ok({"cleared": n})

    async def response_problems(self, request: web.Request) -> web.Response:
        return ok(self.api.response_problems)

    async def updates(self, request: web.Request) -> web.Response:
        st = self.state
        return ok({"allowed_updates": st.allowed_updates, "pending": [u.render() for u in st.updates]})

    async def webhook(self, request: web.Request) -> web.Response:
        wh = self.state.webhook
        if wh is None:
            return ok({"url": "", "pending_update_count": len(self.state.updates)})
        return ok(
            {
                "url": wh.url,
                "secret_token_set": bool(wh.secret_token),
                "pending_update_count": len(self.state.updates),
                "delivered": wh.delivered,
                "failed_attempts": wh.failed_attempts,
                "last_error_date": wh.last_error_date,
                "last_error_message": wh.last_error_message,
            }
        )

    async def chat_actions(self, request: web.Request) -> web.Response:
        cid = _opt_int(request.query.get("chat_id"), "chat_id")
        return ok([a for a in self.state.chat_actions if cid is None or a["chat_id"] == cid])

    async def file(self, request: web.Request) -> web.Response:
        rec = self.state.files.get(request.match_info["file_id"])
        if rec is None:
            raise ControlError(404, "file not found")
        return web.Response(body=rec.data, content_type=rec.mime_type or "application/octet-stream")

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-Sent Events: every state change as a JSON ``data:`` line (event name = type)."""
        st = self.state
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
                "Access-Control-Allow-Origin": "*",
            }
        )
        await resp.prepare(request)
        q = st.subscribe()
        try:
            await resp.write(b": connected\n\n")
            while True:
                try:
                    ev = await asyncio.wait_for(q.get(), 15.0)
                except TimeoutError:
                    await resp.write(b": keepalive\n\n")
                    continue
                if ev.get("type") == "__close__":
                    break
                data = _dumps(ev)
                await resp.write(f"id: {ev['seq']}\nevent: {ev['type']}\ndata: {data}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            st.unsubscribe(q)
        return resp
