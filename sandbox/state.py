"""In-memory world of the sandbox: bot, users, chats, messages, topics, files, callback
queries, the update queue, webhook settings, call and violation logs, and an event bus.

Everything runs on one asyncio loop; no locking. Messages are indexed by (chat_id, message_id).
Rendering to Telegram JSON (``render_*``) omits absent fields like the real Bot API.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import itertools
import os
import secrets
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import ControlError
from .formatting import detect_entities, parse_text

__all__ = [
    "SandboxState",
    "User",
    "Chat",
    "Member",
    "Message",
    "Topic",
    "FileRecord",
    "CallbackQuery",
    "Update",
    "WebhookSettings",
    "DEFAULT_UPDATES_EXCLUDED",
]

DEFAULT_UPDATES_EXCLUDED = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

MEDIA_KINDS = ("photo", "document", "voice", "video", "audio", "animation", "sticker", "video_note")
CONTENT_KINDS = MEDIA_KINDS + ("location", "contact", "venue", "dice", "poll")
SERVICE_KEYS = (
    "forum_topic_created",
    "forum_topic_edited",
    "forum_topic_closed",
    "forum_topic_reopened",
    "pinned_message",
    "new_chat_members",
    "left_chat_member",
)
CAPTIONED_KINDS = ("photo", "document", "voice", "video", "audio", "animation")

_FILE_PREFIX = {
    "photo": "AgACAgIAAxkBAAI",
    "document": "BQACAgIAAxkBAAI",
    "voice": "AwACAgIAAxkBAAI",
    "video": "BAACAgIAAxkBAAI",
    "audio": "CQACAgIAAxkBAAI",
    "animation": "CgACAgIAAxkBAAI",
    "sticker": "CAACAgIAAxkBAAI",
    "video_note": "DQACAgIAAxkBAAI",
    "thumbnail": "AAMCAgADGQEAAI",
}
_FILE_DIR = {
    "photo": ("photos", "jpg"),
    "document": ("documents", "bin"),
    "voice": ("voice", "oga"),
    "video": ("videos", "mp4"),
    "audio": ("music", "mp3"),
    "animation": ("animations", "mp4"),
    "sticker": ("stickers", "webp"),
    "video_note": ("video_notes", "mp4"),
}
_DEFAULT_MIME = {
    "photo": "image/jpeg",
    "document": "application/octet-stream",
    "voice": "audio/ogg",
    "video": "video/mp4",
    "audio": "audio/mpeg",
    "animation": "video/mp4",
    "sticker": "image/webp",
    "video_note": "video/mp4",
}

# 1x1 transparent PNG used as placeholder content for media sent via the control API.
PLACEHOLDER_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

ADMIN_RIGHTS = (
    "can_be_edited",
    "is_anonymous",
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
    "can_manage_topics",
)


def _omit_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


# ----------------------------------------------------------------------------- model


@dataclass
class User:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_premium: bool | None = None
    blocked_bot: bool = False
    deactivated: bool = False

    def to_control(self) -> dict[str, Any]:
        return _omit_none(
            {
                "id": self.id,
                "first_name": self.first_name,
                "last_name": self.last_name,
                "username": self.username,
                "language_code": self.language_code,
                "is_premium": self.is_premium,
                "blocked_bot": self.blocked_bot,
                "deactivated": self.deactivated,
            }
        )


@dataclass
class BotIdentity:
    id: int
    username: str
    first_name: str
    token: str | None = None
    bound: bool = False  # True once the id is fixed by a token


@dataclass
class Member:
    user_id: int
    status: str  # creator | administrator | member | restricted | left | kicked
    custom_title: str | None = None
    can_manage_topics: bool = True
    can_delete_messages: bool = True
    can_pin_messages: bool = True
    until_date: int = 0

    @property
    def is_admin(self) -> bool:
        return self.status in ("creator", "administrator")

    @property
    def is_present(self) -> bool:
        return self.status in ("creator", "administrator", "member", "restricted")

    def right(self, name: str) -> bool:
        if self.status == "creator":
            return True
        if self.status == "administrator":
            return bool(getattr(self, name, True))
        return False


@dataclass
class Topic:
    message_thread_id: int
    name: str
    icon_color: int
    icon_custom_emoji_id: str | None = None
    created_by: int | str = "bot"
    closed: bool = False
    deleted: bool = False

    def render(self) -> dict[str, Any]:
        return _omit_none(
            {
                "message_thread_id": self.message_thread_id,
                "name": self.name,
                "icon_color": self.icon_color,
                "icon_custom_emoji_id": self.icon_custom_emoji_id,
            }
        )

    def to_control(self) -> dict[str, Any]:
        d = self.render()
        d.update({"closed": self.closed, "deleted": self.deleted, "created_by": self.created_by})
        return d


@dataclass
class Chat:
    id: int
    type: str  # private | group | supergroup
    title: str | None = None
    username: str | None = None
    is_forum: bool = False
    members: dict[int, Member] = field(default_factory=dict)
    bot_member: Member | None = None
    next_message_id: int = 1
    message_ids: list[int] = field(default_factory=list)
    threads: dict[int, list[int]] = field(default_factory=dict)
    topics: dict[int, Topic] = field(default_factory=dict)
    pinned: list[int] = field(default_factory=list)
    chat_instance: str = ""
    menu_button: dict[str, Any] | None = None
    reply_keyboard: dict[str, Any] | None = None  # last ReplyKeyboardMarkup shown to the user

    @property
    def is_private(self) -> bool:
        return self.type == "private"


@dataclass
class Message:
    chat_id: int
    message_id: int
    sender: int | str  # "bot" or user id
    date: int
    content: dict[str, Any]
    message_thread_id: int | None = None
    is_topic_message: bool = False
    reply_to: int | None = None
    reply_markup: dict[str, Any] | None = None
    media_group_id: str | None = None
    edit_date: int | None = None
    deleted: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    forward_origin: dict[str, Any] | None = None
    copied_from: tuple[int, int] | None = None
    protected: bool = False
    service: bool = False
    via_method: str | None = None  # Bot API method that created it (bot messages)
    bot_reaction: list[dict[str, Any]] | None = None  # set by setMessageReaction

    @property
    def kind(self) -> str:
        c = self.content
        if "text" in c:
            return "text"
        for k in CONTENT_KINDS:
            if k in c:
                return k
        for k in SERVICE_KEYS:
            if k in c:
                return k
        return "unknown"

    @property
    def has_media(self) -> bool:
        return any(k in self.content for k in CAPTIONED_KINDS)


@dataclass
class FileRecord:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    duration: int | None = None
    performer: str | None = None
    title: str | None = None
    emoji: str | None = None
    group: list[str] | None = None  # photo sizes sharing the upload (file ids, small -> large)

    @property
    def file_size(self) -> int:
        return len(self.data)


@dataclass
class CallbackQuery:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str | None
    created: float
    answered: bool = False
    answer: dict[str, Any] | None = None

    def to_control(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "data": self.data,
            "answered": self.answered,
            "answer": self.answer,
            "created": self.created,
        }


@dataclass
class Update:
    update_id: int
    type: str
    payload: dict[str, Any]

    def render(self) -> dict[str, Any]:
        return {"update_id": self.update_id, self.type: self.payload}


@dataclass
class WebhookSettings:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    delivered: int = 0
    failed_attempts: int = 0


# ----------------------------------------------------------------------------- state


class SandboxState:
    """The simulated Telegram world for one bot."""

    def __init__(
        self,
        token: str | None = None,
        *,
        bot_username: str = "sandbox_support_bot",
        bot_first_name: str = "Sandbox Support Bot",
        clock: Callable[[], float] = time.time,
        call_log_size: int = 100_000,
    ) -> None:
        self.clock = clock
        self.call_log_size = call_log_size
        bot_id = int(token.split(":", 1)[0]) if token else 7_000_000_001
        self.bot = BotIdentity(bot_id, bot_username, bot_first_name, token, bound=token is not None)
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._chat_waiters: dict[Any, asyncio.Event] = {}
        self._update_event: asyncio.Event | None = None
        self.events_dropped = 0
        self._init_world()

    # ------------------------------------------------------------------ lifecycle

    def _init_world(self) -> None:
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.messages: dict[tuple[int, int], Message] = {}
        self.files: dict[str, FileRecord] = {}
        self.files_by_path: dict[str, FileRecord] = {}
        self.callbacks: dict[str, CallbackQuery] = {}
        self.updates: deque[Update] = deque()
        self.next_update_id = 10_001
        self.allowed_updates: list[str] | None = None
        self.webhook: WebhookSettings | None = None
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.default_menu_button: dict[str, Any] | None = None
        self.call_log: deque[dict[str, Any]] = deque(maxlen=self.call_log_size)
        self.violations: list[dict[str, Any]] = []
        self.chat_actions: deque[dict[str, Any]] = deque(maxlen=1000)
        self._call_seq = itertools.count(1)
        self._violation_seq = itertools.count(1)
        self._event_seq = itertools.count(1)
        self._user_seq = itertools.count(100_000_001)
        self._group_seq = itertools.count(1)
        self._file_seq = itertools.count(1)
        self._path_seq = itertools.count(1)
        self._cb_seq = itertools.count(1)
        self._media_group_seq = itertools.count(1)

    def reset(self) -> None:
        """Forgets the whole world (users, chats, messages, updates, logs, webhook)."""
        self._init_world()
        self.emit("reset")
        for ev in self._chat_waiters.values():
            ev.set()
        self._chat_waiters.clear()
        self._signal_updates()

    def now(self) -> int:
        return int(self.clock())

    # ------------------------------------------------------------------ bot identity

    def bind_token(self, token: str) -> bool:
        """Binds the bot id to the token's number. Returns False if the token belongs to another bot."""
        try:
            bot_id = int(token.split(":", 1)[0])
        except ValueError:
            return False
        if not self.bot.bound:
            self.bot.id = bot_id
            self.bot.token = token
            self.bot.bound = True
            return True
        return bot_id == self.bot.id

    def render_bot(self, full: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.bot.id,
            "is_bot": True,
            "first_name": self.bot.first_name,
            "username": self.bot.username,
        }
        if full:
            d.update(
                {
                    "can_join_groups": True,
                    "can_read_all_group_messages": False,
                    "supports_inline_queries": False,
                    "can_connect_to_business": False,
                    "has_main_web_app": False,
                }
            )
        return d

    # ------------------------------------------------------------------ events

    def subscribe(self, maxsize: int = 10_000) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=maxsize)
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(q)

    def close_subscribers(self) -> None:
        """Ends all event streams (used on shutdown)."""
        for q in list(self._subscribers):
            try:
                q.put_nowait({"type": "__close__"})
            except asyncio.QueueFull:
                pass

    def emit(self, type_: str, **data: Any) -> None:
        if self._subscribers:
            ev = {"seq": next(self._event_seq), "type": type_, "time": self.clock(), **data}
            for q in list(self._subscribers):
                try:
                    q.put_nowait(ev)
                except asyncio.QueueFull:
                    self.events_dropped += 1

    def notify(self, key: Any) -> None:
        ev = self._chat_waiters.pop(key, None)
        if ev is not None:
            ev.set()

    async def wait_change(self, key: Any, timeout: float) -> bool:  # noqa: ASYNC109
        """Waits until ``notify(key)`` is called or timeout. Returns False on timeout."""
        if timeout <= 0:
            return False
        ev = self._chat_waiters.get(key)
        if ev is None:
            ev = self._chat_waiters[key] = asyncio.Event()
        try:
            await asyncio.wait_for(ev.wait(), timeout)
            return True
        except TimeoutError:
            return False

    # ------------------------------------------------------------------ update queue

    @property
    def update_event(self) -> asyncio.Event:
        if self._update_event is None:
            self._update_event = asyncio.Event()
        return self._update_event

    def _signal_updates(self) -> None:
        if self._update_event is not None:
            self._update_event.set()
            self._update_event = None

    def is_update_allowed(self, kind: str) -> bool:
        allowed = self.allowed_updates
        if not allowed:
            return kind not in DEFAULT_UPDATES_EXCLUDED
        return kind in allowed

    def enqueue_update(self, kind: str, payload: dict[str, Any]) -> Update | None:
        if not self.is_update_allowed(kind):
            return None
        upd = Update(self.next_update_id, kind, payload)
        self.next_update_id += 1
        self.updates.append(upd)
        self._signal_updates()
        return upd

    def confirm_updates(self, offset: int | None) -> None:
        if offset is None or offset == 0:
            return
        q = self.updates
        if offset < 0:
            keep = -offset
            while len(q) > keep:
                q.popleft()
            return
        while q and q[0].update_id < offset:
            q.popleft()

    def pending_updates(self, limit: int) -> list[Update]:
        return list(itertools.islice(self.updates, 0, limit))

    # ------------------------------------------------------------------ logs

    def log_call(self, entry: dict[str, Any]) -> dict[str, Any]:
        entry["id"] = next(self._call_seq)
        self.call_log.append(entry)
        return entry

    def log_violation(self, entry: dict[str, Any]) -> dict[str, Any]:
        entry["id"] = next(self._violation_seq)
        self.violations.append(entry)
        self.emit("violation", violation=entry)
        return entry

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


# ----------------------------------------------------------------------------- helpers


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width/height of PNG, GIF or JPEG data (None if unknown)."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
            w, h = struct.unpack(">II", data[16:24])
            return int(w), int(h)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            w, h = struct.unpack("<HH", data[6:10])
            return int(w), int(h)
        if data[:2] == b"\xff\xd8":
            i = 2
            n = len(data)
            while i + 9 < n:
                if data[i] != 0xFF:
                    i += 1
                    continue
                marker = data[i + 1]
                if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                    h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                    return int(w), int(h)
                seg = struct.unpack(">H", data[i + 2 : i + 4])[0]
                i += 2 + seg
    except struct.error:
        return None
    return None
