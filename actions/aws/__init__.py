"""Shared plumbing for talking to AWS from the bot's actions.

Deploys (ECS + ALB) and, later, secret look-ups all need the same two things: boto3
clients that are safe to use from worker threads, and AWS failures turned into short
messages that can be shown in Slack. They live here so that boto3 stays confined to this
package and the action modules that use it.
"""
