## NPS survey

nps-question =
    { $name }, how likely are you to recommend { $shop } to a friend or colleague?
    Tap a number: 0 — not at all likely, 10 — extremely likely.
nps-ask-promoter = Thank you for { $score } out of 10! 💚 What do you like most about us? Write a few words, or skip.
nps-ask-passive = Thank you for { $score } out of 10! What would make it a 10 for you? Write a few words, or skip.
nps-ask-detractor = Thank you for your honesty ({ $score } out of 10). What went wrong? Your words go straight to our team. Write a few words, or skip.
nps-skip = Skip
nps-your-score = Your score: { $score } out of 10
nps-thanks-promoter =
    Thank you, that means a lot to us! 💚

    Tell your friends about us: with your personal link they get { $referred } and you get { $referrer } after their first purchase.
    { $link }
nps-thanks-passive = Thank you! We'll work on making it a 10 for you.
nps-thanks-detractor = Thank you, and we're sorry we let you down. Would you like to talk to a person from our team?
nps-talk = 💬 Talk to a person
nps-no-thanks = No, thanks
nps-handoff = Of course. A person from our team will reply right here. You can describe what happened now.
nps-handoff-later = Thank you. Our team has your feedback and will look into it; you can write to us here at any time.
nps-declined = Understood. Thank you again for your feedback!
nps-already = You have already answered this survey. Thank you!
nps-rated-recently = You rated us { $score } out of 10 on { $date }. Thank you! We'll ask again in a while; if something is on your mind now, just write to us.
nps-closed = This survey is closed. Thank you!

nps-staff-alert =
    ⚠️ NPS detractor: { $score }/10 ({ $trigger })
    👤 { $name }{ $username } · customer #{ $cid } · external id { $ext }
    🏅 { $tier } · { $points } · { $orders } · spent { $spend }
    💬 { $comment }
nps-staff-no-comment = (no comment)
nps-trigger-api = sent by your system
nps-trigger-support_case = after a support case
nps-trigger-first_purchase = after the first purchase
nps-trigger-menu = the customer chose to rate us

card-nps = 📊 Last NPS: { $score }/10, { $date }
card-nps-comment = 📊 Last NPS: { $score }/10, { $date }: «{ $comment }»
