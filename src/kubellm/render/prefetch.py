"""The prefetch script: download one pinned revision from the Hugging Face Hub and verify every file.

It runs in a small stock Python image (standard library only), as a Job before any replica starts
(PVC cache) or as an init container (hostPath and per-pod caches). Each file's sha256 comes from
the spec's ``model.checksums`` when given, else from the Hub's metadata (the LFS oid of each
file); a file without a known digest, or with a wrong one, fails the download. A finished download
leaves ``.kubellm-verified`` beside the files; replicas wait for it.
"""

from __future__ import annotations

MARKER = ".kubellm-verified"

PREFETCH_SCRIPT = r'''"""kubellm prefetch: download a pinned Hugging Face revision and verify each file's sha256."""
import hashlib, json, os, sys, time, urllib.parse, urllib.request

REPO, REVISION, DEST = os.environ["KUBELLM_REPO"], os.environ["KUBELLM_REVISION"], os.environ["KUBELLM_DEST"]
ONLY = [p for p in os.environ.get("KUBELLM_FILES", "").split(",") if p]
EXPECTED = json.loads(os.environ.get("KUBELLM_CHECKSUMS", "{}"))
ENDPOINT = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
TOKEN = os.environ.get("HF_TOKEN", "")
MARKER = os.path.join(DEST, ".kubellm-verified")
SKIP = (".gitattributes", ".md", ".png", ".jpg", ".pdf")


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
    files, blobs = {}, {}
    for sibling in info.get("siblings", []):
        name = sibling["rfilename"]
        if (ONLY and name not in ONLY) or (not ONLY and name.endswith(SKIP)):
            continue
        files[name] = EXPECTED.get(name) or (sibling.get("lfs") or {}).get("sha256")
        blobs[name] = sibling.get("blobId")
    missing = sorted(set(ONLY) - set(files))
    if missing:
        sys.exit(f"error: {REPO}@{REVISION} has no file(s) {missing}")
    os.makedirs(DEST, exist_ok=True)
    for name, want in sorted(files.items()):
        target = os.path.join(DEST, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not (want and os.path.exists(target) and sha256(target) == want):
            print(f"downloading {name}", flush=True)
            url = f"{ENDPOINT}/{REPO}/resolve/{quoted}/{urllib.parse.quote(name)}"
            with request(url) as response, open(target + ".part", "wb") as out:
                while block := response.read(1 << 24):
                    out.write(block)
            os.replace(target + ".part", target)
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
