"""The API's endpoints, one router per concern: ``model`` (classify, explain, the model
served), ``stream`` (ingest tweets, read what the stream classified) and ``operations``
(health, readiness, metrics). Each module's ``router()`` builds its ``APIRouter`` from the
settings and the services it needs; :func:`serve.api.create_app` includes them."""
