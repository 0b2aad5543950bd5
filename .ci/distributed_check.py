"""Structural checks of examples/distributed/ (the schema check is kubernetes-validate's).

The Kubernetes Jobs: an Indexed Job whose completions, parallelism, --shard-total and the
config's `shards` agree, a shared start instant, results on a volume the merge Job also
mounts. The GitHub workflow: a matrix of shards that upload artifacts and a merge job that
needs them, downloads them and gates with ci-gate --merge. The GitLab pipeline: parallel
shards whose artifacts the merge job needs.
"""
import json
import sys

import yaml

root = sys.argv[1] if len(sys.argv) > 1 else "examples/distributed"


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


(shards,) = load_all(f"{root}/kubernetes/shards-job.yaml")
(merge,) = load_all(f"{root}/kubernetes/merge-job.yaml")
shared = {d["kind"]: d for d in load_all(f"{root}/kubernetes/shared.yaml")}

spec = shards["spec"]
assert shards["kind"] == "Job" and spec["completionMode"] == "Indexed", spec
n = spec["completions"]
assert spec["parallelism"] == n, "every shard must run at once"
container = spec["template"]["spec"]["containers"][0]
command = " ".join(container.get("command", []) + container.get("args", []))
assert f"--shard-total {n}" in command, command
assert "--start-at" in command, command
assert "START_AT" in {e["name"] for e in container["env"]}
suite = json.loads(shared["ConfigMap"]["data"]["suite.json"])
assert suite["shards"] == n, (suite["shards"], n)
claim = lambda job: {
    v["persistentVolumeClaim"]["claimName"]
    for v in job["spec"]["template"]["spec"]["volumes"]
    if "persistentVolumeClaim" in v
}
assert claim(shards) == claim(merge) == {shared["PersistentVolumeClaim"]["metadata"]["name"]}
assert "ReadWriteMany" in shared["PersistentVolumeClaim"]["spec"]["accessModes"]
merge_cmd = merge["spec"]["template"]["spec"]["containers"][0]["command"]
assert merge_cmd[0] == "ci-gate" and "--merge" in merge_cmd, merge_cmd
assert merge["spec"]["backoffLimit"] == 0
print(f"kubernetes: an Indexed Job of {n} shards and a merge Job on one volume")

(wf,) = load_all(f"{root}/github/distributed-perf.yml")
jobs = wf["jobs"]
matrix = jobs["shard"]["strategy"]["matrix"]["shard"]
assert matrix == list(range(1, len(matrix) + 1)), matrix
assert jobs["shard"]["strategy"]["fail-fast"] is False
assert str(len(matrix)) == str(wf["env"]["SHARDS"])
steps = jobs["shard"]["steps"]
run = " ".join(s.get("run", "") for s in steps)
assert "--shard ${{ matrix.shard }}/${{ env.SHARDS }}" in run, run
assert "--start-at ${{ needs.plan.outputs.start_at }}" in run, run
upload = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact")]
assert upload and upload[0]["with"]["name"] == "shard-${{ matrix.shard }}"
m = jobs["merge"]
assert m["needs"] == "shard" and m["if"] == "always()"
download = [s for s in m["steps"] if s.get("uses", "").startswith("actions/download-artifact")]
assert download and download[0]["with"]["pattern"] == "shard-*"
path = download[0]["with"]["path"]
gate = " ".join(s.get("run", "") for s in m["steps"])
assert "ci-gate" in gate and f"--merge {path}" in gate, gate
print(f"github: a matrix of {len(matrix)} shards and a merge job that gates")

(gl,) = load_all(f"{root}/gitlab/.gitlab-ci.yml")
shard = gl["shard"]
assert isinstance(shard["parallel"], int) and shard["parallel"] > 1
assert "shard-results/" in shard["artifacts"]["paths"]
assert gl["merge"]["needs"] == ["shard"]
assert any("--merge shard-results" in line for line in gl["merge"]["script"])
print(f"gitlab: parallel: {shard['parallel']} shards and a merge job that gates")
