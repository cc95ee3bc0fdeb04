"""The Gradio app around :mod:`styletransfer`: options, jobs, rendering and the page layout.

``app.py`` at the repository root is the entry point; this package keeps it short.
The app reaches the engine only through the public API of :mod:`styletransfer`.
"""
