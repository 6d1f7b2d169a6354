"""The sandbox world's records (users, chats, members, topics, messages, files, callback
queries, updates, webhook settings) and the constants they are rendered with.

Rendering to Telegram JSON omits absent fields like the real Bot API (`_omit_none`).
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass, field
from typing import Any

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
