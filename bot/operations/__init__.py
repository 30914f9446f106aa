"""Operations: /deploy, /shift and /rollback behind approval reactions, wired into the bot.

The decisions live in `commands/` (parsing, the approval state machine, plans, rendering);
this package stores requests and operations, talks to Slack through the outbox, runs the
plans through a deploy backend and watches the bake window.
"""
