## FAQ в группе поддержки: подходящие ответы под сообщением клиента и обучение бота

staff-faq-send = 📤 { $id }
staff-faq-teach = 🎓 научить
staff-faq-sent = 📤 { $staff } отправил(а) клиенту ответ из FAQ { $id } («{ $question }»).
staff-faq-taught = 🎓 Формулировка №{ $learned_id }: «{ $text }» → { $id }. Бот начнёт её понимать после одобрения (API: /v1/faq/learned).
staff-faq-already-taught = 🎓 «{ $text }» уже связана с { $id } (№{ $learned_id }, { $status }).
staff-faq-unknown-entry = В FAQ на языке клиента нет вопроса «{ $id }».
staff-faq-teach-usage = Ответьте на сообщение клиента командой /teach id-вопроса (например, /teach delivery-time), чтобы связать его слова с этим вопросом FAQ.
staff-faq-teach-no-text = В этом сообщении нет текста, которому можно научить.
staff-faq-gone = Это сообщение больше недоступно.
