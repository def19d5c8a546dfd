"""Where a facerec database keeps its data: one module per engine and table family.

All SQL of the package lives in this folder: the SQLite engine ``sqlite.py`` (``SqliteFaceDatabase``) and its
table families ``sqlite_*.py``, the PostgreSQL engine ``postgres.py`` and ``postgres_*.py``.
``facerec.database.FaceDatabase`` is the engine-independent front that the CLI, the door and the server use;
``FaceDatabase(location)`` returns the engine's subclass.
"""
