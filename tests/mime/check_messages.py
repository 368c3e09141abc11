"""Parses every .eml given on the command line with Python's own `email` package (an
independent parser: not the Rust code that built them) and checks what every Nudge
message must be. Prints one JSON summary; exits 1, naming the file, on the first problem.

Checked per message: no parser defects; From/To/Subject/Date/Message-ID present and
decodable; exactly one text/plain and one text/html part inside multipart/alternative,
each with a declared charset and a transfer encoding that decodes; the HTML is an HTML
document and the text has no markup; marketing mail (X-Nudge-Campaign in the list given
with --marketing) carries RFC 8058 List-Unsubscribe + List-Unsubscribe-Post, and
transactional mail does not.
"""

import argparse
import email
import email.policy
import json
import re
import sys


def fail(path, problem):
    print(json.dumps({"ok": False, "file": path, "problem": problem}))
    sys.exit(1)


def check(path, marketing_campaigns):
    with open(path, "rb") as f:
        message = email.message_from_binary_file(f, policy=email.policy.default)
    if message.defects:
        fail(path, f"parser defects: {message.defects}")
    for name in ["From", "To", "Subject", "Date", "Message-ID", "X-Nudge-Campaign"]:
        value = message.get(name)
        if value is None or not str(value).strip():
            fail(path, f"missing {name}")
        if "\n" in str(value) or "\r" in str(value):
            fail(path, f"{name} holds a line break after unfolding")
    if message.get_content_type() != "multipart/alternative":
        fail(path, f"top-level type is {message.get_content_type()}")
    parts = {}
    for part in message.iter_parts():
        if part.defects:
            fail(path, f"part defects: {part.defects}")
        kind = part.get_content_type()
        if kind in parts:
            fail(path, f"two {kind} parts")
        if part.get_content_charset() is None:
            fail(path, f"{kind} has no charset")
        if part["Content-Transfer-Encoding"] not in ("7bit", "8bit", "quoted-printable", "base64"):
            fail(path, f"{kind} has transfer encoding {part['Content-Transfer-Encoding']}")
        parts[kind] = part.get_content()
    if set(parts) != {"text/plain", "text/html"}:
        fail(path, f"parts are {sorted(parts)}")
    if "<html" not in parts["text/html"].lower():
        fail(path, "the HTML part is not an HTML document")
    if re.search(r"<(div|table|td|p|span)\b", parts["text/plain"]):
        fail(path, "the text part contains HTML markup")
    if not parts["text/plain"].strip():
        fail(path, "the text part is empty")
    campaign = str(message["X-Nudge-Campaign"]).strip()
    unsubscribe = message.get("List-Unsubscribe")
    if campaign in marketing_campaigns:
        if unsubscribe is None or not re.search(r"<https?://[^>]+/u/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+>", str(unsubscribe)):
            fail(path, f"marketing mail without a one-click List-Unsubscribe URL: {unsubscribe}")
        if str(message.get("List-Unsubscribe-Post", "")).strip() != "List-Unsubscribe=One-Click":
            fail(path, "marketing mail without List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    elif unsubscribe is not None:
        fail(path, "transactional mail with List-Unsubscribe")
    return campaign, str(message["Subject"]), parts["text/plain"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--marketing", action="append", default=[])
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    campaigns = {}
    subjects = []
    for path in args.files:
        campaign, subject, _ = check(path, set(args.marketing))
        campaigns[campaign] = campaigns.get(campaign, 0) + 1
        subjects.append(subject)
    print(json.dumps({"ok": True, "messages": len(args.files), "campaigns": campaigns, "subjects": sorted(set(subjects))[:20]}))


if __name__ == "__main__":
    main()
