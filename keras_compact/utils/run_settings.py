"""A run directory remembers the settings that shaped it.

`pretrain`, `finetune` and `distill` resume from what an earlier run left
in their output directory. That is only right when the rerun has the same
settings; otherwise the old stage files or checkpoints would be reused for
a different run without a word. So every job calls `check_run_settings`
before it writes anything: the first run records its settings (and a
fingerprint of them) in OUTPUT_DIR/run_settings.json; a rerun with the same
settings resumes; a rerun with different ones stops with a message naming
the differences and the two ways out (a new --output-dir, or --overwrite,
which removes the job's own outputs and starts afresh).

Input files are recorded by path, size and SHA-256 (corpora, which may be
large, by path and size), so a teacher or vocabulary replaced in place is a
different run too.
"""

import errno
import hashlib
import json
import os
import shutil

from keras_compact.utils.atomic import atomic_file

RECORD_NAME = "run_settings.json"
_FORMAT = "keras_compact.run_settings.v1"


class RunSettingsMismatch(ValueError):
    """The output directory holds a run made with other settings."""


def file_identity(path, content_hash=True):
    """{"path", "bytes"[, "sha256"]} of an input file (None stays None)."""
    if path is None:
        return None
    path = os.fspath(path)
    identity = {"path": os.path.abspath(path)}
    if os.path.isfile(path):
        identity["bytes"] = os.path.getsize(path)
        if content_hash:
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            identity["sha256"] = digest.hexdigest()
    return identity


def folder_identity(path):
    """file_identity of a folder (a Hugging Face checkpoint): each file by path and size."""
    path = os.fspath(path)
    return {"folder": file_identity(path),
            "files": {name: file_identity(os.path.join(path, name), content_hash=False)
                      for name in sorted(os.listdir(path))
                      if os.path.isfile(os.path.join(path, name))}}


def _canonical(settings):
    return json.loads(json.dumps(settings, sort_keys=True, default=str))


def fingerprint(settings):
    """SHA-256 (16 hex digits) of the canonical JSON of `settings`."""
    text = json.dumps(_canonical(settings), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _differences(old, new, limit=6):
    keys = sorted(set(old) | set(new))
    changed = [k for k in keys if old.get(k) != new.get(k)]

    def short(value):
        text = json.dumps(value, sort_keys=True)
        return text if len(text) <= 60 else text[:57] + "..."

    parts = [f"{k}: {short(old.get(k))} -> {short(new.get(k))}" for k in changed[:limit]]
    if len(changed) > limit:
        parts.append(f"and {len(changed) - limit} more")
    return "; ".join(parts)


def check_run_settings(output_dir, kind, settings, outputs=(), overwrite=False,
                       write=True):
    """Stops a rerun whose settings differ from those the directory holds.

    Call it before the job writes anything into `output_dir`.

    Args:
        output_dir: the run directory.
        kind: "pretrain", "finetune" or "distill" (a different kind of run
            in the same directory is a mismatch too).
        settings: JSON-able dict of everything that shapes the run's results.
        outputs: names (files or folders) the job writes in `output_dir`;
            `--overwrite` removes exactly these, and finding any of them
            without a record is treated as a run of unknown settings.
        overwrite: remove the previous run's outputs and start afresh.
        write: record the settings (False on non-chief workers).

    Returns:
        "new", "resume" or "overwritten".

    Raises:
        RunSettingsMismatch: the directory holds another run.
        NotADirectoryError: `output_dir` is a file.
    """
    output_dir = os.fspath(output_dir)
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise NotADirectoryError(errno.ENOTDIR, "--output-dir is a file, not a directory",
                                 output_dir)
    settings = _canonical(settings)
    record = {"format": _FORMAT, "kind": kind, "fingerprint": fingerprint(settings),
              "settings": settings}
    record_path = os.path.join(output_dir, RECORD_NAME)
    previous = None
    if os.path.isfile(record_path):
        try:
            with open(record_path, encoding="utf-8") as handle:
                previous = json.load(handle)
        except ValueError:
            previous = {"kind": "unknown", "fingerprint": None, "settings": {}}
        old = previous.get("settings")
        if isinstance(old, dict) and "seq_len" in old:
            # Recorded before `seq_len` became `sequence_length` (issue 19): the
            # same settings under the new name, so such a run still resumes.
            old["sequence_length"] = old.pop("seq_len")
            previous["fingerprint"] = fingerprint(old)
    existing = [name for name in outputs if os.path.lexists(os.path.join(output_dir, name))]
    status = "new"
    if previous is not None and not overwrite:
        if previous.get("kind") == kind and previous.get("fingerprint") == record[
                "fingerprint"]:
            return "resume"
        if previous.get("kind") != kind:
            what = f"a {previous.get('kind')} run"
        else:
            what = (f"another {kind} run, made with other settings ("
                    f"{_differences(previous.get('settings') or {}, settings)})")
        raise RunSettingsMismatch(
            f"{output_dir} holds {what}. Its results would be reused for different "
            "settings; pass a new --output-dir to keep it, or --overwrite to replace it.")
    if previous is None and existing and not overwrite:
        raise RunSettingsMismatch(
            f"{output_dir} holds {kind} outputs ({', '.join(existing)}) but no record of "
            f"the settings that made them ({RECORD_NAME}); pass a new --output-dir, or "
            "--overwrite to replace them.")
    if overwrite and write and (previous is not None or existing):
        for name in existing:
            path = os.path.join(output_dir, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
        if os.path.lexists(record_path):
            os.remove(record_path)
        print(f"--overwrite: removed the previous run's outputs from {output_dir}")
        status = "overwritten"
    if write:
        with atomic_file(record_path) as temp:
            with open(temp, "w", encoding="utf-8") as handle:
                json.dump(record, handle, indent=1, sort_keys=True)
    return status
