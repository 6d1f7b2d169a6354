"""Users, chats, groups, members and topics of the sandbox world, and their Telegram JSON."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import ControlError
from .core import StateCore
from .model import (
    ADMIN_RIGHTS,
    Chat,
    Member,
    User,
    _omit_none,
)


class ChatWorld(StateCore):
    """Who is in the world and where: users, private chats, groups, members."""

    # ------------------------------------------------------------------ users and chats

    def create_user(
        self,
        id: int | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        is_premium: bool | None = None,
    ) -> User:
        if id is not None and id in self.users:
            user = self.users[id]
            for k, v in (
                ("first_name", first_name),
                ("last_name", last_name),
                ("username", username),
                ("language_code", language_code),
                ("is_premium", is_premium),
            ):
                if v is not None:
                    setattr(user, k, v)
            self.emit("user_updated", user=user.to_control())
            return user
        if id is None:
            id = next(self._user_seq)
            while id in self.users or id == self.bot.id:
                id = next(self._user_seq)
        if id <= 0:
            raise ControlError(400, "user id must be positive")
        user = User(
            id=id,
            first_name=first_name or f"User{id}",
            last_name=last_name,
            username=username,
            language_code=language_code,
            is_premium=is_premium,
        )
        self.users[id] = user
        self.emit("user_created", user=user.to_control())
        return user

    def get_user(self, user_id: int) -> User:
        user = self.users.get(user_id)
        if user is None:
            raise ControlError(404, f"user {user_id} not found")
        return user

    def private_chat(self, user: User, create: bool = True) -> Chat | None:
        chat = self.chats.get(user.id)
        if chat is None and create:
            chat = Chat(id=user.id, type="private", chat_instance=self._chat_instance(user.id))
            self.chats[user.id] = chat
            self.emit("chat_created", chat=self.chat_to_control(chat))
        return chat

    @staticmethod
    def _chat_instance(chat_id: int) -> str:
        return str((chat_id * 2654435761) % (10**19) - 5 * 10**18)

    def create_group(
        self,
        title: str,
        *,
        id: int | None = None,
        is_forum: bool = True,
        username: str | None = None,
        type: str = "supergroup",
        bot_status: str = "administrator",
        bot_rights: dict[str, bool] | None = None,
        members: Iterable[dict[str, Any]] = (),
    ) -> Chat:
        if id is None:
            id = -1_001_000_000_000 - next(self._group_seq)
            while id in self.chats:
                id = -1_001_000_000_000 - next(self._group_seq)
        if id >= 0:
            raise ControlError(400, "group ids must be negative")
        if id in self.chats:
            raise ControlError(409, f"chat {id} already exists")
        if type not in ("group", "supergroup"):
            raise ControlError(400, "type must be group or supergroup")
        if is_forum and type != "supergroup":
            raise ControlError(400, "only supergroups can be forums")
        chat = Chat(
            id=id,
            type=type,
            title=title,
            username=username,
            is_forum=is_forum,
            chat_instance=self._chat_instance(id),
        )
        rights = {
            k: bool(v)
            for k, v in (bot_rights or {}).items()
            if k in ("can_manage_topics", "can_delete_messages", "can_pin_messages")
        }
        chat.bot_member = Member(self.bot.id, bot_status, **rights)  # type: ignore[arg-type]
        self.chats[id] = chat
        inviter: User | None = None
        for m in members:
            mem = self.set_member(
                chat,
                int(m["user_id"]),
                m.get("status", "member"),
                emit_update=False,
                **{k: v for k, v in m.items() if k not in ("user_id", "status")},
            )
            if inviter is None or mem.status == "creator":
                inviter = self.users[mem.user_id]
        self.emit("chat_created", chat=self.chat_to_control(chat))
        if inviter is not None and chat.bot_member.is_present:
            old = {"user": self.render_bot(), "status": "left"}
            self.enqueue_update(
                "my_chat_member",
                {
                    "chat": self.render_chat(chat),
                    "from": self.render_user(inviter),
                    "date": self.now(),
                    "old_chat_member": old,
                    "new_chat_member": self.render_member(chat, chat.bot_member),
                },
            )
        return chat

    def set_member(
        self, chat: Chat, user_id: int, status: str = "member", *, emit_update: bool = True, **rights: Any
    ) -> Member:
        if chat.is_private:
            raise ControlError(400, "can't add members to a private chat")
        if status not in ("creator", "administrator", "member", "restricted", "left", "kicked"):
            raise ControlError(400, f"invalid member status {status!r}")
        user = self.users.get(user_id)
        if user is None:
            user = self.create_user(id=user_id)
        old = chat.members.get(user_id)
        old_render = (
            self.render_member(chat, old) if old else {"user": self.render_user(user), "status": "left"}
        )
        allowed = {
            k: bool(v)
            for k, v in rights.items()
            if k in ("can_manage_topics", "can_delete_messages", "can_pin_messages")
        }
        mem = Member(user_id, status, custom_title=rights.get("custom_title"), **allowed)
        chat.members[user_id] = mem
        self.emit("member_updated", chat_id=chat.id, member=self.render_member(chat, mem))
        if emit_update:
            self.enqueue_update(
                "chat_member",
                {
                    "chat": self.render_chat(chat),
                    "from": self.render_user(user),
                    "date": self.now(),
                    "old_chat_member": old_render,
                    "new_chat_member": self.render_member(chat, mem),
                },
            )
        return mem

    def get_chat(self, chat_id: int) -> Chat:
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ControlError(404, f"chat {chat_id} not found")
        return chat

    def find_chat_by_username(self, username: str) -> Chat | None:
        name = username.lstrip("@").lower()
        for chat in self.chats.values():
            if chat.username and chat.username.lower() == name:
                return chat
        return None

    # ------------------------------------------------------------------ rendering

    def render_user(self, user: User) -> dict[str, Any]:
        d: dict[str, Any] = {"id": user.id, "is_bot": False, "first_name": user.first_name}
        if user.last_name:
            d["last_name"] = user.last_name
        if user.username:
            d["username"] = user.username
        if user.language_code:
            d["language_code"] = user.language_code
        if user.is_premium:
            d["is_premium"] = True
        return d

    def render_sender(self, sender: int | str) -> dict[str, Any]:
        if sender == "bot":
            return self.render_bot()
        user = self.users.get(sender)  # type: ignore[arg-type]
        if user is None:
            return {"id": sender, "is_bot": False, "first_name": "Deleted Account"}
        return self.render_user(user)

    def render_chat(self, chat: Chat) -> dict[str, Any]:
        if chat.is_private:
            user = self.users.get(chat.id)
            d: dict[str, Any] = {"id": chat.id, "type": "private"}
            if user is not None:
                d["first_name"] = user.first_name
                if user.last_name:
                    d["last_name"] = user.last_name
                if user.username:
                    d["username"] = user.username
            return d
        d = {"id": chat.id, "type": chat.type, "title": chat.title}
        if chat.username:
            d["username"] = chat.username
        if chat.is_forum:
            d["is_forum"] = True
        return d

    def render_member(self, chat: Chat, member: Member) -> dict[str, Any]:
        if member.user_id == self.bot.id:
            user = self.render_bot()
        else:
            u = self.users.get(member.user_id)
            user = (
                self.render_user(u)
                if u
                else {"id": member.user_id, "is_bot": False, "first_name": "Deleted Account"}
            )
        st = member.status
        if st == "creator":
            return _omit_none(
                {
                    "status": "creator",
                    "user": user,
                    "is_anonymous": False,
                    "custom_title": member.custom_title,
                }
            )
        if st == "administrator":
            d: dict[str, Any] = {"status": "administrator", "user": user}
            for r in ADMIN_RIGHTS:
                if r in ("can_be_edited", "is_anonymous"):
                    d[r] = False
                elif r in ("can_manage_topics", "can_delete_messages", "can_pin_messages"):
                    d[r] = bool(getattr(member, r))
                else:
                    d[r] = r not in ("can_promote_members", "can_restrict_members")
            # not in the vendored spec (Bot API 10.1) but required by aiogram 3.31's model
            d["can_send_welcome_messages"] = False
            if member.custom_title:
                d["custom_title"] = member.custom_title
            return d
        if st == "kicked":
            return {"status": "kicked", "user": user, "until_date": member.until_date}
        if st == "restricted":
            return {
                "status": "restricted",
                "user": user,
                "is_member": True,
                "can_send_messages": False,
                "can_send_audios": False,
                "can_send_documents": False,
                "can_send_photos": False,
                "can_send_videos": False,
                "can_send_video_notes": False,
                "can_send_voice_notes": False,
                "can_send_polls": False,
                "can_send_other_messages": False,
                "can_add_web_page_previews": False,
                "can_change_info": False,
                "can_invite_users": False,
                "can_pin_messages": False,
                "can_manage_topics": False,
                "until_date": member.until_date,
            }
        return {"status": st, "user": user}

    def chat_to_control(self, chat: Chat) -> dict[str, Any]:
        d = self.render_chat(chat)
        d["message_count"] = len(chat.message_ids)
        d["last_message_id"] = chat.next_message_id - 1
        if chat.is_private:
            user = self.users.get(chat.id)
            if user is not None:
                d["user"] = user.to_control()
            d["reply_keyboard"] = chat.reply_keyboard
        else:
            d["bot_status"] = chat.bot_member.status if chat.bot_member else "left"
            d["members"] = [{"user_id": m.user_id, "status": m.status} for m in chat.members.values()]
            d["topics"] = [t.to_control() for t in chat.topics.values()]
        d["pinned_message_ids"] = list(chat.pinned)
        return d
