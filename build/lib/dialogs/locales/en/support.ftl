## FAQ self-service and handoff to a person (customer side)

menu-faq = ❓ Questions & answers
menu-human = 💬 Talk to a person
feature-faq = answer common questions at any hour (just type yours)
feature-human = connect you with a person whenever you want

faq-categories = Pick a topic:
faq-category-empty = There are no questions in this topic yet.
faq-questions = { $category }: pick a question
faq-prev = ◀️
faq-next = ▶️
faq-page = { $page }/{ $pages }
faq-back-categories = ⬅️ Topics
faq-helpful-question = Did this answer help?
faq-yes = 👍 Yes
faq-no = 👎 No
faq-glad = Glad I could help! Anything else — just ask.
faq-sorry = Sorry that didn't help. Would you like to talk to a person?
faq-suggest = I'm not sure I got it. Is it one of these?
faq-none = I couldn't find an answer to that. A person from our team can help.
faq-unavailable = The answers are not available right now. Please try again later or talk to a person.
faq-stale = This question is no longer in our list. Here are the topics:

handoff-opened =
    ✅ Request #{ $number } is open. A person from our team will answer right here.
    Write your question; you can send photos and files too.
handoff-opened-with-question =
    ✅ Request #{ $number } is open and your question has been passed on. A person from our team will answer right here.
handoff-already = Your request #{ $number } is already open. Just write here — a person will answer.
handoff-offline = We're offline right now. We'll answer { $when }.
handoff-offline-when = { $day } from { $time } ({ $zone })
handoff-cancel = ✖️ Cancel request
handoff-cancelled = Request #{ $number } cancelled. I'm here if you need anything else.
handoff-nothing-to-cancel = There is no open request to cancel.
handoff-unavailable = Sorry, our support team can't be reached from here right now. Please try again later.
handoff-closed =
    Request #{ $number } is closed. Thank you for writing to us!
    How would you rate our help?
handoff-staff-only = This command is for our support team only.

csat-thanks-score = Thank you! Anything to add? Write a comment, or tap Skip.
csat-skip = Skip
csat-thanks = Thank you for your feedback! 🙏
csat-expired = Thanks, this request has already been rated.
weekday-1 = on Monday
weekday-2 = on Tuesday
weekday-3 = on Wednesday
weekday-4 = on Thursday
weekday-5 = on Friday
weekday-6 = on Saturday
weekday-7 = on Sunday
