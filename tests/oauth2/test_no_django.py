"""The spec layer is plain Python: importing all of it loads no Django module
(STYLE.md rule 4), so it can never read settings or touch a database."""

import pkgutil
import subprocess
import sys

import oauth_tokens.oauth2

SCRIPT = """
import importlib, os, sys
os.environ.pop("DJANGO_SETTINGS_MODULE", None)
for name in sys.argv[1:]:
    importlib.import_module(name)
loaded = sorted(m for m in sys.modules if m == "django" or m.startswith("django."))
assert not loaded, loaded
print("ok", len(sys.argv) - 1)
"""


def test_importing_the_spec_layer_loads_no_django():
    modules = [m.name for m in pkgutil.walk_packages(oauth_tokens.oauth2.__path__, "oauth_tokens.oauth2.")]
    assert "oauth_tokens.oauth2.grants.refresh_token" in modules
    result = subprocess.run([sys.executable, "-c", SCRIPT, *modules], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ok {len(modules)}"


def test_the_memory_store_loads_no_django_either():
    result = subprocess.run([sys.executable, "-c", SCRIPT, "tests.oauth2.memory_store"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
