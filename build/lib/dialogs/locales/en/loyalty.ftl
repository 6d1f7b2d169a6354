## Loyalty: balance, tiers, history, referrals, birthdays

points-n = { $n ->
    [one] { $n } point
   *[other] { $n } points
}
orders-n = { $n ->
    [one] { $n } order
   *[other] { $n } orders
}
days-n = { $n ->
    [one] { $n } day
   *[other] { $n } days
}
more-orders-n = { $n ->
    [one] one more order
   *[other] { $n } more orders
}

menu-balance = 💎 My points
feature-balance = your points, tier and rewards (/balance)

tier-vip = VIP
tier-pre_vip = Almost VIP
tier-regular = Regular
tier-one_time = First order
tier-never_bought = Newcomer

balance-points = 💎 Your points: { $points }
balance-pending = ⏳ Pending: { $points } — spendable from { $date }
balance-tier = 🏅 Tier: { $tier }
balance-next-both = To reach { $tier }: spend { $spend } more and place { $orders }.
balance-next-spend = To reach { $tier }: spend { $spend } more.
balance-next-orders = To reach { $tier }: { $orders }.
balance-next-first = Make your first purchase to start earning points.
balance-top-tier = You're in our top tier. Thank you for being with us! 💛
balance-expiring = 🔥 { $points } will expire on { $date } — make a purchase or use them before then.
balance-expiry = Your points stay valid while you keep buying; without any activity they expire on { $date }.
balance-negative = Your balance is below zero because of a refund; new purchases will cover it.
balance-history-title = Last movements:
balance-history-empty = No movements yet.
balance-earn-title = How to earn more:
balance-earn-purchase = • { $points } for every { $unit } you spend
balance-earn-referral = • invite a friend: you get { $referrer }, they get { $referred } after their first purchase
balance-earn-birthday = • { $points } on your birthday
balance-earn-birthday-add = • { $points } on your birthday — tell us the date
balance-invite = 👥 Invite a friend
balance-all = 📜 All movements
balance-birthday = 🎂 My birthday

move-line = { $points } · { $what } · { $date }
move-pending = ⏳
move-bonus = bonus
move-earn-order = purchase { $order }
move-redeem = spent
move-expire = expired
move-adjust = adjustment
move-referral = referral reward
move-birthday = birthday gift 🎂
move-reversal = refund
move-reversal-order = refund of { $order }

history-title = 📜 Your points history
history-newer = ⬅️ Newer
history-older = Older ➡️

referral-info =
    👥 Invite friends and get rewarded together!

    Send your personal link. When a friend makes their first purchase, you get { $referrer } and they get { $referred }.

    Your link: { $link }

    Friends who joined: { $invited } · made a purchase: { $rewarded }
referral-share = 📤 Share the link
referral-share-text = Join me at { $shop }: we both get bonus points!
referral-welcome = 🎁 You came with an invitation from { $name }! After your first purchase you get { $points } and so does your friend.
referral-welcome-anonymous = 🎁 You came with a friend's invitation! After your first purchase you get { $points }.
referral-self = That's your own invitation link: share it with friends and you'll both get points 🙂
referral-not-new = Invitation links are for new customers, but thank you for staying with us! 💛
referral-unknown = This invitation link is not valid, but you're very welcome here anyway!

birthday-known = 🎂 Your birthday: { $date }. We'll send you { $points } on that day every year.
birthday-ask =
    🎂 Tell us your birthday and get { $points } on that day every year.
    Type the date, e.g. 21.04.1990.
birthday-note = A birthday added less than { $days } before it is celebrated from next year.
birthday-saved = 🎉 Saved: { $date }. We'll celebrate together!
birthday-bad = I couldn't read that date. Please type it like 21.04.1990.
birthday-cancel = Cancel

notice-expiry_warning = 🔥 { $points } on your account will expire on { $date }. Make a purchase or use them before then to keep them. /balance
notice-referral_referrer = 🎉 Your friend { $friend } made their first purchase: you got { $points }! /balance
notice-referral_referred = 🎉 Thank you for your first purchase! As an invited friend you got { $points }. /balance
notice-birthday = 🎂 Happy birthday! Here is a small gift from us: { $points }. /balance

card-loyalty = 🏅 { $tier } · { $points } · { $orders } · spent { $spend }
