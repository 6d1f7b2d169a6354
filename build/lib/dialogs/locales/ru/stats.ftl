## /stats в группе поддержки: показатели периода и графики

stats-bad-period = «{ $arg }» — не период. Попробуйте /stats week, /stats month, /stats quarter, /stats 2025-06, /stats 2025-Q2 или /stats 2025-W23.
stats-working = 📊 Считаю…
stats-title = 📊 { $period } · { $tz }
stats-title-partial = 📊 { $period }, на сейчас · { $tz }
stats-customers = 👥 Клиенты: { $start } → { $end } (новых { $new }, вернулись { $back }, ушли { $lost })
stats-rates = Удержание (CRR) { $crr } · отток { $churn } · рост { $growth }
stats-revenue-churn = Отток выручки: { $value } выручки предыдущих { $days } дн. приходилось на ушедших клиентов
stats-purchases = 🛒 { $orders ->
    [one] { $orders } заказ
    [few] { $orders } заказа
   *[many] { $orders } заказов
} · повторные покупатели { $rpr } · { $frequency } на покупателя · средний чек { $aov }
stats-ltv = LTV { $ltv } (средний чек × заказов на покупателя × 1 / отток)
stats-nps = ⭐ NPS { $nps } ({ $n ->
    [one] { $n } ответ
    [few] { $n } ответа
   *[many] { $n } ответов
})
stats-csat = 🙂 Оценка поддержки { $average }/5, довольны { $satisfied } ({ $n ->
    [one] { $n } оценка
    [few] { $n } оценки
   *[many] { $n } оценок
})
stats-first-reply = ⏱ Первый ответ: медиана { $median }, 90% быстрее { $p90 }
stats-faq = 📚 FAQ ответил без сотрудника на { $value } из { $n ->
    [one] { $n } вопроса
    [few] { $n } вопросов
   *[many] { $n } вопросов
}
stats-exits = 👋 Почему уходят: { $reasons }
stats-campaigns = 📣 Рассылки (купили снова: получившие против контрольной группы, прирост, 95% интервал):
stats-campaign = • { $name }: { $rate } против { $holdout }, { $uplift } ({ $low } … { $high })
stats-pp = { $value } п.п.
stats-no-data = нет данных
stats-no-charts = Графиков пока нет: за этот период мало данных.
stats-charts-failed = ⚠️ Графики сейчас не получилось нарисовать; цифры выше — полные.
stats-failed = ⚠️ Не удалось построить отчёт: { $reason }
stats-duration-s = { $s } с
stats-duration-m = { $m } мин { $s } с
stats-duration-h = { $h } ч { $m } мин
stats-chart-cohorts = Удержание по месяцу первой покупки, % купивших
stats-chart-cohorts-x = Месяцев после первой покупки
stats-chart-cohorts-y = Первая покупка
stats-chart-nps = NPS по периодам
stats-chart-nps-answers = ответов
stats-chart-exits = Почему клиенты уходят (опросы при уходе)
stats-chart-uplift = Прирост от рассылок относительно контрольной группы, п.п. (95% интервал)
