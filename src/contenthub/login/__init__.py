"""Logging in to a platform through its own web login page, in a headless Chromium: by QR code
(shown to the person as a PNG and in the terminal) or by username and password. Used by
``contenthub account login`` and by a worker's one re-login with a stored password."""
