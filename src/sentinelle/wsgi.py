import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sentinelle.settings")
application = get_wsgi_application()

# What the app loaded to serve (modules, URL patterns, translations) lives as long as the
# process: out of the collector's way, a full collection no longer walks it again and again
# while requests run (issue 17; the collector still frees every request's garbage).
gc.freeze()
