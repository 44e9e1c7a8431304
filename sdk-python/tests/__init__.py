"""Unit tests of cairn_provider that run under plain CPython:
`python3 -m unittest discover -s sdk-python` from the repository's root."""
