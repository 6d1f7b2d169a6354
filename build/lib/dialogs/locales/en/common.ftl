## Onboarding, menu, language, notifications and privacy

welcome =
    Hi, { $name }! 👋 I'm the support assistant of { $shop }.

    Here is what I can do for you:
    { $features }

    Pick something below or just write your question.
welcome-back =
    Welcome back, { $name }! Notifications are on again.
feature-line = • { $text }
feature-language = switch the language (English / Русский)
feature-notifications = news and offers only when you want them
feature-privacy = delete your data whenever you ask
menu-title = Main menu. What would you like to do?
menu-language = 🌐 Language
menu-notifications-on = 🔔 Notifications: on
menu-notifications-off = 🔕 Notifications: off
menu-privacy = 🔒 My data
menu-back = ⬅️ Back
menu-help = ℹ️ Help

language-prompt = Choose your language:
language-set = Done, I'll speak English from now on.

stop-done =
    You won't get news or offers from us any more. Support still answers whenever you write.
    Changed your mind? Send /start.
stop-already = Notifications are already off. Send /start to turn them back on.
notifications-on = 🔔 Notifications are on. We write rarely: at most about once a week.
notifications-off = 🔕 Notifications are off. Support still answers whenever you write.

privacy-info =
    We keep your name, language and the history of your requests to help you.
    You can delete all of it. This cannot be undone.
forget-confirm =
    Delete all your personal data? Your name, language, settings and history will be erased. This cannot be undone.
forget-yes = 🗑 Yes, delete
forget-no = Cancel
forget-done = Your data has been deleted. If you write again, we'll start from a clean slate.
forget-cancelled = Nothing was deleted.

help =
    Commands:
    /start — main menu
    /language — change the language
    /stop — no news or offers
    /forget — delete my data
    /help — this message

link-ok = ✅ Your Telegram account is now linked to your customer account.
link-expired = This link has expired. Please ask for a new one.
link-used = This link has already been used.
link-unknown = This link is not valid.
link-conflict = This customer account is already linked to another Telegram account. Please contact support.

unknown-command = I don't know the command { $command }. Here is what I can do:
unsupported-content = I can only read text messages here. Please use the menu or type your question.
text-too-long = That message is very long. Please keep it under { $limit } characters.
fallback-text = I'm not sure how to help with that yet. Here is the menu:
error-generic = Sorry, something went wrong on our side. Please try again in a minute.
button-expired = This button is no longer active. Here is the current menu:
