"""The `linli` command and the demo data: an entry point, like `api` and `workers` (命令行)."""
