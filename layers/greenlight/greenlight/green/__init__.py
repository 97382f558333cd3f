"""The Green protocol (Content Moderation image API 2018-05-09), as docs/green-protocol.md describes it.

- `wire`: limits, body codes and the request and result shapes as typed values;
- `signer`: ROA HMAC-SHA1 request signing, byte for byte as the official SDK does it;
- `checksum`: the result-callback checksum;
- `client`: `GreenClient`, the four image operations with validation, retries and pacing;
- `errors`: what a caller must treat differently (auth, throttled, transient, invalid);
- `pacing`: the token bucket that keeps one instance under its share of the request quota.

Nothing here knows about AWS or verdict records.
"""
