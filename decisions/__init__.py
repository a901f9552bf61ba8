"""Policy sets and versions, CEL rules, /decide /simulate /explain /replay, decision ledger, packs."""
