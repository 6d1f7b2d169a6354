"""Bot API methods that put messages in chats or change them: send*, copy/forward, edit*, delete*."""

from __future__ import annotations

import copy
from typing import Any

from ..errors import bad_request, unsupported
from ..spec import UploadedFile
from ..state import Chat, Message
from .base import (
    NOT_MODIFIED,
    ApiBase,
)


class SendingMethods(ApiBase):
    """Sending, copying and forwarding, editing and deleting messages."""

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
