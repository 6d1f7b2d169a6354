"""Unit tests: Bot API spec validation and text formatting."""

from __future__ import annotations

import json

import pytest

from sandbox.formatting import EntityParseError, detect_entities, parse_text, utf16_len
from sandbox.spec import UploadedFile, decode_call, get_spec, validate_call, validate_object


def descs(violations):
    return [v.description for v in violations]


def test_spec_loaded():
    spec = get_spec()
    assert spec.version.startswith("Bot API")
    assert "sendMessage" in spec.methods and "Message" in spec.types
    assert spec.canonical_method("SENDMESSAGE") == "sendMessage"
    assert spec.types["InputMediaPhoto"].discriminator == ("type", "photo")
    assert spec.types["ChatMemberBanned"].discriminator == ("status", "kicked")


def test_unknown_method_is_404():
    (v,) = validate_call("sendMessagee", {"chat_id": 1, "text": "x"})
    assert v.status == 404 and v.description == "Not Found"


def test_valid_wire_call_has_no_violations():
    params = {
        "chat_id": "123",
        "text": "hello",
        "disable_notification": "true",
        "reply_markup": json.dumps({"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}),
    }
    name, decoded, viols = decode_call("sendmessage", params)
    assert name == "sendMessage" and viols == []
    assert decoded["chat_id"] == 123 and decoded["disable_notification"] is True
    assert decoded["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "a"


def test_json_native_values_and_username_chat_id():
    assert (
        validate_call("sendMessage", {"chat_id": "@support_chat", "text": "hi", "protect_content": False})
        == []
    )
    assert (
        validate_call("getUpdates", {"offset": -1, "limit": 10, "timeout": 0, "allowed_updates": ["message"]})
        == []
    )


def test_missing_required_fields():
    assert descs(validate_call("sendMessage", {"chat_id": 1})) == ["Bad Request: message text is empty"]
    assert descs(validate_call("sendMessage", {"text": "x"})) == ["Bad Request: chat_id is empty"]
    assert descs(validate_call("copyMessage", {"chat_id": 1, "from_chat_id": 2})) == [
        'Bad Request: parameter "message_id" is required'
    ]


def test_mistyped_fields():
    (v,) = validate_call("sendMessage", {"chat_id": 1, "text": "x", "message_thread_id": "abc"})
    assert v.path == "message_thread_id" and "expected Integer" in v.reason
    (v,) = validate_call("sendMessage", {"chat_id": 1, "text": "x", "disable_notification": "maybe"})
    assert "expected Boolean" in v.reason
    (v,) = validate_call("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": "{not json"})
    assert v.description == "Bad Request: can't parse reply_markup JSON object"
    (v,) = validate_call("sendMessage", {"chat_id": "12x", "text": "x"})
    assert v.description == "Bad Request: chat not found"


def test_unknown_parameter_and_unknown_object_field():
    (v,) = validate_call("sendMessage", {"chat_id": 1, "text": "x", "parse_mod": "HTML"})
    assert v.path == "parse_mod"
    (v,) = validate_call(
        "sendMessage", {"chat_id": 1, "text": "x", "reply_parameters": {"message_id": 1, "foo": 1}}
    )
    assert v.path == "reply_parameters.foo" and "unknown field" in v.reason
    # legacy parameters still accepted by the real Bot API
    assert (
        validate_call(
            "sendMessage",
            {"chat_id": 1, "text": "x", "reply_to_message_id": "5", "allow_sending_without_reply": "true"},
        )
        == []
    )


def test_text_limits():
    assert validate_call("sendMessage", {"chat_id": 1, "text": "a" * 4096}) == []
    assert descs(validate_call("sendMessage", {"chat_id": 1, "text": "a" * 4097})) == [
        "Bad Request: message is too long"
    ]
    assert descs(validate_call("sendMessage", {"chat_id": 1, "text": "   "})) == [
        "Bad Request: message text is empty"
    ]
    # HTML: counted after stripping tags and unescaping entities
    assert (
        validate_call(
            "sendMessage", {"chat_id": 1, "text": "<b>" + "&amp;" * 4096 + "</b>", "parse_mode": "HTML"}
        )
        == []
    )
    assert descs(validate_call("sendMessage", {"chat_id": 1, "text": "<b></b>", "parse_mode": "HTML"})) == [
        "Bad Request: message text is empty"
    ]
    # UTF-16: an emoji counts twice
    assert descs(validate_call("sendMessage", {"chat_id": 1, "text": "😀" * 2049})) == [
        "Bad Request: message is too long"
    ]
    assert descs(validate_call("sendPhoto", {"chat_id": 1, "photo": "AgAC", "caption": "c" * 1025})) == [
        "Bad Request: message caption is too long"
    ]


def test_parse_mode_checks():
    assert descs(validate_call("sendMessage", {"chat_id": 1, "text": "x", "parse_mode": "html5"})) == [
        "Bad Request: unsupported parse_mode"
    ]
    (v,) = validate_call("sendMessage", {"chat_id": 1, "text": "<b>bold", "parse_mode": "HTML"})
    assert (
        v.description
        == "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\""
    )
    (v,) = validate_call("sendMessage", {"chat_id": 1, "text": "1 < 2", "parse_mode": "HTML"})
    assert v.description.startswith("Bad Request: can't parse entities:")
    (v,) = validate_call(
        "sendMessage", {"chat_id": 1, "text": "Order #5 is ready.", "parse_mode": "MarkdownV2"}
    )
    assert "is reserved and must be escaped" in v.description
    assert (
        validate_call(
            "sendMessage", {"chat_id": 1, "text": "Order \\#5 is *ready*\\.", "parse_mode": "MarkdownV2"}
        )
        == []
    )


def test_callback_data_limit():
    def kb(data):
        return json.dumps({"inline_keyboard": [[{"text": "A", "callback_data": data}]]})

    assert validate_call("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": kb("a" * 64)}) == []
    (v,) = validate_call("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": kb("a" * 65)})
    assert v.description == "Bad Request: BUTTON_DATA_INVALID" and v.path.endswith("callback_data")
    (v,) = validate_call("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": kb("я" * 33)})  # 66 bytes
    assert v.description == "Bad Request: BUTTON_DATA_INVALID"
    (v,) = validate_call("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": kb("")})
    assert v.description == "Bad Request: BUTTON_DATA_INVALID"


def test_malformed_keyboards():
    def call(markup):
        return validate_call("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": json.dumps(markup)})

    # a row that is not an array
    assert call({"inline_keyboard": [{"text": "A", "callback_data": "a"}]})
    # button without action
    (v,) = call({"inline_keyboard": [[{"text": "A"}]]})
    assert "Text buttons are unallowed" in v.description
    # two actions
    (v,) = call({"inline_keyboard": [[{"text": "A", "callback_data": "a", "url": "https://x.y"}]]})
    assert "exactly one" in v.description
    # missing text
    assert call({"inline_keyboard": [[{"callback_data": "a"}]]})
    # style/icon are not actions
    assert call({"inline_keyboard": [[{"text": "A", "style": "danger", "callback_data": "a"}]]}) == []
    # reply keyboard and remove keyboard alternatives of the union
    assert call({"keyboard": [[{"text": "Share", "request_contact": True}]], "resize_keyboard": True}) == []
    assert call({"remove_keyboard": True}) == []
    assert call({"force_reply": True, "input_field_placeholder": "..."}) == []
    assert call({"inline_keyboard": "nope"})


def test_unions_and_discriminators():
    media = [{"type": "photo", "media": "attach://f1"}, {"type": "video", "media": "BAAC"}]
    assert (
        validate_call(
            "sendMediaGroup", {"chat_id": 1, "media": json.dumps(media)}, {"f1": UploadedFile(b"x", "a.jpg")}
        )
        == []
    )
    bad = [{"type": "photo", "media": "a"}, {"type": "gif", "media": "b"}]
    assert validate_call("sendMediaGroup", {"chat_id": 1, "media": json.dumps(bad)})
    assert (
        validate_call(
            "setMyCommands",
            {
                "commands": [{"command": "start", "description": "Start"}],
                "scope": {"type": "chat", "chat_id": 5},
            },
        )
        == []
    )
    (v,) = validate_call(
        "setMyCommands",
        {"commands": [{"command": "start", "description": "Start"}], "scope": {"type": "chat"}},
    )
    assert "chat_id" in v.path
    (v,) = validate_call("setMyCommands", {"commands": [{"command": "Start!", "description": "x"}]})
    assert v.description == "Bad Request: BOT_COMMAND_INVALID"


def test_input_files():
    up = UploadedFile(b"data", "a.jpg", "image/jpeg")
    assert validate_call("sendPhoto", {"chat_id": 1, "photo": up}) == []
    name, decoded, viols = decode_call(
        "sendPhoto", {"chat_id": "1", "photo": "attach://xyz", "xyz": up}, {"xyz": up}
    )
    assert viols == [] and decoded["photo"] is up
    (v,) = validate_call("sendPhoto", {"chat_id": 1, "photo": "attach://missing"})
    assert "can't find attached file" in v.description or v.path == "photo"
    assert validate_call("sendPhoto", {"chat_id": 1, "photo": "AgACAgIAAxkBAAI"}) == []  # a file_id string


def test_aiogram_multipart_form_is_valid():
    """Build the exact form aiogram would send and validate its fields."""
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.methods import SendMessage, SendPhoto
    from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters

    session = AiohttpSession()
    bot = Bot("42:TEST", session=session)
    kb = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Yes", callback_data="yes")]])
    for method in (
        SendMessage(
            chat_id=5,
            text="<b>hi</b>",
            parse_mode="HTML",
            reply_markup=kb,
            reply_parameters=ReplyParameters(message_id=3),
            disable_notification=False,
        ),
        SendPhoto(chat_id=5, photo=BufferedInputFile(b"img", "a.jpg"), caption="c", has_spoiler=True),
    ):
        form = session.build_form_data(bot, method)
        params, files = {}, {}
        for opts, _headers, value in form._fields:
            name = opts["name"]
            if opts.get("filename"):
                files[name] = UploadedFile(value if isinstance(value, bytes) else b"x", opts["filename"])
                params[name] = files[name]
            else:
                assert isinstance(value, str)  # every scalar is a string on the wire
                params[name] = value
        assert validate_call(method.__api_method__, params, files) == [], params


def test_validate_object_for_responses():
    msg = {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}, "text": "x"}
    assert validate_object("Message", msg) == []
    assert validate_object("Message", {"message_id": 1, "chat": {"id": 1, "type": "private"}})  # date missing
    assert (
        validate_object(
            "ChatMember",
            {"status": "kicked", "user": {"id": 1, "is_bot": False, "first_name": "a"}, "until_date": 0},
        )
        == []
    )


def test_formatting_helpers():
    text, ents = parse_text('<b>Hi</b> <a href="https://e.com">link</a> &lt;3', "HTML")
    assert text == "Hi link <3"
    assert ents == [
        {"type": "bold", "offset": 0, "length": 2},
        {"type": "text_link", "offset": 3, "length": 4, "url": "https://e.com"},
    ]
    text, ents = parse_text("😀 *b*", "MarkdownV2")
    assert text == "😀 b" and ents == [{"type": "bold", "offset": 3, "length": 1}]
    assert utf16_len("😀a") == 3
    with pytest.raises(EntityParseError):
        parse_text("<i>x</b>", "HTML")
    with pytest.raises(EntityParseError):
        parse_text("*unclosed", "Markdown")
    assert detect_entities("/start@sandbox_support_bot ref") == [
        {"type": "bot_command", "offset": 0, "length": 26}
    ]
