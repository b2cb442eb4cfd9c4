"""The kopf glue: watch LLMServices, and for each run read → reconcile → apply → write status and events.

Nothing is decided here. ``reconcile.desired`` says what to apply, ``kubellm.cluster.apply`` applies it
(server-side apply, field manager ``kubellm-operator``, ApplySet, prune), ``observe`` reads the
cluster, ``reconcile.status_of`` writes the status. The same handler runs on create, update, resume
(operator restart) and on a timer (drift correction and fresh conditions); the delete handler is the
finalizer that removes the children and keeps the model cache unless ``storage.purge_on_delete``.
Handlers are registered on a registry of their own, so several operators can run in one process
(tests run two replicas against one API double).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import kopf

from kubellm.cluster.apply import Action, apply_objects, delete_service
from kubellm.cluster.client import KubeClient
from kubellm.cluster.kubeconfig import Credentials
from kubellm.errors import KubellmError
from kubellm.operator.crd import GROUP, PLURAL, VERSION
from kubellm.operator.observe import observe
from kubellm.operator.reconcile import Desired, EventNote, desired, status_of
from kubellm.operator.resource import name_of, namespace_of
from kubellm.operator.status import LLMServiceStatus

Logger = logging.Logger | logging.LoggerAdapter[Any]
FIELD_MANAGER = "kubellm-operator"
FINALIZER = "kubellm.dev/finalizer"
ANNOTATION_PREFIX = "kubellm.dev"
RESYNC_EXIT_TIMEOUT_S = 30.0


@dataclass
class OperatorContext:
    """What every handler needs: one client, its credentials and the resync interval."""

    client: KubeClient
    credentials: Credentials
    resync_s: float = 30.0
    clock: Any = field(default=lambda: dt.datetime.now(dt.UTC))

    def now(self) -> str:
        return str(self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"))


def connection_info(creds: Credentials) -> kopf.ConnectionInfo:
    """kopf's login from kubellm's credentials (one source of truth for both clients)."""
    return kopf.ConnectionInfo(
        server=creds.server,
        ca_path=creds.ca_file,
        ca_data=creds.ca_data if not creds.ca_file else None,
        insecure=creds.insecure or None,
        scheme="Bearer" if creds.token else None,
        token=creds.token,
        certificate_data=creds.cert_data,
        private_key_data=creds.key_data,
        default_namespace=creds.namespace,
    )


def settings() -> kopf.OperatorSettings:
    """kopf's bookkeeping in kubellm.dev annotations (the status is ours alone), our finalizer's name."""
    chosen = kopf.OperatorSettings()
    chosen.persistence.finalizer = FINALIZER
    chosen.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATION_PREFIX)
    chosen.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    chosen.posting.level = logging.WARNING  # kopf's own log lines stay out of the Events; ours go in
    chosen.posting.reporting_component = FIELD_MANAGER  # the "From" column of kubectl describe
    chosen.watching.server_timeout = 300
    # a deleted resource waits for its running resync to finish: check every 2 s, not kopf's 60 s
    chosen.background.cancellation_polling = 2
    # A resync stopped mid-run (the operator exits, the resource is deleted) is waited for, not abandoned:
    # kopf abandons a running timer after a few event-loop cycles, and the abandoned timer's status patch
    # then comes after kopf closed its API sessions — it opens a new one that nobody closes, and writes
    # after this replica gave up the Lease. A reconcile takes seconds; past this, kopf abandons it as before.
    chosen.background.instant_exit_timeout = RESYNC_EXIT_TIMEOUT_S
    chosen.networking.request_timeout = 60
    return chosen


def status_patch(status: dict[str, Any]) -> dict[str, Any]:
    """A merge patch that also clears the top-level fields this status leaves out (e.g. a finished download)."""
    return {name: status.get(name) for name in LLMServiceStatus.model_fields}


def _apply(
    ctx: OperatorContext, want: Desired, namespace: str, service: str
) -> tuple[list[Action], str | None]:
    try:
        actions = apply_objects(
            ctx.client, want.objects, service, namespace=namespace, prune=True, namespace_only=True
        )
        return actions, None
    except KubellmError as exc:
        return [], str(exc)


def _post(body: Any, events: list[EventNote]) -> None:
    for note in events:
        kopf.event(body, type=note.type, reason=note.reason, message=note.message)


def reconcile_handler(body: Any, patch: Any, memo: Any, logger: Logger, **_: Any) -> None:
    """One reconcile of one LLMService: apply what the spec renders, then report what the cluster shows."""
    ctx: OperatorContext = memo.context
    resource = dict(body)
    namespace, service = namespace_of(resource), name_of(resource)
    want = desired(resource)
    actions: list[Action] = []
    error = None
    if want.ok:
        actions, error = _apply(ctx, want, namespace, service)
    changed = [a for a in actions if a.verb not in ("configured", "unchanged", "kept")]
    if changed:
        summary = ", ".join(f"{a.verb} {a.ref}" for a in changed[:8]) + (" …" if len(changed) > 8 else "")
        kopf.event(body, type="Normal", reason="Applied", message=summary)
    snap = observe(ctx.client, namespace, service)
    status, events = status_of(resource, want, snap, ctx.now(), error)
    patch["status"] = status_patch(status)
    _post(body, events)
    if error:
        logger.warning("apply failed: %s", error)
        raise kopf.TemporaryError(f"apply failed: {error}", delay=ctx.resync_s)


def finalize_handler(body: Any, memo: Any, logger: Logger, **_: Any) -> None:
    """The finalizer: delete the children; the model cache PVC stays unless spec.storage.purge_on_delete."""
    ctx: OperatorContext = memo.context
    resource = dict(body)
    want = desired(resource)
    purge = bool(want.service and want.service.storage.purge_on_delete)
    namespace, service = namespace_of(resource), name_of(resource)
    try:
        actions = delete_service(
            ctx.client, want.objects, namespace, service, purge=purge, namespace_only=True
        )
    except KubellmError as exc:
        raise kopf.TemporaryError(f"delete failed: {exc}", delay=10) from None
    kept = [a.ref for a in actions if a.verb == "kept"]
    message = f"deleted {sum(a.verb == 'deleted' for a in actions)} object(s)"
    if kept:
        message += (
            f"; kept {', '.join(kept)} (set spec.storage.purge_on_delete: true to delete the model cache)"
        )
    kopf.event(body, type="Normal", reason="Deleted", message=message)
    logger.info(message)


def registry_for(ctx: OperatorContext) -> kopf.OperatorRegistry:
    """A registry with the LLMService handlers and the login from ``ctx``'s credentials."""
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return connection_info(ctx.credentials)

    for decorator in (kopf.on.create, kopf.on.update, kopf.on.resume):
        decorator(GROUP, VERSION, PLURAL, registry=registry, id="reconcile")(reconcile_handler)
    kopf.timer(
        GROUP,
        VERSION,
        PLURAL,
        registry=registry,
        id="resync",
        interval=ctx.resync_s,
        initial_delay=ctx.resync_s,
    )(reconcile_handler)
    kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry, id="finalize")(finalize_handler)
    return registry
