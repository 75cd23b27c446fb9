"""The command line (`collections ...`, or `python starter.py ...`), and `make run`'s stack on this machine."""
