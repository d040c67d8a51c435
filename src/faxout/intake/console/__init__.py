"""The web console: people send, watch, find and fix faxes in a browser (docs/console.md).

Server-rendered pages (Jinja2) under ``/`` with one small script per page and no build step;
every list reads without JavaScript. The console signs in with the FaxOut credentials, keeps
its session in a signed cookie and calls the same functions as the status API
(``faxout.intake.api``). ``web`` holds what every page shares; each page (or group of pages)
is one module with its own ``router``, registered in ``routes.py``; ``mount.py`` serves
them all on the app.
"""
