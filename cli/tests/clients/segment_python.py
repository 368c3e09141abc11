"""Drives `nudge serve` with Segment's own Python library, changed in nothing but its host.

Usage: segment_python.py HOST WRITE_KEY [gzip]
Exits non-zero if the library reports any error.
"""
import sys

import segment.analytics as analytics

host, write_key = sys.argv[1], sys.argv[2]
errors = []
analytics.host = host
analytics.write_key = write_key
analytics.gzip = len(sys.argv) > 3 and sys.argv[3] == "gzip"
analytics.sync_mode = True
analytics.max_retries = 1
analytics.on_error = lambda error, items: errors.append(repr(error))

# A visitor browses, signs up, and becomes a known customer of an account.
analytics.page(anonymous_id="py-anon-1", category="Docs", name="Quickstart", properties={"url": "https://example.com/docs"})
analytics.identify("py-1", {"email": "guido@example.com", "first_name": "Guido"}, anonymous_id="py-anon-1")
analytics.track("py-1", "signed_up", {"plan": "pro", "seats": 3})
analytics.screen("py-1", category="App", name="Home")
analytics.group("py-1", "python-software", {"name": "PSF", "plan": "team"})
analytics.alias("py-old-1", "py-1")
analytics.flush()

if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
print("sent")
