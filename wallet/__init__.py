"""The wallet: gas balances per org, the ledger they follow from, the deploy reserve.

Modules: :mod:`.tokens` (token types, spend order, amount rules — pure),
:mod:`.ledger` (the atomic, idempotent writes on MongoDB), :mod:`.api` (the
HTTP surface), :mod:`.auth` (who may call what), :mod:`.app` (assembly).
"""
