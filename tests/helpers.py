"""Small helpers shared by the tests."""

from __future__ import annotations

from pathlib import Path


def snapshot_tree(path: Path) -> dict[str, bytes]:
    """Every file under `path` (relative POSIX path -> bytes); empty when `path` does not exist.

    Two snapshots are equal exactly when no file was created, changed or removed in between.
    Empty folders are listed too (with empty bytes and a trailing `/`), so creating one counts.
    """
    root = Path(path)
    if not root.exists():
        return {}
    snapshot: dict[str, bytes] = {}
    for item in sorted(root.rglob("*")):
        name = item.relative_to(root).as_posix()
        if item.is_dir():
            if not any(item.iterdir()):
                snapshot[name + "/"] = b""
        else:
            snapshot[name] = item.read_bytes()
    return snapshot
