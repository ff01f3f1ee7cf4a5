-- title: Cancellations by reason
-- description: >
--   Orders cancelled per reason and shop channel, their value, and their share of the
--   orders placed in the same channel and period.
-- audience: analyst
-- tags: [orders]
-- params:
--   period: {type: daterange, default: last 30 days, label: Period, max_days: 366}
--   channels: {type: multienum, label: Shop channels, default: all, choices: [web, app, marketplace]}
-- columns:
--   reason: why the order was cancelled
--   channel: shop channel
--   cancelled: orders cancelled
--   cancelled_amount: value of those orders
--   pct_of_placed: cancelled / orders placed in the channel, in percent
WITH lines AS (
    SELECT detail_type, channel, cancel_reason, amount
    FROM orders
    WHERE dt BETWEEN :period_start AND :period_end
      AND contains(:channels, channel)
),
placed AS (
    SELECT channel, count(*) AS placed
    FROM lines
    WHERE detail_type = 'OrderPlaced'
    GROUP BY channel
)
SELECT
    l.cancel_reason AS reason,
    l.channel,
    count(*) AS cancelled,
    round(sum(l.amount), 2) AS cancelled_amount,
    round(100 * CAST(count(*) AS double) / nullif(max(p.placed), 0), 2) AS pct_of_placed
FROM lines AS l
LEFT JOIN placed AS p ON p.channel = l.channel
WHERE l.detail_type = 'OrderCancelled'
GROUP BY 1, 2
ORDER BY cancelled DESC, reason, l.channel
