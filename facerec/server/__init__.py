"""``facerec serve``: the door as a service, a REST API (FastAPI) and a web page.

:func:`facerec.server.app.create_app` builds the application; ``facerec serve``
runs it with uvicorn. See :mod:`facerec.server.app` for the routes.
"""
