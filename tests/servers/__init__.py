"""Real local servers for the tests and benchmarks, each on a free 127.0.0.1 port.

Every server is a context manager: ``with MotoServer(log_dir=d) as s3: ...``. They run in their own
process group and are stopped by process id (SIGTERM, then SIGKILL). ``install.sh`` installs what is
missing (apt, npm).
"""
