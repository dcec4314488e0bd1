"""Tsunagu's Japanese NLU: the Rasa project, its custom components and the app's client.

This package is imported by two interpreters: the Rasa service (Python 3.10, ``nlu/.venv``)
loads ``nlu.components``; the app (Python 3.11, ``.venv``) uses ``nlu.client`` and
``nlu.service``. Only :mod:`nlu.normalize` is shared, so it depends on the standard library
alone and this ``__init__`` imports nothing.
"""
