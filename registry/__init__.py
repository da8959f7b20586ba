"""Koko, the service registry: services and routes, config, flags, domains, grants.

Serve it with ``python -m tawa.registry``; the wire contract is
``docs/contracts.md`` and the OpenAPI page at ``/docs``.
"""
