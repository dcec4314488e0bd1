"""Process assembly: the FastAPI application and the ``tsunagu`` command line."""
