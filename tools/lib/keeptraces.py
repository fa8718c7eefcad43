"""Keeps the traces a check recorded, for tools/check-sql (issue 12: every trace the suite
records must load into the SQL engines, not only the samples in traces/).

tools/test sets NETPOLL_KEEP_TRACES=DIR; each check calls keep_traces() before it deletes its
work directory, and every `*.jsonl` regular file under it (links are not followed) is copied
into DIR as LABEL-NAME.jsonl. A trace the check made incomplete on purpose (SIGKILL, a full
disk) is named in `invalid` with the reason, written beside the copy as NAME.jsonl.invalid:
check-sql skips it and prints the reason. Unset, nothing is kept.
"""

import os
import shutil


def keep_traces(workdir, label, invalid=None):
    """Copies every trace under `workdir`; `invalid` maps a file name to why it is not whole."""
    target = os.environ.get("NETPOLL_KEEP_TRACES")
    if not target or not workdir or not os.path.isdir(workdir):
        return 0
    invalid = invalid or {}
    os.makedirs(target, exist_ok=True)
    kept = 0
    for dirpath, _, filenames in os.walk(workdir):
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if not name.endswith(".jsonl") or os.path.islink(path) or not os.path.isfile(path):
                continue
            stem = f"{label}-{name[:-len('.jsonl')]}"
            dest = os.path.join(target, stem + ".jsonl")
            n = 1
            while os.path.exists(dest):
                n += 1
                dest = os.path.join(target, f"{stem}-{n}.jsonl")
            try:
                shutil.copyfile(path, dest)
                if name in invalid:
                    with open(dest + ".invalid", "w", encoding="utf-8") as f:
                        f.write(invalid[name] + "\n")
            except OSError as e:
                # The check itself has passed or failed already: say what check-sql will miss.
                print(f"keep_traces: {path} not kept for check-sql: {e}", flush=True)
                continue
            kept += 1
    return kept
