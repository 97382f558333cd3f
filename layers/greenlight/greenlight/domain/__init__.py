"""The domain: what an object version is, its verdict record and states, and the decisions about
them. Pure values and rules; nothing here does I/O.

- `identity`: ObjectRef, the object version every record and Green task hangs off;
- `states`: the record's states and the transitions allowed between them;
- `record`: VerdictRecord, Claim, HeadUpdate, history entries;
- `inspection`: whether an object is worth a scan (type by content, size caps);
- `verdicts`: what a Green task result means for a record;
- `outcomes`: what happened, as typed values the handlers turn into metrics.
"""
