## /stats in the staff group: the period's figures and charts

stats-bad-period = “{ $arg }” is not a period. Try /stats week, /stats month, /stats quarter, /stats 2025-06, /stats 2025-Q2 or /stats 2025-W23.
stats-working = 📊 Counting…
stats-title = 📊 { $period } · { $tz }
stats-title-partial = 📊 { $period } so far · { $tz }
stats-customers = 👥 Customers: { $start } → { $end } (new { $new }, came back { $back }, lost { $lost })
stats-rates = Retention (CRR) { $crr } · churn { $churn } · growth { $growth }
stats-revenue-churn = Revenue churn: { $value } of the previous { $days } days' revenue left with the lost customers
stats-purchases = 🛒 { $orders ->
    [one] { $orders } order
   *[other] { $orders } orders
} · repeat buyers { $rpr } · { $frequency } per buyer · average order { $aov }
stats-ltv = LTV { $ltv } (average order × orders per buyer × 1 / churn)
stats-nps = ⭐ NPS { $nps } ({ $n ->
    [one] { $n } answer
   *[other] { $n } answers
})
stats-csat = 🙂 Support rating { $average }/5, { $satisfied } satisfied ({ $n ->
    [one] { $n } rating
   *[other] { $n } ratings
})
stats-first-reply = ⏱ First reply: median { $median }, 90% within { $p90 }
stats-faq = 📚 FAQ answered { $value } of { $n ->
    [one] { $n } question
   *[other] { $n } questions
} without a person
stats-exits = 👋 Why they leave: { $reasons }
stats-campaigns = 📣 Campaigns (bought again: sent vs holdout, uplift, 95% interval):
stats-campaign = • { $name }: { $rate } vs { $holdout }, { $uplift } ({ $low } … { $high })
stats-pp = { $value } pp
stats-no-data = no data
stats-no-charts = No charts yet: there is not enough data for this period.
stats-charts-failed = ⚠️ The charts could not be drawn this time; the figures above are complete.
stats-failed = ⚠️ Could not build the report: { $reason }
stats-duration-s = { $s } s
stats-duration-m = { $m } min { $s } s
stats-duration-h = { $h } h { $m } min
stats-chart-cohorts = Retention by first-purchase month, % who bought
stats-chart-cohorts-x = Months after the first purchase
stats-chart-cohorts-y = First purchase
stats-chart-nps = NPS by period
stats-chart-nps-answers = answers
stats-chart-exits = Why customers leave (exit interviews)
stats-chart-uplift = Campaign uplift over the holdout, percentage points (95% interval)
