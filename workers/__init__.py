"""Celery workers. Light modules here (celery_app, dispatch, plugin, domains, */params) may be imported by
the API; heavy libraries are imported only inside workers/<domain>/pipeline modules, after fork."""
