"""SQL storage of a node without Redis (issue 12): schema, migrations, group commit, sweeper.

The backends themselves live next to their siblings (``bridge/sessions/sql.py``,
``bridge/eventlog/sql.py``, ``bridge/idempotency/sql.py``); ``stores.py`` opens them together.
"""
