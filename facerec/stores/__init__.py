"""Where a facerec database keeps its data: one module per engine and table family.

All SQL of the package lives in this folder. ``facerec.database.FaceDatabase`` is the
engine-independent front that the CLI, the door and the server use.
"""
