"""The Bot API double's pipeline and shared helpers; the method families extend `ApiBase`.

``call(method, params, files)`` runs the whole pipeline for one request: validation (spec),
unsupported check, fault injection and flood limits (sending methods), the handler, and
call/violation logging. It returns ``(http_status, json_body)``. Handlers are the `m_<method>`
methods of the final class (sandbox.methods.BotApi), found by name.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from ..errors import ApiError, bad_request, forbidden, unsupported, violation
from ..formatting import EntityParseError, parse_text
from ..limits import SENDING_METHODS, FaultInjector, FloodLimiter
from ..spec import UploadedFile, decode_call, get_spec
from ..state import PLACEHOLDER_PNG, Chat, FileRecord, Message, SandboxState

log = logging.getLogger("sandbox")

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
# Fields the sandbox adds to responses although the vendored spec lacks them (aiogram requires them).
COMPAT_RESPONSE_FIELDS = frozenset({"can_send_welcome_messages"})

CALLBACK_ANSWER_WINDOW = 15.0
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"

Handler = Callable[[dict[str, Any], dict[str, UploadedFile]], Any]


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


class ApiBase:
    """State, limits, faults and the request pipeline; helpers every method family uses."""

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
        from ..spec.structure import _check_types, _Ctx

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
