"""Who is on call and who watches the alerting: decisions and rendering on plain data.

Like alerts/ and commands/, this package knows no transport: bot/oncall/ and
bot/heartbeats/ read PagerDuty, store state and post through the outbox.
"""
