## Тексты для сотрудников в группе поддержки

card-title = 👤 <b>{ $name }</b>
card-username = @{ $username }
card-ids = Telegram id { $telegram_id } · клиент #{ $customer_id } · внешний id { $external_id }
card-language = 🌐 Язык: { $language }
card-case = 📂 Обращение №{ $number } · { $origin }
card-question = ❓ «{ $text }»
card-opted-out = 🔕 Отказался от новостей и предложений
card-help = <i>Ответьте в этой теме. // или /note — внутренняя заметка. /close — закрыть обращение. /ban — не пересылать.</i>
origin-command = попросил сотрудника (/human)
origin-menu = попросил сотрудника (меню)
origin-faq_no = ответ из FAQ не помог
origin-faq_none = в FAQ нет ответа
origin-message = написал в поддержку
origin-staff = начато сотрудником
origin-detractor = низкая оценка NPS
origin-exit_interview = опрос при уходе
origin-campaign_reply = ответил на рассылку
staff-reminder = ⏰ Обращение №{ $number } ждёт первого ответа { $minutes } мин.
staff-case-opened = 📂 Открыто обращение №{ $number }.
staff-case-closed = ✅ Обращение №{ $number } закрыл(а) { $staff }. Клиента попросили оценить помощь.
staff-case-cancelled = ✖️ Клиент отменил обращение №{ $number }.
staff-no-case = В этой теме нет открытого обращения.
staff-banned = 🚫 Сообщения этого клиента больше не пересылаются. /unban — вернуть.
staff-unbanned = ✅ Пересылка сообщений клиента восстановлена.
staff-unreachable = ⚠️ Не доставлено: клиент заблокировал бота или удалил аккаунт ({ $reason }).
staff-not-delivered = ⚠️ Не доставлено: { $reason }
staff-post-uncertain = ⚠️ Бот перезапустился, пока публиковал сообщение этого клиента: выше его может не быть (дважды оно не публикуется).
staff-post-uncertain-text = ⚠️ Бот перезапустился, пока публиковал сообщение этого клиента; выше его может не быть (дважды оно не публикуется). Текст: «{ $text }»
staff-csat = ⭐ Клиент оценил обращение №{ $number }: { $score }/5
staff-csat-comment = 💬 Комментарий к обращению №{ $number }: { $comment }
staff-commands =
    Команды в теме клиента:
    /close — закрыть обращение (клиента попросят оценить помощь)
    /ban, /unban — остановить или вернуть пересылку
    // текст или /note текст — внутренняя заметка, не отправляется
    /teach id-вопроса — в ответ на сообщение клиента: связать его слова с этим вопросом FAQ
    /queue — ожидающие и открытые обращения, очередь публикаций
    /stats [week|month|quarter|ГГГГ-ММ] — удержание, NPS, CSAT и рассылки с графиками
staff-queue = 📊 Ждут: { $waiting } · открыто: { $open } · в очереди публикаций: { $queued }
staff-refused = Это могут делать только участники группы поддержки.
