## Бонусы: баланс, уровни, история, приглашения, день рождения

points-n = { $n ->
    [one] { $n } балл
    [few] { $n } балла
   *[many] { $n } баллов
}
orders-n = { $n ->
    [one] { $n } заказ
    [few] { $n } заказа
   *[many] { $n } заказов
}
days-n = { $n ->
    [one] { $n } день
    [few] { $n } дня
   *[many] { $n } дней
}
more-orders-n = { $n ->
    [one] ещё { $n } заказ
    [few] ещё { $n } заказа
   *[many] ещё { $n } заказов
}

menu-balance = 💎 Мои баллы
feature-balance = показывать ваши баллы, уровень и награды (/balance)

tier-vip = VIP
tier-pre_vip = Почти VIP
tier-regular = Постоянный покупатель
tier-one_time = Первый заказ
tier-never_bought = Новичок

balance-points = 💎 Ваши баллы: { $points }
balance-pending = ⏳ Ожидают начисления: { $points } — можно тратить с { $date }
balance-tier = 🏅 Уровень: { $tier }
balance-next-both = До уровня «{ $tier }»: потратьте ещё { $spend } и сделайте { $orders }.
balance-next-spend = До уровня «{ $tier }»: потратьте ещё { $spend }.
balance-next-orders = До уровня «{ $tier }»: { $orders }.
balance-next-first = Сделайте первую покупку, чтобы начать копить баллы.
balance-top-tier = У вас высший уровень. Спасибо, что вы с нами! 💛
balance-expiring = 🔥 { $points } сгорят { $date } — сделайте покупку или потратьте их до этого дня.
balance-expiry = Баллы не сгорают, пока вы делаете покупки; без активности они сгорят { $date }.
balance-negative = Баланс ниже нуля из-за возврата; новые покупки его покроют.
balance-history-title = Последние операции:
balance-history-empty = Операций пока нет.
balance-earn-title = Как получить больше:
balance-earn-purchase = • { $points } за каждые { $unit } покупок
balance-earn-referral = • пригласите друга: вы получите { $referrer }, он — { $referred } после первой покупки
balance-earn-birthday = • { $points } в день рождения
balance-earn-birthday-add = • { $points } в день рождения — укажите дату
balance-invite = 👥 Пригласить друга
balance-all = 📜 Все операции
balance-birthday = 🎂 Мой день рождения

move-line = { $points } · { $what } · { $date }
move-pending = ⏳
move-bonus = бонус
move-earn-order = покупка { $order }
move-redeem = списание
move-expire = сгорание
move-adjust = корректировка
move-referral = бонус за приглашение
move-birthday = подарок на день рождения 🎂
move-reversal = возврат
move-reversal-order = возврат заказа { $order }

history-title = 📜 История ваших баллов
history-newer = ⬅️ Новее
history-older = Раньше ➡️

referral-info =
    👥 Приглашайте друзей и получайте награды вместе!

    Отправьте свою личную ссылку. Когда друг сделает первую покупку, вы получите { $referrer }, а он — { $referred }.

    Ваша ссылка: { $link }

    Пришли по ссылке: { $invited } · сделали покупку: { $rewarded }
referral-share = 📤 Поделиться ссылкой
referral-share-text = Присоединяйся к { $shop }: мы оба получим бонусные баллы!
referral-welcome = 🎁 Вы пришли по приглашению от { $name }! После первой покупки вы получите { $points }, и ваш друг тоже.
referral-welcome-anonymous = 🎁 Вы пришли по приглашению друга! После первой покупки вы получите { $points }.
referral-self = Это ваша собственная ссылка: поделитесь ею с друзьями, и вы оба получите баллы 🙂
referral-not-new = Приглашения — для новых покупателей, но спасибо, что вы с нами! 💛
referral-unknown = Эта ссылка-приглашение недействительна, но мы всё равно вам рады!

birthday-known = 🎂 Ваш день рождения: { $date }. В этот день каждый год мы начислим вам { $points }.
birthday-ask =
    🎂 Укажите день рождения и получайте { $points } в этот день каждый год.
    Напишите дату, например 21.04.1990.
birthday-note = День рождения, указанный менее чем за { $days } до него, отмечаем со следующего года.
birthday-saved = 🎉 Сохранили: { $date }. Отпразднуем вместе!
birthday-bad = Не получилось прочитать дату. Напишите её так: 21.04.1990.
birthday-cancel = Отмена

notice-expiry_warning = 🔥 { $points } на вашем счёте сгорят { $date }. Сделайте покупку или потратьте их до этого дня, чтобы сохранить. /balance
notice-referral_referrer = 🎉 Ваш друг { $friend } сделал первую покупку — вам начислено { $points }! /balance
notice-referral_referred = 🎉 Спасибо за первую покупку! Как приглашённому другу вам начислено { $points }. /balance
notice-birthday = 🎂 С днём рождения! Небольшой подарок от нас: { $points }. /balance

card-loyalty = 🏅 { $tier } · { $points } · { $orders } · потрачено { $spend }
