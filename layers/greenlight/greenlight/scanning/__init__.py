"""Getting images scanned and results recorded: the logic several functions share.

- `submission`: claim an object version, check it, presign it, and record what Green answered
  (submit, and the poller when it recovers a stranded record);
- `dispatch`: send tasks in groups of up to 100 and map Green's answers back by dataId;
- `results`: apply one task result to its record (callback, poll, sync).
"""
