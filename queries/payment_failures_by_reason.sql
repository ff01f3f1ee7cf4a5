-- title: Payment failures by reason
-- description: Failed payment attempts per reason and method, and the order value they held up.
-- audience: ops
-- tags: [payments]
-- params:
--   period: {type: daterange, default: last 7 days, label: Period, max_days: 366}
--   methods:
--     type: multienum
--     label: Payment methods
--     default: all
--     choices: [card, paypal, klarna, bank_transfer, gift_card]
-- columns:
--   reason: why the payment failed
--   method: payment method
--   failures: failed attempts
--   failed_amount: order value of the failed attempts
--   share_pct: share of all failures in the period, in percent
SELECT
    failure_reason AS reason,
    method,
    count(*) AS failures,
    round(sum(amount), 2) AS failed_amount,
    round(100 * CAST(count(*) AS double) / sum(count(*)) OVER (), 2) AS share_pct
FROM payments
WHERE dt BETWEEN :period_start AND :period_end
  AND detail_type = 'PaymentFailed'
  AND contains(:methods, method)
GROUP BY 1, 2
ORDER BY failures DESC, reason, method
