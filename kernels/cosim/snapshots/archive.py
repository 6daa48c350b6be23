"""One snapshot as a single file to send to a colleague, and its careful import.

The archive is a plain tar holding ``manifest.json`` and ``blobs/<sha256>`` (each already zstd
compressed, whether the store keeps it in a pack or a file of its own). Import trusts nothing
in it: only those names, regular files, no duplicates, every path in the manifest checked,
every blob decompressed under a size cap and hash-checked before it enters the store, and the
manifest written last.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from .store import (
    HASH_RE,
    SnapshotError,
    SnapshotStore,
    atomic_write,
    disk_error,
    extract_verified,
    validate_manifest_paths,
)

MAX_MANIFEST_BYTES = 64 * 1024 * 1024


def export(workspace: str | os.PathLike[str], ref: str, path: str | os.PathLike[str]) -> str:
    store = SnapshotStore(workspace)
    manifest = store.read_manifest(store.resolve(ref))
    digests = {f["sha256"] for f in manifest["files"] + manifest.get("artifacts", [])}
    digests.add(manifest["environment"]["sha256"])
    out = Path(path).resolve()
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".tmp-export-")
    os.close(fd)
    try:
        with tarfile.open(tmp, "w") as tar:
            data = json.dumps(manifest, sort_keys=True).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            for digest in sorted(digests):
                blob = store.read_compressed(digest)
                info = tarfile.TarInfo(f"blobs/{digest}")
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
        os.replace(tmp, out)
    except OSError as err:
        os.unlink(tmp)
        raise disk_error(err) from None
    return str(out)


def _members(tar: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    members: dict[str, tarfile.TarInfo] = {}
    for member in tar.getmembers():
        name = member.name
        if name in members:
            raise SnapshotError(f"archive has {name!r} twice")
        if not member.isreg():
            raise SnapshotError(f"archive entry {name!r} is not a regular file (links and "
                                "devices are refused)")  # fmt: skip
        if name != "manifest.json" and not (
            name.startswith("blobs/") and HASH_RE.match(name[len("blobs/") :])
        ):
            raise SnapshotError(f"unexpected entry {name!r} in archive")
        members[name] = member
    if "manifest.json" not in members:
        raise SnapshotError("archive has no manifest.json")
    return members


def import_archive(
    workspace: str | os.PathLike[str], path: str | os.PathLike[str]
) -> dict[str, Any]:
    store = SnapshotStore(workspace)
    try:
        tar = tarfile.open(path, "r:")  # noqa: SIM115 (closed by the with below)
    except (tarfile.TarError, OSError) as err:
        raise SnapshotError(f"not a CoSim snapshot archive: {err}") from None
    try:
        with tar, store.locked():
            members = _members(tar)
            if members["manifest.json"].size > MAX_MANIFEST_BYTES:
                raise SnapshotError("manifest.json is implausibly large")
            raw = tar.extractfile(members["manifest.json"])
            assert raw is not None
            try:
                manifest = json.loads(raw.read())
            except ValueError as err:
                raise SnapshotError(f"manifest.json is not valid JSON: {err}") from None
            if not isinstance(manifest, dict):
                raise SnapshotError("manifest.json is not a snapshot manifest")
            store.manifest_path(str(manifest.get("id")))  # validates the id
            validate_manifest_paths(manifest)
            sizes = {f["sha256"]: f["size"] for f in manifest["files"] +
                     manifest.get("artifacts", [])}  # fmt: skip
            sizes[manifest["environment"]["sha256"]] = manifest["environment"]["size"]
            for digest, size in sizes.items():
                member = members.get(f"blobs/{digest}")
                if member is None:
                    if store.has_blob(digest):
                        continue
                    raise SnapshotError(f"archive lacks blob {digest[:12]}")
                _import_blob(store, tar, member, digest, size)
            if store.manifest_path(manifest["id"]).exists():
                raise SnapshotError(f"snapshot {manifest['id']} is already here")
            store.sync()
            store.write_manifest(manifest)
            return manifest
    except (tarfile.TarError, EOFError) as err:
        raise SnapshotError(f"archive is damaged or truncated: {err}") from None
    except OSError as err:
        raise disk_error(err) from None


def _import_blob(
    store: SnapshotStore, tar: tarfile.TarFile, member: tarfile.TarInfo, digest: str, size: int
) -> None:
    if store.has_blob(digest):
        return
    # Verify first (bounded decompression into nowhere), then copy the compressed bytes in.
    source = tar.extractfile(member)
    assert source is not None
    with open(os.devnull, "wb") as sink:
        try:
            extract_verified(source, digest, size, sink)
        except SnapshotError:
            raise
        except Exception as err:  # zstd errors: not valid compressed data
            raise SnapshotError(f"blob {digest[:12]} is not valid: {err}") from None
    again = tar.extractfile(member)
    assert again is not None
    store.put_blob_stream(digest, again)


__all__ = ["atomic_write", "export", "import_archive"]
