"""The release board: a static site (``thor report``, ``[report] dir``) from the same plain data as the CLI.

Nothing here is imported by ``thor status`` or a quiet ``thor tick``: Jinja2 and markdown-it load only when
a site is written or served.
"""
