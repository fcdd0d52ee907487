"""Write files and directories so readers never see them half-written.

Every atomic write in the package goes through this module:

- `atomic_file(path)`: a temporary file beside `path`, renamed into place.
- `atomic_directory(path)`: a temporary directory beside `path`, renamed
  into place.
- `atomic_numbered_directory(parent, number=None)`: the same for TF
  Serving-style numbered versions (PARENT/1, PARENT/2, ...): with no number,
  a rename that collides with a concurrent writer takes the next free one.
- `clean_stale_temporaries(directory)`: removes the temporaries that a
  killed writer left behind (only those whose process is gone).

Permissions: what lands in place has the mode a plain `open(path, "w")` or
`os.mkdir(path)` would give under the process umask (files 0666 & ~umask,
directories 0777 & ~umask), not the private 0600 / 0700 of `mkstemp` /
`mkdtemp`, so a server running under another user id can read an export.

Temporary names are `.<name>.kctmp-<host>-<pid>-<random>[<ext>]`: hidden
(TF Serving and globs of `*.tfrecord` ignore them) and tagged with the
writing process, so a later run removes a dead writer's leftovers without
touching a live concurrent writer's.
"""

import contextlib
import errno
import os
import shutil
import socket
import stat
import uuid
import zlib

_MARKER = "kctmp"


def current_umask():
    """The process umask, read without changing it where the OS allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no read-only query elsewhere: set and restore
    os.umask(mask)
    return mask


def _host_tag():
    return format(zlib.crc32(socket.gethostname().encode("utf-8")), "08x")


def temporary_name(name, extension=""):
    """A hidden temporary name for `name`, tagged with this host and process."""
    return (f".{name}.{_MARKER}-{_host_tag()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            f"{extension}")


def _writer_of(name):
    """(host tag, pid) of a temporary name of this module, else None."""
    marker = f".{_MARKER}-"
    if not name.startswith(".") or marker not in name:
        return None
    parts = name.rsplit(marker, 1)[1].split("-")
    if len(parts) < 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def clean_stale_temporaries(directory):
    """Removes temporaries of this module left in `directory` by dead writers.

    Only names made by `temporary_name` on this host whose process no
    longer runs are removed; a concurrent live writer's temporaries and
    other hosts' (shared storage) are kept.

    Returns:
        The list of removed paths.
    """
    removed = []
    if not os.path.isdir(directory):
        return removed
    host = _host_tag()
    for name in os.listdir(directory):
        writer = _writer_of(name)
        if writer is None or writer[0] != host or writer[1] == os.getpid():
            continue
        if _process_alive(writer[1]):
            continue
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        removed.append(path)
    return removed


def apply_umask_modes(path):
    """Gives `path` (and, for a directory, everything below it) umask modes.

    Directories and executable files get 0777 & ~umask, other files
    0666 & ~umask: what a plain write would have made.
    """
    mask = current_umask()
    dir_mode, file_mode = 0o777 & ~mask, 0o666 & ~mask

    def fix(target):
        info = os.lstat(target)
        if stat.S_ISLNK(info.st_mode):
            return
        if stat.S_ISDIR(info.st_mode):
            os.chmod(target, dir_mode)
        elif info.st_mode & 0o111:
            os.chmod(target, dir_mode)
        else:
            os.chmod(target, file_mode)

    fix(path)
    if os.path.isdir(path) and not os.path.islink(path):
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                fix(os.path.join(root, name))


@contextlib.contextmanager
def naming_path(path, temp=None):
    """Re-raises an OSError that names no file, or the temporary `temp`, with `path`.

    A failed `write()` reports "No space left on device" without saying
    where, and a failed `open(temp)` names the hidden temporary file the user
    never gave; inside this context the error names the file being written.
    """
    try:
        yield
    except OSError as error:
        named = error.filename
        if error.errno is not None and (named is None or (
                temp is not None and os.fspath(named) == os.fspath(temp))):
            raise type(error)(error.errno, error.strerror or os.strerror(error.errno),
                              os.fspath(path)) from error
        raise


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def _make_parent(directory):
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise NotADirectoryError(errno.ENOTDIR, "is a file, not a directory", directory)
    os.makedirs(directory, exist_ok=True)


@contextlib.contextmanager
def atomic_file(path):
    """Yields a temporary path beside `path`; renames it into place on success.

    The temporary file lives in the same directory, so `os.replace` is an
    atomic rename. On an exception the temporary file is removed and `path`
    is left as it was. The file gets the umask mode of a plain write.

    Example:
    ```python
    with atomic_file("runs/model.keras") as temp:
        model.save(temp)
    ```
    """
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    _make_parent(directory)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "is a directory, expected a file path", path)
    base, extension = os.path.splitext(os.path.basename(path))
    # Keep the extension: Keras picks the format from it (.keras, .h5, ...).
    temp = os.path.join(directory, temporary_name(base, f".tmp{extension}"))
    try:
        with naming_path(path, temp):
            yield temp
        apply_umask_modes(temp)
        os.replace(temp, path)
    finally:
        if os.path.lexists(temp):
            _remove(temp)


@contextlib.contextmanager
def _temporary_directory_beside(path):
    parent = os.path.dirname(path)
    _make_parent(parent)
    temp = os.path.join(parent, temporary_name(os.path.basename(path)))
    os.mkdir(temp)
    try:
        yield temp
    finally:
        if os.path.exists(temp):
            shutil.rmtree(temp)


@contextlib.contextmanager
def atomic_directory(path):
    """Yields a temporary directory beside `path`; renames it into place.

    `path` must not exist yet (a directory rename cannot replace a non-empty
    directory atomically); on an exception the temporary directory is
    removed. The directory and its contents get umask modes.

    Raises:
        FileExistsError: `path` exists, or appeared while writing (another
            writer renamed its directory there first).
    """
    path = os.path.abspath(path)
    if os.path.exists(path):
        raise FileExistsError(
            errno.EEXIST, "already exists; choose a new directory name or remove it", path)
    with _temporary_directory_beside(path) as temp:
        with naming_path(path):
            yield temp
        apply_umask_modes(temp)
        _rename_no_replace(temp, path)


def _rename_no_replace(source, target):
    """Renames a directory to `target` unless something is already there."""
    # rename(2) replaces an empty directory silently and fails on a
    # non-empty one; the lexists check covers the empty case (every writer
    # of this module renames complete, non-empty directories).
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, "already exists", target)
    try:
        os.rename(source, target)
    except OSError as error:
        if error.errno in (errno.EEXIST, errno.ENOTEMPTY):
            raise FileExistsError(errno.EEXIST, "was written by another process "
                                  "meanwhile", target) from None
        raise


def numbered_entries(parent):
    """Integer-named subdirectories of `parent`, sorted."""
    if not os.path.isdir(parent):
        return []
    return sorted(int(name) for name in os.listdir(parent)
                  if name.isdigit() and os.path.isdir(os.path.join(parent, name)))


class NumberedDirectory:
    """Where `atomic_numbered_directory` writes: `temp` now, `path` after."""

    def __init__(self, temp):
        self.temp = temp
        self.path = None
        self.number = None


@contextlib.contextmanager
def atomic_numbered_directory(parent, number=None, max_attempts=1000):
    """Writes PARENT/N atomically, N the next free number unless given.

    Yields a `NumberedDirectory`: write into `.temp`; on success it is
    renamed to PARENT/N and `.path` / `.number` say which. With
    `number=None`, a rename that collides with a concurrent writer (two
    exports at once both choosing N) moves on to N + 1, so both complete.

    Raises:
        FileExistsError: `number` was given and PARENT/number exists (or
            another writer took it during the write).
    """
    parent = os.path.abspath(parent)
    with _temporary_directory_beside(os.path.join(parent, "version")) as temp:
        target = NumberedDirectory(temp)
        with naming_path(parent):
            yield target
        apply_umask_modes(temp)
        if number is not None:
            path = os.path.join(parent, str(number))
            try:
                _rename_no_replace(temp, path)
            except FileExistsError:
                raise FileExistsError(
                    errno.EEXIST, f"version {number} already exists (possibly written by "
                    "a concurrent export); versions are immutable, pick another number or "
                    "omit it to take the next free one", path) from None
            target.path, target.number = path, number
            return
        candidate = (numbered_entries(parent) or [0])[-1] + 1
        for _ in range(max_attempts):
            path = os.path.join(parent, str(candidate))
            try:
                _rename_no_replace(temp, path)
            except FileExistsError:
                candidate = max(candidate + 1, (numbered_entries(parent) or [0])[-1] + 1)
                continue
            target.path, target.number = path, candidate
            return
        raise FileExistsError(errno.EEXIST, f"no free version number after {max_attempts} "
                              "attempts", parent)
