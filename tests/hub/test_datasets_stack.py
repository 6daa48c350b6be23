"""The admin's dataset through the real hub, seen by two different users' servers: the same
files, read-only (a write from a kernel fails with EROFS although the files' modes let anyone
write), listed by ``cosim datasets list``, and recorded by a snapshot as a reference, never a copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import textwrap

from kernel_ws import UserKernel

from cosim.slam.synthetic import SequenceSpec, generate
from cosim_testing.plugin import STACK_DATASET, stack_dataset
from cosim_testing.stack import CoSimStack

PROBE = textwrap.dedent(
    """
    import hashlib, json, os, subprocess, sys
    from cosim.snapshots import create
    home = os.path.expanduser("~")
    folder = os.path.join(home, "datasets", NAME)
    out = {"files": sorted(os.listdir(folder))}
    with open(os.path.join(folder, "groundtruth.txt"), "rb") as f:
        out["gt_sha256"] = hashlib.sha256(f.read()).hexdigest()
    for target in ("groundtruth.txt", "new-file.txt"):
        try:
            with open(os.path.join(folder, target), "a") as f:
                f.write("x")
            out["write_" + target] = "written"
        except OSError as err:
            out["write_" + target] = f"{err.errno} {err.strerror}"
    cmd = [sys.executable, "-m", "cosim_cli", "datasets", "--json", "list"]
    listed = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    out["listed"] = json.loads(listed.stdout or "null")
    manifest = create(home, "with the dataset")
    out["snapshot_datasets"] = manifest["datasets"]
    out["snapshot_files"] = [f["path"] for f in manifest["files"] + manifest["data_refs"]]
    print("PROBE" + json.dumps(out))
    """
)


def _probe(stack: CoSimStack, name: str) -> dict:  # type: ignore[type-arg]
    client, _ = stack.new_user(name)
    client.spawn(timeout=240)  # the machine is shared and loaded
    assert client.open_lab().status_code == 200
    kernel = UserKernel(client, name)
    try:
        run = kernel.run(f"NAME = {STACK_DATASET!r}\n" + PROBE, timeout=180)
        # Saving into the dataset from Lab's file browser: a clear 403, not a 500.
        saved = client.request("PUT", f"user/{name}/api/contents/datasets/{STACK_DATASET}/lab.txt",
                               json={"type": "file", "format": "text", "content": "x"})  # fmt: skip
        lab_save = [saved.status_code, saved.json().get("message", "")]
    finally:
        kernel.close()
        client.stop()
    assert run.error == "", run.error + run.stdout
    line = next(x for x in run.stdout.splitlines() if x.startswith("PROBE"))
    return dict(json.loads(line[len("PROBE") :]), lab_save=lab_save)


def test_two_users_see_the_dataset_read_only(cosim_stack: CoSimStack) -> None:
    source = stack_dataset(cosim_stack.state_dir)
    generate(source, SequenceSpec(duration_s=0.5))
    # World-writable on purpose: only the read-only mount can stop the writes below.
    for path in [source, *source.rglob("*")]:
        os.chmod(path, 0o777 if path.is_dir() else 0o666)
    gt = hashlib.sha256((source / "groundtruth.txt").read_bytes()).hexdigest()
    expected = sorted(os.listdir(source))

    seen = {name: _probe(cosim_stack, name) for name in ("dsalice", "dsbob")}
    for name, out in seen.items():
        assert out["files"] == expected, name
        assert out["gt_sha256"] == gt, name
        for target in ("groundtruth.txt", "new-file.txt"):
            assert out["write_" + target] == "30 Read-only file system", (name, out)
        status, message = out["lab_save"]
        assert status == 403 and "read-only" in message, (name, out["lab_save"])
        (listed,) = out["listed"]
        assert listed["name"] == STACK_DATASET and listed["format"] == "tum"
        assert listed["frames"] == 15 and listed["read_only"] and listed["size_bytes"] > 100_000
        (ref,) = out["snapshot_datasets"]
        assert ref["name"] == STACK_DATASET and ref["source"] == str(source)
        assert ref["path"] == f"datasets/{STACK_DATASET}" and ref["read_only"]
        assert ref["files"] == len([p for p in source.rglob("*") if p.is_file()])
        assert not [p for p in out["snapshot_files"] if p.startswith("datasets/")], name
    assert seen["dsalice"]["snapshot_datasets"] == seen["dsbob"]["snapshot_datasets"]
    assert hashlib.sha256((source / "groundtruth.txt").read_bytes()).hexdigest() == gt
    assert not (source / "new-file.txt").exists()
