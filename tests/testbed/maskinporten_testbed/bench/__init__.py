"""The scale benchmark (``hack/bench``): the operator against the bare minimum, side by side.

Starts the local control plane and the Maskinporten stand-in, then for each N:

- **operator**: ``maskinporten-operator run`` as a subprocess; N MaskinportenClients are applied
  at once (their keys registered at the stand-in and their key Secrets created beforehand);
  apply→Ready per resource (a watch on the resources' Ready condition), CPU seconds and peak
  RSS of the operator process (``/proc``), token requests (the stand-in's log) and API requests
  by verb and resource (the API server's ``apiserver_request_total``, delta over the phase,
  the benchmark's own requests subtracted);
- **reference**: the least work the job needs, in this process: one LIST of the key Secrets,
  then per resource import its JWK (without OpenSSL's primality tests), sign a grant with
  joserfc, POST it with httpx and create one Secret with the ``kubernetes`` client.

For the largest N, a **restart** (the operator restarted with N valid tokens: tokens requested
in the first minute, time until every resource is Ready in the metrics) and a **steady state**
(short-lived tokens, several refreshes per resource: CPU, RSS, Events, expired tokens seen in
Secrets, failed token requests, API requests and token requests per refresh). The steady state
can be sharded (``--steady-shards K``): K operators, each watching a namespace of its own with
N/K of the resources, as K releases of the chart with disjoint ``watchNamespaces`` would run.

It prints figures and asserts none: the machine may be shared, so wall times are noisy; CPU
seconds and request counts are the robust figures. Every wait has a deadline; all traffic stays
on loopback. Keys are generated once and kept in the test bed's cache (``bench-keys``).
"""
