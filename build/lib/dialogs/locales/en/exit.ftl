## Exit interview and the feedback menu

menu-feedback = 💬 Feedback
feature-feedback = rate us, or tell us why you are leaving
feedback-title = We'd love to hear from you. What would you like to do?
feedback-rate = ⭐ Rate us
feedback-leave = 👋 I want to leave

exit-ask = { $name }, we're sorry to see you go. Could you tell us why? One tap is enough.
exit-ask-subscription_cancelled = { $name }, we see you've cancelled your subscription. Could you tell us why? One tap is enough.
exit-ask-account_closed = { $name }, we see you've closed your account. Could you tell us why? One tap is enough.
exit-reason-price = 💸 Too expensive
exit-reason-feature = 🧩 Missing a feature
exit-reason-competitor = 🔀 Switched to another provider
exit-reason-not_needed = 🤷 Don't need it any more
exit-reason-technical = 🛠 Technical problems
exit-reason-support = 😞 Poor support
exit-reason-break = ⏸ Taking a break
exit-reason-other = ✏️ Other
exit-your-answer = Your answer: { $reason }
exit-skip = Skip

exit-offer =
    We'd hate to lose you over the price. Here is { $percent }% off your next order:

    🎟 { $code }

    Valid until { $date }.
exit-no-offer = Thank you. We've passed your feedback about our prices on to the team.
exit-feature-ask = Which feature were you missing? Write it in a few words.
exit-feature-thanks = Noted: «{ $feature }». We'll write to you once it's available, just that one message.
exit-feature-exists = Good news: «{ $feature }» is already available! Would you give it a try?
exit-feature-bad = Please name the feature in words.
exit-competitor-ask = Which one, if you don't mind saying? You can skip this.
exit-competitor-thanks = Thank you for telling us. If you ever want to come back, we'll be glad to see you.
exit-not-needed =
    Thank you for the time you've spent with us. We wish you all the best!
    May we write to you now and then with news?
exit-may-write-yes = Yes, you may
exit-may-write-no = No, please don't
exit-may-write-ok = Thank you! We'll write rarely, and only with something worthwhile.
exit-may-write-off = Understood, we won't write to you. If you ever need us, we're right here.
exit-technical = Sorry about the technical problems. I've passed this on to our team: a person will reply right here shortly. You can describe the problem now.
exit-support = We're sorry our support let you down. A person from our team will reply right here, right away. You can tell us what happened now.
exit-handoff-later = Thank you. Our team has your feedback and will look into it; you can write to us here at any time.
exit-break-ask = Of course! When should we remind you about us? Pick an option or type a date (for example 01.06.2026).
exit-break-2w = In 2 weeks
exit-break-1m = In a month
exit-break-3m = In 3 months
exit-break-6m = In 6 months
exit-break-never = No reminder
exit-break-set = Done: I'll remind you on { $date }. Enjoy your break!
exit-break-none = Alright, no reminders. We'll be here when you come back.
exit-break-bad = Please type a future date within a year, for example 01.06.2026.
exit-other-ask = Please tell us in a few words what made you leave.
exit-other-thanks = Thank you for telling us. It helps us get better.
exit-skipped = Thank you anyway!
exit-already = You've already answered. Thank you!

notice-break_reminder = 👋 Hi! You asked us to remind you today. We're here whenever you're ready to come back: /start
notice-feature_shipped = 🎉 Good news: «{ $feature }» is now available! You told us you were missing it, so we wanted you to be the first to know.

card-exit = 👋 Exit reason: { $reason }, { $date }
card-exit-detail = 👋 Exit reason: { $reason }, { $date }: «{ $detail }»
