"""The backends' wiring: each builds, from settings, the parts the services read through
(a query engine, a metrics source, a dead-letter source). The local backend's is
``app.services.context.build_local_context``; the aws backend's is :mod:`app.backends.aws`."""
