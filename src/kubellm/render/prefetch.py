"""The prefetch script: download one pinned revision from the Hugging Face Hub and verify every file.

It runs in a small stock Python image (standard library only), as an init container of each replica
(the default per-replica cache, hostPath and per-pod caches) or as a Job before any replica starts (a
shared cache). It fetches only what the engine loads (``select_files``): the safetensors the weight index
names (else the top-level safetensors; ``*.bin`` only when a repository has no safetensors; the one GGUF
file for llama.cpp), configs, tokenizer and chat template — never ``original/`` or ``metal/`` copies,
``*.pth``, ONNX or Flax weights — and fails before downloading when the volume cannot hold them. Each
file's sha256 comes from the spec's ``model.checksums`` when given, else from the Hub's metadata (the LFS
oid of each file); a file without a known digest, or with a wrong one, fails the download. A finished
download leaves ``.kubellm-verified`` beside the files; replicas wait for it. While it downloads it prints
``kubellm-progress bytes=<done> total=<all>`` every 5 s (and once at the end): the operator's ModelReady
condition and ``status.download`` read it.
"""

from __future__ import annotations

MARKER = ".kubellm-verified"

PREFETCH_SCRIPT = r'''"""kubellm prefetch: download a pinned Hugging Face revision and verify each file's sha256."""
import hashlib, json, os, shutil, sys, time, urllib.parse, urllib.request

REPO, REVISION, DEST = os.environ["KUBELLM_REPO"], os.environ["KUBELLM_REVISION"], os.environ["KUBELLM_DEST"]
ONLY = [p for p in os.environ.get("KUBELLM_FILES", "").split(",") if p]
EXPECTED = json.loads(os.environ.get("KUBELLM_CHECKSUMS", "{}"))
ENDPOINT = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
TOKEN = os.environ.get("HF_TOKEN", "")
MARKER = os.path.join(DEST, ".kubellm-verified")
DOCS = (".gitattributes", ".md", ".png", ".jpg", ".jpeg", ".gif", ".pdf")
SKIP_DIRS = ("original", "metal")  # second copies of the weights (Meta's .pth, gpt-oss's Metal/original)
WEIGHTS = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx", ".onnx_data", ".gguf",
           ".ot", ".tflite", ".mlmodel", ".npz")
INDEX = "model.safetensors.index.json"


def select_files(names, only=(), weight_map=None):
    """The files the engine loads, out of a repository's file list.

    only: the exact files asked for (the GGUF file of llama.cpp). weight_map: the safetensors index's
    {tensor: file}, when the repository has one. Safetensors win over every other weight format; without an
    index, only the top-level safetensors count (a consolidated or original copy sits beside them).
    """
    if only:
        return sorted(set(only))
    kept = [n for n in names if not n.endswith(DOCS) and n.split("/", 1)[0] not in SKIP_DIRS]
    weights = [n for n in kept if n.endswith(WEIGHTS)]
    others = [n for n in kept if n not in weights]
    top_safetensors = [n for n in weights if n.endswith(".safetensors") and "/" not in n]
    if weight_map:
        chosen = sorted(set(weight_map.values()) & set(weights))
    elif top_safetensors:
        chosen = top_safetensors
    else:
        chosen = [n for n in weights if n.endswith(".bin") and "/" not in n]
    return sorted(set(others) | set(chosen))


def request(url):
    headers = {"User-Agent": "kubellm-prefetch"}
    if TOKEN:
        headers["Authorization"] = "Bearer " + TOKEN
    for attempt in range(5):
        try:
            return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60)
        except OSError as exc:
            if attempt == 4:
                raise
            print(f"retrying {url}: {exc}", flush=True)
            time.sleep(2 ** attempt)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            digest.update(block)
    return digest.hexdigest()


def size_of(sibling):
    return int(sibling.get("size") or (sibling.get("lfs") or {}).get("size") or 0)


def download(name, quoted):
    target = os.path.join(DEST, name)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    print(f"downloading {name}", flush=True)
    url = f"{ENDPOINT}/{REPO}/resolve/{quoted}/{urllib.parse.quote(name)}"
    with request(url) as response, open(target + ".part", "wb") as out:
        while block := response.read(1 << 24):
            out.write(block)
            report(len(block))
    os.replace(target + ".part", target)


PROGRESS = {"bytes": 0, "total": 0, "at": 0.0}


def report(more, final=False):
    """The line the operator reads for status.download: 'kubellm-progress bytes=<done> total=<all>' (every 5 s)."""
    PROGRESS["bytes"] += more
    if final or time.monotonic() - PROGRESS["at"] >= 5:
        PROGRESS["at"] = time.monotonic()
        print(f"kubellm-progress bytes={PROGRESS['bytes']} total={max(PROGRESS['total'], PROGRESS['bytes'])}", flush=True)


def git_blob_id(path):
    with open(path, "rb") as f:
        data = f.read()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def main():
    if os.path.exists(MARKER):
        print(f"{REPO}@{REVISION} already verified in {DEST}")
        return 0
    quoted = urllib.parse.quote(REVISION, safe="")
    info = json.load(request(f"{ENDPOINT}/api/models/{REPO}/revision/{quoted}?blobs=true"))
    siblings = {s["rfilename"]: s for s in info.get("siblings", [])}
    missing = sorted(set(ONLY) - set(siblings))
    if missing:
        sys.exit(f"error: {REPO}@{REVISION} has no file(s) {missing}")
    os.makedirs(DEST, exist_ok=True)
    weight_map = None
    if not ONLY and INDEX in siblings:
        download(INDEX, quoted)
        with open(os.path.join(DEST, INDEX)) as f:
            weight_map = json.load(f).get("weight_map") or None
    chosen = select_files(list(siblings), ONLY, weight_map)
    files = {n: EXPECTED.get(n) or (siblings[n].get("lfs") or {}).get("sha256") for n in chosen}
    blobs = {n: siblings[n].get("blobId") for n in chosen}
    need = sum(size_of(siblings[n]) for n in chosen if not os.path.exists(os.path.join(DEST, n)))
    free = shutil.disk_usage(DEST).free
    skipped = sorted(set(siblings) - set(chosen))
    print(f"{REPO}@{REVISION}: {len(chosen)} files the engine loads ({need / 2**30:.1f} GiB to fetch, "
          f"{free / 2**30:.1f} GiB free); not fetched: {', '.join(skipped) or 'nothing'}", flush=True)
    if need > free:
        sys.exit(f"error: the files the engine loads need {need / 2**30:.1f} GiB but {DEST} has "
                 f"{free / 2**30:.1f} GiB free — raise storage.size_gib in the spec")
    PROGRESS["total"] = need
    for name, want in sorted(files.items()):
        target = os.path.join(DEST, name)
        if not (want and os.path.exists(target) and sha256(target) == want):
            download(name, quoted)
        if want is None:
            if name.endswith((".safetensors", ".bin", ".gguf", ".pt", ".pth")) or not blobs[name]:
                sys.exit(f"error: no sha256 known for {name}; add it to model.checksums")
            if git_blob_id(target) != blobs[name]:
                os.remove(target)
                sys.exit(f"error: {name} does not match the Hub's git blob id {blobs[name]}")
            print(f"verified {name} (git blob id)", flush=True)
            continue
        got = sha256(target)
        if got != want:
            os.remove(target)
            sys.exit(f"error: sha256 of {name} is {got}, expected {want}")
        print(f"verified {name}", flush=True)
    report(0, final=True)
    with open(MARKER, "w") as f:
        json.dump({"repo": REPO, "revision": REVISION, "files": files}, f, sort_keys=True)
    print(f"{REPO}@{REVISION}: {len(files)} files verified in {DEST}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''

WAIT_SCRIPT = (
    'until [ -f "$1/' + MARKER + '" ]; do echo "waiting for the verified model in $1"; sleep 10; done'
)
