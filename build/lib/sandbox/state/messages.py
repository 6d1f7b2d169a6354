"""Messages (stored by (chat_id, message_id), with edit history) and files of the sandbox world.

Rendering to Telegram JSON omits absent fields like the real Bot API.
"""

from __future__ import annotations

import copy
import secrets
from typing import Any

from .chats import ChatWorld
from .model import (
    _DEFAULT_MIME,
    _FILE_DIR,
    _FILE_PREFIX,
    Chat,
    FileRecord,
    Message,
    _omit_none,
    image_size,
)


class MessageStore(ChatWorld):
    """Messages and files: add, edit, delete, render; store and render media."""

    def render_message(self, msg: Message, *, with_reply: bool = True) -> dict[str, Any]:
        chat = self.chats[msg.chat_id]
        d: dict[str, Any] = {"message_id": msg.message_id}
        if msg.message_thread_id is not None:
            d["message_thread_id"] = msg.message_thread_id
        d["from"] = self.render_sender(msg.sender)
        d["date"] = msg.date
        d["chat"] = self.render_chat(chat)
        if msg.forward_origin is not None:
            d["forward_origin"] = msg.forward_origin
        if msg.is_topic_message:
            d["is_topic_message"] = True
        if with_reply:
            reply_id = msg.reply_to
            if reply_id is None and msg.is_topic_message and msg.message_thread_id != msg.message_id:
                reply_id = msg.message_thread_id
            if reply_id is not None:
                target = self.messages.get((msg.chat_id, reply_id))
                if target is not None and not target.deleted:
                    d["reply_to_message"] = self.render_message(target, with_reply=False)
        if msg.edit_date is not None:
            d["edit_date"] = msg.edit_date
        if msg.protected:
            d["has_protected_content"] = True
        if msg.media_group_id is not None:
            d["media_group_id"] = msg.media_group_id
        d.update(msg.content)
        if msg.reply_markup is not None and "inline_keyboard" in msg.reply_markup:
            d["reply_markup"] = msg.reply_markup
        return d

    def render_maybe_inaccessible(self, msg: Message) -> dict[str, Any]:
        if msg.deleted:
            return {
                "chat": self.render_chat(self.chats[msg.chat_id]),
                "message_id": msg.message_id,
                "date": 0,
            }
        return self.render_message(msg)

    def message_to_control(self, msg: Message, *, telegram: bool = True) -> dict[str, Any]:
        c = msg.content
        d: dict[str, Any] = {
            "chat_id": msg.chat_id,
            "message_id": msg.message_id,
            "sender": msg.sender,
            "from_bot": msg.sender == "bot",
            "date": msg.date,
            "kind": msg.kind,
            "text": c.get("text", c.get("caption")),
            "message_thread_id": msg.message_thread_id,
            "reply_to_message_id": msg.reply_to,
            "reply_markup": msg.reply_markup,
            "media_group_id": msg.media_group_id,
            "edit_date": msg.edit_date,
            "deleted": msg.deleted,
            "service": msg.service,
            "history": msg.history,
            "copied_from": {"chat_id": msg.copied_from[0], "message_id": msg.copied_from[1]}
            if msg.copied_from
            else None,
            "forward_origin": msg.forward_origin,
            "via_method": msg.via_method,
            "bot_reaction": msg.bot_reaction,
            "content": c,
        }
        if telegram:
            d["telegram"] = self.render_message(msg)
        return d

    def render_chat_full(self, chat: Chat) -> dict[str, Any]:
        d = self.render_chat(chat)
        d["accent_color_id"] = abs(chat.id) % 7
        d["max_reaction_count"] = 11
        d["accepted_gift_types"] = {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        }
        if not chat.is_private:
            d["permissions"] = {
                "can_send_messages": True,
                "can_send_audios": True,
                "can_send_documents": True,
                "can_send_photos": True,
                "can_send_videos": True,
                "can_send_video_notes": True,
                "can_send_voice_notes": True,
                "can_send_polls": True,
                "can_send_other_messages": True,
                "can_add_web_page_previews": True,
                "can_change_info": False,
                "can_invite_users": True,
                "can_pin_messages": False,
                "can_manage_topics": False,
            }
        for mid in chat.pinned:
            msg = self.messages.get((chat.id, mid))
            if msg is not None and not msg.deleted:
                d["pinned_message"] = self.render_message(msg)
                break
        return d

    # ------------------------------------------------------------------ messages

    def get_message(self, chat_id: int, message_id: int) -> Message | None:
        return self.messages.get((chat_id, message_id))

    def add_message(
        self,
        chat: Chat,
        sender: int | str,
        content: dict[str, Any],
        *,
        thread_id: int | None = None,
        reply_to: int | None = None,
        reply_markup: dict[str, Any] | None = None,
        media_group_id: str | None = None,
        forward_origin: dict[str, Any] | None = None,
        copied_from: tuple[int, int] | None = None,
        protected: bool = False,
        service: bool = False,
        via_method: str | None = None,
    ) -> Message:
        mid = chat.next_message_id
        chat.next_message_id += 1
        is_topic = False
        if chat.is_forum and thread_id is not None:
            is_topic = True
        msg = Message(
            chat_id=chat.id,
            message_id=mid,
            sender=sender,
            date=self.now(),
            content=content,
            message_thread_id=thread_id,
            is_topic_message=is_topic,
            reply_to=reply_to,
            reply_markup=reply_markup,
            media_group_id=media_group_id,
            forward_origin=forward_origin,
            copied_from=copied_from,
            protected=protected,
            service=service,
            via_method=via_method,
        )
        self.messages[(chat.id, mid)] = msg
        chat.message_ids.append(mid)
        if thread_id is not None:
            chat.threads.setdefault(thread_id, []).append(mid)
        if reply_markup is not None and chat.is_private and sender == "bot":
            if "keyboard" in reply_markup:
                chat.reply_keyboard = reply_markup
            elif reply_markup.get("remove_keyboard"):
                chat.reply_keyboard = None
        if self._subscribers:
            self.emit("message_created", chat_id=chat.id, message=self.message_to_control(msg))
        self.notify(chat.id)
        return msg

    def edit_message(
        self,
        msg: Message,
        content: dict[str, Any] | None,
        reply_markup: Any = ...,
        *,
        set_edit_date: bool = True,
    ) -> None:
        """Replaces content and/or reply markup (``...`` keeps the markup) and records history."""
        self.snapshot_history(msg)
        if content is not None:
            msg.content = content
        if reply_markup is not ...:
            msg.reply_markup = reply_markup
        if set_edit_date:
            msg.edit_date = self.now()
        if self._subscribers:
            self.emit("message_edited", chat_id=msg.chat_id, message=self.message_to_control(msg))
        self.notify(msg.chat_id)

    def snapshot_history(self, msg: Message) -> None:
        msg.history.append(
            {
                "date": msg.edit_date or msg.date,
                "content": copy.deepcopy(msg.content),
                "reply_markup": msg.reply_markup,
            }
        )

    def delete_message(self, msg: Message) -> None:
        if msg.deleted:
            return
        msg.deleted = True
        chat = self.chats[msg.chat_id]
        if msg.message_id in chat.pinned:
            chat.pinned.remove(msg.message_id)
        self.emit("message_deleted", chat_id=msg.chat_id, message_id=msg.message_id)
        self.notify(msg.chat_id)

    def chat_messages(
        self,
        chat: Chat,
        *,
        thread_id: int | None = None,
        after_message_id: int = 0,
        include_deleted: bool = True,
        limit: int | None = None,
    ) -> list[Message]:
        ids: list[int] = chat.threads.get(thread_id, []) if thread_id is not None else chat.message_ids
        if after_message_id:
            # ids are increasing: binary search for the first id > after_message_id
            import bisect

            ids = ids[bisect.bisect_right(ids, after_message_id) :]
        out = []
        for mid in ids:
            m = self.messages[(chat.id, mid)]
            if m.deleted and not include_deleted:
                continue
            out.append(m)
        if limit is not None and limit >= 0:
            out = out[-limit:] if limit else []
        return out

    # ------------------------------------------------------------------ files

    def _new_file_ids(self, kind: str) -> tuple[str, str]:
        n = next(self._file_seq)
        prefix = _FILE_PREFIX.get(kind, "BQACAgIAAxkBAAI")
        file_id = f"{prefix}{n:06d}{secrets.token_urlsafe(18)}"
        unique = f"AQAD{n:06d}{secrets.token_urlsafe(6)}"
        return file_id, unique

    def store_file(
        self,
        kind: str,
        data: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        width: int | None = None,
        height: int | None = None,
        duration: int | None = None,
        performer: str | None = None,
        title: str | None = None,
        emoji: str | None = None,
    ) -> FileRecord:
        """Stores an upload. Photos get two sizes (thumbnail + original) sharing the data."""
        if kind == "photo":
            w, h = image_size(data) or (width or 1280, height or 960)
            scale = max(w, h) / 320 if max(w, h) > 320 else 1
            group = []
            if scale > 1:
                small = self._make_record(
                    "photo",
                    data,
                    width=max(1, int(w / scale)),
                    height=max(1, int(h / scale)),
                    mime_type="image/jpeg",
                )
                group.append(small.file_id)
            large = self._make_record("photo", data, width=w, height=h, mime_type="image/jpeg")
            group.append(large.file_id)
            for fid in group:
                self.files[fid].group = group
            return large
        if kind in ("video", "animation", "sticker", "video_note") and (width is None or height is None):
            dims: tuple[int, int] | None = image_size(data)
            if kind == "sticker":
                width, height = dims if dims else (512, 512)
            elif kind == "video_note":
                width = height = width or height or 240
            else:
                width, height = dims or (width or 640, height or 360)
        return self._make_record(
            kind,
            data,
            file_name=file_name,
            mime_type=mime_type,
            width=width,
            height=height,
            duration=duration,
            performer=performer,
            title=title,
            emoji=emoji,
        )

    def _make_record(self, kind: str, data: bytes, **kw: Any) -> FileRecord:
        file_id, unique = self._new_file_ids(kind)
        d, ext = _FILE_DIR.get(kind, ("documents", "bin"))
        name = kw.get("file_name")
        if name and "." in name:
            ext = name.rsplit(".", 1)[1][:8] or ext
        path = f"{d}/file_{next(self._path_seq)}.{ext}"
        rec = FileRecord(file_id=file_id, file_unique_id=unique, kind=kind, data=data, file_path=path, **kw)
        if rec.mime_type is None and kind != "sticker":
            rec.mime_type = _DEFAULT_MIME.get(kind)
        self.files[file_id] = rec
        self.files_by_path[path] = rec
        return rec

    def media_json(self, rec: FileRecord, kind: str | None = None) -> Any:
        """Renders a file as the Telegram object for ``kind`` (PhotoSize list for photos)."""
        kind = kind or rec.kind
        base = {"file_id": rec.file_id, "file_unique_id": rec.file_unique_id}
        if kind == "photo":
            out = []
            for fid in rec.group or [rec.file_id]:
                r = self.files.get(fid, rec)
                out.append(
                    {
                        "file_id": r.file_id,
                        "file_unique_id": r.file_unique_id,
                        "file_size": r.file_size,
                        "width": r.width or 1,
                        "height": r.height or 1,
                    }
                )
            return out
        if kind == "sticker":
            return _omit_none(
                {
                    **base,
                    "type": "regular",
                    "width": rec.width or 512,
                    "height": rec.height or 512,
                    "is_animated": False,
                    "is_video": False,
                    "emoji": rec.emoji,
                    "file_size": rec.file_size,
                }
            )
        if kind == "video_note":
            return {
                **base,
                "length": rec.width or 240,
                "duration": rec.duration or 1,
                "file_size": rec.file_size,
            }
        d: dict[str, Any] = dict(base)
        if kind in ("video", "animation"):
            d.update({"width": rec.width or 640, "height": rec.height or 360, "duration": rec.duration or 1})
        elif kind in ("voice", "audio"):
            d["duration"] = rec.duration or 1
            if kind == "audio":
                d["performer"] = rec.performer
                d["title"] = rec.title
        if kind != "voice":
            d["file_name"] = rec.file_name
        d["mime_type"] = rec.mime_type
        d["file_size"] = rec.file_size
        return _omit_none(d)

    def media_content(self, rec: FileRecord, kind: str) -> dict[str, Any]:
        content = {kind: self.media_json(rec, kind)}
        if kind == "animation":
            content["document"] = self.media_json(rec, "document")
        return content
