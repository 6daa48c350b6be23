"""CoSim's test harness: ``cosim up`` as a child process, a hub client, the OIDC provider
launcher and the pytest fixtures (``plugin``). Test-only: it is not in the product's wheel;
tests/conftest.py loads the plugin and benchmarks put tests/ on sys.path."""
