"""The operator's vocabulary: every reason it gives (on a status condition, on the Events it
posts, as a metric label) and the two Event types.

One vocabulary, so that a reason seen in ``kubectl describe`` is the same word in the condition,
the Event, the log line and the README.
"""

# ruff: noqa: S105 - "Token" and "Secret" in a reason's name are not passwords

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """A Kubernetes Event's ``type``."""

    NORMAL = "Normal"
    WARNING = "Warning"


class Reason(StrEnum):
    """CamelCase reasons in the Kubernetes convention; each says what happened and what to do."""

    TOKEN_ISSUED = "TokenIssued"
    """Ready: the workload Secret holds a valid token for every token the spec asks for.
    Nothing to do."""

    INVALID_SPEC = "InvalidSpec"
    """Not ready: the spec cannot be used (the message names the field), its ``spec.issuer`` is
    not allowed by the operator, ``spec.altinnExchange`` has no exchange URL, or
    ``spec.authorizationDetails`` holds a type the issuer's metadata does not list. Fix the spec,
    or ask an administrator to allow the issuer or set the URL."""

    KEY_SECRET_MISSING = "KeySecretMissing"
    """Not ready: the key Secret (or its password Secret) is not there, or a generated key's
    Secret was deleted. Create or restore the Secret the message names; a lost generated key is
    never replaced behind your back."""

    KEY_INVALID = "KeyInvalid"
    """Not ready: the key Secret holds no usable private key or certificate (wrong format,
    wrong password, too small, public only, or an expired certificate). Replace its contents as
    the message says."""

    SECRET_CONFLICT = "SecretConflict"
    """Not ready: the workload Secret's name (or a managed client's ``key.secretName``) is
    taken by a Secret this resource does not own. Choose another ``spec.secretName`` (or
    ``spec.key.secretName``), or remove that Secret."""

    TOKEN_REQUEST_REJECTED = "TokenRequestRejected"
    """Not ready: the authorization server refused the request (HTTP 4xx); the message carries
    its error and description verbatim (Maskinporten's ``MP-xxx`` code). Usually the
    registration: register the key (``status.publicJwk``), or get the scopes granted."""

    SERVER_ERROR = "ServerError"
    """Not ready: the authorization server failed (HTTP 5xx or 429). Retried with back-off;
    the current token stays in place while it is valid. Nothing to do unless it persists."""

    SERVER_UNREACHABLE = "ServerUnreachable"
    """Not ready: no answer from the authorization server (refused, DNS, timeout). Check the
    network path: egress network policies, and ``HTTPS_PROXY`` where a proxy is needed."""

    BAD_RESPONSE = "BadResponse"
    """Not ready: the token endpoint answered 200 without a usable token. Retried with
    back-off; report it to the server's owner if it persists."""

    BAD_METADATA = "BadMetadata"
    """Not ready: the issuer's metadata document declares another issuer, or lacks the token
    endpoint. Check ``spec.issuer`` (or the operator's issuer setting) against the server."""

    ALTINN_EXCHANGE_FAILED = "AltinnExchangeFailed"
    """Not ready: Altinn refused or failed to exchange the Maskinporten token. Check that the
    scopes are Altinn's and the exchange URL setting; retried with back-off."""

    KUBERNETES_API_ERROR = "KubernetesApiError"
    """Not ready: a Kubernetes API call failed or the API server could not be reached. The
    message names the object and the API server's answer; check the operator's RBAC if it is
    a 403. Retried with back-off."""

    INTERNAL_ERROR = "InternalError"
    """Not ready: an unexpected exception in the operator during a reconciliation. The
    operator's log has where; retried with back-off. Please report it."""

    SELF_SERVICE_NOT_CONFIGURED = "SelfServiceNotConfigured"
    """Not ready: a managed client (no ``spec.clientId``) needs Digdir's self-service API, and
    the operator has no admin credential for it. An administrator sets
    ``MASKINPORTEN_OPERATOR_SELF_SERVICE_CREDENTIALS`` (see the README), or give the clientId
    of a client registered by hand."""

    SCOPE_REFUSED_BY_POLICY = "ScopeRefusedByPolicy"
    """Not ready: the operator's managed-scope policy does not let this namespace request the
    scopes named; nothing was sent to Digdir. Ask an administrator to extend
    ``MASKINPORTEN_OPERATOR_MANAGED_SCOPE_POLICY``, or remove the scopes."""

    SCOPE_NOT_ACCESSIBLE = "ScopeNotAccessible"
    """Not ready: the organisation may not put the scopes named on a client (not granted, or
    only requested); the client was left unchanged. Fix a typo, or ask the scope's owner for
    access."""

    CLIENT_CONFLICT = "ClientConflict"
    """Not ready: the client found for this resource cannot be used as it is (another
    integration type, or it no longer exists). The message says which; fix the spec."""

    SELF_SERVICE_REJECTED = "SelfServiceRejected"
    """Not ready: Digdir's self-service API refused a request; the message carries its error
    text. Usually the spec (a key set that is full, a scope); retried with back-off."""

    SELF_SERVICE_UNAVAILABLE = "SelfServiceUnavailable"
    """Not ready: Digdir's self-service API failed (HTTP 5xx or 429). Retried with back-off;
    nothing to do unless it persists."""

    SELF_SERVICE_UNREACHABLE = "SelfServiceUnreachable"
    """Not ready: no answer from Digdir's self-service API. Check the network path (egress
    policies, ``HTTPS_PROXY``); retried with back-off."""

    ADMIN_TOKEN_REJECTED = "AdminTokenRejected"
    """Not ready: Maskinporten refused the self-service admin client's token request; the
    message carries its error. An administrator checks the admin credential Secret (business
    certificate, client id) and the admin client's ``idporten:dcr.*`` scopes."""

    ADMIN_TOKEN_UNAVAILABLE = "AdminTokenUnavailable"
    """Not ready: the admin token could not be obtained (Maskinporten failed or could not be
    reached). Retried with back-off."""

    REGISTRATION_PROPAGATING = "RegistrationPropagating"
    """Not ready: the client's key was registered moments ago and Maskinporten does not accept
    it yet (Digdir takes up to about 2 minutes). Retried with back-off; nothing to do."""

    REGISTERED = "Registered"
    """ClientRegistered: the client exists at Digdir with the spec's scopes and the operator's
    key. Nothing to do."""

    LONG_ENOUGH = "LongEnough"
    """LifetimeSufficient: a pod reading the mounted Secret file keeps a token with the margin
    (30 s) left when the next one arrives, through the delivery assumed."""

    SHORTER_THAN_MOUNT_DELAY = "ShorterThanMountDelay"
    """LifetimeSufficient is False: tokens are refreshed so close to their expiry that a pod
    reading the mounted file may have less than the margin left, or an expired token, when the
    next one arrives through the delivery assumed (the kubelet's sync: up to 90 s). Prompt the
    pods' sync (label them; with prompting turned off, an administrator turns it on first), ask
    for a longer token lifetime, or refresh earlier."""

    KEY_GENERATED = "KeyGenerated"
    """Event: a new RSA key was generated into the key Secret. Register its public JWK
    (``status.publicJwk``) on the Maskinporten client."""

    CERTIFICATE_EXPIRING = "CertificateExpiring"
    """Event: the business certificate expires soon (``status.certificateWarning``). Order a
    new one and put it in the key Secret."""

    CLIENT_CREATED = "ClientCreated"
    """Event: the operator created the Maskinporten client through the self-service API."""

    CLIENT_ADOPTED = "ClientAdopted"
    """Event: the operator took over an existing client (``registration.adopt``); its
    hand-registered keys stay."""

    SCOPES_UPDATED = "ScopesUpdated"
    """Event: the client's scopes at Digdir were changed to the spec's."""

    KEY_REGISTERED = "KeyRegistered"
    """Event: the operator's key was registered (or renewed before its one-year expiry) in the
    client's key set."""

    KEY_ROTATED = "KeyRotated"
    """Event: grants are now signed with the new key (Maskinporten accepted it); the previous
    one is retiring and will be removed from the registration when no longer needed."""

    KEY_REMOVED = "KeyRemoved"
    """Event: a retired key was removed from the client's registration and its key Secret."""

    KEY_USE_ADDED = "KeyUseAdded"
    """Event: keys registered by hand before Digdir made ``use`` mandatory (May 2025) lacked it;
    the operator added ``use: sig`` to them when it posted the client's key set, as Digdir now
    requires. Nothing to do."""

    POD_PROMPT_REFUSED = "PodPromptRefused"
    """Warning Event: a pod labelled for the client could not be annotated after a new token
    (the operator lacks ``patch`` on pods, or an admission policy refused); the message names
    the pod and the API server's reason. Its pods read new tokens at the kubelet's own sync (up
    to ~90 s late at its defaults). Tried again quietly at each new token; grant the RBAC or
    allow the operator's annotation to restore it."""

    PODS_PROMPTED = "PodsPrompted"
    """Event: after a refusal (``PodPromptRefused``), the client's labelled pods are annotated
    again after each new token, so their kubelet copies it at once. Nothing to do."""

    CLIENT_DELETED = "ClientDeleted"
    """Event: the client the operator created was deleted at Digdir with its resource
    (``registration.deletionPolicy`` Delete)."""


READY_REASONS = frozenset(
    {
        Reason.TOKEN_ISSUED,
        Reason.INVALID_SPEC,
        Reason.KEY_SECRET_MISSING,
        Reason.KEY_INVALID,
        Reason.SECRET_CONFLICT,
        Reason.TOKEN_REQUEST_REJECTED,
        Reason.SERVER_ERROR,
        Reason.SERVER_UNREACHABLE,
        Reason.BAD_RESPONSE,
        Reason.BAD_METADATA,
        Reason.ALTINN_EXCHANGE_FAILED,
        Reason.KUBERNETES_API_ERROR,
        Reason.INTERNAL_ERROR,
        Reason.SELF_SERVICE_NOT_CONFIGURED,
        Reason.SCOPE_REFUSED_BY_POLICY,
        Reason.SCOPE_NOT_ACCESSIBLE,
        Reason.CLIENT_CONFLICT,
        Reason.SELF_SERVICE_REJECTED,
        Reason.SELF_SERVICE_UNAVAILABLE,
        Reason.SELF_SERVICE_UNREACHABLE,
        Reason.ADMIN_TOKEN_REJECTED,
        Reason.ADMIN_TOKEN_UNAVAILABLE,
        Reason.REGISTRATION_PROPAGATING,
    }
)
"""The reasons the ``Ready`` condition can carry (the README lists them): ``TokenIssued`` when
it is True, and the reason of a failed reconciliation when it is False."""
