## FAQ in staff groups: suggested answers under a customer's message and teaching the bot

staff-faq-send = 📤 { $id }
staff-faq-teach = 🎓 teach
staff-faq-sent = 📤 { $staff } sent the FAQ answer { $id } («{ $question }») to the customer.
staff-faq-taught = 🎓 Learned phrasing #{ $learned_id }: «{ $text }» → { $id }. It helps the bot once approved (API: /v1/faq/learned).
staff-faq-already-taught = 🎓 «{ $text }» is already linked to { $id } (#{ $learned_id }, { $status }).
staff-faq-unknown-entry = There is no FAQ entry “{ $id }” in the customer's language.
staff-faq-teach-usage = Reply to the customer's message with /teach entry-id (e.g. /teach delivery-time) to link their words to that FAQ entry.
staff-faq-teach-no-text = This message has no text to learn from.
staff-faq-gone = That message is no longer available.
