"""What simulated users do through the control API: write, edit, delete, press buttons,
block the bot, manage forum topics. Each action checks what Telegram would refuse.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from ..errors import ControlError
from ..formatting import detect_entities, parse_text
from .messages import MessageStore
from .model import (
    CAPTIONED_KINDS,
    MEDIA_KINDS,
    PLACEHOLDER_PNG,
    CallbackQuery,
    Chat,
    FileRecord,
    Message,
    Topic,
    User,
    _omit_none,
)


class UserActions(MessageStore):
    """The control API's user actions on top of the message store."""

    # ------------------------------------------------------------------ user actions (control API)

    def _user_chat(self, user: User, chat_id: int | None) -> Chat:
        if chat_id is None or chat_id == user.id:
            if user.deactivated:
                raise ControlError(400, f"user {user.id} is deactivated")
            if user.blocked_bot:
                self.set_blocked(user, False)  # pressing "Restart" unblocks the bot
            return self.private_chat(user)  # type: ignore[return-value]
        chat = self.get_chat(chat_id)
        if chat.is_private:
            raise ControlError(400, "a user can only write to the bot's private chat with themselves")
        mem = chat.members.get(user.id)
        if mem is None or not mem.is_present or mem.status == "restricted":
            raise ControlError(403, f"user {user.id} is not a member of chat {chat.id}")
        return chat

    def _user_content(self, payload: dict[str, Any], default_kind: str | None = None) -> dict[str, Any]:
        kind = payload.get("kind") or default_kind or ("text" if "text" in payload else None)
        if kind == "text":
            text = payload.get("text")
            if not isinstance(text, str) or not text.strip():
                raise ControlError(400, "text is required")
            if len(text) > 4096:
                raise ControlError(400, "text is too long")
            try:
                text, ents = parse_text(text, payload.get("parse_mode"), payload.get("entities"))
            except ValueError as e:
                raise ControlError(400, f"can't parse entities: {e}") from None
            auto = detect_entities(text) if not payload.get("entities") else []
            ents = sorted((ents or []) + auto, key=lambda e: (e["offset"], -e["length"]))
            c: dict[str, Any] = {"text": text}
            if ents:
                c["entities"] = ents
            return c
        if kind in MEDIA_KINDS:
            rec: FileRecord | None = None
            if payload.get("file_id"):
                rec = self.files.get(payload["file_id"])
                if rec is None:
                    raise ControlError(400, f"unknown file_id {payload['file_id']!r}")
            else:
                raw = payload.get("content_base64")
                if raw:
                    data = base64.b64decode(raw)
                elif kind in ("photo", "sticker"):
                    data = PLACEHOLDER_PNG
                else:
                    data = f"sandbox {kind} {next(self._file_seq)}".encode() + os.urandom(16)
                rec = self.store_file(
                    kind,
                    data,
                    file_name=payload.get("file_name")
                    or (
                        {
                            "document": "file.txt",
                            "audio": "audio.mp3",
                            "video": "video.mp4",
                            "animation": "animation.mp4",
                        }.get(kind)
                    ),
                    mime_type=payload.get("mime_type"),
                    width=payload.get("width"),
                    height=payload.get("height"),
                    duration=payload.get("duration"),
                    performer=payload.get("performer"),
                    title=payload.get("title"),
                    emoji=payload.get("emoji", "🙂" if kind == "sticker" else None),
                )
            c = self.media_content(rec, kind)
            caption = payload.get("caption")
            if caption and kind in CAPTIONED_KINDS:
                try:
                    ctext, cents = parse_text(
                        caption, payload.get("parse_mode"), payload.get("caption_entities")
                    )
                except ValueError as e:
                    raise ControlError(400, f"can't parse entities: {e}") from None
                if ctext:
                    c["caption"] = ctext
                    cents = sorted(
                        (cents or [])
                        + (detect_entities(ctext) if not payload.get("caption_entities") else []),
                        key=lambda e: (e["offset"], -e["length"]),
                    )
                    if cents:
                        c["caption_entities"] = cents
            return c
        if kind == "location":
            try:
                return {
                    "location": {
                        "latitude": float(payload["latitude"]),
                        "longitude": float(payload["longitude"]),
                    }
                }
            except (KeyError, TypeError, ValueError):
                raise ControlError(400, "location needs numeric latitude and longitude") from None
        if kind == "contact":
            if not payload.get("phone_number"):
                raise ControlError(400, "contact needs phone_number")
            return {
                "contact": _omit_none(
                    {
                        "phone_number": str(payload["phone_number"]),
                        "first_name": payload.get("first_name") or "Contact",
                        "last_name": payload.get("last_name"),
                        "user_id": payload.get("user_id"),
                        "vcard": payload.get("vcard"),
                    }
                )
            }
        raise ControlError(
            400,
            f"unsupported message kind {kind!r} (text, {', '.join(MEDIA_KINDS)}, location, contact, album)",
        )

    def user_send(self, user_id: int, payload: dict[str, Any], chat_id: int | None = None) -> list[Message]:
        """A user (customer or staff member) sends a message; enqueues ``message`` updates."""
        user = self.get_user(user_id)
        chat = self._user_chat(user, chat_id)
        thread_id = payload.get("message_thread_id")
        if thread_id is not None:
            thread_id = int(thread_id)
            if not chat.is_forum:
                raise ControlError(400, "message_thread_id is only valid in forum supergroups")
            topic = chat.topics.get(thread_id)
            if topic is None or topic.deleted:
                raise ControlError(404, "message thread not found")
            if topic.closed and not chat.members[user.id].is_admin:
                raise ControlError(400, "TOPIC_CLOSED")
        reply_to = payload.get("reply_to_message_id")
        if reply_to is not None:
            reply_to = int(reply_to)
            target = self.messages.get((chat.id, reply_to))
            if target is None or target.deleted:
                raise ControlError(404, "message to be replied not found")
            if thread_id is None and target.message_thread_id is not None and chat.is_forum:
                thread_id = target.message_thread_id
        if payload.get("kind") == "album" or "items" in payload:
            items = payload.get("items") or []
            if not 2 <= len(items) <= 10:
                raise ControlError(400, "an album needs 2-10 items")
            contents = [self._user_content(it) for it in items]
            group_id = str(13_000_000_000_000_000 + next(self._media_group_seq))
        else:
            contents = [self._user_content(payload)]
            group_id = None
        msgs = []
        for content in contents:
            msg = self.add_message(
                chat, user.id, content, thread_id=thread_id, reply_to=reply_to, media_group_id=group_id
            )
            self.enqueue_update("message", self.render_message(msg))
            msgs.append(msg)
        return msgs

    def user_edit(
        self, user_id: int, message_id: int, payload: dict[str, Any], chat_id: int | None = None
    ) -> Message:
        user = self.get_user(user_id)
        chat = self.get_chat(chat_id if chat_id is not None else user.id)
        msg = self.messages.get((chat.id, message_id))
        if msg is None or msg.deleted:
            raise ControlError(404, "message not found")
        if msg.sender != user.id:
            raise ControlError(403, "a user can only edit their own messages")
        content = dict(msg.content)
        if "text" in content:
            text = payload.get("text")
            if not isinstance(text, str) or not text.strip():
                raise ControlError(400, "text is required to edit a text message")
            new = self._user_content(
                {
                    "kind": "text",
                    "text": text,
                    "entities": payload.get("entities"),
                    "parse_mode": payload.get("parse_mode"),
                }
            )
            content.pop("entities", None)
            content.update(new)
        elif msg.has_media:
            caption = payload.get("caption", payload.get("text"))
            content.pop("caption", None)
            content.pop("caption_entities", None)
            if caption:
                try:
                    ctext, cents = parse_text(caption, payload.get("parse_mode"))
                except ValueError as e:
                    raise ControlError(400, f"can't parse entities: {e}") from None
                content["caption"] = ctext
                if cents:
                    content["caption_entities"] = cents
        else:
            raise ControlError(400, "this message can't be edited")
        if content == msg.content:
            raise ControlError(400, "message is not modified")
        self.edit_message(msg, content)
        self.enqueue_update("edited_message", self.render_message(msg))
        return msg

    def user_delete(self, user_id: int, chat_id: int, message_id: int) -> Message:
        user = self.get_user(user_id)
        chat = self.get_chat(chat_id)
        msg = self.messages.get((chat.id, message_id))
        if msg is None or msg.deleted:
            raise ControlError(404, "message not found")
        if (
            not chat.is_private
            and msg.sender != user.id
            and not (chat.members.get(user.id) and chat.members[user.id].is_admin)
        ):
            raise ControlError(403, "not allowed to delete this message")
        if chat.is_private and chat.id != user.id:
            raise ControlError(403, "not your chat")
        self.delete_message(msg)
        return msg

    def user_press(
        self,
        user_id: int,
        message_id: int,
        *,
        chat_id: int | None = None,
        callback_data: str | None = None,
        button_text: str | None = None,
    ) -> CallbackQuery:
        """A user presses an inline button; enqueues a ``callback_query`` update."""
        user = self.get_user(user_id)
        if chat_id is None:
            chat_id = user.id
        chat = self.get_chat(chat_id)
        if chat.is_private and chat.id != user.id:
            raise ControlError(403, "a user can only press buttons in their own chat")
        if user.deactivated:
            raise ControlError(400, f"user {user.id} is deactivated")
        msg = self.messages.get((chat.id, message_id))
        if msg is None or msg.deleted:
            raise ControlError(404, "message not found")
        markup = msg.reply_markup or {}
        rows = markup.get("inline_keyboard") or []
        found = None
        for row in rows:
            for btn in row:
                if button_text is not None and btn.get("text") != button_text:
                    continue
                if callback_data is not None and btn.get("callback_data") != callback_data:
                    continue
                if button_text is None and callback_data is None:
                    continue
                found = btn
                break
            if found:
                break
        if found is None:
            what = (
                f"callback_data {callback_data!r}" if callback_data is not None else f"text {button_text!r}"
            )
            raise ControlError(400, f"message {message_id} has no inline button with {what}")
        if "callback_data" not in found:
            raise ControlError(400, f"button {found.get('text')!r} is not a callback button")
        if chat.is_private and user.blocked_bot:
            self.set_blocked(user, False)
        n = next(self._cb_seq)
        cq_id = str(4_000_000_000_000_000_000 + user.id * 1000 + n)
        cq = CallbackQuery(cq_id, user.id, chat.id, message_id, found["callback_data"], self.clock())
        self.callbacks[cq_id] = cq
        payload = {
            "id": cq_id,
            "from": self.render_user(user),
            "message": self.render_maybe_inaccessible(msg),
            "chat_instance": chat.chat_instance,
            "data": found["callback_data"],
        }
        self.enqueue_update("callback_query", payload)
        self.emit("callback_query", callback=cq.to_control())
        return cq

    def set_blocked(self, user: User, blocked: bool) -> None:
        if user.blocked_bot == blocked:
            return
        user.blocked_bot = blocked
        chat = self.private_chat(user)
        assert chat is not None
        member = {"user": self.render_bot(), "status": "member"}
        kicked = {"user": self.render_bot(), "status": "kicked", "until_date": 0}
        self.enqueue_update(
            "my_chat_member",
            {
                "chat": self.render_chat(chat),
                "from": self.render_user(user),
                "date": self.now(),
                "old_chat_member": member if blocked else kicked,
                "new_chat_member": kicked if blocked else member,
            },
        )
        self.emit("user_blocked" if blocked else "user_unblocked", user=user.to_control())

    def set_deactivated(self, user: User, deactivated: bool = True) -> None:
        user.deactivated = deactivated
        self.emit("user_updated", user=user.to_control())

    def user_create_topic(
        self, user_id: int, chat_id: int, name: str, icon_color: int | None = None
    ) -> Topic:
        user = self.get_user(user_id)
        chat = self.get_chat(chat_id)
        if not chat.is_forum:
            raise ControlError(400, "the chat is not a forum")
        mem = chat.members.get(user.id)
        if mem is None or not mem.is_present:
            raise ControlError(403, f"user {user.id} is not a member of chat {chat.id}")
        topic = self.create_topic(chat, name, icon_color or 7322096, None, user.id)
        msg = self.messages[(chat.id, topic.message_thread_id)]
        self.enqueue_update("message", self.render_message(msg))
        return topic

    def user_delete_topic(self, user_id: int, chat_id: int, thread_id: int) -> Topic:
        """A staff member deletes a topic with all its messages (no update reaches the bot)."""
        user = self.get_user(user_id)
        chat = self.get_chat(chat_id)
        topic = chat.topics.get(thread_id)
        if topic is None or topic.deleted:
            raise ControlError(404, "topic not found")
        mem = chat.members.get(user.id)
        if mem is None or not (mem.right("can_delete_messages") or mem.status == "creator"):
            raise ControlError(403, f"user {user.id} can't delete topics in chat {chat.id}")
        topic.deleted = True
        for mid in chat.threads.get(topic.message_thread_id, []):
            self.delete_message(self.messages[(chat.id, mid)])
        self.emit("topic_deleted", chat_id=chat.id, topic=topic.to_control())
        return topic

    def user_set_topic_closed(self, user_id: int, chat_id: int, thread_id: int, closed: bool) -> Topic:
        """A staff member closes/reopens a topic; the bot gets the service message as an update."""
        user = self.get_user(user_id)
        chat = self.get_chat(chat_id)
        topic = chat.topics.get(thread_id)
        if topic is None or topic.deleted:
            raise ControlError(404, "topic not found")
        mem = chat.members.get(user.id)
        if mem is None or not (mem.right("can_manage_topics") or topic.created_by == user.id):
            raise ControlError(403, f"user {user.id} can't manage topics in chat {chat.id}")
        if topic.closed == closed:
            raise ControlError(400, "TOPIC_NOT_MODIFIED")
        topic.closed = closed
        key = "forum_topic_closed" if closed else "forum_topic_reopened"
        msg = self.add_message(chat, user.id, {key: {}}, thread_id=thread_id, service=True)
        self.enqueue_update("message", self.render_message(msg))
        self.emit("topic_closed" if closed else "topic_reopened", chat_id=chat.id, topic=topic.to_control())
        return topic

    def create_topic(
        self, chat: Chat, name: str, icon_color: int, emoji_id: str | None, creator: int | str
    ) -> Topic:
        created = _omit_none({"name": name, "icon_color": icon_color, "icon_custom_emoji_id": emoji_id})
        tid = chat.next_message_id
        msg = self.add_message(chat, creator, {"forum_topic_created": created}, thread_id=tid, service=True)
        assert msg.message_id == tid
        topic = Topic(tid, name, icon_color, emoji_id, creator)
        chat.topics[tid] = topic
        self.emit("topic_created", chat_id=chat.id, topic=topic.to_control())
        return topic
