"""Writing into the report directory: every file goes to a temporary name in DIR first and is then
renamed over the final name, so a reader never sees half a chart and a symlink planted at a final
name is replaced, not followed."""

import fnmatch
import os
import tempfile


def _atomic_write(path, write):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".allocprof-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_text(path, text):
    _atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def save_figure(fig, directory, stem):
    """Writes STEM.png and STEM.svg; returns their names (relative to directory)."""
    names = []
    for ext, metadata in (("png", {"Software": None}), ("svg", {"Date": None})):
        name = f"{stem}.{ext}"
        _atomic_write(os.path.join(directory, name), lambda f, ext=ext, md=metadata: fig.savefig(f, format=ext, metadata=md))
        names.append(name)
    return names


def remove_stale(directory, keep, patterns):
    """Removes earlier runs' charts (names matching `patterns`) that this run did not write."""
    for name in os.listdir(directory):
        if name in keep or not any(fnmatch.fnmatch(name, p) for p in patterns):
            continue
        path = os.path.join(directory, name)
        if os.path.isfile(path) or os.path.islink(path):
            os.unlink(path)
