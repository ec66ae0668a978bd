"""Operations: /healthz, /readyz and /metrics (with the business gauges) and the deploy checks.
It reads every app, so no app imports it."""
