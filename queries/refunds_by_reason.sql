-- title: Refunds by reason
-- description: Refunds issued, their total and average amount, and each reason's share of the refunded money.
-- audience: analyst
-- tags: [payments, refunds]
-- params:
--   period: {type: daterange, default: last 30 days, label: Refunded, max_days: 366}
--   min_amount: {type: number, label: Smallest refund counted, default: 0, min: 0, max: 100000}
-- columns:
--   reason: why the money went back
--   refunds: refunds issued
--   amount: money refunded
--   avg_amount: average refund
--   amount_share_pct: share of all money refunded in the period, in percent
WITH refunded AS (
    SELECT reason, amount
    FROM refunds
    WHERE dt BETWEEN :period_start AND :period_end
      AND amount >= :min_amount
)
SELECT
    reason,
    count(*) AS refunds,
    round(sum(amount), 2) AS amount,
    round(avg(amount), 2) AS avg_amount,
    round(100 * sum(amount) / sum(sum(amount)) OVER (), 1) AS amount_share_pct
FROM refunded
GROUP BY reason
ORDER BY amount DESC, reason
