"""Use cases shared by the API, the CLI and the scheduler's jobs: the rules (validation,
ownership, limits, sealing credentials) and the orchestration over ``contenthub.storage``.

A use case acts for a ``users.Principal`` (or within its ``scope``) and takes the session of
one unit of work, or the ``Database`` when it must hold no session across a network call. No
SQL here: every statement is a named storage operation.
"""
