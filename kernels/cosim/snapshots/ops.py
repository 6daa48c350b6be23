"""Create, list, restore, verify and collect snapshots of a workspace."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import statindex
from .datasets import dataset_paths, reference
from .envlock import environment_lock
from .startup_files import is_startup_file
from .store import (
    INDEX,
    LEGACY_INDEX,
    SMALL_FILE,
    SnapshotError,
    SnapshotStore,
    atomic_write,
    compressor,
    disk_error,
    sha256_file,
)
from .walk import ignore_lines, ignore_matcher, ignore_spec_of, jupyter_state_matcher, walk

DEFAULT_DATA_THRESHOLD = 50 * 1024 * 1024
WORKERS = min(8, (os.cpu_count() or 2) * 2)


def _new_id(message: str) -> str:
    now = time.time_ns()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now / 1e9)) + f"{now // 1000 % 10**6:06d}"
    salt = hashlib.sha256(f"{time.time_ns()}{os.getpid()}{message}".encode()).hexdigest()[:8]
    return f"{stamp}-{salt}"


BATCH = 32  # files per worker task: one future per file costs more than a small file's work


def _scan(
    store: SnapshotStore, data_threshold: int, *, store_blobs: bool = False
) -> dict[str, Any]:
    """The workspace as manifest entries, hashing only files whose stat changed (the index).
    With ``store_blobs`` new content is also stored, in the same read of the file, and the
    result carries the next index under ``_index`` (bytes) for ``create`` to write."""
    workspace = store.workspace
    datasets = dataset_paths(workspace)
    lines = ignore_lines(workspace)
    rules = statindex.rules_key(lines, datasets)
    index = store.read_index()
    # Before the walk: what changes from here on may share an mtime with what the walk saw.
    started = statindex.fs_clock_ns(store.root) if store_blobs else 0
    tree = statindex.scan_tree(
        workspace, lambda: ignore_matcher(ignore_spec_of(lines)), datasets,
        index.get("dirs"), trust_listings=index.get("rules") == rules,
    )  # fmt: skip
    files: list[dict[str, Any]] = []
    data_refs: list[dict[str, Any]] = []
    dirs: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    references: list[dict[str, Any]] = []
    to_hash: list[dict[str, Any]] = []
    in_order: list[dict[str, Any]] = []  # files and data refs in walk order (the next index)
    # Per entry: False for a file whose key in the index did not match (what the next index
    # must write anew), True for the rest.
    matched: list[bool] = []
    imode = stat.S_IMODE
    for kind, path, st, c in tree.entries:
        if kind == statindex.FILE:
            size = st.st_size
            is_data = size > data_threshold
            # c: the index's size, mtime, inode, ctime, sha256, whether a blob holds it
            digest = (
                c[4]
                if c is not None and c[1] == st.st_mtime_ns and c[0] == size
                and c[2] == st.st_ino and c[3] == st.st_ctime_ns and (is_data or c[5] is True)
                else None
            )  # fmt: skip
            record = {"path": path, "mode": imode(st.st_mode), "size": size, "sha256": digest}
            (data_refs if is_data else files).append(record)
            in_order.append(record)
            matched.append(digest is not None)
            if digest is None:
                to_hash.append(record)
            continue
        matched.append(True)
        if kind == statindex.DIR:
            dirs.append({"path": path, "mode": imode(st.st_mode)})
        elif kind == statindex.REFERENCE:
            references.append(reference(workspace, path, *datasets[path]))
        else:
            skipped.append({"path": path, "reason": statindex.SKIP_REASONS[kind]})
    pack = store.new_pack() if store_blobs else None

    def work(batch: list[dict[str, Any]]) -> int:
        """Hash a batch of files and store the new content: bytes added to the store."""
        added = 0
        for record in batch:
            path = workspace / record["path"]
            store_it = pack is not None and record["size"] <= data_threshold
            if record["size"] > SMALL_FILE:  # streamed to a blob file of its own
                record["sha256"] = digest = sha256_file(path)
                added += store.put_file(path, digest) if store_it else 0
                continue
            data = path.read_bytes()  # one read for both the hash and the blob
            record["sha256"] = digest = hashlib.sha256(data).hexdigest()
            if pack is not None and store_it and digest not in pack and not store.has_blob(digest):
                added += pack.add(digest, compressor().compress(data))
        return added

    batches = [to_hash[i : i + BATCH] for i in range(0, len(to_hash), BATCH)]
    try:
        if len(batches) <= 1:  # a thread pool's start costs more than one batch
            added = sum(map(work, batches))
        else:
            with ThreadPoolExecutor(WORKERS) as pool:  # hashlib, zstd, reads release the GIL
                added = sum(pool.map(work, batches))
        if pack is not None:
            store.commit_pack(pack)
    except BaseException:
        if pack is not None:
            pack.abort()
        raise
    result: dict[str, Any] = {
        "files": files, "dirs": dirs, "data_refs": data_refs, "datasets": references,
        "skipped": skipped, "_added": added,
    }  # fmt: skip
    if store_blobs:
        result["_index"] = _next_index(rules, tree, started, in_order, matched, data_threshold)
    return result


def _next_index(
    rules: str,
    tree: statindex.Tree,
    started: int,
    in_order: list[dict[str, Any]],
    matched: list[bool],
    data_threshold: int,
) -> bytes:
    """The index for the next scan: each folder's stat and entries, each file's stat key and
    hash (and whether a blob holds it: data references have none); racy entries are stored
    with an mtime that matches nothing, so that they are checked again. A folder listed from
    the index whose files all matched their keys keeps its keys as they were (a key that
    matched was not racy then, so it is not now)."""
    racy_from = started - statindex.RACY_MARGIN_NS
    never = statindex.NEVER
    entries = tree.entries
    record_at = 0  # in_order holds the file entries' records, in entry order
    start = 0
    for folder, (end, old_keys) in zip(tree.dirs.values(), tree.spans, strict=True):
        if folder[statindex.MTIME] >= racy_from:
            folder[statindex.MTIME] = never
        kinds = folder[statindex.KINDS]
        files_here = kinds.count(statindex.FILE)
        if old_keys is not None and all(matched[start:end]):
            folder.append(old_keys)
        else:
            keys: list[Any] = []
            records = iter(in_order[record_at : record_at + files_here])
            for kind, (_, _, st, _) in zip(kinds, entries[start:end], strict=True):
                if kind != statindex.FILE:
                    keys.append(None)
                    continue
                r = next(records)
                mtime = st.st_mtime_ns
                keys.append([st.st_size, mtime if mtime < racy_from else never, st.st_ino,
                             st.st_ctime_ns, r["sha256"], r["size"] <= data_threshold])  # fmt: skip
            folder.append(keys)
        record_at += files_here
        start = end
    return statindex.dump(rules, tree.dirs)


def create(
    workspace: str | os.PathLike[str],
    message: str = "",
    *,
    data_threshold: int = DEFAULT_DATA_THRESHOLD,
    artifacts: list[str] | None = None,
    auto: bool = False,
) -> dict[str, Any]:
    """Take a snapshot; returns its manifest. Concurrent calls succeed one after the other."""
    store = SnapshotStore(workspace)
    try:
        with store.locked():
            cached_env = _cached_environment(store)
            if cached_env is not None:  # no package changed: no thread to start
                scan = _scan(store, data_threshold, store_blobs=True)
                env_digest, env_size, env_added = cached_env
            else:
                with ThreadPoolExecutor(1) as side:  # the lock is mostly Python: overlap it
                    environment = side.submit(_store_environment, store)
                    scan = _scan(store, data_threshold, store_blobs=True)
                    env_digest, env_size, env_added = environment.result()
            index, added = scan.pop("_index"), scan.pop("_added")
            # Files whose hash came from the index were in the last snapshot, so their blobs
            # exist (gc keeps every referenced blob): only artifacts may need storing here.
            sources = _artifact_sources(store, artifacts or [], scan)
            missing = {d: p for p, d in sources if not store.has_blob(d)}
            if missing:
                with ThreadPoolExecutor(WORKERS) as pool:
                    added += sum(pool.map(lambda d: store.put_file(missing[d], d), missing))
            added += env_added
            store.sync()  # the folders of blob files written above; packs are durable already
            ids = store.ids()
            manifest = {
                "id": _new_id(message), "created": time.time(), "message": message,
                "parent": ids[-1] if ids else None, "auto": auto,
                "environment": {"sha256": env_digest, "size": env_size},
                "stored_bytes": added, "root_mode": store.workspace.stat().st_mode & 0o777,
                **scan,
            }  # fmt: skip
            store.write_manifest(manifest)  # last: the snapshot exists from here on
            store.write_index(index)
            return manifest
    except OSError as err:
        raise disk_error(err) from None


def _environment_fingerprint() -> list[float]:
    """Changes whenever a Python or Debian package is installed or removed."""
    import site
    import sysconfig

    places = {sysconfig.get_paths()["purelib"], *site.getsitepackages(), "/var/lib/dpkg/status"}
    return sorted(os.stat(p).st_mtime for p in places if os.path.exists(p))


def _cached_environment(store: SnapshotStore) -> tuple[str, int, int] | None:
    """The last environment lock's blob (digest, size, 0 bytes added) while no package changed:
    collecting it costs far more than the rest of a small snapshot."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, SnapshotError):
        cached = json.loads((store.root / "environment-cache.json").read_text())
        digest = cached["sha256"]
        # The lock is stored as a blob file: checking for it needs no pack index.
        if cached["fingerprint"] == _environment_fingerprint() and (
            store.blob_path(digest).is_file() or store.has_blob(digest)
        ):
            return digest, int(cached["size"]), 0
    return None


def _store_environment(store: SnapshotStore) -> tuple[str, int, int]:
    """The environment lock's blob (digest, size, bytes added), reusing the last one while no
    package changed."""
    cache_path = store.root / "environment-cache.json"
    fingerprint = _environment_fingerprint()
    cached = _cached_environment(store)
    if cached is not None:
        return cached
    lock = json.dumps(environment_lock(), sort_keys=True).encode()
    digest = hashlib.sha256(lock).hexdigest()
    added = 0
    if not store.has_blob(digest):
        with tempfile.NamedTemporaryFile(dir=store.root) as tmp:
            tmp.write(lock)
            tmp.flush()
            added = store.put_file(Path(tmp.name), digest)
    cache = {"fingerprint": fingerprint, "sha256": digest, "size": len(lock)}
    atomic_write(cache_path, json.dumps(cache).encode())
    return digest, len(lock), added


def _artifact_sources(
    store: SnapshotStore, job_ids: list[str], scan: dict[str, Any]
) -> list[tuple[Path, str]]:
    """Copy chosen jobs' checkpoints and metrics (under .cosim/jobs/<id>) into the snapshot."""
    sources = []
    scan["artifacts"] = []
    for job in job_ids:
        root = store.workspace / ".cosim" / "jobs" / job
        if not job.replace("-", "").isalnum() or not root.is_dir():
            raise SnapshotError(f"no job {job!r} in {store.workspace / '.cosim' / 'jobs'}", 404)
        for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            digest = sha256_file(path)
            rel = path.relative_to(store.workspace).as_posix()
            scan["artifacts"].append({"path": rel, "mode": path.stat().st_mode & 0o777,
                                      "size": path.stat().st_size, "sha256": digest})  # fmt: skip
            sources.append((path, digest))
    return sources


def list_snapshots(workspace: str | os.PathLike[str]) -> list[dict[str, Any]]:
    store = SnapshotStore(workspace)
    out = []
    for snapshot_id in store.ids():
        m = store.read_manifest(snapshot_id)
        out.append({
            "id": m["id"], "created": m["created"], "message": m.get("message", ""),
            "files": len(m["files"]), "bytes": sum(f["size"] for f in m["files"]),
            "data_refs": len(m.get("data_refs", [])), "datasets": len(m.get("datasets", [])),
            "auto": m.get("auto", False),
        })  # fmt: skip
    return out


def show(workspace: str | os.PathLike[str], ref: str) -> dict[str, Any]:
    store = SnapshotStore(workspace)
    return store.read_manifest(store.resolve(ref))


def environment_of(store: SnapshotStore, manifest: dict[str, Any]) -> dict[str, Any]:
    import io

    env = manifest["environment"]
    buf = io.BytesIO()
    store.extract_blob(env["sha256"], env["size"], buf)
    return dict(json.loads(buf.getvalue()))


def working_changes(store: SnapshotStore, manifest: dict[str, Any]) -> list[str]:
    """Paths whose content differs between the workspace and a snapshot."""
    scan = _scan(store, 1 << 62)  # every file counts here, data refs included
    now = {f["path"]: f["sha256"] for f in scan["files"]}
    then = {f["path"]: f["sha256"] for f in manifest["files"] + manifest.get("data_refs", [])}
    return sorted(p for p in now.keys() | then.keys() if now.get(p) != then.get(p))


def _stage(store: SnapshotStore, manifest: dict[str, Any], stage: Path) -> None:
    """Write the snapshot's tree into ``stage`` and verify every byte on the way."""
    root = str(stage)
    # Strings, not Paths: 10k files' parents through pathlib cost a tenth of a second.
    made = {""}
    for d in manifest["dirs"]:
        os.makedirs(f"{root}/{d['path']}", exist_ok=True)
        made.add(d["path"])
    entries = manifest["files"] + manifest.get("artifacts", [])
    for parent in {f["path"].rpartition("/")[0] for f in entries} - made:
        os.makedirs(f"{root}/{parent}", exist_ok=True)

    def write(batch: list[dict[str, Any]]) -> None:
        for f in batch:
            fd = os.open(f"{root}/{f['path']}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with open(fd, "wb") as out:
                os.fchmod(fd, f["mode"])
                store.extract_blob(f["sha256"], f["size"], out)

    batches = [entries[i : i + BATCH] for i in range(0, len(entries), BATCH)]
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(write, batches))  # list(): re-raises the first error
    for d in reversed(manifest["dirs"]):  # after the files, so read-only dirs stay writable above
        os.chmod(stage / d["path"], d["mode"])


def _data_report(workspace: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    report = []
    for ref in manifest.get("data_refs", []):
        path = workspace / ref["path"]
        if not path.is_file():
            report.append({**ref, "status": "missing"})
        elif path.stat().st_size != ref["size"] or sha256_file(path) != ref["sha256"]:
            report.append({**ref, "status": "changed"})
    return report


def restore(
    workspace: str | os.PathLike[str],
    ref: str,
    *,
    target: str | os.PathLike[str] | None = None,
    force: bool = False,
    allow_startup_files: bool = False,
) -> dict[str, Any]:
    """Restore a snapshot into a new folder (``target``) or in place.

    The whole tree is first written and verified in a temp folder; only then does anything in
    the destination change. In place, changes since the latest snapshot need ``force``, and a
    safety snapshot is taken first. Files that would run code at a shell/IPython/Jupyter start
    (``startup_files.py``) are left out, and the restorer's own kept, unless
    ``allow_startup_files``; the result lists them under ``skipped_startup_files``.
    """
    from .store import validate_manifest_paths

    store = SnapshotStore(workspace)
    snapshot_id = store.resolve(ref)
    manifest = store.read_manifest(snapshot_id)
    validate_manifest_paths(manifest)
    skipped: list[str] = []
    if not allow_startup_files:
        manifest, skipped = _without_startup_files(manifest)
    safety = None
    try:
        if target is not None:
            dest = Path(target).resolve()
            if dest.exists():
                raise SnapshotError(f"{dest} already exists; restore into a new folder")
            dest.parent.mkdir(parents=True, exist_ok=True)
            stage = Path(tempfile.mkdtemp(prefix=".cosim-restore-", dir=dest.parent))
            try:
                _stage(store, manifest, stage)
                os.chmod(stage, manifest.get("root_mode", 0o755))
                os.replace(stage, dest)  # one rename: the new folder appears whole or not at all
            except BaseException:
                shutil.rmtree(stage, ignore_errors=True)
                raise
            return {"restored": snapshot_id, "target": str(dest), "safety_snapshot": None,
                    "data": _data_report(store.workspace, manifest),
                    "skipped_startup_files": skipped}  # fmt: skip
        latest = store.ids()[-1]
        changed = working_changes(store, store.read_manifest(latest))
        if changed and not force:
            raise SnapshotError(
                f"{len(changed)} file(s) changed since snapshot {latest} (e.g. {changed[0]}); "
                "restore with --force (a safety snapshot is taken first)",
                409,
            )
        if changed:
            safety = create(store.workspace, f"before restoring {snapshot_id}", auto=True)["id"]
        stage = Path(tempfile.mkdtemp(prefix=".restore-", dir=store.root))
        try:
            _stage(store, manifest, stage)
            _apply(store, manifest, stage, keep_startup=not allow_startup_files)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    except OSError as err:
        raise disk_error(err) from None
    return {"restored": snapshot_id, "target": str(store.workspace), "safety_snapshot": safety,
            "data": _data_report(store.workspace, manifest),
            "skipped_startup_files": skipped}  # fmt: skip


def _without_startup_files(manifest: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``manifest`` without files that run code at startup, and their paths."""
    kept: dict[str, Any] = dict(manifest)
    skipped: list[str] = []
    for section in ("files", "artifacts"):
        entries: list[dict[str, Any]] = []
        kept[section] = entries
        for f in manifest.get(section, []):
            if is_startup_file(f["path"]):  # one match per path: 10k paths add up
                skipped.append(f["path"])
            else:
                entries.append(f)
    return kept, sorted(skipped)


def _apply(
    store: SnapshotStore, manifest: dict[str, Any], stage: Path, *, keep_startup: bool = True
) -> None:
    """Move the verified stage over the workspace: renames only, nothing left to fail on."""
    # A snapshot taken before Jupyter's state was ignored may hold it: never move such a file
    # over the one the running server has open (its RTC database, its session list).
    live = jupyter_state_matcher()
    wanted = {f["path"] for f in manifest["files"] + manifest.get("artifacts", [])}
    wanted = {p for p in wanted if not live(p)}
    wanted_dirs = {d["path"] for d in manifest["dirs"]}
    # Data files are referenced, not stored: restore never deletes one (it could not bring it back).
    keep = wanted | {r["path"] for r in manifest.get("data_refs", [])}
    # Nor a dataset: the admin's, read-only, and only referenced.
    datasets = dataset_paths(store.workspace)
    for entry in sorted(walk(store.workspace, datasets), key=lambda e: e.path, reverse=True):
        path = store.workspace / entry.path
        # Nor a large file: the safety snapshot only references those, so keep them too.
        # Nor the restorer's own startup files when the snapshot's are left out.
        if keep_startup and is_startup_file(entry.path):
            continue
        if entry.kind == "file" and entry.path not in keep and entry.size <= DEFAULT_DATA_THRESHOLD:
            path.unlink()
        elif entry.kind == "dir" and entry.path not in wanted_dirs:
            with contextlib.suppress(OSError):  # keeps dirs that still hold ignored files
                path.rmdir()
    for d in manifest["dirs"]:
        (store.workspace / d["path"]).mkdir(parents=True, exist_ok=True)
    for path in sorted(wanted):
        dest = store.workspace / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage / path, dest)
    for d in reversed(manifest["dirs"]):
        path = store.workspace / d["path"]
        if path.stat().st_mode & 0o777 != d["mode"]:  # a folder not ours (~/datasets) is as was
            os.chmod(path, d["mode"])


def verify(workspace: str | os.PathLike[str]) -> list[str]:
    """Problems found (empty when every manifest is readable and every blob is intact)."""
    store = SnapshotStore(workspace)
    problems = []
    checked: set[str] = set()
    for snapshot_id in store.ids():
        try:
            manifest = store.read_manifest(snapshot_id)
        except SnapshotError as err:
            problems.append(str(err))
            continue
        entries = manifest["files"] + manifest.get("artifacts", []) + [manifest["environment"]]
        for f in entries:
            if f["sha256"] in checked:
                continue
            try:
                with open(os.devnull, "wb") as sink:
                    store.extract_blob(f["sha256"], f["size"], sink)
                checked.add(f["sha256"])
            except (SnapshotError, OSError) as err:
                problems.append(f"snapshot {snapshot_id}: {f.get('path', 'environment')}: {err}")
    return problems


def gc(workspace: str | os.PathLike[str]) -> dict[str, int]:
    """Delete blobs no manifest refers to, packs a crash left behind, and temp files; a pack that
    holds both live and dead blobs is rewritten with the live ones only."""
    store = SnapshotStore(workspace)
    removed = freed = 0
    with store.locked():
        live: set[str] = set()
        for snapshot_id in store.ids():
            m = store.read_manifest(snapshot_id)
            live.update(f["sha256"] for f in m["files"] + m.get("artifacts", []))
            live.add(m["environment"]["sha256"])
        if store.blobs.is_dir():
            for path in store.blobs.rglob("*"):
                if path.is_file() and (path.name not in live or path.name.startswith(".tmp-")):
                    freed += path.stat().st_size
                    path.unlink()
                    removed += 1
        dead_packs, dead_blobs = _collect_packs(store, live)
        removed += dead_blobs
        for path in dead_packs:
            freed += path.stat().st_size
            path.unlink()
        for leftover in store.root.glob(".tmp-*"):
            leftover.unlink()
        if (store.root / INDEX).exists():  # a JSON index the binary one replaced
            (store.root / LEGACY_INDEX).unlink(missing_ok=True)
    return {"removed_blobs": removed, "freed_bytes": freed}


def _collect_packs(store: SnapshotStore, live: set[str]) -> tuple[list[Path], int]:
    """Packs to delete (after their live blobs were copied into a new pack) and how many dead
    blobs they held. Index files go first: a pack without one is garbage, never a live pack."""
    folder = store.packs.folder
    if not folder.is_dir():
        return [], 0
    indexes = store.packs.indexes()
    doomed = [p for p in folder.iterdir() if p.name.startswith(".tmp-")]
    doomed += [  # packs of crashed creates
        p for p in folder.glob("*.pack") if p.stem not in indexes and not p.name.startswith(".tmp-")
    ]
    doomed += [  # indexes whose pack is gone (a pack's own index goes with it below)
        p
        for p in folder.glob("*.idx")
        if not p.name.startswith(".tmp-") and not p.with_suffix(".pack").exists()
    ]
    dead = 0
    keep = store.new_pack()
    try:
        for pack_id, entries in indexes.items():
            gone = [d for d in entries if d not in live]
            if not gone:
                continue
            dead += len(gone)
            for digest in entries:
                if digest in live and digest not in keep:
                    keep.add(digest, store.read_compressed(digest))
            doomed.append(folder / f"{pack_id}.pack")
        store.commit_pack(keep)  # durable before the old packs' indexes go
    except BaseException:
        keep.abort()
        raise
    for path in doomed:
        # A committed pack's index goes with it; a temp pack's temp index is in `doomed` itself
        # (deleting it here too made gc fail on it later).
        if path.suffix == ".pack" and not path.name.startswith(".tmp-"):
            (folder / f"{path.stem}.idx").unlink(missing_ok=True)
    store.packs.invalidate()
    return doomed, dead


def write_requirements(workspace: str | os.PathLike[str], ref: str, path: str) -> str:
    from .envlock import requirements_txt

    store = SnapshotStore(workspace)
    manifest = store.read_manifest(store.resolve(ref))
    text = requirements_txt(environment_of(store, manifest))
    atomic_write(Path(path), text.encode())
    return path
