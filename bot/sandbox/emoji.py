"""The emoji names the sandbox knows, with the characters the workspace page shows.

Slack refuses a reaction name it does not know (`invalid_name`); without that check a
misspelt `:white_check_mrak:` in the sandbox was accepted and silently did nothing.
The list is Slack's standard names for the reactions people use on alerts and approvals.
"""

from __future__ import annotations

EMOJI: dict[str, str] = {
    "white_check_mark": "\u2705",
    "heavy_check_mark": "\u2714\ufe0f",
    "ballot_box_with_check": "\u2611\ufe0f",
    "x": "\u274c",
    "no_entry": "\u26d4",
    "no_entry_sign": "\U0001f6ab",
    "warning": "\u26a0\ufe0f",
    "rotating_light": "\U0001f6a8",
    "fire": "\U0001f525",
    "eyes": "\U0001f440",
    "+1": "\U0001f44d",
    "thumbsup": "\U0001f44d",
    "-1": "\U0001f44e",
    "thumbsdown": "\U0001f44e",
    "ok_hand": "\U0001f44c",
    "raised_hands": "\U0001f64c",
    "clap": "\U0001f44f",
    "pray": "\U0001f64f",
    "tada": "\U0001f389",
    "rocket": "\U0001f680",
    "ship": "\U0001f6a2",
    "hourglass": "\u231b",
    "hourglass_flowing_sand": "\u23f3",
    "stopwatch": "\u23f1\ufe0f",
    "mag": "\U0001f50d",
    "bulb": "\U0001f4a1",
    "memo": "\U0001f4dd",
    "pushpin": "\U0001f4cc",
    "wrench": "\U0001f527",
    "hammer_and_wrench": "\U0001f6e0\ufe0f",
    "bell": "\U0001f514",
    "no_bell": "\U0001f515",
    "mute": "\U0001f507",
    "zzz": "\U0001f4a4",
    "heart": "\u2764\ufe0f",
    "100": "\U0001f4af",
    "question": "\u2753",
    "exclamation": "\u2757",
    "red_circle": "\U0001f534",
    "large_green_circle": "\U0001f7e2",
    "large_yellow_circle": "\U0001f7e1",
    "large_blue_circle": "\U0001f535",
    "smile": "\U0001f604",
    "slightly_smiling_face": "\U0001f642",
    "thinking_face": "\U0001f914",
    "sweat_smile": "\U0001f605",
    "sob": "\U0001f62d",
    "skull": "\U0001f480",
    "construction": "\U0001f6a7",
    "leftwards_arrow_with_hook": "\u21a9\ufe0f",
    "arrows_counterclockwise": "\U0001f504",
    "chart_with_upwards_trend": "\U0001f4c8",
    "chart_with_downwards_trend": "\U0001f4c9",
    "lock": "\U0001f512",
    "unlock": "\U0001f513",
    "pager": "\U0001f4df",
    "speech_balloon": "\U0001f4ac",
}


def is_known_emoji(name: str) -> bool:
    # Skin tones are a suffix Slack accepts on any name that has them (":+1::skin-tone-2:").
    base = name.split("::skin-tone-", 1)[0]
    return base in EMOJI
