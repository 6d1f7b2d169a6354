"""Bot API methods about chats and the bot's settings: callback answers, forum topics, chats
and members, pins and reactions, files, commands, descriptions, names and menu buttons.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import bad_request, violation
from ..state import Chat, Member
from .base import (
    CALLBACK_ANSWER_WINDOW,
    QUERY_TOO_OLD,
    ApiBase,
)


class ChatMethods(ApiBase):
    """Callback answers, forum topics, chats and members, files, the bot's own settings."""

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
                user = st.users.get(chat.id)
                return st.render_member(
                    chat, Member(uid, "kicked" if user and user.blocked_bot else "member")
                )
            assert chat.bot_member is not None
            return st.render_member(chat, chat.bot_member)
        if uid not in st.users:
            raise bad_request("user not found")
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
