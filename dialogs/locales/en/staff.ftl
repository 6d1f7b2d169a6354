## Texts staff see in the support group

card-title = 👤 <b>{ $name }</b>
card-username = @{ $username }
card-ids = Telegram id { $telegram_id } · customer #{ $customer_id } · external id { $external_id }
card-language = 🌐 Language: { $language }
card-case = 📂 Case #{ $number } · { $origin }
card-question = ❓ «{ $text }»
card-opted-out = 🔕 Opted out of news and offers
card-help = <i>Reply in this topic to answer. // or /note — internal note. /close — close the case. /ban — stop relaying.</i>
origin-command = asked for a person (/human)
origin-menu = asked for a person (menu)
origin-faq_no = the FAQ answer did not help
origin-faq_none = the FAQ had no answer
origin-message = wrote to support
origin-staff = started by staff
origin-detractor = low NPS score
origin-exit_interview = exit interview
origin-campaign_reply = replied to a campaign message
staff-reminder = ⏰ Case #{ $number } has been waiting { $minutes } min for a first reply.
staff-case-opened = 📂 Case #{ $number } opened.
staff-case-closed = ✅ Case #{ $number } closed by { $staff }. The customer was asked for a rating.
staff-case-cancelled = ✖️ The customer cancelled case #{ $number }.
staff-no-case = There is no open case in this topic.
staff-banned = 🚫 Relaying stopped for this customer. /unban to restore.
staff-unbanned = ✅ Relaying restored for this customer.
staff-unreachable = ⚠️ Not delivered: the customer blocked the bot or deleted their account ({ $reason }).
staff-not-delivered = ⚠️ Not delivered: { $reason }
staff-post-uncertain = ⚠️ The bot restarted while posting here for this customer: a message may be missing above (it is never posted twice).
staff-post-uncertain-text = ⚠️ The bot restarted while posting this customer's message; it may be missing above (it is never posted twice). It said: «{ $text }»
staff-csat = ⭐ The customer rated case #{ $number }: { $score }/5
staff-csat-comment = 💬 Comment on case #{ $number }: { $comment }
staff-commands =
    Staff commands in a customer's topic:
    /close — close the case (the customer is asked for a rating)
    /ban, /unban — stop or restore relaying
    // text or /note text — internal note, not sent
    /teach entry-id — in reply to a customer message: link their words to that FAQ entry
    /queue — waiting and open cases, queued posts
    /stats [week|month|quarter|YYYY-MM] — retention, NPS, CSAT and campaign figures with charts
staff-queue = 📊 Waiting: { $waiting } · open: { $open } · posts queued: { $queued }
staff-refused = Only members of the support group can do that.
