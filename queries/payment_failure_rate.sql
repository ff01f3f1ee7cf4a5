-- title: Payment failure rate by method
-- description: >
--   Payment attempts, failures and the failure rate per day and payment method. A failed
--   payment may be retried, so attempts count both tries.
-- audience: ops
-- tags: [payments]
-- params:
--   period: {type: daterange, default: last 14 days, label: Period, max_days: 366}
--   methods:
--     type: multienum
--     label: Payment methods
--     default: all
--     choices: [card, paypal, klarna, bank_transfer, gift_card]
-- columns:
--   day: day of the attempt (UTC)
--   method: payment method
--   attempts: authorizations and failures
--   failures: failed attempts
--   failure_pct: failures / attempts, in percent
--   failed_amount: order value of the failed attempts
SELECT
    dt AS day,
    method,
    count(*) AS attempts,
    count_if(detail_type = 'PaymentFailed') AS failures,
    round(100 * CAST(count_if(detail_type = 'PaymentFailed') AS double) / count(*), 2) AS failure_pct,
    round(sum(CASE WHEN detail_type = 'PaymentFailed' THEN amount ELSE 0 END), 2) AS failed_amount
FROM payments
WHERE dt BETWEEN :period_start AND :period_end
  AND contains(:methods, method)
GROUP BY 1, 2
ORDER BY 1, 2
