"""Bot API method implementations on top of :class:`~sandbox.state.SandboxState`.

``BotApi.call(method, params, files)`` runs the whole pipeline for one request:
validation (spec), unsupported check, fault injection and flood limits (sending methods),
the handler, and call/violation logging. It returns ``(http_status, json_body)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .errors import ApiError, bad_request, forbidden, unsupported, violation
from .formatting import EntityParseError, parse_text
from .limits import SENDING_METHODS, FaultInjector, FloodLimiter
from .spec import UploadedFile, decode_call, get_spec
from .state import PLACEHOLDER_PNG, Chat, FileRecord, Message, SandboxState, Update, WebhookSettings

log = logging.getLogger("sandbox")

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
# Fields the sandbox adds to responses although the vendored spec lacks them (aiogram requires them).
COMPAT_RESPONSE_FIELDS = frozenset({"can_send_welcome_messages"})

CALLBACK_ANSWER_WINDOW = 15.0
WEBHOOK_SCAN = 2000  # pending updates looked at for one whose chat has nothing in flight
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"

Handler = Callable[[dict[str, Any], dict[str, UploadedFile]], Any]


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


def _sanitize(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in params.items():
        if isinstance(v, UploadedFile):
            out[k] = v.describe()
        elif isinstance(v, (bytes, bytearray)):
            out[k] = {"bytes": len(v)}
        else:
            out[k] = v
    return out


class BotApi:
    def __init__(
        self,
        state: SandboxState,
        *,
        flood: FloodLimiter | None = None,
        faults: FaultInjector | None = None,
        validate_responses: bool = False,
        max_poll_timeout: float = 50.0,
        webhook_retry_min: float = 0.05,
        webhook_retry_max: float = 2.0,
        webhook_timeout: float = 10.0,
    ) -> None:
        self.state = state
        self.flood = flood or FloodLimiter()
        self.faults = faults or FaultInjector()
        self.validate_responses = validate_responses
        self.response_problems: list[dict[str, Any]] = []
        self.max_poll_timeout = max_poll_timeout
        self.webhook_retry_min = webhook_retry_min
        self.webhook_retry_max = webhook_retry_max
        self.webhook_timeout = webhook_timeout
        self._poll_gen = 0
        self._closing = False
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_backoff = webhook_retry_min
        self.handlers: dict[str, Handler] = {}
        for name in dir(self):
            if name.startswith("m_"):
                self.handlers[name[2:]] = getattr(self, name)

    # ------------------------------------------------------------------ pipeline

    async def call(
        self,
        method: str,
        params: dict[str, Any],
        files: dict[str, UploadedFile] | None = None,
        *,
        source: str = "http",
    ) -> tuple[int, dict[str, Any]]:
        st = self.state
        t0 = time.perf_counter()
        files = files or {}
        name, decoded, viols = decode_call(method, params, files)
        entry: dict[str, Any] = {
            "time": st.clock(),
            "method": name or method,
            "params": _sanitize(params),
            "source": source,
        }
        if name is None or viols:
            v = viols[0]
            status = v.status
            desc = v.description
            body = {"ok": False, "error_code": status, "description": desc}
            self._finish(entry, t0, status, "violation", desc)
            st.log_violation(
                {
                    "time": entry["time"],
                    "method": name or method,
                    "params": entry["params"],
                    "status": status,
                    "description": desc,
                    "violations": [x.to_dict() for x in viols],
                }
            )
            return status, body
        handler = self.handlers.get(name)
        if handler is None:
            desc = "Bad Request: method is not supported by the sandbox"
            self._finish(entry, t0, 400, "unsupported", desc)
            return 400, {"ok": False, "error_code": 400, "description": desc}
        try:
            if name in SENDING_METHODS or self.faults.applies_to(name):
                self._check_limits(decoded, name)
            result = handler(decoded, files)
            if inspect.isawaitable(result):
                result = await result
        except ApiError as e:
            self._finish(entry, t0, e.status, e.kind, e.description)
            if e.kind == "violation":
                st.log_violation(
                    {
                        "time": entry["time"],
                        "method": name,
                        "params": entry["params"],
                        "status": e.status,
                        "description": e.description,
                        "violations": [
                            {
                                "path": e.path,
                                "reason": e.reason,
                                "description": e.description,
                                "status": e.status,
                            }
                        ],
                    }
                )
            return e.status, e.to_response()
        self._finish(entry, t0, 200, "ok", None)
        if self.validate_responses:
            self._validate_result(name, result)
        return 200, {"ok": True, "result": result}

    def _finish(self, entry: dict[str, Any], t0: float, status: int, kind: str, desc: str | None) -> None:
        entry["status"] = status
        entry["ok"] = status == 200
        entry["kind"] = kind
        entry["description"] = desc
        entry["duration_ms"] = round((time.perf_counter() - t0) * 1000, 3)
        self.state.log_call(entry)

    def _validate_result(self, name: str, result: Any) -> None:
        from .spec import _check_types, _Ctx

        spec = get_spec()
        returns = spec.methods[name].returns
        if not returns:
            return
        types = tuple(returns)
        if "True" in types or "Boolean" in types:
            types = tuple("Boolean" if t == "True" else t for t in types)
        _, viols = _check_types(types, result, "result", _Ctx(spec, {}), wire=False)
        viols = [v for v in viols if v.path.rsplit(".", 1)[-1] not in COMPAT_RESPONSE_FIELDS]
        if viols:
            self.response_problems.append({"method": name, "problems": [v.to_dict() for v in viols[:5]]})

    def _check_limits(self, p: dict[str, Any], name: str) -> None:
        fault = self.faults.roll() if self.faults.applies_to(name) else None
        if fault == "429":
            fault_ra = self.faults.config.retry_after
            raise ApiError(
                429,
                f"Too Many Requests: retry after {fault_ra}",
                parameters={"retry_after": fault_ra},
                kind="fault",
            )
        if fault == "500":
            raise ApiError(500, "Internal Server Error", kind="fault")
        if name not in SENDING_METHODS:
            return
        cid = p.get("chat_id")
        if isinstance(cid, str):
            chat = self.state.find_chat_by_username(cid)
            if chat is None:
                return
            cid = chat.id
        if not isinstance(cid, int):
            return
        ra = self.flood.check(cid, cid > 0)
        if ra is not None:
            raise ApiError(
                429, f"Too Many Requests: retry after {ra}", parameters={"retry_after": ra}, kind="flood"
            )

    # ------------------------------------------------------------------ lifecycle

    async def shutdown(self) -> None:
        self._closing = True
        self.state._signal_updates()
        task = self._webhook_task
        self._webhook_task = None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

    # ------------------------------------------------------------------ helpers

    def _chat(self, chat_id: Any, *, for_send: bool = False) -> Chat:
        st = self.state
        if isinstance(chat_id, str):
            chat = st.find_chat_by_username(chat_id)
            if chat is None:
                raise bad_request("chat not found")
        else:
            chat = st.chats.get(chat_id)
            if chat is None:
                user = st.users.get(chat_id)
                if user is not None and for_send:
                    if user.deactivated:
                        raise forbidden("user is deactivated")
                    if user.blocked_bot:
                        raise forbidden("bot was blocked by the user")
                    raise forbidden("bot can't initiate conversation with a user")
                raise bad_request("chat not found")
        if chat.is_private:
            if for_send:
                user = st.users.get(chat.id)
                if user is not None:
                    if user.deactivated:
                        raise forbidden("user is deactivated")
                    if user.blocked_bot:
                        raise forbidden("bot was blocked by the user")
        else:
            bm = chat.bot_member
            if bm is None or bm.status == "left":
                if for_send:
                    raise forbidden(f"bot is not a member of the {chat.type} chat")
                raise bad_request("chat not found")
            if bm.status == "kicked":
                if for_send:
                    raise forbidden(f"bot was kicked from the {chat.type} chat")
                raise bad_request("chat not found")
            if for_send and bm.status == "restricted":
                raise bad_request("not enough rights to send text messages to the chat")
        return chat

    def _bot_can(self, chat: Chat, right: str) -> bool:
        if chat.is_private:
            return True
        bm = chat.bot_member
        return bm is not None and bm.right(right)

    @staticmethod
    def _no_business(p: dict[str, Any]) -> None:
        if p.get("business_connection_id"):
            raise unsupported("business connections are not supported by the sandbox")

    def _thread(self, chat: Chat, thread_id: int | None) -> int | None:
        if thread_id is None:
            return None
        if not chat.is_forum:
            raise bad_request("message thread not found")
        topic = chat.topics.get(thread_id)
        if topic is None or topic.deleted:
            raise bad_request("message thread not found")
        if topic.closed and not self._bot_can(chat, "can_manage_topics"):
            raise bad_request("TOPIC_CLOSED")
        return thread_id

    def _reply(self, chat: Chat, p: dict[str, Any], thread_id: int | None) -> tuple[int | None, int | None]:
        rp = p.get("reply_parameters")
        allow = bool(p.get("allow_sending_without_reply"))
        target_id: int | None = None
        if isinstance(rp, dict):
            target_id = rp.get("message_id")
            allow = bool(rp.get("allow_sending_without_reply", allow))
            other = rp.get("chat_id")
            if (
                other is not None
                and other != chat.id
                and other != (f"@{chat.username}" if chat.username else None)
            ):
                other_chat = self._chat(other)
                target = self.state.get_message(other_chat.id, target_id) if target_id is not None else None
                if (target is None or target.deleted) and not allow:
                    raise bad_request("message to be replied not found")
                return None, thread_id  # cross-chat replies are accepted but not linked
        elif p.get("reply_to_message_id") is not None:
            target_id = p["reply_to_message_id"]
        if target_id is None:
            return None, thread_id
        target = self.state.get_message(chat.id, target_id)
        if target is None or target.deleted:
            if allow:
                return None, thread_id
            raise bad_request("message to be replied not found")
        if chat.is_forum:
            if thread_id is None and target.message_thread_id is not None:
                thread_id = self._thread(chat, target.message_thread_id)
            elif thread_id is not None and target.message_thread_id != thread_id:
                if allow:
                    return None, thread_id
                raise bad_request("message to be replied not found")
        return target_id, thread_id

    def _send(
        self,
        p: dict[str, Any],
        content: dict[str, Any],
        method: str,
        *,
        media_group_id: str | None = None,
        copied_from: tuple[int, int] | None = None,
        forward_origin: dict[str, Any] | None = None,
        chat: Chat | None = None,
        thread_reply: tuple[int | None, int | None] | None = None,
    ) -> Message:
        self._no_business(p)
        if chat is None:
            chat = self._chat(p["chat_id"], for_send=True)
        if thread_reply is None:
            thread_id = self._thread(chat, p.get("message_thread_id"))
            reply_to, thread_id = self._reply(chat, p, thread_id)
        else:
            reply_to, thread_id = thread_reply
        return self.state.add_message(
            chat,
            "bot",
            content,
            thread_id=thread_id,
            reply_to=reply_to,
            reply_markup=p.get("reply_markup"),
            media_group_id=media_group_id,
            copied_from=copied_from,
            forward_origin=forward_origin,
            protected=bool(p.get("protect_content")),
            via_method=method,
        )

    def _parse(
        self, text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None, path: str
    ) -> tuple[str, list[dict[str, Any]]]:
        try:
            plain, ents = parse_text(text, parse_mode, entities)
        except EntityParseError as e:
            raise violation(f"can't parse entities: {e}", path=path) from None
        except ValueError:
            raise violation("unsupported parse_mode", path="parse_mode") from None
        for ent in ents:
            if ent.get("type") == "text_mention" and isinstance(ent.get("user"), dict):
                user = self.state.users.get(ent["user"].get("id"))
                if user is not None:
                    ent["user"] = self.state.render_user(user)
        return plain, ents

    def _text_content(self, p: dict[str, Any]) -> dict[str, Any]:
        text, ents = self._parse(p["text"], p.get("parse_mode"), p.get("entities"), "text")
        c: dict[str, Any] = {"text": text}
        if ents:
            c["entities"] = ents
        lpo = p.get("link_preview_options")
        if isinstance(lpo, dict) and lpo:
            c["link_preview_options"] = lpo
        elif p.get("disable_web_page_preview"):
            c["link_preview_options"] = {"is_disabled": True}
        return c

    def _caption(self, content: dict[str, Any], p: dict[str, Any], *, replace: bool = True) -> None:
        if "caption" not in p:
            return
        if replace:
            content.pop("caption", None)
            content.pop("caption_entities", None)
        text, ents = self._parse(
            p["caption"] or "", p.get("parse_mode"), p.get("caption_entities"), "caption"
        )
        if text:
            content["caption"] = text
            if ents:
                content["caption_entities"] = ents
        if p.get("show_caption_above_media"):
            content["show_caption_above_media"] = True

    def _input_file(
        self, value: Any, kind: str, p: dict[str, Any], files: dict[str, UploadedFile], path: str
    ) -> FileRecord:
        st = self.state
        if isinstance(value, str) and value.startswith("attach://"):
            key = value[len("attach://") :]
            f = files.get(key)
            if f is None:
                raise violation(f'can\'t find attached file "{key}"', path=path)
            value = f
        meta = {
            "duration": p.get("duration"),
            "width": p.get("width"),
            "height": p.get("height"),
            "performer": p.get("performer"),
            "title": p.get("title"),
            "emoji": p.get("emoji"),
        }
        if isinstance(value, UploadedFile):
            if not value.data:
                raise bad_request("file must be non-empty")
            return st.store_file(
                kind,
                value.data,
                file_name=value.filename,
                mime_type=value.content_type
                if value.content_type not in (None, "application/octet-stream")
                else None,
                **meta,
            )
        if not isinstance(value, str) or not value:
            raise bad_request(f"there is no {kind} in the request")
        if value.startswith(("http://", "https://")):
            name = value.rstrip("/").rsplit("/", 1)[-1] or None
            data = PLACEHOLDER_PNG if kind in ("photo", "sticker") else f"downloaded from {value}".encode()
            return st.store_file(kind, data, file_name=name, **meta)
        rec = st.files.get(value)
        if rec is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if (rec.kind == "photo") != (kind == "photo") or (rec.kind == "sticker") != (kind == "sticker"):
            raise bad_request(f"can't use file of type {rec.kind.title()} as {kind.title()}")
        return rec

    def _message_for_edit(self, p: dict[str, Any]) -> Message:
        if p.get("inline_message_id"):
            raise unsupported("inline messages are not supported by the sandbox")
        self._no_business(p)
        if p.get("chat_id") is None or p.get("message_id") is None:
            raise violation("message identifier is not specified", path="message_id")
        chat = self._chat(p["chat_id"])
        msg = self.state.get_message(chat.id, p["message_id"])
        if msg is None or msg.deleted:
            raise bad_request("message to edit not found")
        if msg.sender != "bot" or msg.service:
            raise bad_request("message can't be edited")
        return msg

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

    # ------------------------------------------------------------------ sending

    def m_sendMessage(self, p: dict[str, Any], files: Any) -> Any:
        content = self._text_content(p)
        return self.state.render_message(self._send(p, content, "sendMessage"))

    def _send_media(self, p: dict[str, Any], files: dict[str, UploadedFile], kind: str, method: str) -> Any:
        chat = self._chat(p["chat_id"], for_send=True)
        thread_id = self._thread(chat, p.get("message_thread_id"))
        thread_reply = self._reply(chat, p, thread_id)
        rec = self._input_file(p[kind], kind, p, files, kind)
        content = self.state.media_content(rec, kind)
        self._caption(content, p)
        if p.get("has_spoiler"):
            content["has_media_spoiler"] = True
        msg = self._send(p, content, method, chat=chat, thread_reply=thread_reply)
        return self.state.render_message(msg)

    def m_sendPhoto(self, p: dict[str, Any], files: Any) -> Any:
        return self._send_media(p, files, "photo", "sendPhoto")

    def m_sendDocument(self, p: dict[str, Any], files: Any) -> Any:
        return self._send_media(p, files, "document", "sendDocument")

    def m_sendVoice(self, p: dict[str, Any], files: Any) -> Any:
        return self._send_media(p, files, "voice", "sendVoice")

    def m_sendVideo(self, p: dict[str, Any], files: Any) -> Any:
        return self._send_media(p, files, "video", "sendVideo")

    def m_sendAudio(self, p: dict[str, Any], files: Any) -> Any:
        return self._send_media(p, files, "audio", "sendAudio")

    def m_sendAnimation(self, p: dict[str, Any], files: Any) -> Any:
        return self._send_media(p, files, "animation", "sendAnimation")

    def m_sendSticker(self, p: dict[str, Any], files: Any) -> Any:
        return self._send_media(p, files, "sticker", "sendSticker")

    def m_sendVideoNote(self, p: dict[str, Any], files: Any) -> Any:
        return self._send_media(p, files, "video_note", "sendVideoNote")

    def m_sendLocation(self, p: dict[str, Any], files: Any) -> Any:
        lat, lon = p["latitude"], p["longitude"]
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise bad_request("wrong latitude/longitude specified")
        loc: dict[str, Any] = {"latitude": lat, "longitude": lon}
        for k in ("horizontal_accuracy", "live_period", "heading", "proximity_alert_radius"):
            if p.get(k) is not None:
                loc[k] = p[k]
        return self.state.render_message(self._send(p, {"location": loc}, "sendLocation"))

    def m_sendContact(self, p: dict[str, Any], files: Any) -> Any:
        contact = {"phone_number": p["phone_number"], "first_name": p["first_name"]}
        for k in ("last_name", "vcard"):
            if p.get(k):
                contact[k] = p[k]
        return self.state.render_message(self._send(p, {"contact": contact}, "sendContact"))

    def m_sendMediaGroup(self, p: dict[str, Any], files: Any) -> Any:
        st = self.state
        chat = self._chat(p["chat_id"], for_send=True)
        self._no_business(p)
        thread_id = self._thread(chat, p.get("message_thread_id"))
        thread_reply = self._reply(chat, p, thread_id)
        contents = []
        for i, item in enumerate(p["media"]):
            kind = item["type"]
            if kind == "live_photo":
                raise unsupported("live photos are not supported by the sandbox")
            rec = self._input_file(item["media"], kind, item, files, f"media[{i}].media")
            content = st.media_content(rec, kind)
            self._caption(content, item)
            if item.get("has_spoiler"):
                content["has_media_spoiler"] = True
            contents.append(content)
        group_id = str(13_500_000_000_000_000 + next(st._media_group_seq))
        out = []
        for content in contents:
            q = dict(p)
            q.pop("reply_markup", None)
            msg = self._send(
                q, content, "sendMediaGroup", media_group_id=group_id, chat=chat, thread_reply=thread_reply
            )
            out.append(st.render_message(msg))
        return out

    def m_sendChatAction(self, p: dict[str, Any], files: Any) -> Any:
        self._no_business(p)
        chat = self._chat(p["chat_id"], for_send=True)
        thread_id = self._thread(chat, p.get("message_thread_id"))
        entry = {
            "chat_id": chat.id,
            "action": p["action"],
            "message_thread_id": thread_id,
            "time": self.state.clock(),
        }
        self.state.chat_actions.append(entry)
        self.state.emit("chat_action", **entry)
        return True

    # ------------------------------------------------------------------ copy / forward

    def _source(self, p: dict[str, Any], message_id: int, what: str) -> tuple[Chat, Message]:
        src_chat = self._chat(p["from_chat_id"])
        src = self.state.get_message(src_chat.id, message_id)
        if src is None or src.deleted:
            raise bad_request(f"message to {what} not found")
        if src.service or src.kind == "unknown":
            raise bad_request(f"message can't be {'copied' if what == 'copy' else 'forwarded'}")
        if src.protected:
            raise bad_request("message has protected content and can't be forwarded")
        return src_chat, src

    def _copy_content(
        self, src: Message, p: dict[str, Any], *, remove_caption: bool = False
    ) -> dict[str, Any]:
        content = copy.deepcopy(src.content)
        if src.has_media:
            if remove_caption:
                content.pop("caption", None)
                content.pop("caption_entities", None)
            elif "caption" in p:
                self._caption(content, p)
        return content

    def m_copyMessage(self, p: dict[str, Any], files: Any) -> Any:
        src_chat, src = self._source(p, p["message_id"], "copy")
        content = self._copy_content(src, p)
        msg = self._send(p, content, "copyMessage", copied_from=(src_chat.id, src.message_id))
        return {"message_id": msg.message_id}

    def _origin(self, src: Message) -> dict[str, Any]:
        if src.forward_origin is not None:
            return src.forward_origin
        src_chat = self.state.chats[src.chat_id]
        if src.sender == "bot" or src_chat.is_private or isinstance(src.sender, int):
            return {"type": "user", "date": src.date, "sender_user": self.state.render_sender(src.sender)}
        return {"type": "chat", "date": src.date, "sender_chat": self.state.render_chat(src_chat)}

    def m_forwardMessage(self, p: dict[str, Any], files: Any) -> Any:
        src_chat, src = self._source(p, p["message_id"], "forward")
        content = copy.deepcopy(src.content)
        q = dict(p)
        q.pop("reply_markup", None)
        msg = self._send(
            q,
            content,
            "forwardMessage",
            forward_origin=self._origin(src),
            copied_from=(src_chat.id, src.message_id),
        )
        return self.state.render_message(msg)

    def _copy_many(self, p: dict[str, Any], forward: bool) -> Any:
        st = self.state
        src_chat = self._chat(p["from_chat_id"])
        chat = self._chat(p["chat_id"], for_send=True)
        self._no_business(p)
        thread_id = self._thread(chat, p.get("message_thread_id"))
        groups: dict[str, str] = {}
        out = []
        sources = []
        for mid in p["message_ids"]:
            src = st.get_message(src_chat.id, mid)
            if src is None or src.deleted or src.service or src.protected:
                continue
            sources.append(src)
        if not sources:
            raise bad_request("message to forward not found" if forward else "message to copy not found")
        q = {k: v for k, v in p.items() if k not in ("reply_markup", "reply_parameters")}
        for src in sources:
            gid = None
            if src.media_group_id is not None:
                gid = groups.setdefault(
                    src.media_group_id, str(13_700_000_000_000_000 + next(st._media_group_seq))
                )
            if forward:
                content = copy.deepcopy(src.content)
                msg = self._send(
                    q,
                    content,
                    "forwardMessages",
                    media_group_id=gid,
                    forward_origin=self._origin(src),
                    copied_from=(src_chat.id, src.message_id),
                    chat=chat,
                    thread_reply=(None, thread_id),
                )
            else:
                content = self._copy_content(src, {}, remove_caption=bool(p.get("remove_caption")))
                msg = self._send(
                    q,
                    content,
                    "copyMessages",
                    media_group_id=gid,
                    copied_from=(src_chat.id, src.message_id),
                    chat=chat,
                    thread_reply=(None, thread_id),
                )
            out.append({"message_id": msg.message_id})
        return out

    def m_copyMessages(self, p: dict[str, Any], files: Any) -> Any:
        return self._copy_many(p, forward=False)

    def m_forwardMessages(self, p: dict[str, Any], files: Any) -> Any:
        return self._copy_many(p, forward=True)

    # ------------------------------------------------------------------ editing

    def m_editMessageText(self, p: dict[str, Any], files: Any) -> Any:
        msg = self._message_for_edit(p)
        if "text" not in msg.content:
            raise bad_request("there is no text in the message to edit")
        new = self._text_content(p)
        markup = p.get("reply_markup")
        old_cmp = {k: msg.content.get(k) for k in ("text", "entities")}
        new_cmp = {k: new.get(k) for k in ("text", "entities")}
        if old_cmp == new_cmp and markup == msg.reply_markup:
            raise bad_request(NOT_MODIFIED)
        self.state.edit_message(msg, new, markup)
        return self.state.render_message(msg)

    def m_editMessageCaption(self, p: dict[str, Any], files: Any) -> Any:
        msg = self._message_for_edit(p)
        if not msg.has_media:
            raise bad_request("there is no caption in the message to edit")
        content = dict(msg.content)
        q = dict(p)
        q.setdefault("caption", "")
        self._caption(content, q)
        if not p.get("show_caption_above_media"):
            content.pop("show_caption_above_media", None)
        markup = p.get("reply_markup")
        if content == msg.content and markup == msg.reply_markup:
            raise bad_request(NOT_MODIFIED)
        self.state.edit_message(msg, content, markup)
        return self.state.render_message(msg)

    def m_editMessageReplyMarkup(self, p: dict[str, Any], files: Any) -> Any:
        msg = self._message_for_edit(p)
        markup = p.get("reply_markup")
        if markup == msg.reply_markup or (not markup and not msg.reply_markup):
            raise bad_request(NOT_MODIFIED)
        self.state.edit_message(msg, None, markup or None)
        return self.state.render_message(msg)

    # ------------------------------------------------------------------ deleting

    def _can_delete(self, chat: Chat, msg: Message) -> bool:
        if msg.service and "forum_topic_created" in msg.content:
            return False
        if chat.is_private:
            return True
        if msg.sender == "bot":
            return True
        return self._bot_can(chat, "can_delete_messages")

    def m_deleteMessage(self, p: dict[str, Any], files: Any) -> Any:
        chat = self._chat(p["chat_id"])
        msg = self.state.get_message(chat.id, p["message_id"])
        if msg is None or msg.deleted:
            raise bad_request("message to delete not found")
        if not self._can_delete(chat, msg):
            raise bad_request("message can't be deleted")
        self.state.delete_message(msg)
        return True

    def m_deleteMessages(self, p: dict[str, Any], files: Any) -> Any:
        chat = self._chat(p["chat_id"])
        for mid in p["message_ids"]:
            msg = self.state.get_message(chat.id, mid)
            if msg is not None and not msg.deleted and self._can_delete(chat, msg):
                self.state.delete_message(msg)
        return True

    # ------------------------------------------------------------------ callbacks

    def m_answerCallbackQuery(self, p: dict[str, Any], files: Any) -> Any:
        st = self.state
        cq = st.callbacks.get(p["callback_query_id"])
        # Telegram refuses an answer about 15 s after the press, and a second answer.
        if cq is None or cq.answered or st.clock() - cq.created > CALLBACK_ANSWER_WINDOW:
            raise bad_request(QUERY_TOO_OLD)
        cq.answered = True
        cq.answer = {
            "text": p.get("text"),
            "show_alert": bool(p.get("show_alert")),
            "url": p.get("url"),
            "cache_time": p.get("cache_time", 0),
            "time": st.clock(),
        }
        st.emit("callback_answered", callback=cq.to_control())
        st.notify(("callback", cq.id))
        return True

    # ------------------------------------------------------------------ forum topics

    def _forum(self, p: dict[str, Any]) -> Chat:
        chat = self._chat(p["chat_id"])
        if not chat.is_forum:
            raise bad_request("the chat is not a forum")
        return chat

    def _topic(self, chat: Chat, thread_id: int) -> Any:
        topic = chat.topics.get(thread_id)
        if topic is None or topic.deleted:
            raise bad_request("TOPIC_ID_INVALID")
        return topic

    def _topic_rights(self, chat: Chat, topic: Any = None) -> None:
        if self._bot_can(chat, "can_manage_topics"):
            return
        if topic is not None and topic.created_by == "bot":
            return
        raise bad_request(
            "not enough rights to manage topics"
            if topic is not None
            else "not enough rights to create a topic"
        )

    def m_createForumTopic(self, p: dict[str, Any], files: Any) -> Any:
        chat = self._forum(p)
        self._topic_rights(chat)
        topic = self.state.create_topic(
            chat, p["name"], p.get("icon_color") or 7322096, p.get("icon_custom_emoji_id") or None, "bot"
        )
        return topic.render()

    def m_editForumTopic(self, p: dict[str, Any], files: Any) -> Any:
        st = self.state
        chat = self._forum(p)
        topic = self._topic(chat, p["message_thread_id"])
        self._topic_rights(chat, topic)
        edited: dict[str, Any] = {}
        if p.get("name") and p["name"] != topic.name:
            edited["name"] = p["name"]
        if "icon_custom_emoji_id" in p and (p["icon_custom_emoji_id"] or None) != topic.icon_custom_emoji_id:
            edited["icon_custom_emoji_id"] = p["icon_custom_emoji_id"]
        if not edited:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.name = edited.get("name", topic.name)
        if "icon_custom_emoji_id" in edited:
            topic.icon_custom_emoji_id = edited["icon_custom_emoji_id"] or None
        st.add_message(
            chat, "bot", {"forum_topic_edited": edited}, thread_id=topic.message_thread_id, service=True
        )
        st.emit("topic_edited", chat_id=chat.id, topic=topic.to_control())
        return True

    def _set_closed(self, p: dict[str, Any], closed: bool) -> Any:
        st = self.state
        chat = self._forum(p)
        topic = self._topic(chat, p["message_thread_id"])
        self._topic_rights(chat, topic)
        if topic.closed == closed:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.closed = closed
        key = "forum_topic_closed" if closed else "forum_topic_reopened"
        st.add_message(chat, "bot", {key: {}}, thread_id=topic.message_thread_id, service=True)
        st.emit("topic_closed" if closed else "topic_reopened", chat_id=chat.id, topic=topic.to_control())
        return True

    def m_closeForumTopic(self, p: dict[str, Any], files: Any) -> Any:
        return self._set_closed(p, True)

    def m_reopenForumTopic(self, p: dict[str, Any], files: Any) -> Any:
        return self._set_closed(p, False)

    def m_deleteForumTopic(self, p: dict[str, Any], files: Any) -> Any:
        st = self.state
        chat = self._forum(p)
        topic = self._topic(chat, p["message_thread_id"])
        if not self._bot_can(chat, "can_delete_messages"):
            raise bad_request("not enough rights to delete a topic")
        topic.deleted = True
        for mid in chat.threads.get(topic.message_thread_id, []):
            msg = st.messages[(chat.id, mid)]
            st.delete_message(msg)
        st.emit("topic_deleted", chat_id=chat.id, topic=topic.to_control())
        return True

    # ------------------------------------------------------------------ chats and members

    def m_getChat(self, p: dict[str, Any], files: Any) -> Any:
        return self.state.render_chat_full(self._chat(p["chat_id"]))

    def m_getChatMember(self, p: dict[str, Any], files: Any) -> Any:
        st = self.state
        chat = self._chat(p["chat_id"])
        uid = p["user_id"]
        if uid == st.bot.id:
            if chat.is_private:
                from .state import Member

                user = st.users.get(chat.id)
                return st.render_member(
                    chat, Member(uid, "kicked" if user and user.blocked_bot else "member")
                )
            assert chat.bot_member is not None
            return st.render_member(chat, chat.bot_member)
        if uid not in st.users:
            raise bad_request("user not found")
        from .state import Member

        if chat.is_private:
            return st.render_member(chat, Member(uid, "member" if uid == chat.id else "left"))
        mem = chat.members.get(uid) or Member(uid, "left")
        return st.render_member(chat, mem)

    def m_getChatAdministrators(self, p: dict[str, Any], files: Any) -> Any:
        st = self.state
        chat = self._chat(p["chat_id"])
        if chat.is_private:
            raise bad_request("there are no administrators in the private chat")
        admins = [st.render_member(chat, m) for m in chat.members.values() if m.is_admin]
        if chat.bot_member is not None and chat.bot_member.is_admin:
            admins.append(st.render_member(chat, chat.bot_member))
        return admins

    def m_getChatMemberCount(self, p: dict[str, Any], files: Any) -> Any:
        chat = self._chat(p["chat_id"])
        if chat.is_private:
            return 2
        n = sum(1 for m in chat.members.values() if m.is_present)
        if chat.bot_member is not None and chat.bot_member.is_present:
            n += 1
        return n

    def m_pinChatMessage(self, p: dict[str, Any], files: Any) -> Any:
        st = self.state
        self._no_business(p)
        chat = self._chat(p["chat_id"])
        if not self._bot_can(chat, "can_pin_messages"):
            raise bad_request("not enough rights to manage pinned messages in the chat")
        msg = st.get_message(chat.id, p["message_id"])
        if msg is None or msg.deleted:
            raise bad_request("message to pin not found")
        if msg.message_id in chat.pinned:
            chat.pinned.remove(msg.message_id)
        chat.pinned.insert(0, msg.message_id)
        st.add_message(
            chat,
            "bot",
            {"pinned_message": st.render_message(msg, with_reply=False)},
            thread_id=msg.message_thread_id,
            service=True,
        )
        st.emit("message_pinned", chat_id=chat.id, message_id=msg.message_id)
        return True

    def m_unpinChatMessage(self, p: dict[str, Any], files: Any) -> Any:
        st = self.state
        self._no_business(p)
        chat = self._chat(p["chat_id"])
        if not self._bot_can(chat, "can_pin_messages"):
            raise bad_request("not enough rights to manage pinned messages in the chat")
        mid = p.get("message_id")
        if mid is None:
            if chat.pinned:
                chat.pinned.pop(0)
        else:
            if mid not in chat.pinned:
                raise bad_request("message to unpin not found")
            chat.pinned.remove(mid)
        st.emit("message_unpinned", chat_id=chat.id, message_id=mid)
        return True

    def m_unpinAllChatMessages(self, p: dict[str, Any], files: Any) -> Any:
        chat = self._chat(p["chat_id"])
        if not self._bot_can(chat, "can_pin_messages"):
            raise bad_request("not enough rights to manage pinned messages in the chat")
        chat.pinned.clear()
        return True

    def m_setMessageReaction(self, p: dict[str, Any], files: Any) -> Any:
        st = self.state
        chat = self._chat(p["chat_id"])
        msg = st.get_message(chat.id, p["message_id"])
        if msg is None or msg.deleted or msg.service:
            raise bad_request("MESSAGE_ID_INVALID")
        reaction = p.get("reaction") or []
        if len(reaction) > 1:
            raise bad_request("REACTIONS_TOO_MANY")
        msg.bot_reaction = reaction or None
        st.emit("message_reaction", chat_id=chat.id, message_id=msg.message_id, reaction=reaction)
        st.notify(chat.id)
        return True

    def m_leaveChat(self, p: dict[str, Any], files: Any) -> Any:
        st = self.state
        chat = self._chat(p["chat_id"])
        if chat.is_private:
            raise bad_request("chat member status can't be changed in private chats")
        assert chat.bot_member is not None
        old = st.render_member(chat, chat.bot_member)
        chat.bot_member.status = "left"
        st.enqueue_update(
            "my_chat_member",
            {
                "chat": st.render_chat(chat),
                "from": st.render_bot(),
                "date": st.now(),
                "old_chat_member": old,
                "new_chat_member": {"user": st.render_bot(), "status": "left"},
            },
        )
        st.emit("member_updated", chat_id=chat.id, member={"user": st.render_bot(), "status": "left"})
        return True

    def m_getUserProfilePhotos(self, p: dict[str, Any], files: Any) -> Any:
        if p["user_id"] not in self.state.users:
            raise bad_request("user not found")
        return {"total_count": 0, "photos": []}

    # ------------------------------------------------------------------ files

    def m_getFile(self, p: dict[str, Any], files: Any) -> Any:
        rec = self.state.files.get(p["file_id"])
        if rec is None:
            raise bad_request("wrong file_id or the file is temporarily unavailable")
        if rec.file_size > 20 * 1024 * 1024:
            raise bad_request("file is too big")
        return {
            "file_id": rec.file_id,
            "file_unique_id": rec.file_unique_id,
            "file_size": rec.file_size,
            "file_path": rec.file_path,
        }

    # ------------------------------------------------------------------ bot settings

    @staticmethod
    def _scope_key(scope: Any) -> str:
        if not scope:
            return json.dumps({"type": "default"})
        return json.dumps(scope, sort_keys=True)

    def m_setMyCommands(self, p: dict[str, Any], files: Any) -> Any:
        key = (self._scope_key(p.get("scope")), p.get("language_code") or "")
        if p["commands"]:
            self.state.commands[key] = p["commands"]
        else:
            self.state.commands.pop(key, None)
        self.state.emit("commands_set", scope=key[0], language_code=key[1], commands=p["commands"])
        return True

    def m_getMyCommands(self, p: dict[str, Any], files: Any) -> Any:
        key = (self._scope_key(p.get("scope")), p.get("language_code") or "")
        return self.state.commands.get(key, [])

    def m_deleteMyCommands(self, p: dict[str, Any], files: Any) -> Any:
        key = (self._scope_key(p.get("scope")), p.get("language_code") or "")
        self.state.commands.pop(key, None)
        return True

    def m_setChatMenuButton(self, p: dict[str, Any], files: Any) -> Any:
        button = p.get("menu_button") or {"type": "default"}
        if p.get("chat_id") is not None:
            chat = self._chat(p["chat_id"])
            if not chat.is_private:
                raise bad_request("menu button can be set only in private chats")
            chat.menu_button = button
        else:
            self.state.default_menu_button = button
        return True

    def m_getChatMenuButton(self, p: dict[str, Any], files: Any) -> Any:
        if p.get("chat_id") is not None:
            chat = self._chat(p["chat_id"])
            if chat.menu_button is not None:
                return chat.menu_button
        return self.state.default_menu_button or {"type": "commands" if self.state.commands else "default"}

    def m_setMyDescription(self, p: dict[str, Any], files: Any) -> Any:
        lang = p.get("language_code") or ""
        if p.get("description"):
            self.state.descriptions[lang] = p["description"]
        else:
            self.state.descriptions.pop(lang, None)
        return True

    def m_getMyDescription(self, p: dict[str, Any], files: Any) -> Any:
        st = self.state
        lang = p.get("language_code") or ""
        return {"description": st.descriptions.get(lang, st.descriptions.get("", ""))}

    def m_setMyShortDescription(self, p: dict[str, Any], files: Any) -> Any:
        lang = p.get("language_code") or ""
        if p.get("short_description"):
            self.state.short_descriptions[lang] = p["short_description"]
        else:
            self.state.short_descriptions.pop(lang, None)
        return True

    def m_getMyShortDescription(self, p: dict[str, Any], files: Any) -> Any:
        st = self.state
        lang = p.get("language_code") or ""
        return {"short_description": st.short_descriptions.get(lang, st.short_descriptions.get("", ""))}

    def m_setMyName(self, p: dict[str, Any], files: Any) -> Any:
        lang = p.get("language_code") or ""
        if p.get("name"):
            if len(p["name"]) > 64:
                raise violation("name must be at most 64 characters", path="name")
            self.state.names[lang] = p["name"]
        else:
            self.state.names.pop(lang, None)
        return True

    def m_getMyName(self, p: dict[str, Any], files: Any) -> Any:
        st = self.state
        lang = p.get("language_code") or ""
        return {"name": st.names.get(lang, st.names.get("", st.bot.first_name))}


AsyncHandler = Callable[..., Awaitable[Any]]
