"""Cluster operations: apply (server-side), status, delete, and the doctor (live, from a dump, or on a log).

The diagnosis is pure (``doctor.diagnose`` over a ``snapshot.ClusterSnapshot``), and so are the choices of
apply, prune and delete (``selection``, ``applyset``, ``access``); the Kubernetes API is reached only through
``client.KubeClient``, a thin layer over lightkube.
"""

from kubellm.cluster.doctor import diagnose, diagnose_log
from kubellm.cluster.findings import CATEGORIES, Finding
from kubellm.cluster.hints import DoctorHints
from kubellm.cluster.snapshot import ClusterSnapshot, load_dump

__all__ = ["CATEGORIES", "ClusterSnapshot", "DoctorHints", "Finding", "diagnose", "diagnose_log", "load_dump"]
