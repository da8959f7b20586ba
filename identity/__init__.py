"""Bio-ID: users, orgs, sessions, MFA and the OAuth 2.1 / OpenID Connect
provider of the platform. Run it with ``python -m tawa.identity``."""
