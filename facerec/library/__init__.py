"""Who is in my photos: index a photo collection, group its faces into people, name them once, find them.

* :mod:`facerec.library.index`: ``facerec index`` (every face of every photo, incremental, resumable).
* :mod:`facerec.library.grouping`: clustering algorithms and their scores (BCubed, pairwise).
* :mod:`facerec.library.people`: groups, naming, merging, moving, "not X" rules, find and who.
* :mod:`facerec.library.commands`: the command-line commands.

The SQL lives in :mod:`facerec.stores.sqlite_library` and its PostgreSQL twin :mod:`facerec.stores.postgres_library`,
reached through ``db.library_sql`` (the engine's own).
"""
